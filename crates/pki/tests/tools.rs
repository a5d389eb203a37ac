//! Prove issued material against the real tools: OpenSSL and Go's crypto/x509.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use base64::Engine as _;
use common::*;
use tcpc_pki::*;

fn params(alg: KeyAlgorithm) -> TenantPkiParams {
    let mut p = TenantPkiParams::new("tenant-a", "tenants");
    p.key_algorithm = alg;
    p.service_ips = vec!["10.96.0.1".parse().unwrap(), "fd00:10:96::1".parse().unwrap()];
    p.advertise_address = Some("192.0.2.10".parse().unwrap());
    p.endpoint_host = Some("tenant-a.example.com".into());
    p.cert_sans = vec!["203.0.113.5".into(), "*.apps.example.com".into()];
    p.datastore_user = Some("tenants_tenant-a".into());
    p
}

/// Write every artefact of a tenant PKI (+ datastore CA) to `dir`.
fn write_all(dir: &Path, pki: &TenantPki, ds_ca: &Issuer) {
    write(dir, "datastore-ca.crt", ds_ca.cert_pem());
    write(dir, "datastore-ca.key", &ds_ca.key().to_pem());
    for (a, i) in &pki.certs {
        write(dir, &format!("{a}.crt"), &i.cert_pem);
        write(dir, &format!("{a}.key"), &i.key.to_pem());
    }
    write(dir, "sa.key", &pki.sa.to_pem());
    write(dir, "sa.pub", &pki.sa.public_key_pem());
}

fn issuer_file(a: Artefact) -> &'static str {
    match a.issuer() {
        IssuerRef::SelfSigned => "self",
        IssuerRef::Ca => "ca.crt",
        IssuerRef::FrontProxyCa => "front-proxy-ca.crt",
        IssuerRef::DatastoreCa => "datastore-ca.crt",
        IssuerRef::EtcdCa => "etcd-ca.crt",
        IssuerRef::None => unreachable!(),
    }
}

fn full_set_against_tools(alg: KeyAlgorithm) {
    let mut rng = rng(alg as u64 + 1);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A DataStore CA, imported from PEM as the caller would.
    let ds = self_signed_ca(&CertSpec::ca("datastore-ca", alg), None, now(), &mut rng).unwrap();
    let ds_ca = Issuer::new(&ds.cert_pem, PrivateKey::from_pem(&ds.key.to_pem()).unwrap()).unwrap();
    let p = params(alg);
    let pki = issue_tenant_pki(&p, Some(&ds_ca), now(), &mut rng).unwrap();
    assert_eq!(pki.certs.len(), 11);
    write_all(d, &pki, &ds_ca);
    let at = check_time().to_string();

    let mut go = Vec::new();
    for (a, issued) in &pki.certs {
        let crt = d.join(format!("{a}.crt"));
        let key = d.join(format!("{a}.key"));
        assert!(key_matches_cert(&issued.cert_pem, &issued.key), "{a}");
        assert_eq!(issued.key.algorithm(), alg);
        let info = CertInfo::parse(&issued.cert_pem).unwrap();
        let (purpose, usage) = match a {
            Artefact::Ca | Artefact::FrontProxyCa => {
                assert!(info.is_ca, "{a}");
                ("any", "any")
            }
            Artefact::Apiserver => ("sslserver", "server"),
            _ => ("sslclient", "client"),
        };
        let ca = match issuer_file(*a) {
            "self" => crt.clone(),
            f => d.join(f),
        };
        let out = run(openssl().args(["verify", "-x509_strict", "-attime", &at, "-purpose", purpose, "-CAfile"]).arg(&ca).arg(&crt));
        assert!(out.contains(": OK"), "{a}: {out}");
        go.push(format!("chain {} - {} {usage} {at}", ca.display(), crt.display()));
        go.push(format!("keypair {} {}", crt.display(), key.display()));
    }
    // apiserver hostnames/IPs as clients dial them.
    let api = d.join("apiserver.crt");
    for host in [
        "kubernetes.default.svc.cluster.local",
        "tenant-a.tenants.svc",
        "tenant-a.example.com",
        "foo.apps.example.com",
        "localhost",
        "10.96.0.1",
        "fd00:10:96::1",
        "127.0.0.1",
        "192.0.2.10",
        "203.0.113.5",
    ] {
        go.push(format!("chain {} - {} server {at} {host}", d.join("ca.crt").display(), api.display()));
    }
    go.push(format!("pubkey {} {}", d.join("sa.pub").display(), d.join("sa.key").display()));
    go_checks(d, &go);

    // Every private key passes OpenSSL's consistency check.
    let mut keys: Vec<String> = pki.certs.keys().map(|a| format!("{a}.key")).collect();
    keys.extend(["sa.key".into(), "datastore-ca.key".into()]);
    for k in keys {
        let out = run(openssl().args(["pkey", "-check", "-noout", "-in"]).arg(d.join(&k)));
        assert!(out.contains("valid"), "{k}: {out}");
    }
    // sa.pub is the public half of sa.key.
    let pubout = run(openssl().args(["pkey", "-pubout", "-in"]).arg(d.join("sa.key")));
    assert_eq!(pubout.trim(), pki.sa.public_key_pem().trim());

    // Every kubeconfig: embedded key matches embedded cert, cert verifies against embedded CA.
    let ca = &pki.certs[&Artefact::Ca];
    for (a, issued) in &pki.certs {
        let Some((user, file)) = a.kubeconfig() else { continue };
        let kc = kubeconfig("tenant-a", "https://tenant-a.example.com:6443", &ca.cert_pem, user, &issued.cert_pem, &issued.key);
        check_kubeconfig(d, file, &kc, user);
    }
}

