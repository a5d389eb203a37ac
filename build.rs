//! Records which commit the binary was built from, for `tcpc --version`.
//!
//! `TCPC_BUILD_COMMIT` (set by a packager building outside Git) wins; otherwise `git` is asked
//! for HEAD's abbreviated hash and commit date. Outside a Git checkout, or without `git`, the
//! version says `unknown commit`. Nothing here reaches rendered output: only `--version`.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

/// Watch a Git file, if it exists (a missing path would make cargo run this script every build).
fn watch(git_path: &str) {
    if let Some(p) = git(&["rev-parse", "--git-path", git_path]).map(PathBuf::from)
        && p.exists()
    {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=TCPC_BUILD_COMMIT");
    let described = match std::env::var("TCPC_BUILD_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ => {
            // Rebuild when HEAD moves: HEAD itself, the branch it points at, and packed refs.
            watch("HEAD");
            watch("packed-refs");
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(&branch);
            }
            match (git(&["rev-parse", "--short=12", "HEAD"]), git(&["log", "-1", "--format=%cs", "HEAD"])) {
                (Some(hash), Some(date)) => format!("{hash} {date}"),
                (Some(hash), None) => hash,
                _ => "unknown commit".to_owned(),
            }
        }
    };
    println!("cargo:rustc-env=TCPC_COMMIT={described}");
}
