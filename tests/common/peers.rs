//! Locating the real upstream tools ("peers") that tests check tcpc against.
//!
//! Peers are built and cached by `tools/peers.sh` (see `tools/peers/versions.env`);
//! `tools/test.sh` builds them all, then runs the tests with
//! `TCPC_PEERS_BIN=<bin dir>` and `TCPC_REQUIRE_PEERS=1`.
//!
//! Policy, in one place:
//! - the bin dir is `$TCPC_PEERS_BIN`, else the output of `tools/peers.sh --bin-dir`;
//! - a peer is `<bin dir>/<name>` if it is an executable file; the few tools that come
//!   from Debian packages rather than our builds ([`SYSTEM_TOOLS`]) are also looked up on `PATH`;
//! - a test that needs a missing peer fails when `TCPC_REQUIRE_PEERS=1`, and otherwise
//!   prints a loud `SKIPPED` line to stderr and returns early.
//!
//! Use: `mod common; use common::peers;`, then
//! `let Some(kubectl) = peers::require_peer("kubectl") else { return };`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Tools installed by `tools/peers.sh debian` (apt) instead of built into the bin dir.
pub const SYSTEM_TOOLS: &[&str] = &["etcd", "openssl", "containerd", "runc", "iptables", "conntrack", "socat", "ip", "chromium"];

/// The directory `tools/peers.sh` installs binaries into.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TCPC_PEERS_BIN").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let script = repo_root().join("tools/peers.sh");
    let out = Command::new("bash").arg(script).arg("--bin-dir").output().ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The root of this repository (the root package's manifest directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The peer binary `name` (e.g. `kubectl`, `kube-apiserver-v1.36.3`, `kubeseal`, `etcd`), if present.
pub fn peer(name: &str) -> Option<PathBuf> {
    if let Some(p) = bin_dir().map(|d| d.join(name)).filter(|p| is_executable(p)) {
        return Some(p);
    }
    if SYSTEM_TOOLS.contains(&name) {
        let path = std::env::var_os("PATH")?;
        return std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p));
    }
    None
}

/// [`peer`], applying the missing-peer policy: panics if `TCPC_REQUIRE_PEERS=1`,
/// else prints a loud SKIPPED line and returns `None` (the caller returns early).
pub fn require_peer(name: &str) -> Option<PathBuf> {
    if let Some(p) = peer(name) {
        return Some(p);
    }
    let dir = bin_dir().map_or_else(|| "<unknown>".into(), |d| d.display().to_string());
    let why = format!("peer `{name}` not found in {dir} (run tools/peers.sh all, or tools/test.sh)");
    if std::env::var("TCPC_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("TCPC_REQUIRE_PEERS=1 but {why}");
    }
    eprintln!("\n********** SKIPPED: {why} **********\n");
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The releases of `KUBERNETES_EXTRA_VERSIONS` (and `TCPC_MORE_KUBERNETES_VERSIONS`) built into
/// the peers' bin dir: every `<command>-v1.X.Y` there but the pinned release (what `<command>`
/// links to), sorted by minor. The oldest supported
/// release, which CI builds, must be among them (a skip, or a failure under
/// `TCPC_REQUIRE_PEERS=1`, otherwise).
#[allow(dead_code)]
pub fn built_releases(command: &str, oldest: &str) -> Vec<&'static str> {
    require_peer(&format!("{command}-{oldest}")).map_or_else(Vec::new, |_| {
        let dir = bin_dir().unwrap();
        let pinned = std::fs::read_link(dir.join(command)).ok().and_then(|p| p.file_name()?.to_str().map(str::to_string));
        let mut found: Vec<(u32, &'static str)> = std::fs::read_dir(bin_dir().unwrap())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix(&format!("{command}-"))?.to_string().into())
            .filter(|v: &String| v.starts_with("v1.") && pinned.as_deref() != Some(&format!("{command}-{v}")))
            .map(|v| (v.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0), &*Box::leak(v.into_boxed_str())))
            .collect();
        found.sort();
        found.into_iter().map(|(_, v)| v).collect()
    })
}
