//! What a new user meets first: `tcpc init`, help with examples, `-q`, a closed pipe,
//! RFC 3339 dates and the right command when renewal is due.

mod common;

use common::{EXAMPLES_EPOCH, root, run, tcpc};

#[test]
fn init_writes_a_valid_repository_with_every_default_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/platform");
    let r = run(tcpc().arg("init").arg(&dir)).expect_code(0, "tcpc init");
    for step in ["tcpc identity -o", "kubeseal --fetch-cert", "tcpc import datastore-ca default", "tcpc render"] {
        assert!(r.stderr.contains(step), "the next steps lack {step:?}:\n{}", r.stderr);
    }
    run(tcpc().arg("validate").arg(&dir)).expect_code(0, "tcpc validate on a fresh repository");
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    for p in ["*.key", "*.agekey", "*identity*.txt"] {
        assert!(gitignore.lines().any(|l| l == p), ".gitignore lacks {p}:\n{gitignore}");
    }
    // Every setting written is the default the code applies.
    let text = std::fs::read_to_string(dir.join("tcpc.yaml")).unwrap();
    let docs = tcpc_yaml::parse_stream(&text).unwrap();
    let written: tcpc_spec::Config = serde_json::from_value(docs[0].root.to_json()).unwrap();
    let default = tcpc_spec::Config::empty();
    assert_eq!(written.output_dir(), default.output_dir());
    assert_eq!(written.default_namespace(), default.default_namespace());
    assert_eq!(written.key_algorithm(), default.key_algorithm());
    assert_eq!(written.leaf_validity_days(), default.leaf_validity_days());
    assert_eq!(written.ca_validity_days(), default.ca_validity_days());
    assert_eq!(written.renew_before_fraction(), default.renew_before_fraction());
    assert_eq!(written.state_dir(), default.state_dir());
    assert_eq!(written.lock_file(), default.lock_file());
    assert_eq!(written.sealed_secrets_scope(), default.sealed_secrets_scope());
    assert_eq!(written.check_warn_days(), default.check_warn_days());
    assert_eq!(written.check_fail_days(), default.check_fail_days());
    assert_eq!(written.create_namespaces(), default.create_namespaces());
    for key in [
        "output:",
        "exclude:",
        "namespace:",
        "registry:",
        "keyAlgorithm:",
        "leafValidityDays:",
        "caValidityDays:",
        "renewBeforeFraction:",
        "recipients:",
        "stateDir:",
        "lockFile:",
        "certificate:",
        "scope:",
        "warnDays:",
        "failDays:",
        "create:",
    ] {
        assert!(text.contains(key), "tcpc.yaml from init does not mention {key}\n{text}");
    }
    // A second init changes nothing.
    let before = common::snapshot(&dir);
    run(tcpc().arg("init").arg(&dir)).expect_code(2, "tcpc init over an existing repository");
    assert!(common::snapshot_changes(&before, &common::snapshot(&dir)).is_empty());
}

#[test]
fn every_command_has_an_example_in_its_help() {
    let commands: &[&[&str]] = &[
        &["init"],
        &["render"],
        &["validate"],
        &["check"],
        &["import"],
        &["import", "datastore-ca"],
        &["import", "ca"],
        &["identity"],
        &["kubeconfig"],
        &["rotate"],
        &["rotate", "ca"],
        &["schema"],
    ];
    for c in commands {
        let r = run(tcpc().arg("help").args(*c)).expect_code(0, &format!("tcpc help {c:?}"));
        assert!(r.stdout.contains("Example:\n  tcpc "), "tcpc help {c:?} has no example:\n{}", r.stdout);
    }
    let r = run(tcpc().args(["import", "datastore-ca", "--help"])).expect_code(0, "help");
    let cert = r.stdout.lines().find(|l| l.trim_start().starts_with("--cert <CERT>")).unwrap_or_default();
    assert!(cert.ends_with(" The CA certificate (PEM)"), "{}", r.stdout);
}

#[test]
fn quiet_prints_nothing_on_success() {
    let r = run(tcpc().args(["-q", "validate", "examples"])).expect_code(0, "tcpc -q validate");
    assert_eq!(r.stderr, "", "{}", r.describe());
    let r = run(tcpc().args(["validate", "examples", "--quiet"])).expect_code(0, "tcpc validate --quiet");
    assert_eq!(r.stderr, "");
    let r = run(tcpc().args(["validate", "examples"])).expect_code(0, "tcpc validate");
    assert!(r.stderr.starts_with("ok: "), "{}", r.describe());
}

/// A closed pipe ends tcpc like any Unix filter: killed by SIGPIPE, nothing on stderr.
#[test]
fn a_closed_pipe_is_not_an_error() {
    let tcpc_bin = env!("CARGO_BIN_EXE_tcpc");
    for args in ["schema", "render examples --stdout --bundle all"] {
        // Far more output than a pipe buffers, so the write really meets a closed pipe.
        let size = run(std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{tcpc_bin} {args} | wc -c"))
            .current_dir(root())
            .env("SOURCE_DATE_EPOCH", EXAMPLES_EPOCH));
        assert!(size.stdout.trim().parse::<usize>().unwrap() > 128 * 1024, "tcpc {args} prints only {} bytes", size.stdout.trim());
        let r = run(std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{tcpc_bin} {args} 2>/tmp/tcpc-sigpipe-$$ | head -n 1 >/dev/null; s=${{PIPESTATUS[0]}}; cat /tmp/tcpc-sigpipe-$$ >&2; rm -f /tmp/tcpc-sigpipe-$$; echo $s"))
            .current_dir(root())
            .env("SOURCE_DATE_EPOCH", EXAMPLES_EPOCH));
        assert_eq!(r.stdout.trim(), "141", "tcpc {args} | head: expected death by SIGPIPE (128+13)\n{}", r.describe());
        assert!(!r.stderr.contains("Broken pipe") && !r.stderr.contains("error"), "tcpc {args} | head:\n{}", r.describe());
    }
}

