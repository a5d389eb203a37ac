//! The render cache (`src/cache.rs`): a render takes the previous files of every tenant whose
//! template inputs did not change, and what it writes is byte for byte what a cold render (no
//! previous tree, so no cache) writes — after a spec change, a hand-edited output file, a
//! filtered render, and with nothing changed at all. And the up-to-date stamp (`src/stamp.rs`):
//! a render or check of a repository whose every input is unchanged compiles nothing, and any
//! changed input, a hand edit of the tree or the clock reaching the stamp's bound makes it
//! compile again.

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

/// The numbers of the `render cache` line: hits H, tenants N, PKI stages skipped P, tenants
/// kept unread K (`src/cli/incremental.rs`) and of those unparsed U:
/// `H of N tenant(s) unchanged since the last render (P without their PKI stage; K kept unread, U unparsed)`.
fn cache_counts(r: &common::Run) -> [usize; 5] {
    let line = r.stderr.lines().find_map(|l| l.strip_prefix("render cache: ")).unwrap_or_else(|| panic!("no cache line\n{}", r.describe()));
    let numbers: Vec<usize> = line.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(|w| w.parse().unwrap()).collect();
    numbers.try_into().unwrap_or_else(|n| panic!("not five numbers in {line:?}: {n:?}"))
}

/// The `render cache` line's (H, N).
fn cache_line(r: &common::Run) -> (usize, usize) {
    let c = cache_counts(r);
    (c[0], c[1])
}

fn pki_skips(r: &common::Run) -> usize {
    cache_counts(r)[2]
}

fn kept(r: &common::Run) -> usize {
    cache_counts(r)[3]
}

