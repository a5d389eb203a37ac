//! The README's quick start, run verbatim: the `sh` block after the `<!-- quickstart` marker is
//! executed line by line by bash in a temp directory (HOME there too), then `git status` must
//! show no private key or identity as something `git add` would pick up.
//!
//! What the test provides, as the README says the reader does: `tcpc` (this build), `git`, the
//! management etcd's CA as `etcd-ca.crt`/`etcd-ca.key` in the starting directory (generated
//! here), and `kubeseal` — replaced by a script printing the fixture certificate the other
//! tests use (`examples/sealed-secrets.crt`), since there is no cluster to fetch it from.

mod common;

use std::path::Path;

use common::{EXAMPLES_EPOCH, root, run};

/// The commands of the README's quick start block.
fn quickstart_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("<!-- quickstart").expect("README.md has a `<!-- quickstart` marker");
    let block = &readme[start..];
    let body = &block[block.find("```sh\n").expect("a ```sh block follows the marker") + 6..];
    let body = &body[..body.find("```").expect("the block ends")];
    body.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

/// A throwaway etcd CA, valid at the examples' epoch.
fn write_etcd_ca(dir: &Path) {
    use rand_core::SeedableRng as _;
    let now = time::OffsetDateTime::from_unix_timestamp(EXAMPLES_EPOCH.parse().unwrap()).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
    let spec = tcpc_pki::CertSpec::ca("etcd-ca", tcpc_pki::KeyAlgorithm::EcdsaP256);
    let ca = tcpc_pki::self_signed_ca(&spec, None, now, &mut rng).unwrap();
    std::fs::write(dir.join("etcd-ca.crt"), &ca.cert_pem).unwrap();
    std::fs::write(dir.join("etcd-ca.key"), ca.key.to_pem().as_bytes()).unwrap();
}

#[test]
fn the_readme_quick_start_works_verbatim_and_commits_no_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, work, bin) = (tmp.path().join("home"), tmp.path().join("work"), tmp.path().join("bin"));
    for d in [&home, &work, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    write_etcd_ca(&work);
    // Stand-in for `kubeseal --fetch-cert` (no cluster here): the fixture certificate.
    let kubeseal = bin.join("kubeseal");
    let cert = root().join("examples/sealed-secrets.crt");
    std::fs::write(&kubeseal, format!("#!/bin/sh\n[ \"$1\" = --fetch-cert ] || exit 2\nexec cat '{}'\n", cert.display())).unwrap();
    std::fs::set_permissions(&kubeseal, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let tcpc_dir = Path::new(env!("CARGO_BIN_EXE_tcpc")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}:{}", bin.display(), tcpc_dir.display(), std::env::var("PATH").unwrap_or_default());

    // One bash runs the lines in order (so `cd` carries over); each line's failure names it.
    let lines = quickstart_lines();
    assert!(lines.len() >= 5, "the quick start block is suspiciously short: {lines:?}");
    let mut script = String::from("set -uo pipefail\n");
    for (i, line) in lines.iter().enumerate() {
        script.push_str(&format!(
            "{line}\nrc=$?; if [ $rc -ne 0 ]; then echo \"quick start line {} failed (exit $rc): {}\" >&2; exit 1; fi\n",
            i + 1,
            line.replace('"', "\\\"").replace('$', "\\$").replace('`', "\\`")
        ));
    }
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env_clear()
        .env("PATH", &path)
        .env("HOME", &home)
        .env("SOURCE_DATE_EPOCH", EXAMPLES_EPOCH)
        .env("GIT_AUTHOR_NAME", "quick start")
        .env("GIT_AUTHOR_EMAIL", "quickstart@example.com")
        .env("GIT_COMMITTER_NAME", "quick start")
        .env("GIT_COMMITTER_EMAIL", "quickstart@example.com");
    let r = run(&mut cmd).expect_code(0, "the README quick start");

    // The identity was written private, and the repository renders and checks clean.
    let identity = home.join(".config/tcpc/identity.txt");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&identity).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o600, "identity file mode");
    let repo = work.join("platform");
    assert!(repo.join("rendered/tenants/example/management").is_dir(), "no rendered example tenant\n{}", r.describe());
    assert!(repo.join("tcpc.lock").is_file() && repo.join(".tcpc/state/tenants/tenants/example.age").is_file());

    // A user who copies keys or an identity into the repository is still safe: git ignores them.
    std::fs::copy(work.join("etcd-ca.key"), repo.join("etcd-ca.key")).unwrap();
    std::fs::copy(&identity, repo.join("identity.txt")).unwrap();
    std::fs::write(repo.join("me.agekey"), "AGE-SECRET-KEY-1 placeholder\n").unwrap();
    let git = |args: &[&str]| {
        let r = run(std::process::Command::new("git").args(args).current_dir(&repo).env("HOME", &home));
        r.expect_code(0, &format!("git {args:?}")).stdout
    };
    let status = git(&["status", "--porcelain", "--ignored"]);
    let addable: Vec<&str> = status.lines().filter(|l| !l.starts_with("!! ")).collect();
    assert!(addable.is_empty(), "after the quick start, git would add:\n{status}");
    for f in ["etcd-ca.key", "identity.txt", "me.agekey"] {
        assert!(status.lines().any(|l| l == format!("!! {f}")), "{f} is not ignored:\n{status}");
    }
    // and nothing secret was committed
    let committed = git(&["ls-files"]);
    for f in committed.lines() {
        assert!(!f.ends_with(".key") && !f.contains("identity") && !f.ends_with(".agekey"), "committed {f}");
        let text = std::fs::read_to_string(repo.join(f)).unwrap_or_default();
        assert!(!text.contains("PRIVATE KEY") && !text.contains("AGE-SECRET-KEY"), "{f} holds a private key");
    }
    assert!(committed.lines().any(|f| f == "tcpc.yaml") && committed.lines().any(|f| f.starts_with("rendered/")), "{committed}");
}

