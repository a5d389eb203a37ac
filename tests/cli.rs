//! The command line as users meet it: each invalid repository is written to a temp dir and
//! run through the real binary, which must exit 1 and point at the offending `file:line:col`
//! with a message and a hint; usage and IO errors exit 2; a failing render writes nothing.
//!
//! The repositories start from `examples/tenants/minimal.yaml` and
//! `examples/datastores/default.yaml`, edited by exact text replacement (a replacement that
//! no longer matches fails the test, so a changed example cannot silently void a case).

mod common;

use std::path::PathBuf;

use common::{Run, root, run, snapshot, snapshot_changes, tcpc};

const MINIMAL: &str = "tenants/minimal.yaml";
const DATASTORE: &str = "datastores/default.yaml";

/// `tcpc.yaml` of every case: sealing configured, so `render` gets as far as `validate`.
const CONFIG: &str =
    "apiVersion: tcpc.dev/v1alpha1\nkind: Config\noutput: rendered\nsealing:\n  sealedSecrets:\n    certificate: sealed-secrets.crt\n";

fn example(rel: &str) -> String {
    std::fs::read_to_string(root().join("examples").join(rel)).unwrap_or_else(|e| panic!("reading examples/{rel}: {e}"))
}

/// `examples/<rel>` with each `(from, to)` replaced once; panics if `from` is not there.
fn edited(rel: &str, edits: &[(&str, &str)]) -> String {
    let mut text = example(rel);
    for (from, to) in edits {
        assert!(text.contains(from), "examples/{rel} no longer contains {from:?}: update this case");
        text = text.replacen(from, to, 1);
    }
    text
}

/// The minimal TenantControlPlane with edits.
fn tcp(edits: &[(&str, &str)]) -> String {
    edited(MINIMAL, edits)
}

