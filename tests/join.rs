//! `tcpc join-command`: the `kubeadm join` line a worker needs, computed offline. The CA pin
//! must be what kubeadm's documentation computes with openssl from the CA the tenant publishes
//! (`kube-public/cluster-info`, here read from the rendered tenant bundle in `golden/`), and
//! the endpoint the server that ConfigMap names.

mod common;

use std::process::{Command, Stdio};

use common::{copy_dir, root, run, tcpc};

/// The CA bundle and server of a rendered `cluster-info` ConfigMap.
fn cluster_info(tenant_dir: &str) -> (String, String) {
    let path = root().join("golden").join(tenant_dir).join("tenant/configmap-cluster-info.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let field = |key: &str| {
        let line = text.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_else(|| panic!("{key} in {}", path.display()));
        line.split_once(':').unwrap().1.trim().trim_matches('"').to_owned()
    };
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.decode(field("certificate-authority-data:")).expect("base64 CA");
    (String::from_utf8(ca).unwrap(), field("server:"))
}

/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum` (kubeadm's docs).
fn openssl_pin(ca_pem: &str) -> String {
    let pipe = |args: &[&str], input: &[u8]| -> Vec<u8> {
        let mut child = Command::new("openssl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("openssl");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl {args:?} failed");
        out.stdout
    };
    let pubkey = pipe(&["x509", "-pubkey", "-noout"], ca_pem.as_bytes());
    let der = pipe(&["pkey", "-pubin", "-outform", "der"], &pubkey);
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&der)))
}

#[test]
fn join_command_pins_the_published_ca_and_names_its_server() {
    for (tenant, dir) in [("tenants/minimal", "tenants/minimal"), ("tenants/edge", "tenants/edge"), ("platform/full", "platform/full")] {
        let (ca, server) = cluster_info(dir);
        let r = run(tcpc().args(["join-command", tenant, "examples"]).current_dir(root())).expect_code(0, tenant);
        let expected = format!(
            "kubeadm join {} --discovery-token-ca-cert-hash {}\n",
            server.strip_prefix("https://").expect("https server"),
            openssl_pin(&ca)
        );
        assert_eq!(r.stdout, expected, "{tenant}");
        assert!(r.stderr.contains("--token"), "the hint says a token is still needed: {}", r.stderr);
    }
}

#[test]
fn join_command_of_an_unrendered_or_unknown_tenant_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_dir(&root().join("examples"), &repo);
    let r = run(tcpc().args(["join-command", "tenants/nope"]).current_dir(&repo));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("no TenantControlPlane tenants/nope"), "{}", r.stderr);
    assert!(r.stdout.is_empty());

    std::fs::remove_file(repo.join("tcpc.lock")).unwrap();
    let r = run(tcpc().args(["join-command", "tenants/minimal"]).current_dir(&repo));
    assert_eq!(r.code, 2, "{}", r.describe());
    assert!(r.stderr.contains("tenants/minimal has no CA in the lock yet: run `tcpc render --identity"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}
