//! tcpc as CI, Argo CD and Flux use it, through the real binary on copies of `examples/` (with
//! `golden/` next to them, where `examples/tcpc.yaml` puts the output):
//!
//! - `tcpc check` on a fresh copy exits 0; after one spec is edited it fails, and its report
//!   (text and `--format json`, validated against `docs/report.schema.json`) names that spec
//!   and the objects that would change; `--tenant`/`--bundle` select, and a filtered render
//!   leaves every other tenant alone;
//! - `docs/ci/*` and `.pre-commit-hooks.yaml` parse, and every `tcpc` command line in them
//!   runs green against a copy;
//! - Argo CD plugin mode (`ARGOCD_*` environment): the objects of `tcpc render --stdout` and
//!   nothing else on stdout, nothing at all on any error, no writes;
//! - Flux: `tcpc install flux`, the substitution guard, `kustomize build` of the tree (peer);
//! - the Source Hydrator's premise: two renders of one commit are byte-identical.

mod common;

use std::path::{Path, PathBuf};

use common::{EXAMPLES_EPOCH, EXAMPLES_IDENTITY, Run, root, run, snapshot, snapshot_changes, tcpc};

/// A copy of `examples/` and `golden/` in a temp dir; `examples` is the repository.
struct Copy {
    _tmp: tempfile::TempDir,
    base: PathBuf,
}

impl Copy {
    fn new() -> Copy {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        common::copy_dir(&root().join("examples"), &base.join("examples"));
        common::copy_dir(&root().join("golden"), &base.join("golden"));
        // A Git work tree holding both, as in this repository (the output lies outside `examples`).
        std::fs::create_dir(base.join(".git")).unwrap();
        Copy { _tmp: tmp, base }
    }

    fn repo(&self) -> PathBuf {
        self.base.join("examples")
    }

    fn golden(&self) -> PathBuf {
        self.base.join("golden")
    }

    /// Replaces `from` by `to` once in the repository file `rel`; panics if absent.
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.repo().join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "examples/{rel} no longer contains {from:?}: update this test");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn tcpc(&self, args: &[&str]) -> Run {
        run(tcpc().args(args).current_dir(&self.base))
    }
}

/// Parses a `--format json` report and validates it against `docs/report.schema.json`.
fn report(r: &Run) -> serde_json::Value {
    let value: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", r.describe()));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/report.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("docs/report.schema.json is a valid JSON Schema");
    let errors: Vec<String> = validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "the report does not match docs/report.schema.json:\n{}\n{}", errors.join("\n"), r.stdout);
    value
}

/// The minimal tenant's kubelet cgroup driver: changes its tenant bundle and, in the management
/// bundle, only the input fingerprint its RenderedControlPlane records; needs no key.
const EDIT: (&str, &str, &str) = ("tenants/minimal.yaml", "cgroupfs: systemd", "cgroupfs: cgroupfs");

