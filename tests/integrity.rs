//! Integrity of the Git state under concurrency, crashes, disappearing inputs and edited locks
//! (issue #15). Every case runs the real binary on a temp copy of `examples/` (output inside
//! the copy) or on a generated repository (`tools/gen-tenants.py`).
//!
//! Kills are aimed with `TCPC_FAULT=<step>[@n]:kill` (debug builds only, see `src/fault.rs`):
//! the process sends itself SIGKILL exactly at that write step, as `kill -9` would.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, root, run, snapshot, snapshot_changes, tcpc};
use sha2::Digest as _;

fn identity() -> PathBuf {
    root().join(common::EXAMPLES_IDENTITY)
}

/// A copy of `examples/` at `<tmp>/repo` whose output is `<tmp>/repo/rendered`, rendered once
/// (no identity needed: nothing changed).
fn examples_copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    common::copy_dir(&root().join("examples"), &repo);
    let config = std::fs::read_to_string(repo.join("tcpc.yaml")).unwrap();
    assert!(config.contains("output: ../golden\n"), "examples/tcpc.yaml changed its output: update this test");
    std::fs::write(repo.join("tcpc.yaml"), config.replace("output: ../golden\n", "output: rendered\n")).unwrap();
    let out = repo.join("rendered");
    render(&repo, &[]).expect_code(0, "first render of the examples copy");
    (tmp, repo, out)
}

fn render(repo: &Path, extra: &[&str]) -> Run {
    run(tcpc().arg("render").arg(repo).args(extra))
}

fn render_with_identity(repo: &Path, extra: &[&str]) -> Run {
    run(tcpc().arg("render").arg(repo).arg("--identity").arg(identity()).args(extra))
}

fn check(repo: &Path) -> Run {
    run(tcpc().arg("check").arg(repo))
}

fn lock_of(repo: &Path) -> tcpc::lock::Lock {
    tcpc::lock::read(&repo.join("tcpc.lock")).expect("the lock parses")
}

/// Tenant → fingerprint of its CA, as the lock records it.
fn ca_fingerprints(repo: &Path) -> BTreeMap<String, String> {
    lock_of(repo).tenants.iter().map(|(t, l)| (t.clone(), l.artefacts["ca"].fingerprint.clone())).collect()
}

/// Every temp file or tree tcpc could leave behind, anywhere under `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in walkdir(dir) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains(".tcpc-tmp") || name == "journal.json" {
            found.push(e.display().to_string());
        }
    }
    found
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if path.is_dir() && !path.is_symlink() {
            out.extend(walkdir(&path));
        }
    }
    out
}

/// State and lock belong to one generation: every lock entry's `state` is the hash of the
/// state file on disk — or an interrupted commit's journal is pending (the next run completes it).
fn generation_consistent(repo: &Path) -> Result<(), String> {
    if repo.join(".tcpc/journal.json").exists() {
        return Ok(());
    }
    for (t, l) in &lock_of(repo).tenants {
        let path = repo.join(format!(".tcpc/state/tenants/{t}.age"));
        let text = std::fs::read(&path).map_err(|e| format!("{t}: {e}"))?;
        let hash = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&text)));
        if hash != l.state {
            return Err(format!("{t}: the state on disk is not the one the lock records"));
        }
    }
    Ok(())
}

fn edit(repo: &Path, rel: &str, from: &str, to: &str) {
    let path = repo.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} lacks {from:?}: update this test");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn append(repo: &Path, rel: &str, text: &str) {
    let path = repo.join(rel);
    let mut old = std::fs::read_to_string(&path).unwrap();
    old.push_str(text);
    std::fs::write(&path, old).unwrap();
}

/// Changes that make a render issue, seal and write: `variant % 3` = 0: a new SAN for
/// tenants/minimal (one state file), 1: a new tenant (one new state file), 2: new SANs for
/// two tenants (two state files).
fn apply_variant(repo: &Path, variant: usize) {
    match variant % 3 {
        0 => append(repo, "tenants/minimal.yaml", &format!("  networkProfile:\n    certSANs:\n    - extra-{variant}.example.com\n")),
        1 => {
            let text = std::fs::read_to_string(repo.join("tenants/minimal.yaml")).unwrap();
            std::fs::write(repo.join(format!("tenants/new{variant}.yaml")), text.replace("name: minimal", &format!("name: new{variant}")))
                .unwrap();
        }
        _ => {
            append(repo, "tenants/minimal.yaml", &format!("  networkProfile:\n    certSANs:\n    - extra-{variant}.example.com\n"));
            edit(
                repo,
                "tenants/nodeport.yaml",
                "- edge.k8s.example.com",
                &format!("- edge.k8s.example.com\n    - extra-{variant}.example.com"),
            );
        }
    }
}

