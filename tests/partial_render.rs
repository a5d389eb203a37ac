//! Renders that don't block each other: 299 generated tenants (tools/gen-tenants.py) are
//! rendered with the identity; then, without it, one new tenant is added, one existing tenant
//! gets a new certificate SAN (both need new key material) and another an unrelated change.
//! Every tenant that needs no new material renders (the unrelated change shows up), the two
//! others are listed, left exactly as before in the tree and the lock, and the exit code is 5.
//! With the identity, all 300 render.

mod common;

use std::path::Path;

use common::{EXAMPLES_IDENTITY, replace_once, root, run, snapshot, snapshot_changes, tcpc};

fn lock_tenants(dir: &Path) -> Vec<String> {
    let lock = tcpc::lock::read(&dir.join("tcpc.lock")).unwrap();
    lock.tenants.keys().cloned().collect()
}

#[test]
fn tenants_needing_the_identity_do_not_block_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let generated = run(std::process::Command::new("python3").arg(root().join("tools/gen-tenants.py")).arg("299").arg(&repo));
    generated.expect_code(0, "tools/gen-tenants.py 299");
    let identity = root().join(EXAMPLES_IDENTITY);
    let r = run(tcpc().arg("render").arg(&repo).arg("--identity").arg(&identity)).expect_code(0, "first render with the identity");
    assert_eq!(lock_tenants(&repo).len(), 299, "{}", r.describe());
    let rendered = repo.join("rendered");

    // tcp-00000 is in team-00/batch-00000.yaml, tcp-00001 (certSANs) and tcp-00002 in the same file.
    let batch = repo.join("tenants/team-00/batch-00000.yaml");
    replace_once(&batch, "    - tcp-00001.k8s.example.com\n", "    - tcp-00001.k8s.example.com\n    - api.tcp-00001.example.com\n");
    replace_once(
        &batch,
        "  name: tcp-00002\n  namespace: team-02\nspec:\n  controlPlane:\n    deployment:\n      replicas: 3\n",
        "  name: tcp-00002\n  namespace: team-02\nspec:\n  controlPlane:\n    deployment:\n      replicas: 2\n",
    );
    let new_tenant = std::fs::read_to_string(&batch).unwrap().split("---\n").next().unwrap().replace("tcp-00000", "tcp-new");
    std::fs::write(repo.join("tenants/new.yaml"), new_tenant).unwrap();

    let lock_before = common::lock_snapshot(&repo);
    let state_before = snapshot(&repo.join(".tcpc"));
    let tree_before = snapshot(&rendered);
    let r = run(tcpc().arg("render").arg(&repo)).expect_code(5, "render without the identity");
    let listed: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("warning: ") && l.contains("new key material")).collect();
    assert_eq!(listed.len(), 2, "exactly the two tenants needing material are listed:\n{}", r.stderr);
    assert!(r.stderr.contains("warning: team-00/tcp-new: new key material is needed"), "{}", r.stderr);
    assert!(r.stderr.contains("warning: team-01/tcp-00001: new key material is needed"), "{}", r.stderr);
    assert!(r.stderr.contains("  - apiserver must be issued: its inputs changed"), "{}", r.stderr);
    assert!(r.stderr.contains("error: 2 of 300 TenantControlPlane(s) not rendered"), "{}", r.stderr);
    assert!(r.stderr.contains("--identity FILE"), "{}", r.stderr);

    // The tree: only tcp-00002's Deployment and record (replicas) changed; tcp-00001 kept its
    // previous files; no tcp-new.
    let changes = snapshot_changes(&tree_before, &snapshot(&rendered));
    let expected = [
        "changed: team-02/tcp-00002/management/deployment-tcp-00002.yaml",
        "changed: team-02/tcp-00002/management/renderedcontrolplane-tcp-00002.yaml",
    ];
    assert_eq!(changes, expected, "{}", r.stderr);
    assert!(r.stderr.contains("2 files changed for 1 tenant, "), "{}", r.stderr);
    // The lock and the state are untouched: 299 entries, tcp-00001's the previous one.
    assert!(common::lock_snapshot(&repo) == lock_before, "the lock changed");
    assert!(snapshot_changes(&state_before, &snapshot(&repo.join(".tcpc"))).is_empty(), "the state changed");

    // check agrees: nothing stale, two tenants need the identity.
    let c = run(tcpc().arg("check").arg(&repo)).expect_code(5, "check without the identity");
    assert!(c.stderr.contains("2 of 300 TenantControlPlane(s) cannot be rendered without it"), "{}", c.stderr);

    // With the identity: all 300 rendered, the lock holds them all, check passes.
    let r = run(tcpc().arg("render").arg(&repo).arg("--identity").arg(&identity)).expect_code(0, "render with the identity");
    let tenants = lock_tenants(&repo);
    assert_eq!(tenants.len(), 300, "{}", r.describe());
    assert!(tenants.contains(&"team-00/tcp-new".to_string()));
    assert!(rendered.join("team-00/tcp-new/management").is_dir());
    let changed = snapshot_changes(&tree_before, &snapshot(&rendered));
    assert!(
        changed.iter().any(|c| c.starts_with("changed: team-01/tcp-00001/management/sealedsecret-tcp-00001-api-server-certificate")),
        "{changed:?}"
    );
    run(tcpc().arg("check").arg(&repo)).expect_code(0, "check after rendering with the identity");
}