#[test]
fn check_and_diff_name_the_edited_spec_and_the_objects() {
    let c = Copy::new();
    c.tcpc(&["check", "examples"]).expect_code(0, "check on a fresh copy of examples/");
    let clean = report(&c.tcpc(&["check", "examples", "--format", "json"]).expect_code(0, "check --format json, clean"));
    assert_eq!(clean["status"], "ok");
    assert!(clean["changes"].as_array().unwrap().is_empty());
    assert!(!clean["certificates"].as_array().unwrap().is_empty(), "certificate expiries are reported");
    let tenants: Vec<&str> = clean["tenants"].as_array().unwrap().iter().map(|t| t["tenant"].as_str().unwrap()).collect();
    assert!(tenants.contains(&"tenants/minimal") && tenants.len() >= 4, "{tenants:?}");

    c.edit(EDIT.0, EDIT.1, EDIT.2);
    let r = c.tcpc(&["check", "examples"]);
    assert_eq!(r.code, 1, "check after editing a spec: exit 1 (stale)\n{}", r.describe());
    assert!(r.stdout.is_empty(), "check prints its report on stderr\n{}", r.describe());
    assert!(r.stderr.contains("tenant tenants/minimal\n"), "grouped by tenant\n{}", r.stderr);
    assert!(r.stderr.contains("<- tenants/minimal.yaml"), "names the cause\n{}", r.stderr);
    assert!(r.stderr.contains("-      cgroupDriver: systemd") || r.stderr.contains("cgroupDriver"), "shows the diff\n{}", r.stderr);
    assert!(!r.stderr.contains("tenant platform/full"), "other tenants are not in the report\n{}", r.stderr);

    let j = report(&c.tcpc(&["check", "examples", "--format", "json"]).expect_code(1, "check --format json, stale"));
    assert_eq!(j["status"], "stale");
    assert_eq!(j["exitCode"], 1);
    let changes = j["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for ch in changes {
        assert_eq!(ch["tenant"], "tenants/minimal", "{ch}");
        assert_eq!(ch["cause"], "tenants/minimal.yaml", "{ch}");
        assert_eq!(ch["change"], "changed", "{ch}");
        let diff = ch["diff"].as_str().unwrap();
        if ch["object"]["kind"] == "RenderedControlPlane" {
            assert!(diff.contains("-  fingerprint: sha256:") && diff.contains("+  fingerprint: sha256:"), "{ch}");
        } else {
            assert!(diff.contains("cgroupfs") || diff.contains("systemd"), "{ch}");
        }
        // Each changed file's object is named, and is also named in the text report.
        let o = &ch["object"];
        assert!(r.stderr.contains(&format!("{} ", o["kind"].as_str().unwrap())), "{o} in\n{}", r.stderr);
        assert!(r.stderr.contains(ch["file"].as_str().unwrap()), "{ch}");
    }

    // diff: the same report on stdout, exit 0.
    let d = c.tcpc(&["diff", "examples"]).expect_code(0, "diff");
    assert!(d.stdout.contains("tenant tenants/minimal\n") && d.stdout.contains("<- tenants/minimal.yaml"), "{}", d.describe());
    assert!(!d.stdout.contains('\x1b'), "no colour when stdout is not a terminal");
    let dj = report(&c.tcpc(&["diff", "examples", "--format", "json"]).expect_code(0, "diff --format json"));
    assert_eq!(dj["changes"], j["changes"]);
    assert_eq!(dj["command"], "diff");

    // Filters: the other tenants are up to date; of this one's management bundle, only the
    // RenderedControlPlane's input fingerprint changed.
    c.tcpc(&["check", "examples", "--tenant", "platform/*", "--tenant", "tenants/edge"]).expect_code(0, "check of other tenants");
    let m = c.tcpc(&["check", "examples", "--tenant", "tenants/minimal", "--bundle", "management", "--format", "json"]);
    let m = report(&m.expect_code(1, "management bundle: the fingerprint"));
    let kinds: Vec<&serde_json::Value> = m["changes"].as_array().unwrap().iter().map(|ch| &ch["object"]["kind"]).collect();
    assert_eq!(kinds, ["RenderedControlPlane"], "{m}");
    c.tcpc(&["check", "examples", "--tenant", "tenants/mini*", "--bundle", "tenant"]).expect_code(1, "tenant bundle stale");
    let typo = c.tcpc(&["check", "examples", "--tenant", "tenants/minmal"]).expect_code(2, "a pattern matching nothing");
    assert!(typo.stderr.contains("matches no TenantControlPlane"), "{}", typo.describe());

    // validate --format json
    let v = report(&c.tcpc(&["validate", "examples", "--format", "json", "--tenant", "tenants/*"]).expect_code(0, "validate json"));
    assert!(v["tenants"].as_array().unwrap().iter().all(|t| t["tenant"].as_str().unwrap().starts_with("tenants/")));
    c.edit(EDIT.0, "version: v1.36.3", "version: 1.36.3");
    let bad = c.tcpc(&["check", "examples", "--format", "json"]).expect_code(1, "invalid spec");
    assert_eq!(report(&bad)["status"], "invalid");
    assert!(bad.stderr.contains("tenants/minimal.yaml:"), "diagnostics stay on stderr\n{}", bad.describe());
}

