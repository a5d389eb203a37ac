//! Micro-benchmarks of the YAML hot paths: parsing with spans, conversion to JSON values and
//! canonical emission, on a rendered Deployment from `golden/` (embedded at build time).
//! `cargo bench -p tcpc-yaml`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const DEPLOYMENT: &str = include_str!("../../../golden/platform/full/management/deployment-full.yaml");

fn yaml(c: &mut Criterion) {
    let mut g = c.benchmark_group("yaml");
    g.throughput(Throughput::Bytes(DEPLOYMENT.len() as u64));
    g.bench_function("parse_stream/deployment", |b| b.iter(|| tcpc_yaml::parse_stream(black_box(DEPLOYMENT)).unwrap()));
    let docs = tcpc_yaml::parse_stream(DEPLOYMENT).unwrap();
    g.bench_function("to_json/deployment", |b| b.iter(|| black_box(&docs[0].root).to_json()));
    let value = docs[0].root.to_json();
    g.bench_function("emit/deployment", |b| b.iter(|| tcpc_yaml::emit(black_box(&value))));
    // A stream of many small documents (the shape of a 1,000-tenant repository's inputs).
    let many: String = (0..200)
        .map(|i| format!("---\napiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlane\nmetadata:\n  name: t{i}\n  namespace: tenants\nspec:\n  kubernetes:\n    version: v1.36.3\n  controlPlane:\n    deployment:\n      replicas: 2\n"))
        .collect();
    g.throughput(Throughput::Bytes(many.len() as u64));
    g.bench_function("parse_stream/200-small-docs", |b| b.iter(|| tcpc_yaml::parse_stream(black_box(&many)).unwrap()));
    g.finish();
}

criterion_group!(benches, yaml);
criterion_main!(benches);