/// `tcpc import` warns about a key file inside the repository that Git would commit.
#[test]
fn import_warns_about_a_key_git_would_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    run(common::tcpc().args(["init"]).arg(&repo).args(["--recipient", "age1l073q08ujmk99f2ucgt7t46sn26v0n2u89wnk2xnclrwry4ur46ssqpdzg"]))
        .expect_code(0, "tcpc init");
    run(std::process::Command::new("git").args(["init", "-q"]).current_dir(&repo)).expect_code(0, "git init");
    // Outside the .gitignore patterns: `ca-key.txt`.
    write_etcd_ca(&repo);
    std::fs::rename(repo.join("etcd-ca.key"), repo.join("ca-key.txt")).unwrap();
    let r = run(common::tcpc()
        .args(["import", "datastore-ca", "default"])
        .arg(&repo)
        .args(["--cert"])
        .arg(repo.join("etcd-ca.crt"))
        .arg("--key")
        .arg(repo.join("ca-key.txt")))
    .expect_code(0, "tcpc import");
    assert!(r.stderr.contains("ca-key.txt is inside the repository and not ignored by Git"), "{}", r.describe());
    // A key matched by the .gitignore tcpc init wrote: no warning. The hidden --dir still works.
    write_etcd_ca(&repo);
    let r = run(common::tcpc()
        .args(["import", "datastore-ca", "default", "--dir"])
        .arg(&repo)
        .args(["--cert"])
        .arg(repo.join("etcd-ca.crt"))
        .arg("--key")
        .arg(repo.join("etcd-ca.key")))
    .expect_code(0, "tcpc import --dir");
    assert!(!r.stderr.contains("warning"), "{}", r.describe());
    // `tcpc identity -o` never overwrites.
    let id = tmp.path().join("a/b/identity.txt");
    run(common::tcpc().arg("identity").arg("-o").arg(&id)).expect_code(0, "tcpc identity -o");
    let r = run(common::tcpc().arg("identity").arg("-o").arg(&id)).expect_code(2, "tcpc identity -o over an existing file");
    assert!(r.stderr.contains("never overwrites"), "{}", r.describe());
}