/// A temp repository: tcpc.yaml, the sealing certificate, the example DataStore and the
/// minimal TenantControlPlane, with `files` added or replacing them.
fn repo(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![
        ("tcpc.yaml".to_string(), CONFIG.to_string()),
        ("sealed-secrets.crt".to_string(), example("sealed-secrets.crt")),
        (DATASTORE.to_string(), example(DATASTORE)),
        (MINIMAL.to_string(), example(MINIMAL)),
    ];
    for (path, text) in files {
        all.retain(|(p, _)| p != path);
        all.push((path.to_string(), text.clone()));
    }
    for (path, text) in all {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// An invalid repository and what `tcpc validate` and `tcpc render` must say about it.
struct Case {
    name: &'static str,
    files: Vec<(&'static str, String)>,
    /// Substrings stderr must contain: locations (`file:line:col`), messages, hints.
    expect: Vec<&'static str>,
    /// How many errors the run must report.
    errors: usize,
}

fn cases() -> Vec<Case> {
    let extra_args = |arg: &str| {
        tcp(&[("    service:\n", &format!("    deployment:\n      extraArgs:\n        apiServer:\n        - {arg}\n    service:\n"))])
    };
    let network = |lines: &str| tcp(&[("  kubernetes:\n", &format!("  networkProfile:\n{lines}  kubernetes:\n"))]);
    // The minimal TenantControlPlane with one annotation and apiServer extra arguments.
    let annotated = |annotation: &str, args: &[&str]| {
        let mut edits = vec![("  namespace: tenants\n".to_string(), format!("  namespace: tenants\n  annotations:\n    {annotation}\n"))];
        if !args.is_empty() {
            let list: String = args.iter().map(|a| format!("        - {a}\n")).collect();
            edits.push(("    service:\n".into(), format!("    deployment:\n      extraArgs:\n        apiServer:\n{list}    service:\n")));
        }
        let edits: Vec<(&str, &str)> = edits.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        tcp(&edits)
    };
    vec![
        Case {
            name: "malformed YAML",
            files: vec![(MINIMAL, tcp(&[("  namespace: tenants", " namespace: tenants")]))],
            expect: vec!["invalid YAML", "--> tenants/minimal.yaml:6:2", "namespace: tenants"],
            errors: 1,
        },
        Case {
            name: "wrong type",
            files: vec![(MINIMAL, network("    port: \"x\"\n"))],
            expect: vec!["invalid value for `spec.networkProfile.port`", "--> tenants/minimal.yaml:12:11", "not of type \"integer\""],
            errors: 1,
        },
        Case {
            name: "unknown field with a did-you-mean",
            files: vec![(MINIMAL, tcp(&[("    service:\n", "    deployment:\n      replica: 3\n    service:\n")]))],
            expect: vec![
                "unknown field `replica` in spec.controlPlane.deployment",
                "--> tenants/minimal.yaml:10:7",
                "help: did you mean `replicas`?",
            ],
            errors: 1,
        },
        Case {
            name: "CIDR with host bits set",
            files: vec![(MINIMAL, network("    serviceCidr: 10.96.0.1/12\n"))],
            expect: vec![
                "invalid CIDR `10.96.0.1/12`",
                "--> tenants/minimal.yaml:12:18",
                "host bits are set; the network is `10.96.0.0/12`",
            ],
            errors: 1,
        },
        Case {
            name: "CIDR prefix longer than 32",
            files: vec![(MINIMAL, network("    podCidr: 10.244.0.0/33\n"))],
            expect: vec!["invalid CIDR `10.244.0.0/33`", "--> tenants/minimal.yaml:12:14", "at most 32"],
            errors: 1,
        },
        Case {
            name: "dnsServiceIPs outside the service CIDR",
            files: vec![(MINIMAL, network("    serviceCidr: 10.96.0.0/16\n    dnsServiceIPs:\n    - 10.97.0.10\n"))],
            expect: vec![
                "DNS service IP 10.97.0.10 is outside the service CIDR",
                "--> tenants/minimal.yaml:14:7",
                "not in 10.96.0.0/16",
                "help: the conventional choice is 10.96.0.10",
            ],
            errors: 1,
        },
        Case {
            name: "duplicate TenantControlPlane across two files",
            files: vec![("tenants/copy.yaml", format!("# the same tenant again\n{}", example(MINIMAL)))],
            expect: vec![
                "duplicate TenantControlPlane `tenants/minimal`",
                // the second definition, and the first one
                "--> tenants/minimal.yaml:5:9",
                "::: tenants/copy.yaml:6:9",
                "names must be unique within a namespace",
            ],
            errors: 1,
        },
        Case {
            name: "Kubernetes version without v",
            files: vec![(MINIMAL, tcp(&[("version: v1.36.3", "version: 1.36.3")]))],
            expect: vec!["invalid Kubernetes version `1.36.3`", "--> tenants/minimal.yaml:12:14", "help: write `v1.36.3`"],
            errors: 1,
        },
        Case {
            name: "unsupported Kubernetes minor",
            files: vec![(MINIMAL, tcp(&[("version: v1.36.3", "version: v1.29.2")]))],
            expect: vec!["unsupported Kubernetes version `v1.29.2`", "--> tenants/minimal.yaml:12:14", "supported: v1.30 to v1.37"],
            errors: 1,
        },
        Case {
            name: "name not a DNS-1035 label",
            files: vec![(MINIMAL, tcp(&[("name: minimal", "name: 1st_tenant")]))],
            expect: vec![
                "invalid TenantControlPlane name `1st_tenant`",
                "--> tenants/minimal.yaml:5:9",
                "not a DNS-1035 label",
                "help: use at most 63",
            ],
            errors: 1,
        },
        Case {
            name: "konnectivity port clashes with the API server's",
            files: vec![(
                MINIMAL,
                tcp(&[("  kubernetes:\n", "  addons:\n    konnectivity:\n      server:\n        port: 6443\n  kubernetes:\n")]),
            )],
            expect: vec![
                "konnectivity port 6443 is the API server's port",
                "--> tenants/minimal.yaml:14:15",
                "the API server's port is 6443 (the default)",
                "help: agents and API clients share the tenant's Service",
            ],
            errors: 1,
        },
        Case {
            name: "konnectivity agent replicas in DaemonSet mode",
            files: vec![(
                MINIMAL,
                tcp(&[("  kubernetes:\n", "  addons:\n    konnectivity:\n      agent:\n        replicas: 2\n  kubernetes:\n")]),
            )],
            expect: vec![
                "`replicas` needs agent mode Deployment",
                "--> tenants/minimal.yaml:14:19",
                "the agent is a DaemonSet",
                "help: a DaemonSet runs one agent per node",
            ],
            errors: 1,
        },
        Case {
            name: "konnectivity agent Deployment of no replicas",
            files: vec![(
                MINIMAL,
                tcp(&[(
                    "  kubernetes:\n",
                    "  addons:\n    konnectivity:\n      agent:\n        mode: Deployment\n        replicas: 0\n  kubernetes:\n",
                )]),
            )],
            expect: vec![
                "invalid agent replicas 0",
                "--> tenants/minimal.yaml:15:19",
                "must be 1 or more",
                "help: leave it unset for one agent",
            ],
            errors: 1,
        },
        Case {
            name: "removed flag in extraArgs",
            files: vec![(MINIMAL, extra_args("--insecure-port=8080"))],
            expect: vec![
                "`--insecure-port` does not exist in v1.36",
                "--> tenants/minimal.yaml:12:11",
                "removed in v1.24",
                "help: remove the flag",
            ],
            errors: 1,
        },
        Case {
            name: "managed flag in extraArgs",
            files: vec![(MINIMAL, extra_args("--secure-port=7443"))],
            expect: vec![
                "`--secure-port` is managed by tcpc",
                "--> tenants/minimal.yaml:12:11",
                "help: set spec.networkProfile.port instead",
            ],
            errors: 1,
        },
        Case {
            name: "a flag that switches authorization off needs an acknowledgement",
            files: vec![(MINIMAL, extra_args("--authorization-mode=Node,RBAC,AlwaysAllow"))],
            expect: vec![
                "`--authorization-mode=Node,RBAC,AlwaysAllow` switches off a protection of the tenant API server",
                "--> tenants/minimal.yaml:12:11",
                "RBAC is not consulted",
                "help: if this is intended, add `tcpc.dev/acknowledge-insecure-flags: \"authorization-mode\"` to metadata.annotations",
            ],
            errors: 1,
        },
        Case {
            name: "acknowledging one insecure flag does not acknowledge another",
            files: vec![(
                MINIMAL,
                annotated(
                    "tcpc.dev/acknowledge-insecure-flags: anonymous-auth",
                    &["--anonymous-auth=true", "--token-auth-file=/etc/tokens.csv"],
                ),
            )],
            expect: vec![
                "`--token-auth-file=/etc/tokens.csv` switches off a protection",
                "--> tenants/minimal.yaml:15:11",
                "static bearer tokens never expire",
                "`tcpc.dev/acknowledge-insecure-flags: \"token-auth-file\"`",
            ],
            errors: 1,
        },
        Case {
            name: "runAsUser 0 against the default runAsNonRoot",
            files: vec![(
                MINIMAL,
                tcp(&[("    service:\n", "    deployment:\n      podSecurityContext:\n        runAsUser: 0\n    service:\n")]),
            )],
            expect: vec![
                "`apiServer` would run as root while `runAsNonRoot` is true",
                "--> tenants/minimal.yaml:11:20",
                "help: to run as root, also set `runAsNonRoot: false`",
            ],
            errors: 1,
        },
        Case {
            name: "invalid super-admin annotation",
            files: vec![(MINIMAL, annotated("tcpc.dev/super-admin-in-cluster: \"yes\"", &[]))],
            expect: vec![
                "invalid value `yes` for `tcpc.dev/super-admin-in-cluster`",
                "--> tenants/minimal.yaml:8:38",
                "expected \"true\" or \"false\"",
            ],
            errors: 1,
        },
        Case {
            name: "DataStore with an inline private key",
            files: vec![(
                DATASTORE,
                edited(
                    DATASTORE,
                    &[(
                        "          keyPath: ca.crt\n",
                        "          keyPath: ca.crt\n      privateKey:\n        content: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==\n",
                    )],
                ),
            )],
            expect: vec![
                "a DataStore in Git must not carry a private key or password in plaintext",
                "--> datastores/default.yaml:22:18",
                "tcpc import datastore-ca default --cert CA.crt --key CA.key",
            ],
            errors: 1,
        },
        Case {
            name: "every error of a run is reported",
            files: vec![
                (MINIMAL, tcp(&[("name: minimal", "name: Minimal"), ("version: v1.36.3", "version: 1.36.3")])),
                (
                    "tenants/b.yaml",
                    tcp(&[("name: minimal", "name: b"), ("  kubernetes:\n", "  networkProfile:\n    port: \"x\"\n  kubernetes:\n")]),
                ),
                (
                    "tenants/c.yaml",
                    tcp(&[
                        ("name: minimal", "name: c"),
                        ("  kubernetes:\n", "  networkProfile:\n    serviceCidr: 10.96.0.1/12\n  kubernetes:\n"),
                    ]),
                ),
            ],
            expect: vec![
                "--> tenants/minimal.yaml:5:9",
                "--> tenants/minimal.yaml:12:14",
                "--> tenants/b.yaml:12:11",
                "--> tenants/c.yaml:12:18",
                "4 errors found",
            ],
            errors: 4,
        },
    ]
}

/// Error diagnostics in stderr, not counting the closing summary.
fn error_count(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with("error: ") && !l.ends_with(" found")).count()
}

fn check_case(case: &Case, command: &str, r: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    if r.code != 1 {
        problems.push(format!("exit code {} (expected 1)", r.code));
    }
    for e in &case.expect {
        if !r.stderr.contains(e) {
            problems.push(format!("stderr lacks {e:?}"));
        }
    }
    if error_count(&r.stderr) != case.errors {
        problems.push(format!("{} error(s) reported (expected {})", error_count(&r.stderr), case.errors));
    }
    problems.into_iter().map(|p| format!("[{}] tcpc {command}: {p}\n{}", case.name, r.stderr)).collect()
}

#[test]
fn invalid_repositories_are_reported_with_locations_and_hints() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = repo(&case.files);
        let validate = run(tcpc().arg("validate").arg(dir.path()));
        failures.extend(check_case(&case, "validate", &validate));
        // render reports the same, and writes nothing
        let render = run(tcpc().arg("render").arg(dir.path()));
        failures.extend(check_case(&case, "render", &render));
        if dir.path().join("rendered").exists() {
            failures.push(format!("[{}] tcpc render: a failing render created the output directory", case.name));
        }
    }
    assert!(failures.is_empty(), "{} problem(s):\n\n{}", failures.len(), failures.join("\n\n"));
}

