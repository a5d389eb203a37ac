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
        assert_eq!(rules.len(), 1, "{rel}: one rule");
        assert_eq!(rules[0]["verbs"], serde_json::json!(["get"]), "{rel}: get only");
        let names: BTreeSet<String> =
            rules[0]["resourceNames"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
        assert_eq!(names, secrets, "{rel}: the Role grants exactly the Secrets the record names");
        records += 1;
    }
    assert_eq!(records, 6, "every example tenant has its record");
    assert!(certificates >= 6 * 8, "{certificates} certificates checked");
}