/// A dedicated etcd: its own CA signs the members' server and peer certificates (both usages,
/// the members' DNS names) and kube-apiserver's client certificate; no DataStore CA is involved.
#[test]
fn dedicated_etcd_set_against_tools() {
    let alg = KeyAlgorithm::EcdsaP256;
    let mut rng = rng(7);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut p = params(alg);
    let names = ["tenant-a-etcd", "tenant-a-etcd.tenants.svc", "*.tenant-a-etcd.tenants.svc", "*.tenant-a-etcd.tenants.svc.cluster.local"];
    p.dedicated_etcd = Some(names.iter().map(|n| n.to_string()).collect());
    let pki = issue_tenant_pki(&p, None, now(), &mut rng).unwrap();
    assert_eq!(pki.certs.len(), 14);
    for (a, i) in &pki.certs {
        write(d, &format!("{a}.crt"), &i.cert_pem);
    }
    let at = check_time().to_string();
    let etcd_ca = d.join("etcd-ca.crt");
    assert!(CertInfo::parse(&pki.certs[&Artefact::EtcdCa].cert_pem).unwrap().is_ca);
    let verify = |purpose: &str, ca: &Path, leaf: &str| {
        run(openssl().args(["verify", "-x509_strict", "-attime", &at, "-purpose", purpose, "-CAfile"]).arg(ca).arg(d.join(leaf)))
    };
    let mut go = Vec::new();
    for leaf in ["etcd-server.crt", "etcd-peer.crt"] {
        for purpose in ["sslserver", "sslclient"] {
            let out = verify(purpose, &etcd_ca, leaf);
            assert!(out.contains(": OK"), "{leaf} {purpose}: {out}");
        }
        for host in [
            "tenant-a-etcd-0.tenant-a-etcd.tenants.svc.cluster.local",
            "tenant-a-etcd-2.tenant-a-etcd.tenants.svc",
            "localhost",
            "127.0.0.1",
        ] {
            go.push(format!("chain {} - {} server {at} {host}", etcd_ca.display(), d.join(leaf).display()));
        }
        go.push(format!("chain {} - {} client {at}", etcd_ca.display(), d.join(leaf).display()));
    }
    // kube-apiserver's etcd client certificate is the etcd CA's, and only its.
    let out = verify("sslclient", &etcd_ca, "datastore-client.crt");
    assert!(out.contains(": OK"), "{out}");
    let out = run_allow_failure(
        &mut openssl().args(["verify", "-attime", &at, "-CAfile"]).arg(d.join("ca.crt")).arg(d.join("datastore-client.crt")),
    );
    assert!(!out.contains(": OK"), "the cluster CA must not sign datastore-client: {out}");
    go.push(format!("chain {} - {} client {at}", etcd_ca.display(), d.join("datastore-client.crt").display()));
    // A member name outside the tenant's Service is not covered.
    let foreign = format!(
        "chain {} - {} server {at} tenant-b-etcd-0.tenant-b-etcd.tenants.svc",
        etcd_ca.display(),
        d.join("etcd-server.crt").display()
    );
    go_checks(d, &go);
    let manifest = write(d, "foreign.manifest", &(foreign + "\n"));
    let text = run_allow_failure(&mut std::process::Command::new(goverify()).arg(&manifest));
    assert!(text.contains("1 checks, 1 failed"), "{text}");
}