#[test]
fn kill_9_at_every_write_step_never_corrupts_and_never_rotates_a_ca() {
    let (base_tmp, base_repo, _) = examples_copy();
    let steps = tcpc::fault::STEPS;
    let mut kills = 0;
    let mut failures = 0;
    for step in steps {
        // Ten kills per step (variants of what changes), then one injected IO error.
        for variant in 0..11 {
            let tmp = tempfile::tempdir().unwrap();
            let repo = tmp.path().join("repo");
            common::copy_dir(&base_repo, &repo);
            let out = repo.join("rendered");
            let before_ca = ca_fingerprints(&repo);
            let before_tree = common::read_tree(&out);
            apply_variant(&repo, variant);
            let nth = if step.starts_with("state") && variant % 3 == 2 { "@2" } else { "" };
            let kill = variant < 10;
            let fault = format!("{step}{nth}:{}", if kill { "kill" } else { "fail" });
            let what = format!("step {fault}, variant {variant}");
            let out_run = tcpc()
                .arg("render")
                .arg(&repo)
                .arg("--identity")
                .arg(identity())
                .env("TCPC_FAULT", &fault)
                .output()
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let stderr = String::from_utf8_lossy(&out_run.stderr);
            if kill {
                assert_eq!(out_run.status.signal(), Some(9), "{what}: the run was not killed at its step\n{stderr}");
                kills += 1;
            } else {
                assert_eq!(out_run.status.code(), Some(2), "{what}: an injected IO error must exit 2\n{stderr}");
                assert!(stderr.contains("injected fault"), "{what}: {stderr}");
                failures += 1;
                // An error path leaves no temp file (a kill may; the next run removes them).
                let left: Vec<_> = leftovers(tmp.path()).into_iter().filter(|l| !l.ends_with("journal.json")).collect();
                assert!(left.is_empty(), "{what}: temp files after a failed run: {left:?}");
            }
            // Right after the kill: nothing half-written in the state directory (temp files
            // live in .tcpc/tmp, git-ignored, until the next run removes them) ...
            let in_state = leftovers(&repo.join(".tcpc/state"));
            assert!(in_state.is_empty(), "{what}: temp files in .tcpc/state: {in_state:?}");
            // ... one generation of state and lock, and a whole tree.
            generation_consistent(&repo).unwrap_or_else(|e| panic!("{what}: {e}"));
            let killed_tree = common::read_tree(&out);
            assert!(out.join(tcpc::emit::MARKER).exists(), "{what}: the tree lost its marker");

            // The next render completes the commit (or redoes it) and needs nothing else.
            render_with_identity(&repo, &[]).expect_code(0, &format!("{what}: the render after the kill"));
            check(&repo).expect_code(0, &format!("{what}: check after recovery"));
            let left = leftovers(tmp.path());
            assert!(left.is_empty(), "{what}: temp files left after recovery: {left:?}");
            let after_ca = ca_fingerprints(&repo);
            for (t, fp) in &before_ca {
                assert_eq!(after_ca.get(t), Some(fp), "{what}: the CA of {t} was rotated");
            }
            let final_tree = common::read_tree(&out);
            assert_ne!(final_tree, before_tree, "{what}: the change never reached the tree");
            let swapped = matches!(*step, "tree-swapped" | "done");
            let expected = if swapped { &final_tree } else { &before_tree };
            assert!(killed_tree == *expected, "{what}: the tree after the kill is neither the old nor the new generation");
        }
    }
    assert!(kills >= 100, "only {kills} kills");
    assert_eq!(failures, steps.len());
    drop(base_tmp);
}

/// Tenants of the generated repository in the concurrency test: about 32 files each, so a tree
/// of about 2,000 files (the probe used 150 tenants; 60 keep the suite's time sane on
/// two cores while each racing render still writes for seconds).
const TENANTS: usize = 60;

