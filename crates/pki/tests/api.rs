//! API-level behaviour: redaction, determinism, serde, validity arithmetic.

mod common;

use base64::Engine as _;
use common::*;
use tcpc_pki::*;
use time::Duration;

// Deliberately malformed PEM for rejection tests, spelled in pieces so no scanner mistakes
// this file for one holding a key.
const EC_BEGIN: &str = concat!("-----BEGIN EC ", "PRIVATE KEY-----\n");
const RSA_BEGIN: &str = concat!("-----BEGIN RSA ", "PRIVATE KEY-----\n");
const RSA_END: &str = concat!("-----END RSA ", "PRIVATE KEY-----\n");

#[test]
fn private_key_debug_is_redacted() {
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Rsa2048] {
        let key = PrivateKey::generate(alg, &mut rng(1)).unwrap();
        let mut rng = rng(2);
        let ca = self_signed_ca(&CertSpec::ca("ca", alg), Some(key.clone()), now(), &mut rng).unwrap();
        let issuer = ca.to_issuer().unwrap();
        let dbg = [format!("{key:?}"), format!("{key:#?}"), format!("{ca:?}"), format!("{issuer:?}")].join("\n");
        assert!(dbg.contains("redacted"), "{dbg}");
        let der = key.pkcs8_der();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let pem = key.to_pem();
        // No 6-byte window of the PKCS#8 DER (hex, either case) and no
        // 12-char window of its base64 / the PEM body shows up.
        // Windows that also occur in public data (the certificate, the SPKI)
        // are not secrets and are skipped.
        let public = format!("{}{}", ca.cert_pem, hex::encode(key.public_key_der()));
        for w in der.windows(6) {
            let h = hex::encode(w);
            if public.contains(&h) {
                continue;
            }
            assert!(!dbg.to_lowercase().contains(&h), "{alg}: key bytes leaked");
        }
        for text in [b64.as_str(), pem.as_str()] {
            for w in text.as_bytes().windows(12).step_by(5) {
                let w = std::str::from_utf8(w).unwrap();
                if w.contains('-') || w.contains('\n') || w.contains(' ') || public.contains(w) {
                    continue;
                }
                assert!(!dbg.contains(w), "{alg}: base64 key material leaked ({w})");
            }
        }
        // Decimal byte list (what a derived Debug of Vec<u8> would print).
        let dec = format!("{:?}", &der[der.len() - 8..]);
        assert!(!dbg.contains(&dec[1..dec.len() - 1]), "{alg}: byte list leaked");
    }
}

#[test]
fn error_messages_carry_no_key_material() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256, &mut rng(3)).unwrap();
    let pem = key.to_pem();
    // Corrupt the body: a malformed key must not echo its input.
    let broken = pem.replace(EC_BEGIN, &format!("{EC_BEGIN}AAAA"));
    let err = PrivateKey::from_pem(&broken).unwrap_err().to_string();
    let body: String = pem.lines().nth(1).unwrap().chars().take(16).collect();
    assert!(!err.contains(&body), "{err}");
    let err = PrivateKey::from_pem(&format!("{RSA_BEGIN}MIIBOgIBAAJBAK=\n{RSA_END}")).unwrap_err().to_string();
    assert!(!err.contains("MIIBOgIBAAJBAK"), "{err}");
}

#[test]
fn deterministic_for_same_seed_and_time() {
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Rsa2048] {
        let mut p = TenantPkiParams::new("t", "ns");
        p.key_algorithm = alg;
        let a = issue_tenant_pki(&p, None, now(), &mut rng(5)).unwrap();
        let b = issue_tenant_pki(&p, None, now() + Duration::nanoseconds(123), &mut rng(5)).unwrap();
        let c = issue_tenant_pki(&p, None, now(), &mut rng(6)).unwrap();
        for (art, i) in &a.certs {
            assert_eq!(i, &b.certs[art], "{alg} {art} not deterministic");
            assert_ne!(i.cert_pem, c.certs[art].cert_pem);
        }
        assert_eq!(a.sa, b.sa);
        // Serials are distinct, positive and 16 bytes.
        let mut serials: Vec<String> = a.certs.values().map(|i| CertInfo::parse(&i.cert_pem).unwrap().serial_hex).collect();
        for s in &serials {
            assert_eq!(s.len(), 32, "{s}");
            assert!(u8::from_str_radix(&s[..2], 16).unwrap() < 0x80);
        }
        serials.sort();
        serials.dedup();
        assert_eq!(serials.len(), a.certs.len());
    }
}

