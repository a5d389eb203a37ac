//! Each `RenderedControlPlane` of `golden/` (`companion: {}` in examples/tcpc.yaml) tells the truth
//! about its tenant: every certificate it lists is in the Secret and key it names — unsealed with
//! the real kubeseal and the examples' controller key — with the `notAfter` it records, its admin
//! kubeconfig is there and names the Service's DNS name, and the companion's Role grants `get` on
//! exactly those Secrets.
//!
//! Missing peers: see `tests/common/peers.rs`.

mod common;
use common::peers;
use common::pki as harness;
use common::snapshot;

use std::collections::BTreeSet;

use base64::Engine as _;
use harness::{repo, unseal_file, yaml_file};

/// The certificate PEM at `key` of an unsealed Secret: a PEM key, or a kubeconfig's client
/// certificate.
fn certificate_at(u: &harness::Unsealed, key: &str) -> String {
    let text = u.text(key);
    if key.ends_with(".crt") {
        return text;
    }
    let b64 = text.lines().find_map(|l| l.trim().strip_prefix("client-certificate-data: ")).expect("client certificate");
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap()).unwrap()
}

/// `rotation: companion`: the Secrets the companion issues are not in the bundle; their signers
/// are, sealed with the keys the record names; every request asks for the API server's SANs the
/// Git-issued certificate would carry (the same specs).
fn companion_issued(rel: &str, dir: &std::path::Path, spec: &serde_json::Value, unseal: &dyn Fn(&str) -> harness::Unsealed) {
    let mut artefacts = BTreeSet::new();
    for request in spec["issuance"].as_array().unwrap() {
        let secret = request["secret"].as_str().unwrap();
        assert!(!dir.join(format!("sealedsecret-{secret}.yaml")).exists(), "{rel}: {secret} is the companion's, not in Git");
        for entry in request["entries"].as_array().unwrap() {
            let signer = &entry["signer"];
            let sealed = unseal(signer["secret"].as_str().unwrap());
            let ca = tcpc_pki::CertInfo::parse(&sealed.text(signer["cert"].as_str().unwrap())).unwrap();
            assert!(ca.is_ca, "{rel}: {secret}'s signer is a CA");
            assert!(sealed.text(signer["key"].as_str().unwrap()).contains("PRIVATE KEY"), "{rel}: {secret}'s signer has its key");
            artefacts.insert(entry["artefact"].as_str().unwrap().to_string());
        }
    }
    let expected =
        ["admin", "apiserver", "apiserver-kubelet-client", "controller-manager", "front-proxy-client", "konnectivity", "scheduler"];
    assert_eq!(artefacts, expected.iter().map(|a| a.to_string()).collect(), "{rel}: the companion issues every leaf the pod mounts");
}

