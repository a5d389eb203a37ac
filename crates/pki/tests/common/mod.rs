#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use time::OffsetDateTime;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A fixed "now": 2025-06-01T12:00:00Z.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_748_779_200).unwrap()
}

/// `now()` + 1h as unix seconds, for `openssl verify -attime` / Go's CurrentTime.
pub fn check_time() -> i64 {
    now().unix_timestamp() + 3600
}

pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Run a command, panic with its output on failure, return stdout+stderr.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Run a command that is expected to fail (or may); return stdout+stderr, never panic on exit.
#[allow(dead_code)]
pub fn run_allow_failure(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(!out.status.success(), "{cmd:?} succeeded, and it must fail");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

pub fn openssl() -> Command {
    Command::new("/usr/bin/openssl")
}

/// Build `tests/goverify` once per test run into the cargo target tmp dir.
pub fn goverify() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/goverify");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("goverify");
        run(Command::new("/usr/local/go/bin/go")
            .current_dir(&src)
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0")
            .args(["build", "-o"])
            .arg(&out)
            .arg("."));
        out
    })
}

/// Run goverify over a manifest of checks (see main.go).
pub fn go_checks(dir: &Path, lines: &[String]) {
    let manifest = write(dir, "goverify.manifest", &(lines.join("\n") + "\n"));
    let text = run(Command::new(goverify()).arg(&manifest));
    assert!(text.contains(&format!("{} checks, 0 failed", lines.len())), "{text}");
}