#[test]
fn concurrent_renders_take_turns_and_every_tree_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let status =
        Command::new("python3").arg(root().join("tools/gen-tenants.py")).arg(TENANTS.to_string()).arg(&repo).status().expect("python3");
    assert!(status.success(), "gen-tenants.py failed");
    render_with_identity(&repo, &[]).expect_code(0, "first render of the generated repository");
    let out = repo.join("rendered");
    let files = common::read_tree(&out).len();
    assert!(files > 30 * TENANTS, "a {TENANTS}-tenant tree has thousands of files, got {files}");
    let batch = repo.join("tenants/team-00/batch-00000.yaml");
    let mut counts = BTreeMap::new();
    let mut waited = 0;
    for trial in 0..20 {
        // Each trial changes the inputs, so every racing render has a new tree to write.
        let text = std::fs::read_to_string(&batch).unwrap();
        let (from, to) = if trial % 2 == 0 { ("replicas: 1\n", "replicas: 3\n") } else { ("replicas: 3\n", "replicas: 1\n") };
        assert!(text.contains(from));
        std::fs::write(&batch, text.replacen(from, to, 1)).unwrap();
        let children: Vec<_> = (0..2)
            .map(|_| {
                tcpc()
                    .arg("render")
                    .arg(&repo)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawning tcpc")
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "trial {trial}: a racing render failed\n{stderr}");
            waited += usize::from(stderr.contains("waiting for another tcpc process"));
        }
        check(&repo).expect_code(0, &format!("trial {trial}: the tree is complete and matches inputs and lock"));
        // (The replica count decides whether a PodDisruptionBudget exists.)
        let count = common::read_tree(&out).len();
        assert_eq!(*counts.entry(trial % 2).or_insert(count), count, "trial {trial}: file count");
        assert!(count.abs_diff(files) <= 1, "trial {trial}: {count} files, {files} before");
        let left = leftovers(tmp.path());
        assert!(left.is_empty(), "trial {trial}: temp trees left: {left:?}");
    }
    // The renders really raced: most trials had one wait for the other.
    assert!(waited >= 10, "only {waited} of 20 trials had a render wait for the lock");
}

#[test]
fn a_busy_repository_is_refused_clearly_and_nothing_is_written() {
    let (tmp, repo, _) = examples_copy();
    apply_variant(&repo, 0);
    let before = snapshot(tmp.path());
    let mut held = tcpc::repo_lock::Locks::default();
    held.acquire(&repo, tcpc::repo_lock::Mode::Exclusive, std::time::Duration::ZERO, |_| {}).unwrap();
    let r = run(tcpc().args(["--lock-timeout", "0", "render"]).arg(&repo).arg("--identity").arg(identity()));
    let r = r.expect_code(2, "render while another process holds the repository");
    assert!(r.stderr.contains("another tcpc process is using") && r.stderr.contains("--lock-timeout"), "{}", r.describe());
    let r = run(tcpc().args(["--lock-timeout", "0", "check"]).arg(&repo)).expect_code(2, "check while a writer holds the lock");
    assert!(r.stderr.contains("another tcpc process is using"), "{}", r.describe());
    assert!(snapshot_changes(&before, &snapshot(tmp.path())).is_empty());
    drop(held);
    render_with_identity(&repo, &[]).expect_code(0, "render once the lock is free");
}

#[test]
fn a_state_path_that_is_a_directory_fails_without_changing_anything() {
    let (tmp, repo, _) = examples_copy();
    apply_variant(&repo, 1);
    std::fs::create_dir_all(repo.join(".tcpc/state/tenants/tenants/new1.age/x")).unwrap();
    let before = snapshot(tmp.path());
    let r = render_with_identity(&repo, &[]).expect_code(2, "render whose state path is a directory");
    assert!(r.stderr.contains("not a regular file"), "{}", r.describe());
    let changes = snapshot_changes(&before, &snapshot(tmp.path()));
    assert!(changes.is_empty(), "a failed render changed files:\n{}", changes.join("\n"));
    assert!(leftovers(tmp.path()).is_empty(), "{:?}", leftovers(tmp.path()));
}

// ---- destruction is explicit ----