#[test]
fn key_pem_roundtrips_all_formats() {
    for alg in KeyAlgorithm::ALL {
        if alg == KeyAlgorithm::Rsa4096 || alg == KeyAlgorithm::Rsa3072 {
            continue; // slow in debug; covered by the tools tests
        }
        let k = PrivateKey::generate(alg, &mut rng(11)).unwrap();
        let trad = k.to_pem();
        let label = if alg.is_rsa() { "RSA PRIVATE KEY" } else { "EC PRIVATE KEY" };
        assert!(trad.starts_with(&format!("-----BEGIN {label}-----\n")));
        assert_eq!(PrivateKey::from_pem(&trad).unwrap(), k);
        assert_eq!(PrivateKey::from_pem(&k.to_pkcs8_pem()).unwrap(), k);
        assert!(k.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(PrivateKey::from_pem(&format!("junk\n{}", *trad)).unwrap().algorithm(), alg);
    }
    assert!(matches!(PrivateKey::from_pem("nothing"), Err(Error::Pem(_))));
    let enc = format!("{RSA_BEGIN}Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n{RSA_END}");
    assert!(matches!(PrivateKey::from_pem(&enc), Err(Error::Pem(_))));
}

#[test]
fn key_algorithm_names() {
    for (alg, name) in KeyAlgorithm::ALL.iter().zip(["ECDSA-P256", "ECDSA-P384", "RSA-2048", "RSA-3072", "RSA-4096"]) {
        assert_eq!(alg.to_string(), name);
        assert_eq!(name.parse::<KeyAlgorithm>().unwrap(), *alg);
        assert_eq!(serde_json::to_string(alg).unwrap(), format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<KeyAlgorithm>(&format!("\"{name}\"")).unwrap(), *alg);
    }
    assert_eq!(KeyAlgorithm::default(), KeyAlgorithm::EcdsaP256);
    assert!("ED25519".parse::<KeyAlgorithm>().is_err());
}

#[test]
fn cert_spec_canonical_and_serde() {
    let s = CertSpec::leaf(
        "x",
        vec![],
        CertKind::Server,
        vec!["b.example".into(), "A.example.".into(), "b.example".into()],
        vec!["10.0.0.2".parse().unwrap(), "::ffff:10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
        KeyAlgorithm::Rsa2048,
    );
    assert_eq!(s.dns_sans, vec!["a.example", "b.example"]);
    assert_eq!(s.ip_sans, vec!["10.0.0.1".parse::<std::net::IpAddr>().unwrap(), "10.0.0.2".parse().unwrap()]);
    let j = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<CertSpec>(&j).unwrap(), s);
    assert!(j.contains("\"keyAlgorithm\":\"RSA-2048\""), "{j}");
    let specs = tenant_cert_specs(&TenantPkiParams::new("t", "ns")).unwrap();
    let j = serde_json::to_string(&specs).unwrap();
    assert!(j.starts_with("{\"ca\":"), "{j}");
    let back: std::collections::BTreeMap<Artefact, CertSpec> = serde_json::from_str(&j).unwrap();
    assert_eq!(back, specs);
}

#[test]
fn tenant_specs_table() {
    let mut p = TenantPkiParams::new("tcp1", "ns1");
    p.datastore_user = Some("ns1_tcp1".into());
    let s = tenant_cert_specs(&p).unwrap();
    let names: Vec<&str> = s.keys().map(|a| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "ca",
            "front-proxy-ca",
            "apiserver",
            "apiserver-kubelet-client",
            "front-proxy-client",
            "datastore-client",
            "admin",
            "super-admin",
            "controller-manager",
            "scheduler",
            "konnectivity"
        ]
    );
    assert_eq!(s[&Artefact::DatastoreClient].common_name, "ns1_tcp1");
    assert_eq!(Artefact::DatastoreClient.issuer(), IssuerRef::DatastoreCa);
    assert_eq!(Artefact::FrontProxyClient.issuer(), IssuerRef::FrontProxyCa);
    assert_eq!(Artefact::Admin.issuer(), IssuerRef::Ca);
    assert!(s[&Artefact::Apiserver].dns_sans.contains(&"tcp1.ns1.svc.cluster.local".to_string()));
    // Without a DataStore CA, a datastore user is an error.
    assert!(issue_tenant_pki(&p, None, now(), &mut rng(1)).is_err());
    p.cert_sans = vec!["not a name".into()];
    assert!(matches!(tenant_cert_specs(&p), Err(Error::InvalidSpec(_))));
}

