//! The output depends on what the specs say, never on where they are written: renaming and
//! moving files, merging them into multi-document files and reordering documents leave the
//! rendered tree byte-identical — except the `tcpc.dev/source` annotations, which name the
//! files — and so does rendering again in another process.
//!
//! Both renders use the examples' lock and encrypted state and no identity, so they must
//! reuse every certificate and sealed ciphertext.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_trees_eq, copy_dir, root, run, tcpc};

/// A copy of `examples/` under `parent/<name>`.
fn examples_copy(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    copy_dir(&root().join("examples"), &dir);
    dir
}

fn render(dir: &Path, out: &Path) {
    let r = run(tcpc().arg("render").arg(dir).arg("-o").arg(out).arg("--allow-outside"));
    r.expect_code(0, &format!("tcpc render {} -o {}", dir.display(), out.display()));
}

/// The YAML documents of a file, in order (separated by `---` lines).
fn documents(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut docs = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            docs.last_mut().unwrap().push_str(line);
        }
    }
    docs.retain(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')));
    docs
}

fn write_documents(path: &Path, docs: &[String]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text: Vec<String> = docs.iter().map(|d| if d.ends_with('\n') { d.clone() } else { format!("{d}\n") }).collect();
    std::fs::write(path, format!("---\n{}", text.join("---\n"))).unwrap();
}

#[test]
fn moving_renaming_and_reordering_inputs_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = examples_copy(tmp.path(), "plain");
    let moved = examples_copy(tmp.path(), "moved");

    let take = |rel: &str| {
        let path = moved.join(rel);
        let docs = documents(&path);
        std::fs::remove_file(&path).unwrap();
        docs
    };
    let (minimal, full, nodeport, internal_ca, datastore, events) = (
        take("tenants/minimal.yaml"),
        take("tenants/full.yaml"),
        take("tenants/nodeport.yaml"),
        take("tenants/internal-ca.yaml"),
        take("datastores/default.yaml"),
        take("datastores/events.yaml"),
    );
    let (sql, postgresql) = (take("tenants/sql.yaml"), take("datastores/postgresql.yaml"));
    let isolated = take("tenants/isolated.yaml");
    let rotating = take("tenants/rotating.yaml");
    assert!(internal_ca.len() >= 2, "tenants/internal-ca.yaml was expected to hold several documents");
    std::fs::remove_dir(moved.join("tenants")).expect("every tenant file was moved");
    std::fs::remove_dir(moved.join("datastores")).expect("every DataStore file was moved");

    // A renamed file in a new directory.
    write_documents(&moved.join("zz/renamed-1.yaml"), &minimal);
    // Several files merged into one `.yml`, in reverse order, the DataStore after its users.
    write_documents(&moved.join("all/stack.yml"), &[nodeport, full, datastore].concat());
    // The override DataStore before the tenant that names it.
    write_documents(&moved.join("0-first.yaml"), &events);
    // The SQL tenant and its DataStore in one file, the tenant first.
    write_documents(&moved.join("sql/both.yaml"), &[sql, postgresql].concat());
    // The dedicated-etcd tenant deep in a new directory.
    write_documents(&moved.join("a/b/c/isolated.yaml"), &isolated);
    // The companion-rotation tenant after the DataStore file it uses, in a dotted directory name.
    write_documents(&moved.join("z.rotation/rotating.yaml"), &rotating);
    // A multi-document file with its documents reversed, deep in the tree.
    let reversed: Vec<String> = internal_ca.into_iter().rev().collect();
    write_documents(&moved.join("a/b/c/internal.yaml"), &reversed);

    let (out_plain, out_moved) = (tmp.path().join("out-plain"), tmp.path().join("out-moved"));
    render(&plain, &out_plain);
    render(&moved, &out_moved);
    // The source annotations name the new files, and nothing else differs.
    let deployment = "tenants/minimal/management/deployment-minimal.yaml";
    let moved_text = std::fs::read_to_string(out_moved.join(deployment)).unwrap();
    assert!(moved_text.contains("tcpc.dev/source: zz/renamed-1.yaml\n"), "{moved_text}");
    let without_sources = |dir: &Path| {
        let mut tree = common::read_tree(dir);
        for text in tree.values_mut() {
            *text = text.lines().filter(|l| !l.trim_start().starts_with("tcpc.dev/source:")).map(|l| format!("{l}\n")).collect();
        }
        tree
    };
    let diff = tcpc::diff::tree_diff(&without_sources(&out_plain), &without_sources(&out_moved));
    assert!(diff.is_empty(), "the output depends on file names, locations or document order:\n{diff}");
    assert!(!common::read_tree(&out_plain).is_empty());
    // and neither render needed new key material
    for dir in [&plain, &moved] {
        let lock = common::lock_snapshot(dir);
        assert!(lock == common::lock_snapshot(&root().join("examples")), "{}: render changed the lock", dir.display());
    }
}

#[test]
fn rendering_twice_in_separate_processes_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = examples_copy(tmp.path(), "examples");
    let (first, second) = (tmp.path().join("first"), tmp.path().join("second"));
    render(&repo, &first);
    render(&repo, &second);
    assert_trees_eq(&first, &second, "two renders of the same inputs differ");
    // The --stdout stream holds the same documents as the tree.
    let r = run(tcpc().arg("render").arg(&repo).args(["--stdout", "--bundle", "all"])).expect_code(0, "render --stdout");
    let tree = common::read_tree(&first);
    let stream = tcpc::emit::stream(&tree, &[tcpc::model::Bundle::Management, tcpc::model::Bundle::Tenant]);
    assert!(
        r.stdout == stream,
        "tcpc render --stdout --bundle all differs from the written tree:\n{}",
        similar::TextDiff::from_lines(&stream, &r.stdout).unified_diff()
    );
}