#[test]
fn a_vanished_tenant_fails_the_render_unless_its_removal_is_allowed() {
    let (tmp, repo, out) = examples_copy();
    let ca_before = ca_fingerprints(&repo);
    type Break = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Break)> = vec![
        ("misspelt kind", Box::new(|r: &Path| edit(r, "tenants/minimal.yaml", "kind: TenantControlPlane", "kind: TenantControlPlan"))),
        ("missing kind", Box::new(|r: &Path| edit(r, "tenants/minimal.yaml", "kind: TenantControlPlane\n", ""))),
        ("deleted file", Box::new(|r: &Path| std::fs::remove_file(r.join("tenants/minimal.yaml")).unwrap())),
        ("excluded", Box::new(|r: &Path| edit(r, "tcpc.yaml", "- kamaji/**", "- kamaji/**\n- tenants/minimal.yaml"))),
        (
            "symlink outside the repository",
            Box::new(|r: &Path| {
                let outside = r.parent().unwrap().join("minimal.yaml");
                std::fs::rename(r.join("tenants/minimal.yaml"), &outside).unwrap();
                std::os::unix::fs::symlink(&outside, r.join("tenants/minimal.yaml")).unwrap();
            }),
        ),
    ];
    for (what, break_it) in cases {
        let tmp2 = tempfile::tempdir().unwrap();
        let r2 = tmp2.path().join("repo");
        common::copy_dir(&repo, &r2);
        break_it(&r2);
        let before = snapshot(&r2);
        let r = render_with_identity(&r2, &[]).expect_code(1, what);
        assert!(r.stderr.contains("tenants/minimal"), "{what}: {}", r.describe());
        let changes = snapshot_changes(&before, &snapshot(&r2));
        assert!(changes.is_empty(), "{what}: a refused render changed files:\n{}", changes.join("\n"));
        check(&r2).expect_code(1, &format!("{what}: check"));
    }
    // The typical mistake says what it is at parse time.
    let r = {
        let tmp2 = tempfile::tempdir().unwrap();
        let r2 = tmp2.path().join("repo");
        common::copy_dir(&repo, &r2);
        edit(&r2, "tenants/minimal.yaml", "kind: TenantControlPlane", "kind: TenantControlPlan");
        render(&r2, &[])
    };
    assert!(r.stderr.contains("did you mean `TenantControlPlane`?"), "{}", r.describe());

    // Allowed: the output and lock entry go, the state stays; adding it back keeps its CA.
    std::fs::rename(repo.join("tenants/minimal.yaml"), tmp.path().join("minimal.yaml")).unwrap();
    let r = render(&repo, &["--allow-removal", "tenants/minimal"]).expect_code(0, "allowed removal");
    assert!(r.stderr.contains("tenants/minimal: removed"), "{}", r.describe());
    assert!(!out.join("tenants/minimal").exists());
    assert!(!lock_of(&repo).tenants.contains_key("tenants/minimal"));
    assert!(repo.join(".tcpc/state/tenants/tenants/minimal.age").exists(), "the state of a removed tenant is kept");
    check(&repo).expect_code(0, "check after an allowed removal");
    std::fs::rename(tmp.path().join("minimal.yaml"), repo.join("tenants/minimal.yaml")).unwrap();
    let r = render(&repo, &[]).expect_code(1, "re-adding needs the identity to open the kept state");
    assert!(r.stderr.contains("requires the age identity"), "{}", r.describe());
    let r = render_with_identity(&repo, &[]).expect_code(0, "re-adding the tenant");
    assert!(r.stderr.contains("kept ca from the state"), "{}", r.describe());
    assert_eq!(ca_fingerprints(&repo), ca_before, "re-adding a tenant must reuse its CA");
    check(&repo).expect_code(0, "check after re-adding");

    // Mistyped intents are errors too.
    render(&repo, &["--allow-removal", "tenants/nope"]).expect_code(1, "allowing the removal of an unknown tenant");

    // A tombstone committed in the repository allows a removal as well.
    std::fs::remove_file(repo.join("tenants/nodeport.yaml")).unwrap();
    render(&repo, &[]).expect_code(1, "a removal without tombstone");
    std::fs::write(
        repo.join("tenants/removed.yaml"),
        "apiVersion: tcpc.dev/v1alpha1\nkind: Tombstone\nmetadata:\n  name: edge\n  namespace: tenants\n",
    )
    .unwrap();
    let r = render(&repo, &[]).expect_code(0, "a removal with a tombstone");
    assert!(r.stderr.contains("tenants/edge: removed (tombstone)") && !r.stderr.contains("warning"), "{}", r.describe());
    assert!(!out.join("tenants/edge").exists());
}

