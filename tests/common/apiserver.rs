//! A throwaway loopback kube-apiserver (`tools/apiserver.sh`) for the tests that need a real
//! API server. Use: `mod common;`, then `common::apiserver`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running `tools/apiserver.sh` instance; stopped (processes killed, data removed)
/// on drop, also when the test panics.
pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl ControlPlane {
    pub fn start(kube_apiserver: &Path, etcd: &Path) -> ControlPlane {
        let dir = tempfile::Builder::new().prefix("tcpc-apiserver-").tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(super::peers::repo_root().join("tools/apiserver.sh"))
            .arg("start")
            .arg(dir.path())
            .env("KUBE_APISERVER", kube_apiserver)
            .env("ETCD", etcd)
            .output()
            .expect("run tools/apiserver.sh");
        // Guard first, so that a failed start still stops whatever did start.
        let cp = ControlPlane { kubeconfig: dir.path().join("kubeconfig"), dir };
        if !out.status.success() {
            panic!(
                "tools/apiserver.sh start failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        cp
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let status =
            Command::new("bash").arg(super::peers::repo_root().join("tools/apiserver.sh")).arg("stop").arg(self.dir.path()).status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("warning: tools/apiserver.sh stop {} failed: {status:?}", self.dir.path().display());
        }
    }
}