/// The repository the cases start from is valid, so each case fails for its own edit only.
#[test]
fn the_base_repository_is_valid() {
    let dir = repo(&[]);
    let r = run(tcpc().arg("validate").arg(dir.path())).expect_code(0, "tcpc validate on the unedited base");
    assert!(r.stderr.contains("1 TenantControlPlane(s) valid"), "{}", r.describe());
}

#[test]
fn usage_and_io_errors_exit_2() {
    let missing = root().join("tests/fixtures/does-not-exist");
    for cmd in ["validate", "render", "check"] {
        let r = run(tcpc().arg(cmd).arg(&missing)).expect_code(2, &format!("tcpc {cmd} on a missing directory"));
        assert!(r.stderr.contains("does-not-exist is not a directory"), "tcpc {cmd}: {}", r.describe());
    }
    let r = run(tcpc().args(["validate", "--no-such-flag", "examples"])).expect_code(2, "an unknown flag");
    assert!(r.stderr.contains("unexpected argument '--no-such-flag'"), "{}", r.describe());
    run(tcpc().arg("no-such-command")).expect_code(2, "an unknown subcommand");
    run(tcpc().args(["render", "examples", "--stdout", "-o", "x"])).expect_code(2, "conflicting flags");
}

#[test]
fn render_without_sealing_configured_fails_clearly() {
    let config = "apiVersion: tcpc.dev/v1alpha1\nkind: Config\noutput: rendered\n";
    let dir = repo(&[("tcpc.yaml", config.to_string())]);
    run(tcpc().arg("validate").arg(dir.path())).expect_code(0, "validate needs no sealing");
    let r = run(tcpc().arg("render").arg(dir.path())).expect_code(1, "render without sealing");
    for e in [
        "configures no sealing",
        "tcpc never writes plaintext Secrets",
        "--> tcpc.yaml:1:1",
        "sealing: {sealedSecrets: {certificate: sealed-secrets.crt}}",
    ] {
        assert!(r.stderr.contains(e), "stderr lacks {e:?}\n{}", r.describe());
    }
    assert!(!dir.path().join("rendered").exists(), "a failing render created its output directory");
}

