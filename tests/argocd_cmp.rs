//! tcpc under the real Argo CD config-management plugin server (`argocd-cmp-server`, built from
//! the argo-cd module by `tools/peers.sh argocd`), configured with exactly the `plugin.yaml`
//! that `tcpc install argocd-plugin --only plugin` prints, and driven the way
//! argocd-repo-server drives it: by `argocd-cmp-drive` (tools/peers/argocd/cmp-drive), which
//! calls argo-cd's own code — the repo-server's source-type discovery (`MatchRepository` on the
//! plugin socket), its parameters announcement request, and its `GenerateManifests` for an
//! Application source, which streams the repository to the plugin as a tgz with the
//! `ARGOCD_APP_*` / `ARGOCD_ENV_*` / `PARAM_*` environment.
//!
//! Proven here:
//! - discovery matches a repository with `tcpc.yaml` and not one without;
//! - the announced parameters are the dynamic ones (`tcpc plugin parameters`) followed by the
//!   static ones of plugin.yaml, as the cmp-server merges them;
//! - the manifests Argo CD gets for a copy of `examples/` are the objects of
//!   `tcpc render --stdout` run directly, in order (compared as parsed objects: the repo-server
//!   re-serialises every object to JSON, so bytes cannot match, and objects are what it applies);
//! - the Application's `tenants`/`bundle` parameters select what a direct `--tenant`/`--bundle`
//!   render selects;
//! - a broken spec fails generation with tcpc's `file:line` diagnostic in Argo CD's error, and
//!   no manifest at all.
//!
//! Missing peers: see `tests/common/peers.rs` (skip loudly, or fail under `TCPC_REQUIRE_PEERS=1`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{EXAMPLES_EPOCH, Run, peers, root, run, tcpc};
use serde_json::{Value, json};

/// A running `argocd-cmp-server` with tcpc's plugin.yaml; killed on drop.
struct CmpServer {
    child: Child,
    tmp: tempfile::TempDir,
    drive: PathBuf,
}

impl CmpServer {
    /// Starts the server, or `None` when the peers are missing (and not required).
    fn start() -> Option<CmpServer> {
        let server = peers::require_peer("argocd-cmp-server")?;
        let drive = peers::require_peer("argocd-cmp-drive")?;
        let tmp = tempfile::tempdir().unwrap();
        let (config, sockets, work, bin) =
            (tmp.path().join("config"), tmp.path().join("plugins"), tmp.path().join("work"), tmp.path().join("bin"));
        for d in [&config, &sockets, &work, &bin] {
            std::fs::create_dir(d).unwrap();
        }
        // Exactly what `tcpc install argocd-plugin --only plugin` prints.
        let plugin =
            run(tcpc().args(["install", "argocd-plugin", "--only", "plugin"])).expect_code(0, "install argocd-plugin --only plugin");
        std::fs::write(config.join("plugin.yaml"), &plugin.stdout).unwrap();
        // `tcpc` on the server's PATH, as in the sidecar image.
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tcpc"), bin.join("tcpc")).unwrap();
        let path =
            std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())))
                .unwrap();
        let log = std::fs::File::create(tmp.path().join("server.log")).unwrap();
        let child = Command::new(server)
            .args(["--config-dir-path", config.to_str().unwrap(), "--logformat", "text", "--loglevel", "info"])
            .env("ARGOCD_PLUGINSOCKFILEPATH", &sockets)
            .env("ARGOCD_CMP_WORKDIR", &work)
            .env("PATH", path)
            // The clock the examples were issued at (renewal decisions read it), as in tests/common.
            .env("SOURCE_DATE_EPOCH", EXAMPLES_EPOCH)
            .env_remove("TCPC_AGE_IDENTITY")
            .env_remove("TCPC_AGE_IDENTITY_FILE")
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting argocd-cmp-server");
        let mut s = CmpServer { child, tmp, drive };
        // The plugin's socket is named after metadata.name (no spec.version).
        let socket = sockets.join("tcpc.sock");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            if let Some(status) = s.child.try_wait().unwrap() {
                panic!("argocd-cmp-server exited ({status}) before serving:\n{}", s.log());
            }
            assert!(Instant::now() < deadline, "argocd-cmp-server made no socket in 30 s:\n{}", s.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(s)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("server.log")).unwrap_or_default()
    }

    /// Runs `argocd-cmp-drive CMD -repo REPO ARGS...` against this server.
    fn drive(&self, cmd: &str, repo: &Path, args: &[&str]) -> Run {
        let r = run(Command::new(&self.drive)
            .arg(cmd)
            .args(["-repo", repo.to_str().unwrap()])
            .args(args)
            .env("ARGOCD_PLUGINSOCKFILEPATH", self.tmp.path().join("plugins")));
        if r.code != 0 {
            eprintln!("argocd-cmp-drive {cmd} failed; server log:\n{}", self.log());
        }
        r
    }

    /// `generate` for the Application source `source`: the manifests as JSON objects.
    fn generate(&self, repo: &Path, source: &Value) -> Run {
        self.drive("generate", repo, &["-source", &source.to_string()])
    }
}

