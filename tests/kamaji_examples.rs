//! Kamaji specs as Kamaji users write them (`examples/kamaji/`: every TenantControlPlane and
//! DataStore field tcpc reads, in Kamaji's own spellings) are accepted unchanged: `tcpc validate`
//! on a repository holding only them and an empty `tcpc.yaml` resolves every tenant, renders
//! its templates and type-checks every object. A field tcpc stopped honouring, or a Kamaji
//! spelling it stopped reading, fails here with the diagnostic.

mod common;

use common::{root, run, tcpc};

#[test]
fn kamaji_examples_validate_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    let mut docs = 0;
    for entry in std::fs::read_dir(root().join("examples/kamaji")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, repo.join(path.file_name().unwrap())).unwrap();
        docs += 1;
    }
    assert!(docs >= 6, "examples/kamaji holds {docs} files");
    std::fs::write(repo.join("tcpc.yaml"), "apiVersion: tcpc.dev/v1alpha1\nkind: Config\n").unwrap();
    let r = run(tcpc().arg("validate").arg(repo)).expect_code(0, "tcpc validate examples/kamaji");
    assert!(r.stderr.ends_with("ok: 3 TenantControlPlane(s) valid\n"), "{}", r.describe());
    assert!(!r.stderr.contains("error"), "{}", r.describe());
}