fn unparsed(r: &common::Run) -> usize {
    cache_counts(r)[4]
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
    // One entry per tenant after the two header lines, then the up-to-date stamp.
    assert_eq!(marker(&out).lines().count(), 3 + total, "{}", marker(&out));

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
    assert_eq!(kept(&r), total - 1, "the others are not even read\n{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "replicas change");
    // And again, from the tree, lock and index this incremental render left.
    replace_once(&repo.join("tenants/nodeport.yaml"), "      replicas: 2\n", "      replicas: 3\n");
    let r = render(&repo, &out, &[]).expect_code(0, "render after a second replicas change");
    assert_eq!((cache_line(&r), kept(&r)), ((total - 1, total), total - 1), "{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "second replicas change");
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
    assert_eq!(kept(&r), total - 1, "the edited tenant is not kept\n{}", r.describe());
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

/// At fleet scale a render parses only the files that changed (src/index.rs, `skippable`): 40
/// generated tenants in 4 files, one changed, then one file given a DataStore (every file is
/// parsed again: a tenant may use it), then a new file; each time the output is a cold render's.
#[test]
fn unchanged_files_of_tenants_are_not_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    run(std::process::Command::new("python3").arg(root().join("tools/gen-tenants.py")).arg("40").arg(&repo))
        .expect_code(0, "gen-tenants 40");
    let out = tmp.path().join("out");
    let identity = root().join(common::EXAMPLES_IDENTITY);
    let first = render(&repo, &out, &["--identity", identity.to_str().unwrap()]).expect_code(0, "first render");
    assert_eq!((cache_line(&first), unparsed(&first)), ((0, 40), 0), "{}", first.describe());

    let batch = repo.join("tenants/team-00/batch-00000.yaml");
    let text = std::fs::read_to_string(&batch).unwrap();
    std::fs::write(&batch, text.replacen("replicas: 1", "replicas: 2", 1)).unwrap();
    let r = render(&repo, &out, &[]).expect_code(0, "one tenant changed");
    assert_eq!((cache_line(&r), kept(&r), unparsed(&r)), ((39, 40), 39, 30), "three files of ten tenants unparsed\n{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "one tenant changed among unparsed files");

    let other = repo.join("tenants/team-10/batch-00001.yaml");
    let text = std::fs::read_to_string(&other).unwrap();
    let datastore = std::fs::read_to_string(repo.join("datastores/default.yaml")).unwrap().replace("name: default", "name: spare");
    std::fs::write(&other, format!("{text}---\n{datastore}")).unwrap();
    let r = render(&repo, &out, &[]).expect_code(0, "a DataStore added to a file of tenants");
    assert_eq!((cache_line(&r), unparsed(&r)), ((40, 40), 0), "every file parsed again\n{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "a DataStore added");

    // A new file of new tenants (their key material needs the identity): parsed, the three
    // files of tenants only as they were are not.
    let renamed = std::fs::read_to_string(&batch).unwrap().replace("tcp-000", "tcp-900");
    std::fs::write(repo.join("tenants/team-00/new.yaml"), renamed).unwrap();
    let r = render(&repo, &out, &["--identity", identity.to_str().unwrap()]).expect_code(0, "ten new tenants");
    assert_eq!((cache_line(&r), unparsed(&r)), ((40, 50), 30), "{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "ten new tenants");
}

/// A tenant's PKI stage is skipped only for the very files the last render left (its spec,
/// `tcpc.yaml`, the sealer certificate, its lock shard and state files, byte for byte) and only
/// before the first renewal window of its certificates (the marker's `until`).
#[test]
fn the_pki_stage_is_skipped_only_for_the_same_files_before_a_renewal_window() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    let (_, total) = cache_line(&render(&repo, &out, &[]).expect_code(0, "first render"));
    let epoch: i64 = common::EXAMPLES_EPOCH.parse().unwrap();
    // Every render changes tenants/edge (nodeport.yaml), so the repository is compiled.
    let mut replicas = 1;
    let mut render_changed = |at: i64| {
        let path = repo.join("tenants/nodeport.yaml");
        replace_once(&path, &format!("      replicas: {replicas}\n"), &format!("      replicas: {}\n", replicas + 1));
        replicas += 1;
        run(tcpc().env("SOURCE_DATE_EPOCH", at.to_string()).arg("-v").arg("render").arg(&repo).arg("-o").arg(&out).arg("--allow-outside"))
    };
    let r = render_changed(epoch).expect_code(0, "a changed spec");
    assert_eq!(pki_skips(&r), total - 1, "every other tenant skips its PKI stage\n{}", r.describe());

    // The same entry in other bytes: that tenant's PKI stage runs again (and changes nothing).
    let shard = repo.join("tcpc.lock.d/tenants/minimal.json");
    let text = std::fs::read_to_string(&shard).unwrap();
    std::fs::write(&shard, format!("{text}\n")).unwrap();
    let r = render_changed(epoch).expect_code(0, "a lock shard rewritten");
    assert_eq!(pki_skips(&r), total - 2, "{}", r.describe());
    assert_same_as_cold(&repo, &out, tmp.path(), "lock shard bytes");

    // The clock: skipped a second before a tenant's first renewal window, not at it.
    let until: Vec<(String, i64)> = tcpc::cache::recorded_keys(&marker(&out))
        .into_iter()
        .filter(|(t, _)| t != "tenants/edge")
        .filter_map(|(t, e)| Some((t, e.until?)))
        .collect();
    let first = until.iter().map(|(_, u)| *u).min().expect("the examples' certificates are renewed some day");
    let due = |at: i64| until.iter().filter(|(_, u)| *u <= at).count();
    let r = render_changed(first - 1);
    assert_eq!(pki_skips(&r), total - 1, "a second before the first window\n{}", r.describe());
    let r = render_changed(first);
    assert!(due(first) >= 1);
    assert_eq!(pki_skips(&r), total - 1 - due(first), "at the first window\n{}", r.describe());
    // (`until` is rounded down a second: the window itself opens just after it.)
    let r = render_changed(first + 86_400);
    assert_eq!(r.code, 5, "a day later a renewal is due, which needs the identity\n{}", r.describe());
}

/// `validate` takes the output marker's spec fingerprints (`cache::spec_fingerprint`) as proof
/// that this build rendered the same resolved tenant: it renders only the tenants whose resolved
/// spec changed (or whose entry does not match), and reports exactly what `--full` reports.
#[test]
fn validate_renders_only_the_tenants_the_last_render_does_not_vouch_for() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    // The examples render to `../golden` (tcpc.yaml's `output`), where validate reads the marker.
    run(tcpc().arg("render").arg(&repo).arg("--allow-outside")).expect_code(0, "render into the configured output");
    let validate = |extra: &[&str]| run(tcpc().arg("validate").arg(&repo).args(extra)).expect_code(0, "validate");
    // "ok: N TenantControlPlane(s) valid (M resolved as this build last rendered them, …)"
    let counts = |r: &common::Run| -> (usize, usize) {
        let line = r.stderr.lines().find_map(|l| l.strip_prefix("ok: ")).unwrap_or_else(|| panic!("no ok line\n{}", r.describe()));
        let total = line.split(' ').next().unwrap().parse().unwrap();
        let vouched = line.split_once(" valid (").map_or(0, |(_, rest)| rest.split(' ').next().unwrap().parse().unwrap());
        (total, vouched)
    };
    let (total, vouched) = counts(&validate(&[]));
    assert!(total >= 6, "the examples have at least 6 tenants: {total}");
    assert_eq!(vouched, total, "nothing changed since the render");
    assert_eq!(counts(&validate(&["--full"])), (total, 0), "--full renders every tenant");
    let json = |extra: &[&str]| validate(&[&["--format", "json"], extra].concat()).stdout;
    assert_eq!(json(&[]), json(&["--full"]), "a vouched tenant is reported as a rendered one");

    replace_once(&repo.join("tenants/nodeport.yaml"), "      replicas: 1\n", "      replicas: 2\n");
    assert_eq!(counts(&validate(&[])), (total, total - 1), "the changed tenant is rendered");

    // An entry whose fingerprint is not this tenant's vouches for nothing.
    let path = tmp.path().join("golden").join(tcpc::emit::MARKER);
    let text = std::fs::read_to_string(&path).unwrap();
    let entry = text.lines().find(|l| l.starts_with("tenants/minimal ")).expect("the marker records tenants/minimal").to_string();
    let mut fields: Vec<String> = entry.split(' ').map(String::from).collect();
    fields[3] = "0".repeat(fields[3].len());
    std::fs::write(&path, text.replace(&entry, &fields.join(" "))).unwrap();
    assert_eq!(counts(&validate(&[])), (total, total - 2), "a foreign fingerprint is rendered");
    assert_eq!(json(&[]), json(&["--full"]));
}

/// Whether the run took the up-to-date stamp (printed under `-v`).
fn stamped(r: &common::Run) -> bool {
    r.stderr.contains("up-to-date stamp: ")
}

fn check(repo: &Path, out: &Path) -> common::Run {
    run(tcpc().arg("-v").arg("check").arg(repo).arg("-o").arg(out))
}

#[test]
fn an_unchanged_repository_is_not_compiled_again_and_a_hand_edit_still_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    let first = render(&repo, &out, &[]).expect_code(0, "first render");
    assert!(!stamped(&first), "{}", first.describe());
    let stamp = tcpc::stamp::Stamp::parse(&marker(&out)).expect("a full render stamps its marker");
    assert_eq!(stamp.files, common::read_tree(&out).len());

    let before = (snapshot(&out), marker(&out));
    let again = render(&repo, &out, &[]).expect_code(0, "second render");
    assert!(stamped(&again), "an unchanged repository is compiled again\n{}", again.describe());
    assert!(again.stderr.contains("up to date"), "{}", again.describe());
    assert_eq!(snapshot_changes(&before.0, &snapshot(&out)), Vec::<String>::new(), "an up-to-date render changed files");
    assert_eq!(before.1, marker(&out));
    let c = check(&repo, &out).expect_code(0, "check of an up-to-date tree");
    assert!(stamped(&c), "{}", c.describe());

    // A hand edit of the tree, the inputs untouched: the stamp no longer holds.
    let file = out.join("kustomization.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{original}# edited\n")).unwrap();
    let c = check(&repo, &out).expect_code(1, "check of a hand-edited tree");
    assert!(!stamped(&c), "{}", c.describe());
    let r = render(&repo, &out, &[]).expect_code(0, "render after a hand edit");
    assert!(!stamped(&r), "{}", r.describe());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original, "the hand edit was not put back");
    // A file added by hand counts too.
    std::fs::write(out.join("tenants/extra.yaml"), "x: 1\n").unwrap();
    check(&repo, &out).expect_code(1, "check of a tree with a file added by hand");
    render(&repo, &out, &[]).expect_code(0, "render after a file was added");
    assert!(!out.join("tenants/extra.yaml").exists());
    assert_same_as_cold(&repo, &out, tmp.path(), "stamp");
}