/// A copy of `examples/` (lock, encrypted state, certificate) whose output is `rendered`
/// in the copy; rendered once without identity, so the tree exists.
fn rendered_examples_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("examples");
    common::copy_dir(&root().join("examples"), &dir);
    let out = tmp.path().join("rendered");
    run(tcpc().arg("render").arg(&dir).arg("-o").arg(&out).arg("--allow-outside")).expect_code(0, "rendering a copy of the examples");
    (tmp, out)
}

#[test]
fn a_failing_render_leaves_the_output_and_the_lock_untouched() {
    let (tmp, out) = rendered_examples_copy();
    let dir = tmp.path().join("examples");
    std::fs::write(dir.join("tenants/broken.yaml"), tcp(&[("name: minimal", "name: broken"), ("version: v1.36.3", "version: v1.99.0")]))
        .unwrap();
    let before = snapshot(tmp.path());
    let r = run(tcpc().arg("render").arg(&dir).arg("-o").arg(&out).arg("--allow-outside")).expect_code(1, "render with an invalid tenant");
    assert!(r.stderr.contains("--> tenants/broken.yaml:12:14"), "{}", r.describe());
    let changes = snapshot_changes(&before, &snapshot(tmp.path()));
    assert!(changes.is_empty(), "a failing render changed files:\n{}", changes.join("\n"));
}