/// When renewal is due, `check` says which command renews (it needs the identity) and prints
/// dates in RFC 3339.
#[test]
fn check_names_the_renewal_command_and_prints_rfc3339_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("examples");
    common::copy_dir(&root().join("examples"), &dir);
    let out = tmp.path().join("out");
    run(tcpc().arg("render").arg(&dir).arg("-o").arg(&out).arg("--allow-outside")).expect_code(0, "render the examples");
    // 361 days after issuance: renewal is long due and the leaves expire within failDays.
    let late = (EXAMPLES_EPOCH.parse::<i64>().unwrap() + 361 * 86400).to_string();
    let r = run(tcpc().arg("check").arg(&dir).arg("-o").arg(&out).env("SOURCE_DATE_EPOCH", &late));
    let r = r.expect_code(5, "check with renewal due");
    assert!(r.stderr.contains(&format!("run `tcpc render {} --identity FILE`", dir.display())), "{}", r.stderr);
    let expiring = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error: ") && l.contains("certificate apiserver expires in "))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let date = expiring.split('(').nth(2).and_then(|s| s.split(')').next()).unwrap();
    assert!(time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339).is_ok() && date.ends_with('Z'), "{expiring}");
    // The render it names works and check is clean again.
    run(common::render_with_identity(&dir, &out).env("SOURCE_DATE_EPOCH", &late)).expect_code(0, "the renewal render");
    run(tcpc().arg("check").arg(&dir).arg("-o").arg(&out).env("SOURCE_DATE_EPOCH", &late)).expect_code(0, "check after renewal");
}

/// The render summary: one line by default, every changed file with `-v`, nothing with `-q`.
#[test]
fn render_reports_a_change_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("examples");
    common::copy_dir(&root().join("examples"), &dir);
    let out = tmp.path().join("out");
    let r = run(tcpc().arg("render").arg(&dir).arg("-o").arg(&out).arg("--allow-outside")).expect_code(0, "first render");
    let files = common::snapshot(&out).len(); // the snapshot leaves the .tcpc-generated marker out, as the tree does
    assert!(r.stderr.contains(&format!("{files} files changed for 7 tenants, 0 unchanged")), "{}", r.stderr);
    let tenant = dir.join("tenants/minimal.yaml");
    let text = std::fs::read_to_string(&tenant).unwrap();
    std::fs::write(&tenant, text.replacen("    service:\n", "    deployment:\n      replicas: 3\n    service:\n", 1)).unwrap();
    let r = run(tcpc().args(["render", "-v"]).arg(&dir).arg("-o").arg(&out).arg("--allow-outside")).expect_code(0, "render -v");
    // the Deployment, and the input fingerprint the RenderedControlPlane records
    let expected = format!(
        "2 files changed for 1 tenant, {} unchanged\n  ~ tenants/minimal/management/deployment-minimal.yaml\n  ~ tenants/minimal/management/renderedcontrolplane-minimal.yaml\n",
        files - 2
    );
    assert!(r.stderr.ends_with(&expected), "{}", r.stderr);
    let r = run(tcpc().args(["render", "-q"]).arg(&dir).arg("-o").arg(&out).arg("--allow-outside")).expect_code(0, "render -q");
    assert_eq!(r.stderr, "");
}

/// One Namespace object per namespace in the management bundle, listed by its kustomization;
/// `namespaces.create: false` turns them off.
#[test]
fn namespace_objects_can_be_switched_off() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("examples");
    common::copy_dir(&root().join("examples"), &dir);
    let (on, off) = (tmp.path().join("on"), tmp.path().join("off"));
    run(tcpc().arg("render").arg(&dir).arg("-o").arg(&on).arg("--allow-outside")).expect_code(0, "render");
    let ns = std::fs::read_to_string(on.join("tenants/namespace.yaml")).unwrap();
    assert!(ns.contains("kind: Namespace\n") && ns.contains("  name: tenants\n"), "{ns}");
    let k = std::fs::read_to_string(on.join("tenants/kustomization.yaml")).unwrap();
    assert!(k.contains("resources:\n- namespace.yaml\n- edge\n"), "{k}");
    let config = std::fs::read_to_string(dir.join("tcpc.yaml")).unwrap();
    std::fs::write(dir.join("tcpc.yaml"), format!("{config}namespaces:\n  create: false\n")).unwrap();
    run(tcpc().arg("render").arg(&dir).arg("-o").arg(&off).arg("--allow-outside")).expect_code(0, "render with namespaces.create: false");
    let changes = common::snapshot_changes(&common::snapshot(&on), &common::snapshot(&off));
    assert_eq!(
        changes,
        [
            "changed: platform/kustomization.yaml",
            "removed: platform/namespace.yaml",
            "changed: tenants/kustomization.yaml",
            "removed: tenants/namespace.yaml"
        ],
        "switching namespaces off changes only those files"
    );
}