#[test]
fn filtered_render_leaves_other_tenants_alone() {
    let c = Copy::new();
    c.edit(EDIT.0, EDIT.1, EDIT.2);
    c.edit("tenants/nodeport.yaml", "cgroupfs: cgroupfs", "cgroupfs: systemd");
    let (golden_before, lock_before) = (snapshot(&c.golden()), common::lock_snapshot(&c.repo()));
    c.tcpc(&["render", "examples", "--tenant", "tenants/minimal", "--bundle", "tenant"]).expect_code(0, "filtered render");
    let changes = snapshot_changes(&golden_before, &snapshot(&c.golden()));
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|p| p.starts_with("changed: tenants/minimal/tenant/")), "only the selected bundle: {changes:?}");
    assert_eq!(common::lock_snapshot(&c.repo()), lock_before, "no lock entry changes");
    c.tcpc(&["check", "examples", "--tenant", "tenants/minimal", "--bundle", "tenant"]).expect_code(0, "the selected bundle is up to date");
    // the management bundle's RenderedControlPlane records the input fingerprint: stale until rendered
    c.tcpc(&["check", "examples", "--tenant", "tenants/minimal"]).expect_code(1, "the management bundle's record is stale");
    c.tcpc(&["check", "examples", "--tenant", "tenants/edge"]).expect_code(1, "the other edited tenant is still stale");
    c.tcpc(&["render", "examples"]).expect_code(0, "full render");
    c.tcpc(&["check", "examples"]).expect_code(0, "everything up to date");
}

/// Every line of a CI definition that runs tcpc.
fn tcpc_lines(script: &str) -> Vec<String> {
    script.lines().map(str::trim).filter(|l| l.starts_with("tcpc ")).map(str::to_string).collect()
}

fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let docs = tcpc_yaml::parse_stream(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e:?}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one document", path.display());
    docs[0].root.to_json()
}