#[test]
fn new_material_without_identity_names_the_tenant_and_artefacts() {
    let (tmp, out) = rendered_examples_copy();
    let dir = tmp.path().join("examples");
    std::fs::write(dir.join("tenants/newcomer.yaml"), tcp(&[("name: minimal", "name: newcomer")])).unwrap();
    let before = snapshot(tmp.path());
    // Exit 5: every other tenant rendered (here: unchanged), the new one is listed.
    let r = run(tcpc().arg("render").arg(&dir).arg("-o").arg(&out).arg("--allow-outside"))
        .expect_code(5, "render of a new tenant without identity");
    for e in [
        "tenants/newcomer",
        "requires the age identity",
        "ca must be issued",
        "apiserver must be issued",
        "sa must be issued",
        "--identity",
    ] {
        assert!(r.stderr.contains(e), "stderr lacks {e:?}\n{}", r.describe());
    }
    assert!(!r.stderr.contains("tenants/minimal:"), "only the new tenant needs material:\n{}", r.stderr);
    let changes = snapshot_changes(&before, &snapshot(tmp.path()));
    assert!(changes.is_empty(), "a render that could not issue changed files:\n{}", changes.join("\n"));

    // With the identity, the same render succeeds and records the new tenant.
    let r = run(&mut common::render_with_identity(&dir, &out));
    let r = r.expect_code(0, "render of a new tenant with the identity");
    let lock = tcpc::lock::read(&dir.join("tcpc.lock")).expect("the new lock parses");
    assert!(lock.tenants.contains_key("tenants/newcomer"), "the lock lacks tenants/newcomer\n{}", r.describe());
    assert!(dir.join(".tcpc/state/tenants/tenants/newcomer.age").exists(), "no encrypted state for the new tenant");
    assert!(out.join("tenants/newcomer").is_dir(), "no output for the new tenant");
}

