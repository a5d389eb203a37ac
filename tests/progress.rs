//! The progress bar of long compiles: drawn on a terminal (a pseudo-terminal from util-linux
//! `script`), erased when done, and never drawn in CI, with `-q`, or when stderr is a pipe — so
//! logs of CI and Argo CD stay clean.

mod common;

use std::process::Command;

use common::{root, run, tcpc};

/// A generated repository of `n` tenants (tools/gen-tenants.py).
fn fleet(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new("python3")
        .arg(root().join("tools/gen-tenants.py"))
        .arg(n.to_string())
        .arg(dir.path())
        .output()
        .expect("python3")
        .status
        .success();
    assert!(ok, "tools/gen-tenants.py failed");
    dir
}

/// `tcpc ARGS` with stdout and stderr on a pseudo-terminal; returns what the terminal got.
fn on_terminal(args: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", env!("CARGO_BIN_EXE_tcpc")), "/dev/null"]).env_remove("CI").env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("util-linux `script`");
    assert!(out.status.success(), "tcpc {args} on a terminal failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_long_compile_draws_a_bar_on_a_terminal_only() {
    let n = 600;
    let repo = fleet(n);
    let path = repo.path().display().to_string();

    let seen = on_terminal(&format!("validate {path}"), &[]);
    assert!(seen.contains(&format!("/{n} tenants")), "no progress on a terminal:\n{seen:?}");
    assert!(seen.contains("\r\x1b[2K"), "the bar is not erased at the end:\n{seen:?}");
    let last = seen.rsplit("\r\x1b[2K").next().unwrap();
    assert!(last.contains(&format!("ok: {n} TenantControlPlane(s) valid")), "the result follows the erased bar: {last:?}");

    for (what, args, env) in [
        ("CI", format!("validate {path}"), vec![("CI", "true")]),
        ("-q", format!("validate -q {path}"), vec![]),
        ("Argo CD plugin mode", format!("validate {path}"), vec![("ARGOCD_APP_NAME", "app")]),
    ] {
        let seen = on_terminal(&args, &env);
        assert!(!seen.contains(" tenants\r") && !seen.contains("\x1b[2K"), "{what}: a bar was drawn:\n{seen:?}");
    }
    // stderr a pipe (the usual CI case even without CI set).
    let r = run(tcpc().args(["validate", &path]).env_remove("CI")).expect_code(0, "validate, piped");
    assert!(!r.stderr.contains(&format!("/{n} tenants")), "a bar on a pipe: {:?}", r.stderr);
}