#[test]
fn symlinks_inside_the_repository_are_followed() {
    let (_tmp, repo, out) = examples_copy();
    let tree = common::read_tree(&out);
    std::fs::create_dir_all(repo.join("shared")).unwrap();
    std::fs::rename(repo.join("tenants/minimal.yaml"), repo.join("shared/minimal.yaml")).unwrap();
    std::os::unix::fs::symlink("../shared/minimal.yaml", repo.join("tenants/minimal.yaml")).unwrap();
    // Both the link and its target are walked: the same tenant twice is an error, not a skip.
    let r = render(&repo, &[]);
    assert_eq!(r.code, 1, "{}", r.describe());
    std::fs::rename(repo.join("shared"), repo.join(".shared")).unwrap();
    std::fs::remove_file(repo.join("tenants/minimal.yaml")).unwrap();
    std::os::unix::fs::symlink("../.shared/minimal.yaml", repo.join("tenants/minimal.yaml")).unwrap();
    render(&repo, &[]).expect_code(0, "a tenant file linked from inside the repository");
    assert_eq!(common::read_tree(&out), tree);
}

#[test]
fn lost_lock_or_state_never_re_keys_silently() {
    let (_tmp, repo, _) = examples_copy();
    let ca_before = ca_fingerprints(&repo);

    // An emptied lock: the state is adopted, the CAs stay, and the lock is rebuilt.
    std::fs::write(repo.join("tcpc.lock"), "").unwrap();
    std::fs::remove_dir_all(repo.join("tcpc.lock.d")).unwrap();
    let r = render(&repo, &[]).expect_code(1, "an emptied lock without identity");
    assert!(r.stderr.contains("requires the age identity"), "{}", r.describe());
    let r = render_with_identity(&repo, &[]).expect_code(0, "an emptied lock with identity");
    assert!(r.stderr.contains("kept ca from the state"), "{}", r.describe());
    assert_eq!(ca_fingerprints(&repo), ca_before, "an emptied lock re-keyed a tenant");
    check(&repo).expect_code(0, "check after rebuilding the lock");

    // A state newer than the lock (a commit that stopped between them, merged by hand).
    let shard = repo.join(MINIMAL_SHARD);
    let old_entry = std::fs::read_to_string(&shard).unwrap();
    append(&repo, "tenants/minimal.yaml", "  networkProfile:\n    certSANs:\n    - newer.example.com\n");
    render_with_identity(&repo, &[]).expect_code(0, "a new SAN");
    std::fs::write(&shard, &old_entry).unwrap();
    let r = render_with_identity(&repo, &[]).expect_code(0, "a state newer than the lock");
    assert!(!r.stderr.contains("issued ca"), "{}", r.describe());
    assert_eq!(ca_fingerprints(&repo), ca_before, "a state newer than the lock re-keyed a tenant");

    // A deleted state: refused, naming the command that re-keys on purpose.
    let state = repo.join(".tcpc/state/tenants/tenants/minimal.age");
    std::fs::remove_file(&state).unwrap();
    let r = render_with_identity(&repo, &[]).expect_code(1, "a deleted state");
    assert!(r.stderr.contains("tcpc rotate ca tenants/minimal"), "{}", r.describe());
    assert_eq!(ca_fingerprints(&repo), ca_before);

    // The explicit re-key: only that tenant's CA changes.
    let r = run(tcpc().args(["rotate", "ca", "tenants/minimal", "--dir"]).arg(&repo).arg("--identity").arg(identity()));
    r.expect_code(0, "tcpc rotate ca");
    let after = ca_fingerprints(&repo);
    for (t, fp) in &ca_before {
        assert_eq!(after[t] == *fp, t != "tenants/minimal", "{t}: only the rotated tenant's CA changes");
    }
    assert!(state.exists());
    check(&repo).expect_code(0, "check after the rotation");
    let again = ca_fingerprints(&repo);
    render_with_identity(&repo, &[]).expect_code(0, "a render after the rotation");
    assert_eq!(ca_fingerprints(&repo), again, "a plain render after a rotation rotates nothing");
}

// ---- the lock is data, never trusted output ----

/// The lock shard of `tenants/minimal`.
const MINIMAL_SHARD: &str = "tcpc.lock.d/tenants/minimal.json";

/// Edits one Secret object of `tenants/minimal` in the lock.
fn tamper(repo: &Path, secret: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let path = repo.join(MINIMAL_SHARD);
    let mut lock: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let obj = &mut lock["secrets"][secret]["object"];
    assert!(obj.is_object(), "the lock has no {secret}");
    f(obj);
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
}