/// An acknowledged insecure flag renders (and only its own acknowledgement counts); an
/// acknowledgement that matches no flag is a warning pointing at the annotation.
#[test]
fn acknowledged_insecure_flags_are_accepted_and_stale_acknowledgements_warn() {
    let spec = tcp(&[
        (
            "  namespace: tenants\n",
            "  namespace: tenants\n  annotations:\n    tcpc.dev/acknowledge-insecure-flags: \"authorization-mode, --token-auth-file\"\n",
        ),
        (
            "    service:\n",
            "    deployment:\n      extraArgs:\n        apiServer:\n        - --authorization-mode=AlwaysAllow\n    service:\n",
        ),
    ]);
    let dir = repo(&[(MINIMAL, spec)]);
    let r = run(tcpc().arg("validate").arg(dir.path())).expect_code(0, "validate with an acknowledged insecure flag");
    for e in [
        "warning: `tcpc.dev/acknowledge-insecure-flags` lists `token-auth-file`, which no extra argument sets",
        "--> tenants/minimal.yaml:8:42",
        "acknowledges nothing",
    ] {
        assert!(r.stderr.contains(e), "stderr lacks {e:?}\n{}", r.describe());
    }
    assert!(!r.stderr.contains("authorization-mode`, which"), "the used acknowledgement was reported as stale\n{}", r.describe());
}

/// `tcpc kubeconfig` writes the super-admin kubeconfig from the encrypted state: a 0600 file
/// (replacing an existing one, which keeps no wider mode), the identity required, and never
/// printed to a terminal.
#[test]
fn kubeconfig_writes_a_private_file_and_refuses_terminals() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("super-admin.conf");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let base = ["kubeconfig", "tenants/minimal", "--user", "super-admin", "--dir", "examples"];
    let r = run(tcpc().args(base).arg("--identity").arg(common::EXAMPLES_IDENTITY).arg("-o").arg(&out));
    r.expect_code(0, "tcpc kubeconfig --user super-admin -o FILE");
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600, "mode of the written kubeconfig");
    let text = std::fs::read_to_string(&out).unwrap();
    for e in [
        "user: \"kubernetes-super-admin\"",
        "client-key-data: ",
        "server: \"https://minimal.tenants.svc:6443\"",
        "certificate-authority-data: ",
    ] {
        assert!(
            text.contains(e),
            "the kubeconfig lacks {e:?}:\n{}",
            text.lines().filter(|l| !l.contains("-data:")).collect::<Vec<_>>().join("\n")
        );
    }
    // The client certificate says system:masters.
    let cert_b64 = text.lines().find_map(|l| l.trim().strip_prefix("client-certificate-data: ")).unwrap();
    use base64::Engine as _;
    let pem = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(cert_b64).unwrap()).unwrap();
    let info = tcpc_pki::CertInfo::parse(&pem).unwrap();
    assert_eq!((info.subject_cn.as_str(), info.organizations.clone()), ("kubernetes-super-admin", vec!["system:masters".to_string()]));

    // Without the identity: a clear usage error, no file.
    let none = tmp.path().join("none.conf");
    let r = run(tcpc().args(base).arg("-o").arg(&none)).expect_code(2, "tcpc kubeconfig without identity");
    assert!(r.stderr.contains("the age identity is needed"), "{}", r.describe());
    assert!(!none.exists());
    // A tenant that does not exist.
    let r = run(tcpc().args(["kubeconfig", "tenants/nope", "--dir", "examples", "--identity", common::EXAMPLES_IDENTITY, "-o"]).arg(&none));
    let r = r.expect_code(2, "tcpc kubeconfig of an unknown tenant");
    assert!(r.stderr.contains("no TenantControlPlane tenants/nope"), "{}", r.describe());

    // stdout on a terminal (a pseudo-terminal made by script(1)): refused, nothing printed.
    let cmd = format!(
        "{} kubeconfig tenants/minimal --user super-admin --dir examples --identity {}; echo exit=$?",
        env!("CARGO_BIN_EXE_tcpc"),
        common::EXAMPLES_IDENTITY
    );
    let r = run(std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).current_dir(common::root()));
    assert!(r.stdout.contains("refusing to print a private key to a terminal") && r.stdout.contains("exit=2"), "{}", r.describe());
    assert!(!r.stdout.contains("client-key-data"), "a key reached the terminal");
    // Redirected, stdout is fine.
    let r = run(tcpc().args(base).arg("--identity").arg(common::EXAMPLES_IDENTITY)).expect_code(0, "tcpc kubeconfig > file");
    assert_eq!(r.stdout, text, "stdout and -o write the same kubeconfig");
}