#[test]
fn ci_definitions_parse_and_their_tcpc_lines_pass() {
    let mut lines: Vec<(String, String)> = Vec::new();
    // pre-commit: a list of hooks with `entry`.
    let hooks = yaml(&root().join(".pre-commit-hooks.yaml"));
    for h in hooks.as_array().expect(".pre-commit-hooks.yaml is a list") {
        for key in ["id", "name", "entry", "language"] {
            assert!(h[key].is_string(), "hook without {key}: {h}");
        }
        assert_eq!(h["pass_filenames"], false, "tcpc takes a directory, not file names: {h}");
        lines.extend(tcpc_lines(h["entry"].as_str().unwrap()).into_iter().map(|l| (".pre-commit-hooks.yaml".into(), l)));
    }
    // GitHub Actions: jobs.*.steps[].run.
    let gh = yaml(&root().join("docs/ci/github-actions.yaml"));
    let mut gh_lines = Vec::new();
    for (_, job) in gh["jobs"].as_object().expect("jobs") {
        assert!(job["runs-on"].is_string(), "{job}");
        for step in job["steps"].as_array().expect("steps") {
            if let Some(script) = step["run"].as_str() {
                gh_lines.extend(tcpc_lines(script));
            }
        }
    }
    assert!(gh["on"]["schedule"].is_array(), "a scheduled renewal");
    // GitLab CI: jobs' before_script/script/after_script.
    let gl = yaml(&root().join("docs/ci/gitlab-ci.yaml"));
    let mut gl_lines = Vec::new();
    for (name, job) in gl.as_object().unwrap() {
        for key in ["before_script", "script", "after_script"] {
            for l in job[key].as_array().into_iter().flatten() {
                gl_lines.extend(tcpc_lines(l.as_str().unwrap_or_else(|| panic!("{name}.{key}: a string"))));
            }
        }
    }
    for (file, found) in [("docs/ci/github-actions.yaml", &gh_lines), ("docs/ci/gitlab-ci.yaml", &gl_lines)] {
        assert!(found.iter().any(|l| l == "tcpc check"), "{file} runs `tcpc check`: {found:?}");
        assert!(found.iter().any(|l| l.starts_with("tcpc render --identity")), "{file} renews: {found:?}");
        lines.extend(found.iter().map(|l| (file.to_string(), l.clone())));
    }
    assert!(lines.len() >= 8, "{lines:?}");

    // Run them, as the CI would, in the repository (where tcpc.yaml is), tcpc on the PATH.
    let c = Copy::new();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tcpc"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let temp = c.base.join("runner-temp");
    std::fs::create_dir(&temp).unwrap();
    std::fs::copy(root().join(EXAMPLES_IDENTITY), temp.join("identity.txt")).unwrap();
    let before = (snapshot(&c.golden()), snapshot(&c.repo()));
    for (file, line) in &lines {
        let r = run(std::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(c.repo())
            .env("PATH", &path)
            .env("SOURCE_DATE_EPOCH", EXAMPLES_EPOCH)
            .env("RUNNER_TEMP", &temp)
            .env("TCPC_IDENTITY", temp.join("identity.txt"))
            .env_remove("TCPC_AGE_IDENTITY")
            .env_remove("TCPC_AGE_IDENTITY_FILE"));
        assert_eq!(r.code, 0, "{file}: `{line}` failed\n{}", r.describe());
    }
    let report_file = temp.join("tcpc-report.json");
    let text = std::fs::read_to_string(&report_file).expect("the JSON report step wrote its file");
    assert!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["status"] == "ok");
    let mut after_repo = snapshot(&c.repo());
    after_repo.remove("tcpc-report.json");
    // The render's local record of what it verified (git-ignored, never state or lock).
    after_repo.retain(|path, _| !path.starts_with(".tcpc/cache/"));
    assert!(snapshot_changes(&before.0, &snapshot(&c.golden())).is_empty(), "nothing was due: the tree is unchanged");
    assert!(snapshot_changes(&before.1, &after_repo).is_empty(), "nothing was due: state and lock unchanged");
}