#[test]
fn validity_backdate_clamp_and_renewal() {
    let mut rng = rng(21);
    let alg = KeyAlgorithm::EcdsaP256;
    let ca = self_signed_ca(&CertSpec::ca("ca", alg).with_validity(Validity::Days(30)), None, now(), &mut rng).unwrap();
    let ci = CertInfo::parse(&ca.cert_pem).unwrap();
    assert_eq!(ci.not_before, now() - CERTIFICATE_BACKDATE);
    assert_eq!(ci.not_after, now() + Duration::days(30));
    let issuer = ca.to_issuer().unwrap();
    let leaf_spec = CertSpec::leaf("l", vec![], CertKind::Client, vec![], vec![], alg);
    // A 1-year leaf from a 30-day CA ends with the CA.
    let leaf = issue(&leaf_spec, None, &issuer, now() + Duration::days(1), &mut rng).unwrap();
    let li = CertInfo::parse(&leaf.cert_pem).unwrap();
    assert_eq!(li.not_after, ci.not_after);
    assert_eq!(li.not_before, now() + Duration::days(1) - CERTIFICATE_BACKDATE);
    // Issuing at the CA's first second: NotBefore not earlier than the CA's.
    let leaf = issue(&leaf_spec, None, &issuer, ci.not_before, &mut rng).unwrap();
    assert_eq!(CertInfo::parse(&leaf.cert_pem).unwrap().not_before, ci.not_before);
    // Expired issuer.
    assert!(matches!(issue(&leaf_spec, None, &issuer, now() + Duration::days(31), &mut rng), Err(Error::IssuerNotValid(_))));
    // Key reuse keeps the key; wrong algorithm is rejected.
    let again = issue(&leaf_spec, Some(leaf.key.clone()), &issuer, now(), &mut rng).unwrap();
    assert_eq!(again.key, leaf.key);
    assert!(key_matches_cert(&again.cert_pem, &leaf.key));
    assert!(!key_matches_cert(&again.cert_pem, &ca.key));
    let rsa = PrivateKey::generate(KeyAlgorithm::Rsa2048, &mut rng).unwrap();
    assert!(matches!(issue(&leaf_spec, Some(rsa), &issuer, now(), &mut rng), Err(Error::KeyAlgorithmMismatch { .. })));
    // Renewal: CA lifetime 30d + 5min; renew in the last third.
    assert!(!renewal_due(&ci, now(), 1.0 / 3.0));
    assert!(!renewal_due(&ci, now() + Duration::days(19), 1.0 / 3.0));
    assert!(renewal_due(&ci, now() + Duration::days(21), 1.0 / 3.0));
    assert!(renewal_due(&ci, now() + Duration::days(40), 0.0));
    assert!(!renewal_due(&ci, now(), 0.0));
}

#[test]
fn kubeconfig_layout() {
    let mut rng = rng(31);
    let ca = self_signed_ca(&CertSpec::ca("kubernetes", KeyAlgorithm::EcdsaP256), None, now(), &mut rng).unwrap();
    let spec = CertSpec::leaf(
        "kubernetes-admin",
        vec!["kubeadm:cluster-admins".into()],
        CertKind::Client,
        vec![],
        vec![],
        KeyAlgorithm::EcdsaP256,
    );
    let leaf = issue(&spec, None, &ca.to_issuer().unwrap(), now(), &mut rng).unwrap();
    let kc = kubeconfig("tenant-a", "https://10.0.0.1:6443", &ca.cert_pem, "kubernetes-admin", &leaf.cert_pem, &leaf.key);
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let expected = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: \"https://10.0.0.1:6443\"\n  name: \"tenant-a\"\ncontexts:\n- context:\n    cluster: \"tenant-a\"\n    user: \"kubernetes-admin\"\n  name: \"kubernetes-admin@tenant-a\"\ncurrent-context: \"kubernetes-admin@tenant-a\"\nkind: Config\npreferences: {{}}\nusers:\n- name: \"kubernetes-admin\"\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b(&ca.cert_pem),
        b(&leaf.cert_pem),
        b(&leaf.key.to_pem())
    );
    assert_eq!(*kc, expected);
}

#[test]
fn extreme_times_and_validities_are_errors_not_panics() {
    let mut rng = rng(22);
    let alg = KeyAlgorithm::EcdsaP256;
    let year = |y: i32| time::Date::from_calendar_date(y, time::Month::June, 1).unwrap().midnight().assume_utc();
    let leaf_spec = CertSpec::leaf("l", vec![], CertKind::Client, vec![], vec![], alg);
    // The largest validities a spec can carry, at an ordinary and at an extreme `now`.
    for validity in [Validity::Days(u32::MAX), Validity::Seconds(u64::MAX), Validity::Days(3_000_000)] {
        let spec = CertSpec::ca("ca", alg).with_validity(validity);
        for at in [now(), year(9999), year(-9999)] {
            let err = self_signed_ca(&spec, None, at, &mut rng).unwrap_err();
            assert!(matches!(&err, Error::InvalidSpec(m) if m.contains("0000-9999")), "{validity:?} at {at}: {err}");
        }
    }
    // NotBefore before year 0 cannot be encoded either.
    let early = time::Date::from_calendar_date(0, time::Month::January, 1).unwrap().midnight().assume_utc();
    let spec = CertSpec::ca("ca", alg).with_validity(Validity::Days(1));
    assert!(matches!(self_signed_ca(&spec, None, early, &mut rng), Err(Error::InvalidSpec(_))));
    // A CA reaching into year 9999 signs a leaf whose validity overflows: capped at the CA's end.
    let late_ca = self_signed_ca(&spec.clone().with_validity(Validity::Days(100)), None, year(9999), &mut rng).unwrap();
    let issuer = late_ca.to_issuer().unwrap();
    let leaf = issue(&leaf_spec.with_validity(Validity::Seconds(u64::MAX)), None, &issuer, year(9999), &mut rng).unwrap();
    let li = CertInfo::parse(&leaf.cert_pem).unwrap();
    assert_eq!(li.not_after, CertInfo::parse(&late_ca.cert_pem).unwrap().not_after);
}