/// A tenant whose DataStore changes would start empty: the render is refused at the field,
/// nothing is written, until the TenantControlPlane acknowledges the (migrated) move naming the
/// DataStore the lock records; then the lock records the new one.
#[test]
fn moving_a_tenant_to_another_datastore_is_refused_until_acknowledged() {
    let (tmp, out) = rendered_examples_copy();
    let dir = tmp.path().join("examples");
    let sql = dir.join("tenants/sql.yaml");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(&sql, text.replacen("  dataStore: postgresql", "  dataStore: default", 1)).unwrap();
    let before = snapshot(tmp.path());
    let render = || run(&mut common::render_with_identity(&dir, &out));
    let r = render().expect_code(1, "render of a tenant moved to another DataStore");
    for e in [
        "TenantControlPlane platform/sql would move from DataStore `postgresql` (PostgreSQL, `platform_sql`) to `default` (etcd, `platform_sql`)",
        "--> tenants/sql.yaml:9:14",
        "tcpc.dev/datastore-migrated-from: postgresql",
    ] {
        assert!(r.stderr.contains(e), "stderr lacks {e:?}\n{}", r.describe());
    }
    let changes = snapshot_changes(&before, &snapshot(tmp.path()));
    assert!(changes.is_empty(), "a refused move changed files:\n{}", changes.join("\n"));

    // An acknowledgement naming another DataStore does not count.
    let moved = std::fs::read_to_string(&sql).unwrap();
    let ack = |from: &str| {
        moved.replacen(
            "  namespace: platform\n",
            &format!("  namespace: platform\n  annotations:\n    tcpc.dev/datastore-migrated-from: {from}\n"),
            1,
        )
    };
    std::fs::write(&sql, ack("mysql")).unwrap();
    render().expect_code(1, "render with an acknowledgement of another DataStore");
    std::fs::write(&sql, ack("postgresql")).unwrap();
    let r = render().expect_code(0, "render of an acknowledged move");
    let lock = tcpc::lock::read(&dir.join("tcpc.lock")).expect("the new lock parses");
    let record = lock.tenants["platform/sql"].datastore.clone().expect("the lock records the DataStore");
    assert_eq!((record.name.as_str(), record.driver.as_str()), ("default", "etcd"), "{}", r.describe());
    assert!(
        !out.join("platform/sql/management").read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with("job-")),
        "an etcd tenant without a DataStore client certificate has no setup Job"
    );
}