fn kc_field(kc: &str, field: &str) -> String {
    let line = kc.lines().find(|l| l.trim_start().starts_with(&format!("{field}: "))).unwrap();
    let v = line.trim_start()[field.len() + 2..].to_string();
    let bytes = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
    String::from_utf8(bytes).unwrap()
}

fn check_kubeconfig(d: &Path, file: &str, kc: &str, user: &str) {
    assert!(kc.contains(&format!("current-context: \"{user}@tenant-a\"\n")), "{kc}");
    let sub = d.join(file.replace('.', "_"));
    std::fs::create_dir_all(&sub).unwrap();
    let ca = write(&sub, "ca.crt", &kc_field(kc, "certificate-authority-data"));
    let crt = write(&sub, "client.crt", &kc_field(kc, "client-certificate-data"));
    let key = write(&sub, "client.key", &kc_field(kc, "client-key-data"));
    let a = run(openssl().args(["x509", "-noout", "-pubkey", "-in"]).arg(&crt));
    let b = run(openssl().args(["pkey", "-pubout", "-in"]).arg(&key));
    assert_eq!(a, b, "{file}: kubeconfig key does not match its cert");
    let at = check_time().to_string();
    run(openssl().args(["verify", "-attime", &at, "-purpose", "sslclient", "-CAfile"]).arg(&ca).arg(&crt));
    go_checks(&sub, &[format!("keypair {} {}", crt.display(), key.display())]);
}

#[test]
fn ecdsa_p256_full_set() {
    full_set_against_tools(KeyAlgorithm::EcdsaP256);
}
#[test]
fn ecdsa_p384_full_set() {
    full_set_against_tools(KeyAlgorithm::EcdsaP384);
}
#[test]
fn rsa_2048_full_set() {
    full_set_against_tools(KeyAlgorithm::Rsa2048);
}
#[test]
fn rsa_3072_full_set() {
    full_set_against_tools(KeyAlgorithm::Rsa3072);
}
#[test]
fn rsa_4096_full_set() {
    full_set_against_tools(KeyAlgorithm::Rsa4096);
}

fn ext_text(d: &Path, name: &str, pem: &str) -> String {
    let f = write(d, name, pem);
    run(openssl().args(["x509", "-noout", "-ext", "subjectAltName,keyUsage,extendedKeyUsage,basicConstraints", "-subject", "-in"]).arg(f))
}

