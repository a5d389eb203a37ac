//! No plaintext key material anywhere tcpc writes or prints.
//!
//! Renders a copy of `examples/` with fresh state (every tenant's PKI is issued; the DataStore
//! CA is one made here with openssl and imported), then — for good measure — a no-op render
//! without identity, a failing render that needs the identity, and `tcpc check`. It learns
//! every private key by unsealing the SealedSecrets with kubeseal (and the kubeconfigs'
//! `client-key-data`), and scans every file of the repository copy (specs, state, lock,
//! rendered tree, leftovers) and every captured stdout/stderr for `PRIVATE KEY`, the age
//! identity, and each key as PEM, base64 of the PEM, PEM body lines and raw DER.
//! The scanner is first shown to find a planted key, so a silent scanner cannot pass.

mod common;
use common::pki as harness;
use common::snapshot;

use std::collections::BTreeSet;
use std::path::Path;

use harness::*;

/// One secret value in the forms it could leak in.
struct Needle {
    what: String,
    forms: Vec<Vec<u8>>,
}

fn pem_needle(what: String, pem: &[u8]) -> Needle {
    let text = String::from_utf8_lossy(pem).into_owned();
    let mut forms = vec![pem.to_vec(), b64e(pem).into_bytes()];
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    // Body lines long enough not to collide with anything by chance.
    forms.extend(text.lines().filter(|l| !l.starts_with("-----") && l.len() >= 40).map(|l| l.as_bytes().to_vec()));
    let der = b64d(&body);
    forms.push(der);
    forms.push(body.into_bytes());
    Needle { what, forms }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every place `hay` shows a needle or a marker.
fn scan(name: &str, hay: &[u8], needles: &[Needle], hits: &mut Vec<String>) {
    for marker in [&b"PRIVATE KEY"[..], b"AGE-SECRET-KEY-"] {
        if find(hay, marker) {
            hits.push(format!("{name}: contains {:?}", String::from_utf8_lossy(marker)));
        }
    }
    for n in needles {
        if n.forms.iter().any(|f| find(hay, f)) {
            hits.push(format!("{name}: contains {}", n.what));
        }
    }
}

#[test]
fn no_key_material_in_outputs_state_or_logs() {
    let Some(p) = require_base_peers() else { return };
    let ws = Workspace::examples_fresh();
    // A DataStore CA whose key this test knows (kept outside the repository copy).
    let outside = tempfile::tempdir().unwrap();
    std::fs::remove_dir_all(ws.state().join("datastores")).unwrap();
    let ds_ca = openssl_ca(&p.openssl, outside.path(), "etcd-ca", "etcd-ca");
    let e = ws.examples_dir();
    let import = tcpc(
        &[
            "import".into(),
            "datastore-ca".into(),
            "default".into(),
            "--cert".into(),
            s(&ds_ca.0),
            "--key".into(),
            s(&ds_ca.1),
            "--dir".into(),
            s(&e),
        ],
        EPOCH,
    )
    .expect_ok();

    let mut runs = vec![("import", import)];
    let render = ws.render(Some(&identity_file()), EPOCH).expect_ok();
    let issued = render.stderr.lines().filter(|l| l.contains(": issued ")).count();
    // 4 etcd tenants × 11 (2 of them with konnectivity: its server's certificate too), the
    // PostgreSQL tenant (kine: no etcd client certificate) 10, the dedicated-etcd tenant 14 (also
    // its etcd's CA, serving and peer certificates) + 1 (it has konnectivity too), the rotation:
    // companion tenant 5 (its two CAs, the DataStore client, super-admin and the service-account
    // key: the companion issues the rest in the cluster)
    assert_eq!(issued, 4 * 11 + 2 + 10 + 14 + 1 + 5, "every artefact of the 7 tenants must be issued:\n{}", render.stderr);
    runs.push(("render --identity", render));
    runs.push(("render (no identity)", ws.render(None, EPOCH).expect_ok()));
    runs.push(("check", tcpc(&["check".into(), s(&e)], EPOCH)));
    // A render that needs the identity and fails: its message must not leak either.
    let minimal = ws.path("tenants/minimal.yaml");
    let spec = std::fs::read_to_string(&minimal).unwrap();
    std::fs::write(&minimal, format!("{spec}  networkProfile:\n    certSANs:\n    - leak.example.com\n")).unwrap();
    runs.push(("failing render", ws.render(None, EPOCH).expect_fail()));
    std::fs::write(&minimal, spec).unwrap();

    // Learn the secrets.
    let mut needles = Vec::new();
    let identity = std::fs::read_to_string(identity_file()).unwrap();
    let age_key = identity.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap().to_string();
    needles.push(Needle { what: "the age identity".into(), forms: vec![age_key.into_bytes()] });
    needles.push(pem_needle("the DataStore CA key".into(), &std::fs::read(&ds_ca.1).unwrap()));
    let secrets = unseal_all(&p.kubeseal, &ws.golden());
    assert_eq!(
        secrets.len(),
        40 + 2 + 12 + 11 + 1 + 4,
        "4 etcd tenants x 10 Secrets (+1 konnectivity kubeconfig for 2 of them), the PostgreSQL tenant's 12 (config, setup), the dedicated-etcd tenant's 11 (etcd-certs) + 1 (konnectivity), the rotation: companion tenant's 4 (its CAs, sa, DataStore client)"
    );
    let mut distinct = BTreeSet::new();
    for (name, u) in &secrets {
        for (key, value) in &u.data {
            let text = String::from_utf8_lossy(value);
            // The PostgreSQL tenant's database password (in its config and setup Secrets).
            if key == "DB_PASSWORD" {
                needles.push(Needle { what: format!("{name} {key}"), forms: vec![value.clone(), b64e(value).into_bytes()] });
            }
            if text.contains("PRIVATE KEY") {
                distinct.insert(value.clone());
                needles.push(pem_needle(format!("{name} {key}"), value));
            }
            if key.ends_with(".conf") || key.ends_with(".svc") {
                let path = outside.path().join("kubeconfig");
                std::fs::write(&path, value).unwrap();
                let k = kubeconfig(&p.kubectl, &path);
                distinct.insert(k.key.clone());
                let mut n = pem_needle(format!("{name} {key} client key"), &k.key);
                n.forms.push(b64e(&k.key).into_bytes());
                needles.push(n);
            }
        }
    }
    // The super-admin kubeconfig stays out of the cluster unless a tenant asks (only `full`
    // does): learn the others' from `tcpc kubeconfig`, written outside the repository copy.
    for tenant in ["tenants/edge", "tenants/minimal", "tenants/trusting", "platform/sql", "platform/isolated"] {
        let path = outside.path().join(format!("{}-super-admin.conf", tenant.replace('/', "-")));
        let args = ["kubeconfig", tenant, "--user", "super-admin", "--dir", &s(&e), "--identity", &s(&identity_file()), "-o", &s(&path)];
        runs.push(("kubeconfig --user super-admin", tcpc(&args.map(String::from), EPOCH).expect_ok()));
        let k = kubeconfig(&p.kubectl, &path);
        distinct.insert(k.key.clone());
        let mut n = pem_needle(format!("{tenant} super-admin client key"), &k.key);
        n.forms.push(b64e(&k.key).into_bytes());
        needles.push(n);
    }
    // ca, front-proxy-ca, sa, apiserver, kubelet client, front-proxy client, datastore client,
    // admin, super-admin, controller-manager, scheduler: 11 keys per tenant (the PostgreSQL one
    // has no datastore client), +1 (the konnectivity server's) for the 3 tenants with
    // konnectivity; the dedicated-etcd tenant's etcd server and peer keys (its etcd CA's key is in
    // no Secret: it stays in the encrypted state); the rotation: companion tenant's ca,
    // front-proxy-ca, sa and DataStore client keys (its leaves are the companion's).
    assert_eq!(distinct.len(), 4 * 11 + 2 + 10 + 13 + 1 + 4, "distinct private keys learnt from the Secrets");

    // The scanner finds what it looks for.
    let mut hits = Vec::new();
    let planted = needles.last().unwrap();
    scan("planted", &planted.forms[1], &needles, &mut hits);
    assert!(!hits.is_empty(), "the scanner missed a planted base64 key");

    // Scan everything.
    let mut hits = Vec::new();
    let files = snapshot(ws.root());
    assert!(files.keys().any(|f| f.starts_with("examples/.tcpc/state/tenants/")), "no state files to scan");
    assert!(files.keys().any(|f| f == "examples/tcpc.lock"));
    for (rel, bytes) in &files {
        scan(rel, bytes, &needles, &mut hits);
    }
    for (what, run) in &runs {
        scan(&format!("{what} stdout"), run.stdout.as_bytes(), &needles, &mut hits);
        scan(&format!("{what} stderr"), run.stderr.as_bytes(), &needles, &mut hits);
    }
    assert!(hits.is_empty(), "key material found ({} hit(s)):\n  - {}", hits.len(), hits.join("\n  - "));
    assert!(Path::new(&ws.state()).is_dir());
}