/// Opt-in teardown: with `teardown.datastore: true`, a Tombstone for the PostgreSQL tenant puts
/// a Job in its place that drops its database and user, in the DataStore's admin namespace,
/// reading the admin credentials from the DataStore's Secret; the lock keeps recording it while
/// the Tombstone stays, and nothing is dropped without the setting or without a Tombstone.
#[test]
fn a_tombstone_with_teardown_on_renders_the_job_that_drops_the_tenants_database() {
    let (tmp, out) = rendered_examples_copy();
    let dir = tmp.path().join("examples");
    let render = || run(&mut common::render_with_identity(&dir, &out));
    let teardown_jobs = |out: &std::path::Path| -> Vec<PathBuf> {
        let bundle = out.join("platform/sql/management");
        std::fs::read_dir(&bundle)
            .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().contains("datastore-teardown")).collect())
            .unwrap_or_default()
    };
    std::fs::write(
        dir.join("tenants/sql.yaml"),
        "apiVersion: tcpc.dev/v1alpha1\nkind: Tombstone\nmetadata:\n  namespace: platform\n  name: sql\n",
    )
    .unwrap();
    // Off by default: the tenant's bundle goes, nothing drops its data.
    let r = render().expect_code(0, "render of a tombstone, teardown off");
    assert!(!out.join("platform/sql").exists(), "{}", r.describe());
    let lock = tcpc::lock::read(&dir.join("tcpc.lock")).unwrap();
    assert!(lock.teardown.is_empty() && !lock.tenants.contains_key("platform/sql"));

    // On: the same removal, from a fresh copy, renders the teardown Job.
    let (tmp, out) = rendered_examples_copy();
    let dir = tmp.path().join("examples");
    let render = || run(&mut common::render_with_identity(&dir, &out));
    let config = std::fs::read_to_string(dir.join("tcpc.yaml")).unwrap();
    std::fs::write(dir.join("tcpc.yaml"), format!("{config}teardown:\n  datastore: true\n")).unwrap();
    std::fs::write(
        dir.join("tenants/sql.yaml"),
        "apiVersion: tcpc.dev/v1alpha1\nkind: Tombstone\nmetadata:\n  namespace: platform\n  name: sql\n",
    )
    .unwrap();
    // The etcd tenant `tenants/minimal` has nothing a Job could drop: a warning says what stays.
    std::fs::write(
        dir.join("tenants/minimal.yaml"),
        "apiVersion: tcpc.dev/v1alpha1\nkind: Tombstone\nmetadata:\n  namespace: tenants\n  name: minimal\n",
    )
    .unwrap();
    let r = render().expect_code(0, "render of a tombstone, teardown on");
    assert!(
        r.stderr.contains("teardown of tenants/minimal: DataStore `default` has no client certificate")
            && r.stderr.contains("/tenants_minimal/"),
        "{}",
        r.describe()
    );
    let jobs = teardown_jobs(&out);
    assert_eq!(jobs.len(), 1, "{jobs:?}\n{}", r.describe());
    let mut names: Vec<String> = std::fs::read_dir(out.join("platform/sql/management"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "only the Job and its kustomization: {names:?}");
    let job = std::fs::read_to_string(&jobs[0]).unwrap();
    for e in [
        "namespace: databases",
        "kamaji.clastix.io/component: datastore-teardown",
        "DROP DATABASE IF EXISTS %I WITH (FORCE)",
        "DROP ROLE IF EXISTS %I",
        "name: DB_SCHEMA\n          value: platform_sql",
        "name: DB_USER\n          value: platform_sql",
        "name: postgres-admin",
        "name: CA_PEM",
    ] {
        assert!(job.contains(e), "the teardown Job lacks {e:?}:\n{job}");
    }
    assert!(!job.contains("CREATE"), "{job}");
    let lock = tcpc::lock::read(&dir.join("tcpc.lock")).unwrap();
    let rec = &lock.teardown["platform/sql"];
    assert_eq!((rec.name.as_str(), rec.schema.as_str(), rec.user.as_deref()), ("postgresql", "platform_sql", Some("platform_sql")));
    assert!(!lock.tenants.contains_key("platform/sql") && !lock.teardown.contains_key("tenants/minimal"));

    // While the Tombstone stays, the Job stays (from the lock), byte for byte.
    let before = std::fs::read(&jobs[0]).unwrap();
    render().expect_code(0, "second render with the tombstone");
    assert_eq!(std::fs::read(&jobs[0]).unwrap(), before);
    // The DataStore must stay until then.
    let ds = dir.join("datastores/postgresql.yaml");
    let ds_text = std::fs::read_to_string(&ds).unwrap();
    std::fs::remove_file(&ds).unwrap();
    let r = render().expect_code(1, "render of a teardown without its DataStore");
    assert!(
        r.stderr.contains("the teardown of platform/sql needs DataStore `postgresql`, which is not in the repository"),
        "{}",
        r.describe()
    );
    std::fs::write(&ds, ds_text).unwrap();
    // The Tombstone deleted: the Job is pruned, the lock forgets the tenant.
    std::fs::remove_file(dir.join("tenants/sql.yaml")).unwrap();
    render().expect_code(0, "render after the tombstone is deleted");
    assert!(teardown_jobs(&out).is_empty());
    let lock = tcpc::lock::read(&dir.join("tcpc.lock")).unwrap();
    assert!(lock.teardown.is_empty());
}