#[test]
fn openssl_shows_kubeadm_extensions() {
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let mut rng = rng(7);
        let dir = tempfile::tempdir().unwrap();
        let pki = issue_tenant_pki(&TenantPkiParams { datastore_user: None, ..params(alg) }, None, now(), &mut rng).unwrap();
        let c: BTreeMap<_, _> = pki.certs.iter().map(|(a, i)| (*a, ext_text(dir.path(), a.as_str(), &i.cert_pem))).collect();
        let leaf_ku = if alg.is_rsa() { "Digital Signature, Key Encipherment" } else { "Digital Signature\n" };

        let ca = &c[&Artefact::Ca];
        for want in [
            "subject=CN = kubernetes",
            "X509v3 Key Usage: critical",
            "Digital Signature, Key Encipherment, Certificate Sign",
            "X509v3 Basic Constraints: critical",
            "CA:TRUE",
        ] {
            assert!(ca.contains(want), "{alg} ca: missing {want:?} in\n{ca}");
        }
        let api = &c[&Artefact::Apiserver];
        for want in [
            "subject=CN = kube-apiserver",
            "TLS Web Server Authentication",
            "CA:FALSE",
            leaf_ku,
            "DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local",
            "DNS:localhost",
            "DNS:tenant-a,",
            "DNS:tenant-a.tenants,",
            "DNS:tenant-a.tenants.svc,",
            "DNS:tenant-a.tenants.svc.cluster.local",
            "DNS:tenant-a.example.com",
            "DNS:*.apps.example.com",
            "IP Address:10.96.0.1",
            "IP Address:127.0.0.1",
            "IP Address:192.0.2.10",
            "IP Address:203.0.113.5",
            "IP Address:FD00:10:96:0:0:0:0:1",
        ] {
            assert!(api.contains(want), "{alg} apiserver: missing {want:?} in\n{api}");
        }
        assert!(!api.contains("Client Authentication"), "{api}");
        let admin = &c[&Artefact::Admin];
        for want in ["subject=O = kubeadm:cluster-admins, CN = kubernetes-admin", "TLS Web Client Authentication", "CA:FALSE", leaf_ku] {
            assert!(admin.contains(want), "{alg} admin: missing {want:?} in\n{admin}");
        }
        assert!(!admin.contains("Subject Alternative Name"), "{admin}");
        let fp = &c[&Artefact::FrontProxyClient];
        for want in ["subject=CN = front-proxy-client", "TLS Web Client Authentication", "CA:FALSE"] {
            assert!(fp.contains(want), "{alg} front-proxy-client: missing {want:?} in\n{fp}");
        }
        let expect_subjects = [
            (Artefact::FrontProxyCa, "subject=CN = front-proxy-ca"),
            (Artefact::ApiserverKubeletClient, "subject=CN = kube-apiserver-kubelet-client"),
            (Artefact::SuperAdmin, "subject=O = system:masters, CN = kubernetes-super-admin"),
            (Artefact::ControllerManager, "subject=CN = system:kube-controller-manager"),
            (Artefact::Scheduler, "subject=CN = system:kube-scheduler"),
            (Artefact::Konnectivity, "subject=CN = system:konnectivity-server"),
        ];
        for (a, s) in expect_subjects {
            assert!(c[&a].contains(s), "{a}: {}", c[&a]);
        }
        // SKI everywhere, AKI on signed certs, serial and dates.
        let text = run(openssl().args(["x509", "-noout", "-text", "-in"]).arg(dir.path().join("apiserver")));
        assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        assert!(text.contains("Not Before: Jun  1 11:55:00 2025 GMT"), "{text}");
        assert!(text.contains("Not After : Jun  1 12:00:00 2026 GMT"), "{text}");
        let ca_text = run(openssl().args(["x509", "-noout", "-text", "-in"]).arg(dir.path().join("ca")));
        assert!(ca_text.contains("Not After : May 30 12:00:00 2035 GMT"), "{ca_text}");
    }
}

