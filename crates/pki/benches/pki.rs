//! Micro-benchmarks of the PKI hot paths: key generation, encoding, certificate issuance and a
//! whole tenant PKI, and RSA's public operation (OAEP's `m^e mod n`) on both Montgomery products. `cargo bench -p tcpc-pki` (results in docs/benchmarks.md, "PKI").

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use std::hint::black_box;
use tcpc_pki::{CertKind, CertSpec, KeyAlgorithm, PrivateKey, TenantPkiParams, issue, issue_tenant_pki, self_signed_ca};

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // fixed: 2026-01-01
}

fn keys(c: &mut Criterion) {
    let mut g = c.benchmark_group("key");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    g.bench_function("generate/ECDSA-P256", |b| b.iter(|| PrivateKey::generate(KeyAlgorithm::EcdsaP256, &mut rng).unwrap()));
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256, &mut rng).unwrap();
    let pem = k.to_pem();
    g.bench_function("to_pem/ECDSA-P256", |b| b.iter(|| black_box(&k).to_pem()));
    g.bench_function("from_pem/ECDSA-P256", |b| b.iter(|| PrivateKey::from_pem(black_box(&pem)).unwrap()));
    g.sample_size(10);
    g.bench_function("generate/RSA-2048", |b| b.iter(|| PrivateKey::generate(KeyAlgorithm::Rsa2048, &mut rng).unwrap()));
    g.finish();
}

fn certs(c: &mut Criterion) {
    let mut g = c.benchmark_group("cert");
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let ca = self_signed_ca(&CertSpec::ca("kubernetes", alg), None, now(), &mut rng).unwrap().to_issuer().unwrap();
        let spec = CertSpec::leaf(
            "kube-apiserver",
            vec![],
            CertKind::Server,
            vec!["kubernetes.default.svc".into(), "tenant-0.tenants.svc".into()],
            vec!["10.96.0.1".parse().unwrap()],
            alg,
        );
        let key = PrivateKey::generate(alg, &mut rng).unwrap();
        // Signing only: the subject key is given, so no key generation is measured.
        g.bench_function(format!("issue_leaf_with_key/{alg}"), |b| {
            b.iter_batched(|| key.clone(), |k| issue(&spec, Some(k), &ca, now(), &mut rng).unwrap(), BatchSize::SmallInput)
        });
    }
    g.finish();
}

fn tenant(c: &mut Criterion) {
    let mut g = c.benchmark_group("tenant");
    g.sample_size(20);
    let alg = KeyAlgorithm::EcdsaP256;
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let ds = self_signed_ca(&CertSpec::ca("datastore-ca", alg), None, now(), &mut rng).unwrap().to_issuer().unwrap();
    let mut p = TenantPkiParams::new("tenant-0", "tenants");
    p.key_algorithm = alg;
    p.service_ips = vec!["10.96.0.1".parse().unwrap()];
    p.advertise_address = Some("192.0.2.10".parse().unwrap());
    p.datastore_user = Some("tenants_tenant-0".into());
    g.bench_function("issue_tenant_pki/ECDSA-P256", |b| b.iter(|| issue_tenant_pki(&p, Some(&ds), now(), &mut rng).unwrap()));
    g.finish();
}

/// `m^65537 mod n` for a 4096-bit modulus (the sealed-secrets controller key's size): the IFMA
/// product where the CPU has it (`pow`) against the scalar one (`pow_scalar`).
fn rsa_public(c: &mut Criterion) {
    use tcpc_pki::montgomery::{Montgomery, to_limbs};
    let mut g = c.benchmark_group("rsa_public_4096");
    // Any odd 4096-bit modulus costs what an RSA one does.
    let mut bytes = [0u8; 512];
    rand_core::RngCore::fill_bytes(&mut ChaCha20Rng::seed_from_u64(4), &mut bytes);
    bytes[0] |= 0x80;
    bytes[511] |= 1;
    let n = rsa::BigUint::from_bytes_be(&bytes);
    let mont = Montgomery::new(&n);
    let m = to_limbs(&(&n >> 3usize), mont.limbs());
    g.bench_function("pow", |b| b.iter(|| mont.pow(black_box(&m), 65537)));
    g.bench_function("pow_scalar", |b| b.iter(|| mont.pow_scalar(black_box(&m), 65537)));
    g.finish();
}

criterion_group!(benches, keys, certs, tenant, rsa_public);
criterion_main!(benches);
