//! Records which commit the binary was built from, for `tcpc --version`, and a hash of the code
//! that shapes rendered output, for the render cache (`src/cache.rs`).
//!
//! `TCPC_BUILD_COMMIT` (set by a packager building outside Git) wins; otherwise `git` is asked
//! for HEAD's abbreviated hash and commit date. Outside a Git checkout, or without `git`, the
//! version says `unknown commit`. Nothing here reaches rendered output: only `--version`.

use std::path::{Path, PathBuf};
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

/// Every file under `dirs`, in path order.
fn files(dirs: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        walk(Path::new(d), &mut out);
    }
    out.sort();
    out
}

/// FNV-1a, 128 bits (no dependency for a build script). Not a security boundary: it only has to
/// change when the code does.
fn render_code_hash() -> String {
    const DIRS: [&str; 4] = ["src", "templates", "crates/yaml/src", "crates/spec/src"];
    for d in DIRS {
        println!("cargo:rerun-if-changed={d}");
    }
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for path in files(&DIRS) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        for b in path.to_string_lossy().as_bytes().iter().chain([0u8].iter()).chain(bytes.iter()) {
            h ^= u128::from(*b);
            h = h.wrapping_mul(0x0000000001000000000000000000013B);
        }
    }
    format!("{h:032x}")
}

fn main() {
    println!("cargo:rustc-env=TCPC_RENDER_CODE={}", render_code_hash());
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