/// Make a root CA and an intermediate with OpenSSL, import the intermediate
/// (PKCS#8, PKCS#1 and SEC1 key encodings), issue leaves, verify the chain.
#[test]
fn imported_intermediate_ca_from_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |n: &str| d.join(n);
    run(openssl().args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out"]).arg(p("root.key")));
    run(openssl()
        .args(["req", "-x509", "-new", "-key"])
        .arg(p("root.key"))
        .args(["-subj", "/C=DE/O=Example Corp/CN=Example Root CA", "-days", "7300", "-sha384"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out"])
        .arg(p("root.crt")));
    write(
        d,
        "inter.ext",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    let cases = [
        ("RSA", "rsa_keygen_bits:2048", vec!["pkey", "-traditional"], "RSA PRIVATE KEY"),
        ("RSA", "rsa_keygen_bits:3072", vec!["pkey"], "PRIVATE KEY"),
        ("EC", "ec_paramgen_curve:P-256", vec!["ec"], "EC PRIVATE KEY"),
        ("EC", "ec_paramgen_curve:P-384", vec!["pkey"], "PRIVATE KEY"),
    ];
    let mut go = vec![];
    for (i, (algo, opt, conv, label)) in cases.iter().enumerate() {
        let ik = p(&format!("inter{i}.key"));
        let ikc = p(&format!("inter{i}.conv.key"));
        let ic = p(&format!("inter{i}.crt"));
        run(openssl().args(["genpkey", "-algorithm", algo, "-pkeyopt", opt, "-out"]).arg(&ik));
        run(openssl().args(conv).arg("-in").arg(&ik).arg("-out").arg(&ikc));
        let key_pem = std::fs::read_to_string(&ikc).unwrap();
        assert!(key_pem.starts_with(&format!("-----BEGIN {label}-----")), "{key_pem}");
        run(openssl()
            .args(["req", "-new", "-key"])
            .arg(&ik)
            .args(["-subj", "/O=Example Corp/OU=Platform/CN=Tenant Intermediate CA", "-out"])
            .arg(p("inter.csr")));
        run(openssl()
            .args(["x509", "-req", "-in"])
            .arg(p("inter.csr"))
            .arg("-CA")
            .arg(p("root.crt"))
            .arg("-CAkey")
            .arg(p("root.key"))
            .args(["-set_serial", "4242", "-days", "3650", "-extfile"])
            .arg(p("inter.ext"))
            .arg("-out")
            .arg(&ic));
        let ca_key = PrivateKey::from_pem(&key_pem).unwrap();
        let issuer = Issuer::new(&std::fs::read_to_string(&ic).unwrap(), ca_key).unwrap();
        // OpenSSL stamped the CAs with the wall clock; issue one hour into the intermediate's life.
        let now = issuer.info().not_before + time::Duration::hours(1);
        let at = (now.unix_timestamp() + 60).to_string();
        let mut rng = rng(100 + i as u64);
        let specs = tenant_cert_specs(&params(KeyAlgorithm::EcdsaP256)).unwrap();
        for a in [Artefact::Apiserver, Artefact::Admin] {
            let leaf = issue(&specs[&a], None, &issuer, now, &mut rng).unwrap();
            let lc = write(d, &format!("leaf{i}-{a}.crt"), &leaf.cert_pem);
            let lk = write(d, &format!("leaf{i}-{a}.key"), &leaf.key.to_pem());
            let purpose = if a == Artefact::Apiserver { "sslserver" } else { "sslclient" };
            let out = run(openssl()
                .args(["verify", "-x509_strict", "-attime", &at, "-purpose", purpose, "-CAfile"])
                .arg(p("root.crt"))
                .arg("-untrusted")
                .arg(&ic)
                .arg(&lc));
            assert!(out.contains(": OK"), "{out}");
            let usage = if a == Artefact::Apiserver { "server" } else { "client" };
            go.push(format!("chain {} {} {} {usage} {at}", p("root.crt").display(), ic.display(), lc.display()));
            go.push(format!("keypair {} {}", lc.display(), lk.display()));
            // Issuer name bytes are carried over exactly.
            let issuer_line = run(openssl().args(["x509", "-noout", "-issuer", "-in"]).arg(&lc));
            assert!(issuer_line.contains("O = Example Corp, OU = Platform, CN = Tenant Intermediate CA"), "{issuer_line}");
        }
    }
    go_checks(d, &go);
}

#[test]
fn imported_ca_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |n: &str| d.join(n);
    // A "CA" whose KeyUsage lacks keyCertSign.
    run(openssl().args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]).arg(p("k.key")));
    run(openssl()
        .args(["req", "-x509", "-new", "-key"])
        .arg(p("k.key"))
        .args([
            "-subj",
            "/CN=not-a-signer",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-out",
        ])
        .arg(p("k.crt")));
    let key = PrivateKey::from_pem(&std::fs::read_to_string(p("k.key")).unwrap()).unwrap();
    let crt = std::fs::read_to_string(p("k.crt")).unwrap();
    assert!(matches!(Issuer::new(&crt, key.clone()), Err(Error::NotACa(_))));
    // No BasicConstraints at all.
    run(openssl()
        .args(["req", "-x509", "-new", "-key"])
        .arg(p("k.key"))
        .args(["-subj", "/CN=no-bc", "-days", "30", "-config", "/dev/null", "-out"])
        .arg(p("nobc.crt")));
    let nobc = std::fs::read_to_string(p("nobc.crt")).unwrap();
    assert!(matches!(Issuer::new(&nobc, key.clone()), Err(Error::NotACa(_))), "{nobc}");
    // Our own leaf is not a CA; a foreign key does not match.
    let mut rng = rng(9);
    let ca = self_signed_ca(&CertSpec::ca("x", KeyAlgorithm::EcdsaP256), None, now(), &mut rng).unwrap();
    assert!(matches!(Issuer::new(&ca.cert_pem, key), Err(Error::KeyMismatch)));
    let issuer = ca.to_issuer().unwrap();
    let spec = CertSpec::leaf("leaf", vec![], CertKind::Client, vec![], vec![], KeyAlgorithm::EcdsaP256);
    let leaf = issue(&spec, None, &issuer, now(), &mut rng).unwrap();
    assert!(matches!(Issuer::new(&leaf.cert_pem, leaf.key.clone()), Err(Error::NotACa(_))));
    let _: Vec<IpAddr> = vec![];
}
