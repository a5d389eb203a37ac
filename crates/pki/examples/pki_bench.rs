//! Benchmark: issue the full tenant PKI (2 CAs, 9 leaves incl. the datastore
//! client, 5 kubeconfigs, `sa`) for N tenants.
//!
//! `cargo run --release -p tcpc-pki --example pki_bench -- --tenants N --algorithm ECDSA-P256 [--threads T]`
//!
//! Prints one line per mode (single thread, and T threads; T defaults to 2):
//! `mode=... algorithm=... tenants=N total_s=... per_tenant_ms=...`.

use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tcpc_pki::*;

fn one_tenant(i: usize, alg: KeyAlgorithm, ds_ca: &Issuer, now: time::OffsetDateTime) -> usize {
    let mut rng = ChaCha20Rng::seed_from_u64(i as u64);
    let mut p = TenantPkiParams::new(format!("tenant-{i}"), "tenants");
    p.key_algorithm = alg;
    p.service_ips = vec!["10.96.0.1".parse().unwrap()];
    p.advertise_address = Some("192.0.2.10".parse().unwrap());
    p.endpoint_host = Some(format!("tenant-{i}.example.com"));
    p.datastore_user = Some(format!("tenants_tenant-{i}"));
    let pki = issue_tenant_pki(&p, Some(ds_ca), now, &mut rng).expect("issue");
    let ca = &pki.certs[&Artefact::Ca];
    let mut bytes = 0;
    for (a, issued) in &pki.certs {
        bytes += issued.cert_pem.len() + issued.key.to_pem().len();
        if let Some((user, _)) = a.kubeconfig() {
            let kc = kubeconfig(&p.cluster_name, "https://192.0.2.10:6443", &ca.cert_pem, user, &issued.cert_pem, &issued.key);
            bytes += kc.len();
        }
    }
    bytes + pki.sa.to_pem().len() + pki.sa.public_key_pem().len()
}

fn main() {
    let mut tenants = 1usize;
    let mut alg = KeyAlgorithm::EcdsaP256;
    let mut threads = 2usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tenants" => tenants = args.next().expect("--tenants N").parse().expect("number"),
            "--algorithm" => alg = args.next().expect("--algorithm X").parse().expect("algorithm"),
            "--threads" => threads = args.next().expect("--threads T").parse().expect("number"),
            other => panic!("unknown argument {other}"),
        }
    }
    // The benchmark may read the clock; the library never does.
    let now = time::OffsetDateTime::now_utc();
    let mut rng = ChaCha20Rng::seed_from_u64(u64::MAX);
    let ds = self_signed_ca(&CertSpec::ca("datastore-ca", alg), None, now, &mut rng).unwrap();
    let ds_ca = ds.to_issuer().unwrap();

    let t = Instant::now();
    let mut bytes = 0;
    for i in 0..tenants {
        bytes += one_tenant(i, alg, &ds_ca, now);
    }
    report("single-thread", alg, tenants, t.elapsed().as_secs_f64(), bytes);

    let t = Instant::now();
    let bytes: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|w| {
                let ds_ca = &ds_ca;
                s.spawn(move || (w..tenants).step_by(threads).map(|i| one_tenant(i, alg, ds_ca, now)).sum::<usize>())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    report(&format!("{threads}-threads"), alg, tenants, t.elapsed().as_secs_f64(), bytes);
}

fn report(mode: &str, alg: KeyAlgorithm, n: usize, secs: f64, bytes: usize) {
    println!(
        "mode={mode} algorithm={alg} tenants={n} total_s={secs:.3} per_tenant_ms={:.2} output_bytes={bytes}",
        secs * 1000.0 / n as f64
    );
}