/// Every file a render reads is part of the stamp: changing any one of them (in a way the
/// compile reads as meaningful or not) makes the next render compile. Fails when the stamp
/// leaves one out (tried: the state files, the sealed-secrets certificate).
#[test]
fn every_file_a_render_reads_voids_the_stamp() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    render(&repo, &out, &[]).expect_code(0, "first render");
    let state = walkdir::WalkDir::new(repo.join(".tcpc/state"))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.extension().is_some_and(|e| e == "age") && p.to_string_lossy().contains("tenants"))
        .expect("a tenant's state file");
    let edits: [(&str, std::path::PathBuf); 6] = [
        ("a tenant's spec", repo.join("tenants/minimal.yaml")),
        ("tcpc.yaml", repo.join("tcpc.yaml")),
        ("the lock's root", repo.join("tcpc.lock")),
        ("a tenant's lock shard", repo.join("tcpc.lock.d/tenants/minimal.json")),
        ("the sealed-secrets certificate", repo.join("sealed-secrets.crt")),
        ("a state file", state),
    ];
    for (what, path) in edits {
        let original = std::fs::read(&path).unwrap();
        let mut edited = original.clone();
        edited.extend_from_slice(b"\n");
        std::fs::write(&path, &edited).unwrap();
        let c = check(&repo, &out);
        assert!(!stamped(&c), "{what} changed, and check trusted the stamp\n{}", c.describe());
        let r = render(&repo, &out, &[]);
        assert!(!stamped(&r), "{what} changed, and the render trusted the stamp\n{}", r.describe());
        std::fs::write(&path, &original).unwrap();
        render(&repo, &out, &[]).expect_code(0, &format!("{what} restored"));
    }
    let r = render(&repo, &out, &[]).expect_code(0, "all restored");
    assert!(stamped(&r), "{}", r.describe());
}

