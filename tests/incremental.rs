//! The render cache (`src/cache.rs`): a render takes the previous files of every tenant whose
//! template inputs did not change, and what it writes is byte for byte what a cold render (no
//! previous tree, so no cache) writes — after a spec change, a hand-edited output file, a
//! filtered render, and with nothing changed at all.

mod common;

use std::path::Path;

use common::{assert_trees_eq, copy_dir, replace_once, root, run, snapshot, snapshot_changes, tcpc};

const HINT: &str = "a render using the cache must write what a cold render writes (src/cache.rs)";

/// A copy of the examples (repository, lock and state) in `tmp/repo`.
fn examples_copy(tmp: &Path) -> std::path::PathBuf {
    let repo = tmp.join("repo");
    copy_dir(&root().join("examples"), &repo);
    repo
}

/// `tcpc -v render REPO -o OUT`: no identity (the examples' lock is current).
fn render(repo: &Path, out: &Path, extra: &[&str]) -> common::Run {
    run(tcpc().arg("-v").arg("render").arg(repo).arg("-o").arg(out).arg("--allow-outside").args(extra))
}

/// The `render cache: H of N` line's (H, N).
fn cache_line(r: &common::Run) -> (usize, usize) {
    let line = r.stderr.lines().find_map(|l| l.strip_prefix("render cache: ")).unwrap_or_else(|| panic!("no cache line\n{}", r.describe()));
    let mut words = line.split(' ');
    let hits = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("of"), "{line}");
    (hits, words.next().unwrap().parse().unwrap())
}

fn marker(out: &Path) -> String {
    std::fs::read_to_string(out.join(tcpc::emit::MARKER)).unwrap()
}

/// Renders `repo` into a fresh directory (no previous tree: every tenant rendered) and checks
/// `out`, the cached render, holds the same tree and the same marker.
fn assert_same_as_cold(repo: &Path, out: &Path, tmp: &Path, what: &str) {
    let cold = tmp.join(format!("cold-{}", what.replace(' ', "-")));
    let r = render(repo, &cold, &[]).expect_code(0, &format!("{what}: cold render"));
    assert_eq!(cache_line(&r).0, 0, "{what}: a cold render has no cache\n{}", r.describe());
    assert_trees_eq(&cold, out, &format!("{what}: {HINT}"));
    assert_eq!(marker(&cold), marker(out), "{what}: the markers differ");
}

#[test]
fn an_unchanged_render_takes_every_tenant_from_the_cache_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    let first = render(&repo, &out, &[]).expect_code(0, "first render");
    let (hits, total) = cache_line(&first);
    assert_eq!(hits, 0, "nothing to take from yet");
    assert!(total >= 6, "the examples have at least 6 tenants: {total}");
    // One entry per tenant after the two header lines.
    assert_eq!(marker(&out).lines().count(), 2 + total, "{}", marker(&out));

    let before = (snapshot(&out), marker(&out));
    let again = render(&repo, &out, &[]).expect_code(0, "second render");
    assert_eq!(cache_line(&again), (total, total), "{}", again.describe());
    assert!(again.stderr.contains("up to date"), "{}", again.describe());
    assert_eq!(snapshot_changes(&before.0, &snapshot(&out)), Vec::<String>::new(), "an unchanged render changed files");
    assert_eq!(before.1, marker(&out), "an unchanged render changed the marker");
}

#[test]
fn a_changed_spec_renders_that_tenant_and_matches_a_cold_render() {
    changed_spec(true);
}

/// Without the companion's records (which carry the resolved tenant's fingerprint), the key
/// must see the change through the resolved tenant itself.
#[test]
fn a_changed_spec_without_records_renders_that_tenant_and_matches_a_cold_render() {
    changed_spec(false);
}

fn changed_spec(records: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    if !records {
        replace_once(&repo.join("tcpc.yaml"), "\ncompanion:\n  image: ghcr.io/tcpc-dev/tcpc-companion:0.1.0\n", "\n");
        // `rotation: companion` needs the companion: that tenant goes too, by a tombstone.
        std::fs::write(
            repo.join("tenants/rotating.yaml"),
            "{apiVersion: tcpc.dev/v1alpha1, kind: Tombstone, metadata: {namespace: tenants, name: rotating}}\n",
        )
        .unwrap();
    }
    let out = tmp.path().join("out");
    let (_, total) = cache_line(&render(&repo, &out, &[]).expect_code(0, "first render"));

    replace_once(&repo.join("tenants/nodeport.yaml"), "      replicas: 1\n", "      replicas: 2\n");
    let r = render(&repo, &out, &[]).expect_code(0, "render after a replicas change");
    assert_eq!(cache_line(&r), (total - 1, total), "only the changed tenant is rendered\n{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "replicas change");
}

#[test]
fn a_hand_edited_output_file_is_a_miss_and_is_put_back() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    let (_, total) = cache_line(&render(&repo, &out, &[]).expect_code(0, "first render"));
    let deployment = walkdir::WalkDir::new(&out)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        // a tenant's (the tree's `_companion/` Component is no tenant's)
        .find(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("deployment-"))
                && p.parent().is_some_and(|d| d.ends_with("management"))
        })
        .expect("a Deployment file");
    let original = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(&deployment, original.replacen("replicas:", "replicas: 9\n  x:", 1)).unwrap();

    let r = render(&repo, &out, &[]).expect_code(0, "render after a hand edit");
    assert_eq!(cache_line(&r), (total - 1, total), "the edited tenant is rendered again\n{}", r.describe());
    assert_eq!(std::fs::read_to_string(&deployment).unwrap(), original, "the hand edit was not put back");
    assert_same_as_cold(&repo, &out, tmp.path(), "hand edit");
}

#[test]
fn a_filtered_render_keeps_the_entries_of_the_tenants_it_did_not_render() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    let (_, total) = cache_line(&render(&repo, &out, &[]).expect_code(0, "first render"));
    replace_once(&repo.join("tenants/nodeport.yaml"), "      replicas: 1\n", "      replicas: 2\n");
    replace_once(&repo.join("tenants/sql.yaml"), "      replicas: 2\n", "      replicas: 3\n");
    let keys_before = tcpc::cache::recorded_keys(&marker(&out));
    let changed_entries = |marker: &str| -> Vec<String> {
        let after = tcpc::cache::recorded_keys(marker);
        after.iter().filter(|(t, k)| keys_before.get(*t) != Some(*k)).map(|(t, _)| t.clone()).collect()
    };

    // Only the nodeport tenant is rendered: sql's files and entry stay as they were.
    let tenant = std::fs::read_to_string(repo.join("tenants/nodeport.yaml")).unwrap();
    let ns = tenant.lines().find_map(|l| l.strip_prefix("  namespace: ")).unwrap();
    let name = tenant.lines().find_map(|l| l.strip_prefix("  name: ")).unwrap();
    let selected = format!("{ns}/{name}");
    render(&repo, &out, &["--tenant", &selected]).expect_code(0, "filtered render");
    assert_eq!(changed_entries(&marker(&out)), vec![selected.clone()], "only the rendered tenant's entry changes");

    // The next full render must not take sql's old files for its new inputs.
    let r = render(&repo, &out, &[]).expect_code(0, "full render");
    assert_eq!(cache_line(&r), (total - 1, total), "{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "filtered then full");
}