#[test]
fn a_tampered_lock_is_refused_and_injects_nothing() {
    type Tamper = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, &str, Tamper)> = vec![
        (
            "an injected ClusterRoleBinding",
            "tamper-crb",
            Box::new(|r| {
                tamper(r, "minimal-ca", |o| {
                    *o = serde_json::json!({
                        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                        "metadata": {"name": "tamper-crb"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}],
                    })
                })
            }),
        ),
        (
            "a plaintext Secret",
            "INJECTED-PLAINTEXT",
            Box::new(|r| {
                tamper(r, "minimal-ca", |o| {
                    *o = serde_json::json!({
                        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": "minimal-ca", "namespace": "tenants"},
                        "stringData": {"ca.key": "INJECTED-PLAINTEXT"},
                    })
                })
            }),
        ),
        (
            "renamed keys",
            "stolen.key",
            Box::new(|r| {
                tamper(r, "minimal-ca", |o| {
                    let data = o["spec"]["encryptedData"].as_object_mut().unwrap();
                    let v = data.remove("ca.key").unwrap();
                    data.insert("stolen.key".into(), v);
                })
            }),
        ),
        (
            "a changed namespace",
            "tampered-ns",
            Box::new(|r| {
                tamper(r, "minimal-controller-manager-kubeconfig", |o| {
                    o["metadata"]["namespace"] = "tampered-ns".into();
                    o["spec"]["template"]["metadata"]["namespace"] = "tampered-ns".into();
                })
            }),
        ),
        (
            "an extra field",
            "evil",
            Box::new(|r| {
                tamper(r, "minimal-scheduler-kubeconfig", |o| {
                    o["spec"]["template"]["metadata"]["annotations"] = serde_json::json!({"evil": "yes"})
                })
            }),
        ),
        (
            "a ciphertext that is not one",
            "not-a-ciphertext",
            Box::new(|r| tamper(r, "minimal-ca", |o| o["spec"]["encryptedData"]["ca.crt"] = "not-a-ciphertext".into())),
        ),
        (
            "a replaced CA bundle",
            "INJECTED",
            Box::new(|r| {
                let path = r.join(MINIMAL_SHARD);
                let mut lock: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                lock["caBundle"] = "INJECTED: true\n".into();
                std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
            }),
        ),
    ];
    let (_tmp, base, _) = examples_copy();
    let mut refused = 0;
    for (what, marker, break_it) in &cases {
        // Without identity (everything re-emitted from the lock) and with it plus a change
        // that re-issues one certificate (the other Secrets still come from the lock).
        for with_identity in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let repo = tmp.path().join("repo");
            common::copy_dir(&base, &repo);
            break_it(&repo);
            if with_identity {
                append(&repo, "tenants/minimal.yaml", "  networkProfile:\n    certSANs:\n    - tamper.example.com\n");
            }
            let before = snapshot(tmp.path());
            let r = if with_identity { render_with_identity(&repo, &[]) } else { render(&repo, &[]) };
            let what = format!("{what} (identity: {with_identity})");
            if with_identity && *marker == "INJECTED" {
                // With the identity the CA bundle is rebuilt from the state: the lock's copy is
                // never used, and the rewritten lock no longer holds it.
                let r = r.expect_code(0, &what);
                assert!(!common::read_tree(&repo.join("rendered")).values().any(|t| t.contains(marker)), "{what}: {}", r.describe());
                assert!(!std::fs::read_to_string(repo.join(MINIMAL_SHARD)).unwrap().contains(marker), "{what}: the lock kept it");
                check(&repo).expect_code(0, &format!("{what}: check"));
                refused += 1;
                continue;
            }
            let r = r.expect_code(1, &what);
            assert!(
                r.stderr.contains("tcpc.lock.d/tenants/minimal.json: "),
                "{what}: the error must name the lock entry\n{}",
                r.describe()
            );
            let changes = snapshot_changes(&before, &snapshot(tmp.path()));
            assert!(changes.is_empty(), "{what}: a refused render changed files:\n{}", changes.join("\n"));
            let tree = common::read_tree(&repo.join("rendered"));
            assert!(!tree.values().any(|t| t.contains(marker)), "{what}: the injected content reached the output");
            // (With the SAN change, check stops earlier: it has no identity to re-issue, exit 5.)
            let r = check(&repo).expect_code(if with_identity { 5 } else { 1 }, &format!("{what}: check"));
            if !with_identity {
                assert!(r.stderr.contains("tcpc.lock.d/tenants/minimal.json: "), "{what}: check must say why\n{}", r.describe());
            }
            assert!(!r.stderr.contains("no longer found"), "{what}: a failing tenant is not a removed one\n{}", r.describe());
            refused += 1;
        }
    }
    assert_eq!(refused, cases.len() * 2);
}