impl Drop for CmpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Git work tree holding a copy of `examples/` (the application path) and `golden/`.
fn repo_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples"), &tmp.path().join("examples"));
    common::copy_dir(&root().join("golden"), &tmp.path().join("golden"));
    tmp
}

/// The `spec.source` of the Application `tcpc install argocd-plugin --only application` prints,
/// pointed at `examples/`.
fn example_source() -> Value {
    let r = run(tcpc().args(["install", "argocd-plugin", "--only", "application"])).expect_code(0, "install --only application");
    let app = tcpc_yaml::parse_stream(&r.stdout).unwrap()[0].root.to_json();
    let mut source = app["spec"]["source"].clone();
    assert_eq!(source["plugin"]["name"], "tcpc");
    source["path"] = json!("examples");
    source
}

/// The objects of a YAML stream, in order.
fn yaml_objects(stream: &str) -> Vec<Value> {
    tcpc_yaml::parse_stream(stream).unwrap().iter().map(|d| d.root.to_json()).collect()
}

/// The objects `argocd-cmp-drive generate` printed (one JSON object per line), in order.
fn json_objects(r: &Run) -> Vec<Value> {
    r.stdout.lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn render(repo: &Path, args: &[&str]) -> Vec<Value> {
    let r = run(tcpc().arg("render").arg(repo.join("examples")).arg("--stdout").args(args)).expect_code(0, "tcpc render --stdout");
    yaml_objects(&r.stdout)
}

#[test]
fn discovery_and_parameters_announcement() {
    let Some(s) = CmpServer::start() else { return };
    let repo = repo_copy();

    // (a) Discovery: a repository with tcpc.yaml is the plugin's, one without is not.
    let m: Value =
        serde_json::from_str(&s.drive("match", repo.path(), &["-path", "examples"]).expect_code(0, "match examples").stdout).unwrap();
    assert_eq!(m["appType"], "Plugin", "{m}");
    assert_eq!(m["sockets"]["tcpc.sock"], json!({"isSupported": true, "isDiscoveryEnabled": true, "provideGitCreds": false}), "{m}");
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n").unwrap();
    let m: Value = serde_json::from_str(&s.drive("match", plain.path(), &[]).expect_code(0, "match a plain repo").stdout).unwrap();
    assert_eq!(m["appType"], "Directory", "{m}");
    assert_eq!(m["sockets"]["tcpc.sock"]["isSupported"], false, "{m}");

    // (b) The announcement: `tcpc plugin parameters` (dynamic) then plugin.yaml's static list.
    let r = s.drive("parameters", repo.path(), &["-source", &example_source().to_string()]).expect_code(0, "parameters");
    let announced: Value = serde_json::from_str(&r.stdout).unwrap();
    let plugin = yaml_objects(&run(tcpc().args(["install", "argocd-plugin", "--only", "plugin"])).stdout).remove(0);
    let dynamic: Value = serde_json::from_str(
        &run(tcpc().args(["plugin", "parameters"]).current_dir(repo.path().join("examples")).env("ARGOCD_APP_NAME", "x"))
            .expect_code(0, "plugin parameters")
            .stdout,
    )
    .unwrap();
    let expected: Vec<Value> = dynamic
        .as_array()
        .unwrap()
        .iter()
        .chain(plugin["spec"]["parameters"]["static"].as_array().unwrap())
        .map(normalize_announcement)
        .collect();
    let got: Vec<Value> = announced.as_array().unwrap().iter().map(normalize_announcement).collect();
    assert_eq!(got, expected, "announced parameters");
    assert!(got[0]["array"].as_array().unwrap().iter().any(|t| t == "tenants/minimal"), "the tenants are announced: {announced}");
}

/// One announced parameter with Go's zero values dropped (the cmp-server omits empty fields).
fn normalize_announcement(p: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in p.as_object().unwrap() {
        let empty = v.is_null()
            || v == &json!(false)
            || v == &json!("")
            || v.as_array().is_some_and(Vec::is_empty)
            || v.as_object().is_some_and(|m| m.is_empty());
        if !empty {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

#[test]
fn generated_manifests_are_the_render_and_parameters_select() {
    let Some(s) = CmpServer::start() else { return };
    let repo = repo_copy();

    // (c) The example Application (bundle management, tenants */*) gets `tcpc render --stdout`.
    let source = example_source();
    let r = s.generate(repo.path(), &source).expect_code(0, "generate, the example Application");
    let full = json_objects(&r);
    assert!(!full.is_empty());
    assert_eq!(full, render(repo.path(), &[]), "Argo CD's manifests are `tcpc render --stdout`'s objects, in order");
    assert!(full.iter().all(|o| o["kind"] != "Secret"), "no plaintext Secret reaches Argo CD");
    // Without parameters, the plugin's defaults: the same.
    let mut bare = source.clone();
    bare["plugin"] = json!({"name": "tcpc"});
    assert_eq!(json_objects(&s.generate(repo.path(), &bare).expect_code(0, "generate, no parameters")), full);

    // (d) Parameters select as the flags do.
    let mut filtered = source.clone();
    filtered["plugin"]["parameters"] = json!([{"name": "tenants", "array": ["tenants/*"]}, {"name": "bundle", "string": "tenant"}]);
    let got = json_objects(&s.generate(repo.path(), &filtered).expect_code(0, "generate, filtered"));
    let want = render(repo.path(), &["--tenant", "tenants/*", "--bundle", "tenant"]);
    assert!(!want.is_empty() && want != full);
    assert_eq!(got, want, "tenants/bundle parameters select what --tenant/--bundle do");
    // Plugin env (ARGOCD_ENV_*) also selects.
    let mut by_env = source.clone();
    by_env["plugin"] =
        json!({"name": "tcpc", "env": [{"name": "TCPC_TENANTS", "value": "tenants/*"}, {"name": "TCPC_BUNDLE", "value": "tenant"}]});
    assert_eq!(json_objects(&s.generate(repo.path(), &by_env).expect_code(0, "generate, plugin env")), want);
}

#[test]
fn a_broken_spec_fails_generation_with_the_diagnostic() {
    let Some(s) = CmpServer::start() else { return };
    let repo = repo_copy();
    let spec = repo.path().join("examples/tenants/minimal.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("version: v1.36.3"), "examples/tenants/minimal.yaml changed: update this test");
    std::fs::write(&spec, text.replacen("version: v1.36.3", "version: 1.36.3", 1)).unwrap();

    // (e) Argo CD gets an error naming the file and line, and no manifest.
    let r = s.generate(repo.path(), &example_source());
    assert_ne!(r.code, 0, "generation fails\n{}", r.describe());
    assert!(r.stdout.is_empty(), "no manifests\n{}", r.describe());
    assert!(r.stderr.contains("CMP processing failed"), "the repo-server's error\n{}", r.describe());
    let line = text.lines().position(|l| l.contains("version: v1.36.3")).unwrap() + 1;
    assert!(r.stderr.contains(&format!("tenants/minimal.yaml:{line}")), "tcpc's diagnostic with file:line\n{}", r.describe());
    // A dangerous empty stream is never what Argo CD sees: a selection of nothing fails too.
    std::fs::write(&spec, &text).unwrap();
    let mut none = example_source();
    none["plugin"]["parameters"] = json!([{"name": "tenants", "array": ["nowhere/*"]}]);
    let r = s.generate(repo.path(), &none);
    assert_ne!(r.code, 0, "an empty selection fails\n{}", r.describe());
    assert!(r.stdout.is_empty() && r.stderr.contains("matches no TenantControlPlane"), "{}", r.describe());
}
