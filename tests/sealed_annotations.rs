//! The certificate annotations on every SealedSecret of `golden/` (`tcpc.dev/certificate-subject`,
//! `-sans`, `-not-after`) tell the truth: each equals what the certificate inside says, once
//! unsealed with the real kubeseal and the examples' controller key. They are written without
//! the identity (golden.rs renders `golden/` without it), from specs and lock only.
//!
//! Missing peers: see `tests/common/peers.rs`.

mod common;
use common::peers;
use common::pki as harness;
use common::snapshot;

use base64::Engine as _;
use harness::{repo, unseal_file, yaml_file};

/// The certificate PEM a Secret is about: the client certificate of a kubeconfig, the leaf of
/// a key pair, or the CA.
fn certificate_of(u: &harness::Unsealed) -> String {
    for conf in ["admin.conf", "controller-manager.conf", "scheduler.conf", "konnectivity-server.conf"] {
        if let Some(text) = u.data.get(conf) {
            let text = String::from_utf8_lossy(text);
            let b64 = text.lines().find_map(|l| l.trim().strip_prefix("client-certificate-data: ")).expect("client certificate");
            return String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap()).unwrap();
        }
    }
    // A dedicated etcd's Secret holds server.crt and peer.crt: it is described by server.crt.
    let key = ["server.crt"]
        .into_iter()
        .map(String::from)
        .find(|k| u.data.contains_key(k))
        .or_else(|| u.data.keys().find(|k| k.ends_with(".crt") && *k != "ca.crt").cloned())
        .unwrap_or_else(|| "ca.crt".into());
    String::from_utf8(u.data[&key].clone()).unwrap()
}

#[test]
fn sealed_secret_annotations_match_the_certificates_inside() {
    let Some(kubeseal) = peers::require_peer("kubeseal") else { return };
    let golden = repo().join("golden");
    let mut checked = 0;
    for rel in snapshot(&golden).keys().filter(|r| r.contains("/sealedsecret-")) {
        let sealed = yaml_file(&golden.join(rel));
        let annotations = &sealed["metadata"]["annotations"];
        let Some(not_after) = annotations["tcpc.dev/certificate-not-after"].as_str() else {
            // No certificate: the service-account key pair, and the kine tenant's database
            // settings; its datastore-certificate holds only the database server's CA, which tcpc
            // did not issue (nothing in the lock to describe it).
            let exempt = rel.ends_with("-sa-certificate.yaml")
                || rel.ends_with("-datastore-config.yaml")
                || rel.contains("-datastore-setup-")
                || rel.ends_with("platform/sql/management/sealedsecret-sql-datastore-certificate.yaml");
            assert!(exempt, "{rel}: no certificate annotations");
            continue;
        };
        let u = unseal_file(&kubeseal, &golden.join(rel));
        let info = tcpc_pki::CertInfo::parse(&certificate_of(&u)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut subject = format!("CN={}", info.subject_cn);
        for o in &info.organizations {
            subject.push_str(&format!(",O={o}"));
        }
        let sans: Vec<String> = info.dns_sans.iter().cloned().chain(info.ip_sans.iter().map(ToString::to_string)).collect();
        let rfc3339 = info.not_after.format(&time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(annotations["tcpc.dev/certificate-subject"].as_str(), Some(subject.as_str()), "{rel}: subject");
        assert_eq!(annotations["tcpc.dev/certificate-sans"].as_str().unwrap_or_default(), sans.join(","), "{rel}: SANs");
        assert_eq!(not_after, rfc3339, "{rel}: notAfter");
        checked += 1;
    }
    assert_eq!(
        checked, 60,
        "4 etcd tenants × 9 certificate-holding Secrets (+1 konnectivity kubeconfig for 2 of them), the PostgreSQL tenant's 8, the dedicated-etcd tenant's 10 (+1 konnectivity kubeconfig), the rotation: companion tenant's 3 (its CAs and DataStore client pair)"
    );
}
