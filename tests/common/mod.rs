//! Helpers shared by the integration tests: run the real `tcpc` binary, copy and snapshot
//! directories, compare output trees with a readable diff.
//!
//! Use: `mod common;` in a test crate, then `common::tcpc()`.
#![allow(dead_code)]

pub mod apiserver;
pub mod peers;
pub mod pki;
pub mod snap;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The time the examples' certificates were issued; renders of `examples/` must use it so
/// renewal decisions do not depend on the clock.
pub const EXAMPLES_EPOCH: &str = "1795317058";

/// The example-only age identity that decrypts `examples/.tcpc/state`.
pub const EXAMPLES_IDENTITY: &str = "tests/fixtures/examples-age-identity.txt";

/// The repository root (where `Cargo.toml`, `examples/` and `golden/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `tcpc` binary built for this test run, with a controlled environment: the examples'
/// `SOURCE_DATE_EPOCH` and no age identity from the caller's environment.
pub fn tcpc() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tcpc"));
    cmd.env("SOURCE_DATE_EPOCH", EXAMPLES_EPOCH)
        .env_remove("TCPC_AGE_IDENTITY")
        .env_remove("TCPC_AGE_IDENTITY_FILE")
        .env_remove("RUST_BACKTRACE")
        .current_dir(root());
    cmd
}

/// What a finished `tcpc` run returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the full output unless the exit code is `code`.
    pub fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(self.code, code, "{what}: expected exit code {code}, got {}\n{}", self.code, self.describe());
        self
    }

    pub fn describe(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}---", self.stdout, self.stderr)
    }
}

/// Runs a command to completion and captures its output.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces the first `from` in the file at `path` with `to`; panics if `from` is not there.
pub fn replace_once(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Copies the directory tree `src` to `dst` (created), hidden files included.
/// `tcpc render DIR -o OUT --allow-outside --identity <the examples' identity>`: a render of a
/// copy of the examples that may issue, into a directory outside it.
pub fn render_with_identity(dir: &Path, out: &Path) -> Command {
    let mut c = tcpc();
    c.arg("render").arg(dir).arg("-o").arg(out).arg("--allow-outside").arg("--identity").arg(root().join(EXAMPLES_IDENTITY));
    c
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap_or_else(|e| panic!("creating {}: {e}", dst.display()));
    for entry in std::fs::read_dir(src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display())) {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&from, &to);
        } else {
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
        }
    }
}

/// Every file under `dir` (hidden ones included) with its bytes, keyed by relative path, but
/// the output tree's marker (`tcpc::emit::MARKER`): it holds the render cache, whose keys change
/// with the build, and `tests/incremental.rs` checks it. A missing `dir` is an empty snapshot.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(base, &path, out);
            } else if entry.file_name() != tcpc::emit::MARKER {
                let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The lock of the repository at `repo` as files: the root `tcpc.lock` and every shard of
/// `tcpc.lock.d/`, keyed by path relative to `repo`.
pub fn lock_snapshot(repo: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> =
        snapshot(&repo.join("tcpc.lock.d")).into_iter().map(|(k, v)| (format!("tcpc.lock.d/{k}"), v)).collect();
    if let Ok(root) = std::fs::read(repo.join("tcpc.lock")) {
        out.insert("tcpc.lock".into(), root);
    }
    out
}

/// Names the files that differ between two snapshots (empty when equal).
pub fn snapshot_changes(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let paths: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    paths
        .into_iter()
        .filter_map(|p| match (before.get(p), after.get(p)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(_), Some(_)) => Some(format!("changed: {p}")),
            (Some(_), None) => Some(format!("removed: {p}")),
            _ => Some(format!("added: {p}")),
        })
        .collect()
}

/// Reads a rendered tree with tcpc's own reader.
pub fn read_tree(dir: &Path) -> tcpc::model::Tree {
    tcpc::emit::read_tree(dir).unwrap_or_else(|e| panic!("reading the tree {}: {e}", dir.display()))
}

/// Panics with a unified diff (expected → actual) when the trees differ.
pub fn assert_trees_eq(expected: &Path, actual: &Path, hint: &str) {
    let (a, b) = (read_tree(expected), read_tree(actual));
    assert!(!a.is_empty(), "{} holds no files", expected.display());
    let diff = tcpc::diff::tree_diff(&a, &b);
    if !diff.is_empty() {
        panic!("{} and {} differ:\n{diff}\n{hint}", expected.display(), actual.display());
    }
}