#[test]
fn records_name_the_certificates_the_cluster_gets() {
    let Some(kubeseal) = peers::require_peer("kubeseal") else { return };
    let golden = repo().join("golden");
    let tree = snapshot(&golden);
    let (mut records, mut certificates) = (0, 0);
    for rel in tree.keys().filter(|r| r.contains("/renderedcontrolplane-")) {
        let record = yaml_file(&golden.join(rel));
        let (ns, name) = (record["metadata"]["namespace"].as_str().unwrap(), record["metadata"]["name"].as_str().unwrap());
        let dir = golden.join(rel).parent().unwrap().to_path_buf();
        let spec = &record["spec"];
        let unseal = |secret: &str| unseal_file(&kubeseal, &dir.join(format!("sealedsecret-{secret}.yaml")));
        let mut secrets = BTreeSet::new();

        let admin = &spec["adminKubeconfig"];
        let admin_secret = admin["secret"].as_str().unwrap();
        if spec["rotation"] == "companion" {
            companion_issued(rel, &dir, spec, &unseal);
            secrets.insert(admin_secret.to_string());
            for c in spec["certificates"].as_array().unwrap() {
                if let Some(secret) = c["secret"].as_str() {
                    secrets.insert(secret.to_string());
                }
            }
            let role = yaml_file(&dir.join(format!("role-tcpc-companion-{name}.yaml")));
            let owned: BTreeSet<String> =
                spec["issuance"].as_array().unwrap().iter().map(|r| r["secret"].as_str().unwrap().to_string()).collect();
            let signers: BTreeSet<String> = spec["issuance"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r["entries"].as_array().unwrap().iter().map(|e| e["signer"]["secret"].as_str().unwrap().to_string()))
                .collect();
            let readable: BTreeSet<String> = secrets.iter().chain(&owned).chain(&signers).cloned().collect();
            let names = |rule: &serde_json::Value| -> BTreeSet<String> {
                rule["resourceNames"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
            };
            let rules = role["rules"].as_array().unwrap();
            assert_eq!(rules.len(), 4, "{rel}: get, roll, create, update");
            assert_eq!(
                (&rules[0]["verbs"], names(&rules[0])),
                (&serde_json::json!(["get"]), readable),
                "{rel}: reads its record's Secrets and signers"
            );
            assert_eq!(
                (&rules[1]["resources"], names(&rules[1])),
                (&serde_json::json!(["deployments"]), BTreeSet::from([name.to_string()]))
            );
            assert_eq!(rules[2]["verbs"], serde_json::json!(["create"]), "{rel}");
            assert_eq!(
                (&rules[3]["verbs"], names(&rules[3])),
                (&serde_json::json!(["update", "patch"]), owned),
                "{rel}: writes only its own"
            );
            records += 1;
            continue;
        }
        let conf = unseal(admin_secret).text(admin["key"].as_str().unwrap());
        let port = spec["service"]["port"].as_i64().unwrap();
        let svc = format!("server: https://{}.{ns}.svc:{port}", spec["service"]["name"].as_str().unwrap());
        let servers: Vec<&str> = conf.lines().map(str::trim).filter(|l| l.starts_with("server:")).collect();
        assert_eq!(
            servers.iter().map(|l| l.replace('"', "")).collect::<Vec<_>>(),
            [svc.clone()],
            "{rel}: the admin kubeconfig must name the Service"
        );
        secrets.insert(admin_secret.to_string());

        let listed = spec["certificates"].as_array().unwrap();
        assert!(listed.iter().any(|c| c["name"] == "apiserver"), "{rel}: no apiserver certificate");
        for c in listed {
            let what = format!("{rel}: certificate {}", c["name"]);
            let Some(secret) = c["secret"].as_str() else {
                // not in the cluster: super-admin (by default) and a dedicated etcd's CA
                assert!(["super-admin", "etcd-ca"].contains(&c["name"].as_str().unwrap()), "{what}: no Secret");
                continue;
            };
            let pem = certificate_at(&unseal(secret), c["key"].as_str().unwrap());
            let info = tcpc_pki::CertInfo::parse(&pem).unwrap_or_else(|e| panic!("{what}: {e}"));
            let not_after = info.not_after.format(&time::format_description::well_known::Rfc3339).unwrap();
            assert_eq!(c["notAfter"].as_str(), Some(not_after.as_str()), "{what}: notAfter");
            secrets.insert(secret.to_string());
            certificates += 1;
        }

        let role = yaml_file(&dir.join(format!("role-tcpc-companion-{name}.yaml")));
        let rules = role["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2, "{rel}: read the Secrets, roll the control plane");
        assert_eq!(rules[0]["verbs"], serde_json::json!(["get"]), "{rel}: get only");
        assert_eq!(
            rules[1],
            serde_json::json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"], "resourceNames": [name]}),
            "{rel}"
        );
        let names: BTreeSet<String> =
            rules[0]["resourceNames"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
        assert_eq!(names, secrets, "{rel}: the Role grants exactly the Secrets the record names");
        records += 1;
    }
    assert_eq!(records, 7, "every example tenant has its record");
    assert!(certificates >= 6 * 8, "{certificates} certificates checked");
}

/// Switching a rendered tenant to `rotation: companion` needs no identity: its leaves leave the
/// bundle, the lock and the record (so neither `tcpc check` nor the companion's status watch a
/// copy in Git that no longer exists), and the record asks the companion for them.
#[test]
fn switching_to_companion_rotation_drops_the_leaves_from_git() {
    let ws = harness::Workspace::examples();
    let tenant = ws.path("tenants/minimal.yaml");
    let spec = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(&tenant, spec.replacen("spec:\n", "spec:\n  pki:\n    rotation: companion\n", 1)).unwrap();
    ws.render(None, harness::EPOCH).expect_ok();
    let lock = ws.lock_value();
    let entry = &lock["tenants"]["tenants/minimal"];
    let artefacts: BTreeSet<&str> = entry["artefacts"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        artefacts,
        BTreeSet::from(["ca", "datastore-client", "front-proxy-ca", "sa", "super-admin"]),
        "the lock keeps Git's artefacts only"
    );
    let secrets: BTreeSet<&str> = entry["secrets"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        secrets,
        BTreeSet::from(["minimal-ca", "minimal-datastore-certificate", "minimal-front-proxy-ca-certificate", "minimal-sa-certificate"])
    );
    let mgmt = ws.golden().join("tenants/minimal/management");
    assert!(!mgmt.join("sealedsecret-minimal-api-server-certificate.yaml").exists(), "the companion's now");
    let record = yaml_file(&mgmt.join("renderedcontrolplane-minimal.yaml"));
    let listed: BTreeSet<&str> = record["spec"]["certificates"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(listed, BTreeSet::from(["ca", "datastore-client", "front-proxy-ca", "super-admin"]));
    assert_eq!(
        record["spec"]["issuance"].as_array().unwrap().len(),
        6,
        "apiserver, kubelet client, front proxy, admin, controller-manager, scheduler"
    );
    // `tcpc kubeconfig` says where the admin kubeconfig is now; super-admin stays in Git.
    let kubeconfig = |user: &str| {
        let out = ws.root().join(format!("{user}.conf"));
        let args = ["kubeconfig", "tenants/minimal"].iter().map(|a| a.to_string()).chain([
            harness::s(&ws.examples_dir()),
            "--user".into(),
            user.into(),
            "--identity".into(),
            harness::s(&harness::identity_file()),
            "-o".into(),
            harness::s(&out),
        ]);
        harness::tcpc(&args.collect::<Vec<_>>(), harness::EPOCH)
    };
    let refused = kubeconfig("admin").expect_fail();
    assert!(
        refused.stderr.contains("is the companion's") && refused.stderr.contains("get secret minimal-admin-kubeconfig"),
        "{}",
        refused.stderr
    );
    kubeconfig("super-admin").expect_ok();
    // And it stays put: the next render changes nothing.
    let before = snapshot(&ws.golden());
    ws.render(None, harness::EPOCH).expect_ok();
    assert_eq!(snapshot(&ws.golden()), before);
}
