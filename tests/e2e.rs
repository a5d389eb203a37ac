//! End-to-end tests on a real management cluster (tools/e2e):
//!
//! - `management_cluster_smoke` (tests/e2e/smoke.sh): the harness itself — a kube-apiserver
//!   Deployment and the sealed-secrets controller run, then the cluster is torn down without
//!   leaving anything behind.
//! - `rendered_tenants` (tests/e2e/tenants.sh): what `tcpc render` produced — management bundles
//!   applied and serving, reachable through their Services, the unsealed admin kubeconfig, the
//!   tenant bundle, a worker host joining with the printed `kubeadm join` line (Node Ready, the
//!   tenant's kube-proxy and CoreDNS on it), the internal CA trusted by kube-apiserver (OIDC), a
//!   rollout without failed /readyz polls, and deletion leaving nothing behind.
//! - `flux_delivery` (tests/e2e/flux.sh): the real Flux source-controller and kustomize-controller
//!   apply a rendered repository (SOPS/age backend) served over Git smart HTTP: the tenant
//!   reaches /readyz, its Secrets are decrypted, postBuild substitution changes nothing of ours,
//!   and a committed version bump rolls out.
//!
//! Gated: runs only with `TCPC_E2E=1` (root, ~2 GB RAM, the peers from `tools/peers.sh
//! kubernetes debian sealed-secrets-controller kubeseal flux`). Otherwise each test prints
//! `SKIPPED: set TCPC_E2E=1` and passes. Run: `TCPC_E2E=1 cargo test --test e2e -- --nocapture`.
//! The tests share the harness's fixed addresses, so they run one after the other.
//! `TCPC_E2E_DIR` (a directory) puts each cluster under `$TCPC_E2E_DIR/<test>`.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

static CLUSTER: Mutex<()> = Mutex::new(());

fn run(script: &str, name: &str, envs: &[(&str, &str)]) {
    if std::env::var("TCPC_E2E").as_deref() != Ok("1") {
        println!("SKIPPED: set TCPC_E2E=1");
        return;
    }
    let _one_cluster_at_a_time = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let mut cmd = Command::new("bash");
    cmd.arg(&script).envs(envs.iter().copied());
    if let Ok(dir) = std::env::var("TCPC_E2E_DIR") {
        cmd.arg(Path::new(&dir).join(name));
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(status.success(), "{} failed: {status}", script.display());
}

#[test]
fn management_cluster_smoke() {
    run("tests/e2e/smoke.sh", "smoke", &[]);
}

#[test]
fn rendered_tenants() {
    run("tests/e2e/tenants.sh", "tenants", &[("TCPC_BIN", env!("CARGO_BIN_EXE_tcpc"))]);
}

#[test]
fn flux_delivery() {
    run("tests/e2e/flux.sh", "flux", &[("TCPC_BIN", env!("CARGO_BIN_EXE_tcpc"))]);
}