/// The stamp holds until the first certificate's renewal window opens (or it crosses
/// `check`'s warning threshold): from then on the render compiles again.
#[test]
fn the_stamp_ends_where_the_first_renewal_or_warning_begins() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    render(&repo, &out, &[]).expect_code(0, "first render");
    let until = tcpc::stamp::Stamp::parse(&marker(&out)).and_then(|s| s.until).expect("the examples' certificates expire");
    let at = |t: i64, what: &str| {
        let r = run(tcpc().env("SOURCE_DATE_EPOCH", t.to_string()).arg("-v").arg("check").arg(&repo).arg("-o").arg(&out));
        assert!(r.code == 0 || r.code == 4 || r.code == 5, "{what}\n{}", r.describe());
        r
    };
    assert!(stamped(&at(until - 1, "a second before")), "the stamp holds before its bound");
    let r = at(until, "at the bound");
    assert!(!stamped(&r), "the stamp holds at its bound\n{}", r.describe());
    // A day later something is due, or warned about: the compile says so.
    let r = at(until + 86_400, "a day after");
    assert!(!stamped(&r), "{}", r.describe());
    assert!(r.code != 0 || r.stderr.contains("warning: "), "a day after the bound, check has nothing to say\n{}", r.describe());
}

/// The local index (`.tcpc/cache/index-*`, git-ignored, `src/index.rs`): every render records the
/// `stat` and digest of what it read and wrote, and the next render or check trusts `stat`
/// instead of hashing a file, until the file is written — even with the same size and bytes of
/// the same length. `check` reads the index and never writes it.
#[test]
fn the_local_index_is_trusted_only_while_no_file_was_written() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path());
    let out = tmp.path().join("out");
    // (The checkout's examples may hold indexes of other outputs: local, not copied state.)
    let _ = std::fs::remove_dir_all(repo.join(".tcpc/cache"));
    render(&repo, &out, &[]).expect_code(0, "first render");
    let indexes: Vec<_> = std::fs::read_dir(repo.join(".tcpc/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("index-"))
        .collect();
    assert_eq!(indexes.len(), 1, "one index, of the one output: {indexes:?}");
    let index = indexes[0].clone();
    let recorded = std::fs::read_to_string(&index).expect("the render recorded what it wrote");
    // Files written less than 2 s ago are never trusted by `stat` (src/stamp.rs: RACY_NS): hashed.
    let r = render(&repo, &out, &[]).expect_code(0, "render right after the render");
    assert!(stamped(&r), "{}", r.describe());
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let before = std::fs::read_to_string(&index).unwrap();
    assert_ne!(before, recorded, "a verification that hashed records what it found");
    let c = check(&repo, &out).expect_code(0, "check of a settled tree");
    assert!(stamped(&c), "{}", c.describe());
    assert_eq!(std::fs::read_to_string(&index).unwrap(), before, "check wrote the index");
    let r = render(&repo, &out, &[]).expect_code(0, "render of a settled tree");
    assert!(stamped(&r), "{}", r.describe());
    let text = std::fs::read_to_string(&index).unwrap();
    let marker_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(marker(&out).as_bytes()));
    assert!(text.contains(&format!("\nmarker {marker_sha}\n")), "the index names the marker it describes: {text}");
    let ignore = std::fs::read_to_string(repo.join(".tcpc/cache/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "the cache is not ignored by Git: {ignore}");
    let c = check(&repo, &out).expect_code(0, "check trusting the index");
    assert!(stamped(&c), "{}", c.describe());

    // The same size, one byte different: only `stat` (ctime) tells, and it does.
    let file = out.join("kustomization.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    let edited = original.replacen("resources:", "resourcez:", 1);
    assert_eq!(edited.len(), original.len());
    std::fs::write(&file, &edited).unwrap();
    let c = check(&repo, &out).expect_code(1, "check after a same-size hand edit");
    assert!(!stamped(&c), "{}", c.describe());
    // Put back byte for byte: the `stat` no longer matches, the file is hashed and found current.
    std::fs::write(&file, &original).unwrap();
    let c = check(&repo, &out).expect_code(0, "check after the edit was undone");
    assert!(stamped(&c), "{}", c.describe());
    // The index is in no input: a render reads the repository as before and changes nothing.
    let before = snapshot(&out);
    render(&repo, &out, &[]).expect_code(0, "render beside the record");
    assert_eq!(snapshot_changes(&before, &snapshot(&out)), Vec::<String>::new());
}
