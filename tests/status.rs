//! `tcpc status`: the offline view of the fleet. The table is a reviewed snapshot (examples,
//! examples' clock); the JSON must agree with the sources it summarises — the certificates
//! with `tcpc check --format json`, the version with the rendered Deployment's images, the
//! endpoint with the rendered `cluster-info` — so the summary cannot drift from the output.

mod common;

use common::snap::assert_snapshot;
use common::{copy_dir, root, run, tcpc};

fn json(args: &[&str]) -> serde_json::Value {
    let r = run(tcpc().args(args)).expect_code(0, &args.join(" "));
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{}", r.stdout))
}

#[test]
fn status_table_and_timeline_of_the_examples() {
    let all = run(tcpc().args(["status", "examples"])).expect_code(0, "status");
    assert_snapshot("status-examples", &all.stdout);
    let one = run(tcpc().args(["status", "examples", "--tenant", "tenants/edge"])).expect_code(0, "status one tenant");
    assert_snapshot("status-examples-edge", &one.stdout);
}

#[test]
fn status_agrees_with_check_and_the_rendered_objects() {
    let status = json(&["status", "examples", "--format", "json"]);
    let rows = status.as_array().expect("an array of tenants");
    assert_eq!(rows.len(), 7, "every example tenant");

    // Certificates: exactly what `check` judges, tenant by tenant.
    let check = json(&["check", "examples", "--format", "json"]);
    let mut from_check: Vec<String> = check["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {} {}", c["tenant"], c["certificate"], c["notAfter"], c["daysLeft"]))
        .collect();
    let mut from_status: Vec<String> = rows
        .iter()
        .flat_map(|r| r["certificates"].as_array().unwrap().iter())
        .map(|c| format!("{} {} {} {}", c["tenant"], c["certificate"], c["notAfter"], c["daysLeft"]))
        .collect();
    from_check.sort();
    from_status.sort();
    assert!(!from_status.is_empty());
    assert_eq!(from_status, from_check);

    for row in rows {
        let tenant = row["tenant"].as_str().unwrap();
        // Soonest expiry first.
        let days: Vec<i64> = row["certificates"].as_array().unwrap().iter().map(|c| c["daysLeft"].as_i64().unwrap()).collect();
        assert!(days.windows(2).all(|w| w[0] <= w[1]), "{tenant}: timeline not ordered: {days:?}");
        // The version is the tag of the rendered kube-apiserver image.
        let golden = root().join("golden").join(tenant);
        let name = tenant.split_once('/').unwrap().1;
        let deployment = std::fs::read_to_string(golden.join(format!("management/deployment-{name}.yaml"))).expect("rendered Deployment");
        let version = row["version"].as_str().unwrap();
        assert!(deployment.contains(&format!("kube-apiserver:{version}")), "{tenant}: image tag is not {version}");
        // The endpoint is the server the tenant publishes in cluster-info.
        let info = std::fs::read_to_string(golden.join("tenant/configmap-cluster-info.yaml")).unwrap();
        let endpoint = row["endpoint"].as_str().unwrap();
        assert!(info.contains(&format!("server: \"{endpoint}\"")), "{tenant}: cluster-info does not name {endpoint}");
        assert_eq!(row["rendered"], true);
    }
}

#[test]
fn status_of_an_unrendered_tenant_and_of_no_match() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_dir(&root().join("examples"), &repo);
    std::fs::remove_file(repo.join("tcpc.lock")).unwrap();
    std::fs::remove_dir_all(repo.join("tcpc.lock.d")).unwrap();
    let r = run(tcpc().arg("status").current_dir(&repo)).expect_code(0, "status without a lock");
    assert_eq!(r.stdout.matches("not rendered yet").count(), 7, "{}", r.stdout);
    let r = run(tcpc().args(["status", "--tenant", "nobody/*"]).current_dir(&repo));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("matches no TenantControlPlane") || r.stderr.contains("no TenantControlPlane matches"), "{}", r.stderr);
}