/// `tcpc` as Argo CD's cmp-server runs it: in the application's directory, with Argo CD's
/// environment and the plugin's parameters.
fn argocd(c: &Copy, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tcpc();
    cmd.args(args)
        .current_dir(c.repo())
        .env("ARGOCD_APP_NAME", "tenant-control-planes")
        .env("ARGOCD_APP_NAMESPACE", "argocd")
        .env("ARGOCD_APP_REVISION", "0123456789abcdef0123456789abcdef01234567")
        .env("ARGOCD_APP_SOURCE_PATH", "examples")
        .env("ARGOCD_APP_SOURCE_REPO_URL", "https://git.example.com/platform.git")
        .env("ARGOCD_APP_SOURCE_TARGET_REVISION", "main")
        .env("KUBE_VERSION", "1.36")
        .env_remove("ARGOCD_APP_PARAMETERS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The generate command of the plugin.yaml `tcpc install argocd-plugin` prints.
fn plugin_generate_command() -> Vec<String> {
    let r = run(tcpc().args(["install", "argocd-plugin", "--only", "plugin"])).expect_code(0, "install argocd-plugin --only plugin");
    let plugin = tcpc_yaml::parse_stream(&r.stdout).unwrap()[0].root.to_json();
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    assert_eq!(plugin["spec"]["discover"]["fileName"], "./tcpc.yaml");
    let names: Vec<&str> = plugin["spec"]["parameters"]["static"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tenants", "bundle"]);
    assert!(plugin["spec"]["parameters"]["dynamic"]["command"].is_array());
    plugin["spec"]["generate"]["command"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn argocd_plugin_mode_prints_objects_or_nothing() {
    let command = plugin_generate_command();
    assert_eq!(command[0], "tcpc");
    let args: Vec<&str> = command[1..].iter().map(String::as_str).collect();
    let c = Copy::new();
    let before = snapshot(&c.base);
    let expected = c.tcpc(&["render", "examples", "--stdout"]).expect_code(0, "render --stdout").stdout;
    let r = argocd(&c, &args, &[]).expect_code(0, "plugin generate");
    assert_eq!(r.stdout, expected, "the plugin prints exactly `tcpc render --stdout`");
    assert!(r.stderr.contains("tenant-control-planes"), "context on stderr\n{}", r.stderr);
    for doc in tcpc_yaml::parse_stream(&r.stdout).unwrap() {
        let v = doc.root.to_json();
        assert!(v["apiVersion"].is_string() && v["kind"].is_string() && v["metadata"]["name"].is_string(), "{v}");
        assert_ne!(v["kind"], "Secret", "no plaintext Secret");
    }
    // Parameters, each way Argo CD passes them.
    let want = c.tcpc(&["render", "examples", "--stdout", "--tenant", "tenants/*", "--bundle", "tenant"]).expect_code(0, "filtered").stdout;
    assert!(!want.is_empty() && want != expected);
    let json = r#"[{"name":"tenants","array":["tenants/*"]},{"name":"bundle","string":"tenant"}]"#;
    assert_eq!(argocd(&c, &args, &[("ARGOCD_APP_PARAMETERS", json)]).expect_code(0, "ARGOCD_APP_PARAMETERS").stdout, want);
    assert_eq!(argocd(&c, &args, &[("PARAM_TENANTS_0", "tenants/*"), ("PARAM_BUNDLE", "tenant")]).expect_code(0, "PARAM_*").stdout, want);
    let env = [("ARGOCD_ENV_TCPC_TENANTS", "tenants/*"), ("ARGOCD_ENV_TCPC_BUNDLE", "tenant")];
    assert_eq!(argocd(&c, &args, &env).expect_code(0, "ARGOCD_ENV_*").stdout, want);
    // The announced parameters list the tenants.
    let p = argocd(&c, &["plugin", "parameters"], &[]).expect_code(0, "plugin parameters");
    let announced: serde_json::Value = serde_json::from_str(&p.stdout).unwrap();
    assert!(announced[0]["array"].as_array().unwrap().iter().any(|t| t == "tenants/minimal"), "{announced}");
    assert_eq!(snapshot_changes(&before, &snapshot(&c.base)), Vec::<String>::new(), "plugin mode writes nothing");

    // Every failure: non-zero, nothing on stdout, the reason on stderr.
    let fail = |r: Run, what: &str, needle: &str| {
        assert_ne!(r.code, 0, "{what}\n{}", r.describe());
        assert!(r.stdout.is_empty(), "{what}: nothing on stdout\n{}", r.describe());
        assert!(r.stderr.contains(needle), "{what}: stderr names {needle:?}\n{}", r.describe());
    };
    fail(argocd(&c, &args, &[("PARAM_TENANTS_0", "nowhere/*")]), "a selection matching nothing", "matches no TenantControlPlane");
    fail(argocd(&c, &args, &[("PARAM_BUNDLE", "both")]), "a bad parameter", "bundle must be");
    let id = root().join(EXAMPLES_IDENTITY);
    fail(argocd(&c, &args, &[("TCPC_AGE_IDENTITY_FILE", id.to_str().unwrap())]), "an identity", "never issues key material");
    c.edit("tenants/minimal.yaml", "version: v1.36.3", "version: 1.36.3");
    fail(argocd(&c, &args, &[]), "a broken spec", "tenants/minimal.yaml:");
    c.edit("tenants/minimal.yaml", "version: 1.36.3", "version: v1.36.3");
    // A new tenant needs key material: never a partial list.
    let new = std::fs::read_to_string(c.repo().join("tenants/minimal.yaml")).unwrap().replace("name: minimal", "name: newcomer");
    std::fs::write(c.repo().join("tenants/newcomer.yaml"), new).unwrap();
    fail(argocd(&c, &args, &[]), "a tenant needing key material", "tenants/newcomer");
}

#[test]
fn flux_install_and_substitution_guard() {
    let c = Copy::new();
    let r = c.tcpc(&["install", "flux", "examples", "--url", "https://git.example.com/platform.git"]).expect_code(0, "install flux");
    let docs: Vec<serde_json::Value> = tcpc_yaml::parse_stream(&r.stdout).unwrap().iter().map(|d| d.root.to_json()).collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"], "GitRepository");
    assert_eq!(docs[1]["kind"], "Kustomization");
    assert_eq!(docs[1]["spec"]["path"], "./golden", "the output dir inside the Git repository");
    assert!(docs[1]["spec"].get("decryption").is_none(), "SealedSecrets need no decryption");
    let sops = "apiVersion: tcpc.dev/v1alpha1\nkind: Config\noutput: ../golden\nsealing:\n  sops:\n    ageRecipients:\n    - age1l073q08ujmk99f2ucgt7t46sn26v0n2u89wnk2xnclrwry4ur46ssqpdzg\n";
    std::fs::write(c.repo().join("tcpc.yaml"), sops).unwrap();
    let r = c.tcpc(&["install", "flux", "examples", "--url", "https://git.example.com/platform.git"]).expect_code(0, "install flux, sops");
    let ks = tcpc_yaml::parse_stream(&r.stdout).unwrap()[1].root.to_json();
    assert_eq!(ks["spec"]["decryption"]["provider"], "sops");
    assert_eq!(ks["spec"]["decryption"]["secretRef"]["name"], "sops-age");
}

/// `delivery.flux`: every tenant's management bundle carries one Flux Kustomization that
/// applies exactly that tenant's tenant directory, with the super-admin kubeconfig of its admin
/// Secret (which delivery puts there), from the
/// GitRepository `tcpc install flux` creates (same name, same namespace, same path prefix).
#[test]
fn flux_delivery_points_each_tenant_at_its_own_bundle() {
    let c = Copy::new();
    let config = std::fs::read_to_string(c.repo().join("tcpc.yaml")).unwrap();
    std::fs::write(c.repo().join("tcpc.yaml"), format!("{config}delivery:\n  flux:\n    path: ./golden\n")).unwrap();
    let out = c.base.join("golden");
    // Delivery puts the super-admin kubeconfig into each admin Secret: re-sealing needs the identity.
    let identity = root().join(EXAMPLES_IDENTITY);
    c.tcpc(&["render", "examples", "--identity", identity.to_str().unwrap()]).expect_code(0, "render with delivery.flux");
    let install = c.tcpc(&["install", "flux", "examples", "--url", "https://git.example.com/platform.git"]).expect_code(0, "install flux");
    let parent = tcpc_yaml::parse_stream(&install.stdout).unwrap()[1].root.to_json();
    let tree = common::read_tree(&out);
    let mut tenants = 0;
    for (path, text) in &tree {
        let Some(dir) = path.strip_suffix("/management/kustomization.yaml") else { continue };
        let (ns, name) = dir.rsplit_once('/').unwrap();
        let file = format!("{dir}/management/kustomization-{name}-tenant.yaml");
        let ks = tcpc_yaml::parse_stream(tree.get(&file).unwrap_or_else(|| panic!("{file} missing"))).unwrap()[0].root.to_json();
        assert!(text.contains(&format!("kustomization-{name}-tenant.yaml")), "{path} lists it");
        assert_eq!(ks["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
        assert_eq!(ks["metadata"]["namespace"], ns);
        let spec = &ks["spec"];
        assert_eq!(spec["path"], format!("{}/{dir}/tenant", parent["spec"]["path"].as_str().unwrap()));
        assert!(tree.contains_key(&format!("{dir}/tenant/kustomization.yaml")), "the path holds the tenant bundle");
        assert_eq!(spec["sourceRef"]["name"], parent["metadata"]["name"]);
        assert_eq!(spec["sourceRef"]["namespace"], parent["metadata"]["namespace"]);
        assert_eq!(spec["kubeConfig"]["secretRef"]["name"], format!("{name}-admin-kubeconfig"));
        assert_eq!(spec["kubeConfig"]["secretRef"]["key"], "super-admin.svc");
        match tree.get(&format!("{dir}/management/sealedsecret-{name}-admin-kubeconfig.yaml")) {
            Some(secret) => {
                assert!(
                    secret.contains("super-admin.svc:"),
                    "{dir}: the admin kubeconfig Secret has the key the Kustomization reads\n{secret}"
                )
            }
            // `rotation: companion`: the companion issues the admin Secret, with that key.
            None => {
                let file = format!("{dir}/management/renderedcontrolplane-{name}.yaml");
                let record = tcpc_yaml::parse_stream(tree.get(&file).expect("the record")).unwrap()[0].root.to_json();
                let admin =
                    record["spec"]["issuance"].as_array().unwrap().iter().find(|r| r["secret"] == format!("{name}-admin-kubeconfig"));
                let keys: Vec<&serde_json::Value> = admin.expect("the companion issues the admin Secret")["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|e| e["kubeconfigs"].as_array().unwrap().iter().map(|k| &k["key"]))
                    .collect();
                assert!(
                    keys.contains(&&serde_json::json!("super-admin.svc")),
                    "{dir}: the companion writes the key the Kustomization reads: {keys:?}"
                );
            }
        }
        tenants += 1;
    }
    assert!(tenants >= 3, "{tenants} tenants checked");
}

#[test]
fn objects_with_variables_are_marked_for_flux() {
    let c = Copy::new();
    // A value envsubst would replace, copied verbatim into the Deployment.
    c.edit(
        "tenants/minimal.yaml",
        "    service:\n",
        "    deployment:\n      additionalMetadata:\n        annotations:\n          example.com/note: \"${NOT_A_FLUX_VARIABLE}\"\n    service:\n",
    );
    let out = c.base.join("out");
    c.tcpc(&["render", "examples", "-o", out.to_str().unwrap(), "--allow-outside"]).expect_code(0, "render");
    let tree = common::read_tree(&out);
    let mut marked = 0;
    for (path, text) in &tree {
        // `${VAR}` or `$VAR`, as envsubst takes them (the setup Job's shell script has `$DB_HOST`).
        let has_var = tcpc::flux::substitutable(text);
        let guarded = text.contains("kustomize.toolkit.fluxcd.io/substitute: disabled");
        assert_eq!(has_var, guarded, "{path}: objects with variables and only they are marked\n{text}");
        marked += usize::from(guarded);
    }
    assert!(marked >= 1, "the edit reached the output");
    // In golden/ only the SQL setup Job's shell script has variables, and only it is marked.
    let golden = common::read_tree(&root().join("golden"));
    let marked: Vec<&String> = golden.iter().filter(|(_, t)| t.contains("substitute: disabled")).map(|(p, _)| p).collect();
    assert!(marked.len() == 1 && marked[0].contains("/job-sql-datastore-setup-"), "{marked:?}");
    assert!(golden.values().all(|t| tcpc::flux::substitutable(t) == t.contains("substitute: disabled")));
}

#[test]
fn two_renders_of_one_commit_are_byte_identical() {
    // What Argo CD's Source Hydrator relies on: no key, nothing random, nothing from the clock
    // reaches the manifests (the clock only decides renewals, here pinned by the examples' epoch
    // in one run and left to the real clock in the other).
    let c = Copy::new();
    let (a, b) = (c.base.join("a"), c.base.join("b"));
    c.tcpc(&["render", "examples", "-o", a.to_str().unwrap(), "--allow-outside"]).expect_code(0, "render a");
    c.tcpc(&["render", "examples", "-o", b.to_str().unwrap(), "--allow-outside"]).expect_code(0, "render b");
    assert_eq!(snapshot(&a), snapshot(&b));
    let s1 = c.tcpc(&["render", "examples", "--stdout", "--bundle", "all"]).expect_code(0, "stdout 1").stdout;
    let s2 = run(tcpc().args(["render", "examples", "--stdout", "--bundle", "all"]).current_dir(&c.base).env_remove("SOURCE_DATE_EPOCH"))
        .expect_code(0, "stdout 2, real clock")
        .stdout;
    assert!(!s1.is_empty());
    assert!(s1 == s2, "two renders of the same commit differ");
}

#[test]
fn kustomize_build_of_the_tree_is_the_rendered_objects() {
    let Some(kustomize) = common::peers::require_peer("kustomize") else { return };
    let golden = root().join("golden");
    let r = run(std::process::Command::new(&kustomize).arg("build").arg(&golden));
    assert_eq!(r.code, 0, "kustomize build golden\n{}", r.describe());
    // Whole objects, compared as JSON values; a whole number is one value however written
    // (schemars writes the CRD's `minimum: 0.0`, kustomize writes it back as `0`).
    fn whole(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Number(n)
                if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15) && !n.is_i64() && !n.is_u64() =>
            {
                serde_json::json!(n.as_f64().unwrap() as i64)
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(whole).collect()),
            serde_json::Value::Object(o) => serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), whole(v))).collect()),
            other => other.clone(),
        }
    }
    let key = |v: &serde_json::Value| serde_json::to_string(&whole(v)).unwrap();
    let mut built: Vec<String> = tcpc_yaml::parse_stream(&r.stdout).unwrap().iter().map(|d| key(&d.root.to_json())).collect();
    let mut rendered: Vec<String> = common::read_tree(&golden)
        .iter()
        .filter(|(p, _)| !p.ends_with("kustomization.yaml") && !p.contains("/tenant/"))
        .map(|(_, t)| key(&tcpc_yaml::parse_stream(t).unwrap()[0].root.to_json()))
        .collect();
    built.sort();
    rendered.sort();
    assert_eq!(built.len(), rendered.len(), "kustomize build yields as many objects as the management bundles hold");
    assert!(built == rendered, "kustomize build changed objects");
    // Each tenant bundle builds on its own too.
    for entry in std::fs::read_dir(golden.join("tenants/minimal")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            let r = run(std::process::Command::new(&kustomize).arg("build").arg(&p));
            assert_eq!(r.code, 0, "kustomize build {}\n{}", p.display(), r.describe());
        }
    }
}

/// `companion.image` in tcpc.yaml: the tree holds the companion's install as a kustomize
/// Component the top-level kustomization includes, object for object what `tcpc install
/// companion` prints for the same image (the kustomize build above applies it with the rest).
#[test]
fn the_rendered_companion_component_is_what_install_companion_prints() {
    let golden = root().join("golden");
    let tree = common::read_tree(&golden);
    let doc = |text: &str| tcpc_yaml::parse_stream(text).unwrap()[0].root.to_json();
    let top = doc(&tree["kustomization.yaml"]);
    assert_eq!(top["components"], serde_json::json!(["_companion"]));
    let component = doc(&tree["_companion/kustomization.yaml"]);
    assert_eq!(
        (&component["apiVersion"], &component["kind"]),
        (&serde_json::json!("kustomize.config.k8s.io/v1alpha1"), &serde_json::json!("Component"))
    );
    let files: Vec<serde_json::Value> =
        component["resources"].as_array().unwrap().iter().map(|f| doc(&tree[&format!("_companion/{}", f.as_str().unwrap())])).collect();
    let r =
        run(tcpc().args(["install", "companion"]).arg(root().join("examples")).args(["--image", "ghcr.io/tcpc-dev/tcpc-companion:0.1.0"]));
    assert_eq!(r.code, 0, "{}", r.describe());
    let printed: Vec<serde_json::Value> = tcpc_yaml::parse_stream(&r.stdout).unwrap().iter().map(|d| d.root.to_json()).collect();
    assert_eq!(files, printed, "the Component and `tcpc install companion` differ");
    let image = files.iter().find(|o| o["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image, "ghcr.io/tcpc-dev/tcpc-companion:0.1.0");
}
