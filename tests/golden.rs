//! `golden/` is exactly what `tcpc render examples` writes, and rendering the examples with
//! unchanged inputs needs no age identity and leaves the lock and the encrypted state alone.
//!
//! Re-bless after an intended change of the output:
//!
//! ```text
//! TCPC_BLESS=1 cargo test --test golden
//! ```
//!
//! which runs `tcpc render examples --identity tests/fixtures/examples-age-identity.txt`
//! (issuing or sealing what the change needs, updating the lock `examples/tcpc.lock{,.d/}` and
//! `examples/.tcpc/`) and then runs the checks below against the result.

mod common;

use common::{root, run, snapshot, snapshot_changes, tcpc};

const HINT: &str = "if the change is intended, re-bless with TCPC_BLESS=1 cargo test --test golden";

/// With `TCPC_BLESS=1`, renders the examples into `golden/` once, before any check reads it.
fn bless_once() {
    static BLESS: std::sync::Once = std::sync::Once::new();
    BLESS.call_once(|| {
        if std::env::var_os("TCPC_BLESS").is_some_and(|v| v == "1") {
            let r = run(tcpc().args(["render", "examples", "--identity", common::EXAMPLES_IDENTITY]));
            eprintln!("{}", r.stderr);
            r.expect_code(0, "blessing golden/ (tcpc render examples --identity …)");
        }
    });
}

/// The lock and encrypted state of the examples, whose bytes a plain render must not touch.
fn pki_snapshot() -> (std::collections::BTreeMap<String, Vec<u8>>, std::collections::BTreeMap<String, Vec<u8>>) {
    let lock = common::lock_snapshot(&root().join("examples"));
    assert!(lock.contains_key("tcpc.lock") && lock.len() > 1, "examples/tcpc.lock and its shards exist");
    // `.tcpc/cache` is the local index of what a render read and wrote (src/index.rs), not state.
    let mut state = snapshot(&root().join("examples/.tcpc"));
    state.retain(|path, _| !path.starts_with("cache/"));
    (lock, state)
}

#[test]
fn examples_render_to_golden_without_identity() {
    bless_once();
    let (lock_before, state_before) = pki_snapshot();
    assert!(!state_before.is_empty(), "examples/.tcpc holds the encrypted state");

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rendered");
    let r = run(tcpc().arg("render").arg("examples").arg("-o").arg(&out).arg("--allow-outside"));
    if r.code != 0 {
        panic!("tcpc render examples (no identity) failed with exit code {}\n{}\n{HINT}", r.code, r.describe());
    }
    common::assert_trees_eq(&root().join("golden"), &out, HINT);

    let (lock_after, state_after) = pki_snapshot();
    assert!(lock_before == lock_after, "rendering unchanged inputs rewrote the lock of examples/");
    let changes = snapshot_changes(&state_before, &state_after);
    assert!(changes.is_empty(), "rendering unchanged inputs touched examples/.tcpc:\n{}", changes.join("\n"));
}

#[test]
fn check_examples_is_clean() {
    bless_once();
    let (lock_before, state_before) = pki_snapshot();
    let r = run(tcpc().args(["check", "examples"]));
    if r.code != 0 {
        panic!("tcpc check examples exited {}\n{}\n{HINT}", r.code, r.describe());
    }
    assert!(r.stderr.contains("up to date"), "{}", r.describe());
    assert!(pki_snapshot() == (lock_before, state_before), "tcpc check modified examples/tcpc.lock or examples/.tcpc");
}
