//! `rotation: companion` against a real kube-apiserver (on a Debian etcd), with the real
//! `tcpc-companion` binary and the record tcpc renders for `examples/tenants/rotating.yaml`
//! (`golden/`):
//!
//! 1. It issues every Secret the record asks for: each certificate chains to its signer (openssl),
//!    matches its key, and the API server accepts the admin kubeconfig (embedded) and the
//!    controller-manager kubeconfig (files beside it) — the server's client CA is the tenant CA.
//!    A Secret of the same name without the companion's label is left alone, with an Event.
//! 2. A change of the request (a new SAN) re-issues at once; leaves of 60 s are renewed inside
//!    their window (new serials) and the renewal of the certificate konnectivity-server reads once
//!    rolls the Deployment.
//! 3. SIGKILL during a rotation, 20 times (RSA-2048 keys make a rotation take long enough to be
//!    hit): every Secret is complete after each kill — all keys present, each certificate matching
//!    its key and chaining to its signer — and a last run converges on the last request.
//!
//! Missing peers (kube-apiserver, kubectl, etcd, openssl): skipped loudly, or a failure under
//! `TCPC_REQUIRE_PEERS=1` (as `tests/common/peers.rs` of the root package).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tcpc_pki::{CertKind, CertSpec, KeyAlgorithm, PrivateKey, Validity};

const NS: &str = "tenants";
const TENANT: &str = "rotating";

fn peer(name: &str) -> Option<PathBuf> {
    let exec = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file());
    let dir = std::env::var_os("TCPC_PEERS_BIN").map(PathBuf::from);
    if let Some(p) = dir.map(|d| d.join(name)).filter(|p| exec(p)) {
        return Some(p);
    }
    if ["etcd", "openssl"].contains(&name) {
        return std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| exec(p));
    }
    None
}

fn require(name: &str) -> Option<PathBuf> {
    let found = peer(name);
    if found.is_none() {
        let why = format!("peer `{name}` not found in $TCPC_PEERS_BIN (run tools/peers.sh all, or tools/test.sh)");
        assert!(std::env::var("TCPC_REQUIRE_PEERS").as_deref() != Ok("1"), "TCPC_REQUIRE_PEERS=1 but {why}");
        eprintln!("\n********** SKIPPED: {why} **********\n");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed (SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    Proc(cmd.stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}")))
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A CA: its PEM certificate and key.
struct Ca {
    cert: String,
    key: String,
    issuer: tcpc_pki::Issuer,
}

fn ca(cn: &str) -> Ca {
    let issued = tcpc_pki::self_signed_ca(&CertSpec::ca(cn, KeyAlgorithm::EcdsaP256), None, now(), &mut rand_core::OsRng).unwrap();
    let key = issued.key.to_pem().to_string();
    Ca { issuer: tcpc_pki::Issuer::new(&issued.cert_pem, issued.key).unwrap(), cert: issued.cert_pem, key }
}

fn leaf(ca: &Ca, cn: &str, org: &[&str], kind: CertKind, ips: Vec<std::net::IpAddr>) -> (String, String) {
    let spec = CertSpec::leaf(cn, org.iter().map(|o| o.to_string()).collect(), kind, vec![], ips, KeyAlgorithm::EcdsaP256)
        .with_validity(Validity::Days(1));
    let issued = tcpc_pki::issue(&spec, None, &ca.issuer, now(), &mut rand_core::OsRng).unwrap();
    (issued.cert_pem, issued.key.to_pem().to_string())
}

struct Cluster {
    dir: tempfile::TempDir,
    kubectl: PathBuf,
    openssl: PathBuf,
    admin: PathBuf,
    server: String,
    tenant_ca: Ca,
    front_proxy_ca: Ca,
    _procs: Vec<Proc>,
}

impl Cluster {
    /// etcd and kube-apiserver whose client CA (and serving CA) is the tenant CA the companion
    /// signs with.
    fn start() -> Option<Cluster> {
        let (apiserver, kubectl, etcd, openssl) = (require("kube-apiserver")?, require("kubectl")?, require("etcd")?, require("openssl")?);
        let dir = tempfile::Builder::new().prefix("tcpc-companion-issuance-").tempdir().unwrap();
        let d = dir.path();
        let (tenant_ca, front_proxy_ca) = (ca("kubernetes"), ca("front-proxy-ca"));
        let write = |name: &str, text: &str| {
            std::fs::write(d.join(name), text).unwrap();
            d.join(name)
        };
        let (serving, serving_key) = leaf(&tenant_ca, "kube-apiserver", &[], CertKind::Server, vec!["127.0.0.1".parse().unwrap()]);
        let (admin_cert, admin_key) = leaf(&tenant_ca, "test-admin", &["system:masters"], CertKind::Client, vec![]);
        let sa = PrivateKey::generate(KeyAlgorithm::EcdsaP256, &mut rand_core::OsRng).unwrap();
        write("ca.crt", &tenant_ca.cert);
        write("apiserver.crt", &serving);
        write("apiserver.key", &serving_key);
        write("sa.key", &sa.to_pem());
        write("sa.pub", &sa.public_key_pem());

        let (etcd_port, peer_port, api_port) = (free_port(), free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut procs = vec![spawn(
            Command::new(etcd)
                .args(["--name", "t", "--data-dir"])
                .arg(d.join("etcd"))
                .args(["--listen-client-urls", &etcd_url, "--advertise-client-urls", &etcd_url])
                .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
                .args(["--initial-cluster", &format!("t={peer_url}"), "--log-level", "warn"]),
            &d.join("etcd.log"),
        )];
        let p = |f: &str| d.join(f).display().to_string();
        procs.push(spawn(
            Command::new(apiserver).args([
                format!("--etcd-servers={etcd_url}"),
                format!("--secure-port={api_port}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                "--endpoint-reconciler-type=none".into(),
                "--service-cluster-ip-range=10.96.0.0/16".into(),
                "--authorization-mode=Node,RBAC".into(),
                format!("--client-ca-file={}", p("ca.crt")),
                format!("--tls-cert-file={}", p("apiserver.crt")),
                format!("--tls-private-key-file={}", p("apiserver.key")),
                format!("--service-account-key-file={}", p("sa.pub")),
                format!("--service-account-signing-key-file={}", p("sa.key")),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
            ]),
            &d.join("kube-apiserver.log"),
        ));
        let server = format!("https://127.0.0.1:{api_port}");
        let admin = write(
            "admin.conf",
            &tcpc_pki::kubeconfig_with_key_pem("test", &server, &tenant_ca.cert, "test-admin", &admin_cert, &admin_key),
        );
        let cluster = Cluster { dir, kubectl, openssl, admin, server, tenant_ca, front_proxy_ca, _procs: procs };
        let start = Instant::now();
        while !cluster.kubectl(&["get", "--raw", "/readyz"]).status.success() {
            let log = std::fs::read_to_string(cluster.dir.path().join("kube-apiserver.log")).unwrap_or_default();
            assert!(start.elapsed() < Duration::from_secs(90), "kube-apiserver not ready:\n{}", tail(&log));
            std::thread::sleep(Duration::from_millis(300));
        }
        Some(cluster)
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(&self.kubectl).arg("--kubeconfig").arg(&self.admin).args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn apply(&self, object: &Value) {
        let file = self.dir.path().join("apply.json");
        std::fs::write(&file, object.to_string()).unwrap();
        self.ok(&["apply", "--server-side", "--force-conflicts", "-f", file.to_str().unwrap()]);
    }

    fn secret(&self, name: &str) -> Option<Value> {
        let out = self.kubectl(&["get", "secret", "-n", NS, name, "-o", "json"]);
        out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    fn tls_secret(&self, name: &str, ca: &Ca, cert_key: &str, key_key: &str) {
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let data = json!({cert_key: b(&ca.cert), key_key: b(&ca.key)});
        self.apply(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS}, "data": data}));
    }

    /// Whether openssl verifies `cert` against `ca`.
    fn chains(&self, ca: &str, cert: &str) -> bool {
        let (ca_file, leaf_file) = (self.dir.path().join("verify-ca.pem"), self.dir.path().join("verify-leaf.pem"));
        std::fs::write(&ca_file, ca).unwrap();
        std::fs::write(&leaf_file, cert).unwrap();
        Command::new(&self.openssl).arg("verify").arg("-CAfile").arg(&ca_file).arg(&leaf_file).output().unwrap().status.success()
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The record tcpc renders for `examples/tenants/rotating.yaml`.
fn rendered_record() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../golden/tenants/rotating/management/renderedcontrolplane-rotating.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let docs = tcpc_yaml::parse_stream(&text).unwrap();
    let mut record = docs[0].root.to_json();
    record["metadata"].as_object_mut().unwrap().remove("annotations");
    record
}

/// Sets every issued entry's spec field `field` to `value`.
fn set_entries(record: &mut Value, field: &str, value: Value) {
    for secret in record["spec"]["issuance"].as_array_mut().unwrap() {
        for entry in secret["entries"].as_array_mut().unwrap() {
            entry["spec"][field] = value.clone();
        }
    }
}

fn data(secret: &Value, key: &str) -> Option<String> {
    let b64 = secret["data"][key].as_str()?;
    Some(String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap())
}

fn kubeconfig_field(conf: &str, field: &str) -> Option<String> {
    let line = conf.lines().find_map(|l| l.trim().strip_prefix(&format!("{field}: ")))?;
    Some(String::from_utf8(base64::engine::general_purpose::STANDARD.decode(line.trim()).unwrap()).unwrap())
}

/// Checks every Secret of `record` that exists: it is the companion's, holds every key its
/// request names, and each certificate matches its key and chains to its signer. Returns each
/// existing Secret's stamp (`tcpc.dev/issued-for`) and apiserver serial.
fn check_complete(c: &Cluster, record: &Value) -> BTreeMap<String, String> {
    check_complete_but(c, record, &[])
}

/// [`check_complete`], skipping the Secrets `foreign` (not the companion's).
fn check_complete_but(c: &Cluster, record: &Value, foreign: &[&str]) -> BTreeMap<String, String> {
    let mut stamps = BTreeMap::new();
    for request in record["spec"]["issuance"].as_array().unwrap() {
        let name = request["secret"].as_str().unwrap();
        let Some(secret) = c.secret(name).filter(|_| !foreign.contains(&name)) else { continue };
        assert_eq!(secret["metadata"]["labels"]["tcpc.dev/issued-by"], "tcpc-companion", "{name}: label");
        let stamp = secret["metadata"]["annotations"]["tcpc.dev/issued-for"].as_str().expect("stamped");
        stamps.insert(name.to_string(), stamp.to_string());
        for entry in request["entries"].as_array().unwrap() {
            let what = format!("{name}/{}", entry["artefact"].as_str().unwrap());
            let signer = if entry["signer"]["secret"].as_str().unwrap().contains("front-proxy") { &c.front_proxy_ca } else { &c.tenant_ca };
            let mut pairs = Vec::new();
            if let (Some(ck), Some(kk)) = (entry["certKey"].as_str(), entry["keyKey"].as_str()) {
                let cert = data(&secret, ck).unwrap_or_else(|| panic!("{what}: no {ck}"));
                let key = data(&secret, kk).unwrap_or_else(|| panic!("{what}: no {kk}"));
                pairs.push((cert, key));
            }
            for kc in entry["kubeconfigs"].as_array().into_iter().flatten() {
                let key = kc["key"].as_str().unwrap();
                let conf = data(&secret, key).unwrap_or_else(|| panic!("{what}: no {key}"));
                if kc["files"] == true {
                    assert!(conf.contains(&format!("client-certificate: \"{}\"", entry["certKey"].as_str().unwrap())), "{what}: {key}");
                } else {
                    pairs.push((
                        kubeconfig_field(&conf, "client-certificate-data").unwrap(),
                        kubeconfig_field(&conf, "client-key-data").unwrap(),
                    ));
                }
            }
            for (cert, key) in pairs {
                let key = PrivateKey::from_pem(&key).unwrap_or_else(|e| panic!("{what}: key: {e}"));
                assert!(tcpc_pki::key_matches_cert(&cert, &key), "{what}: the key does not match the certificate");
                assert!(c.chains(&signer.cert, &cert), "{what}: does not chain to its signer");
                if entry["artefact"] == "apiserver" {
                    stamps.insert("apiserver-serial".into(), tcpc_pki::CertInfo::parse(&cert).unwrap().serial_hex);
                }
            }
        }
    }
    stamps
}

struct Companion {
    _proc: Proc,
    log: PathBuf,
}

fn companion(c: &Cluster, run: &str) -> Companion {
    let log = c.dir.path().join(format!("companion-{run}.log"));
    let proc = spawn(
        Command::new(env!("CARGO_BIN_EXE_tcpc-companion"))
            .env("KUBECONFIG", &c.admin)
            .env("TCPC_COMPANION_LEADER_ELECTION", "false")
            .env("WATCH_NAMESPACE", NS)
            .env("TCPC_COMPANION_RESYNC_SECONDS", "1")
            .env("TCPC_COMPANION_LISTEN", format!("127.0.0.1:{}", free_port()))
            .stdin(Stdio::null()),
        &log,
    );
    Companion { _proc: proc, log }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool, logs: &[&Path]) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            let logs: String =
                logs.iter().map(|l| format!("--- {}\n{}\n", l.display(), tail(&std::fs::read_to_string(l).unwrap_or_default()))).collect();
            panic!("timed out waiting for {what}\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_companion_issues_renews_and_never_leaves_a_half_written_secret() {
    let Some(c) = Cluster::start() else { return };
    let crd = concat!(env!("CARGO_MANIFEST_DIR"), "/crd.yaml");
    c.ok(&["apply", "--server-side", "-f", crd]);
    c.ok(&["wait", "--for=condition=Established", "crd/renderedcontrolplanes.tcpc.dev", "--timeout=60s"]);
    c.ok(&["create", "namespace", NS]);
    c.tls_secret("rotating-ca", &c.tenant_ca, "ca.crt", "ca.key");
    c.tls_secret("rotating-front-proxy-ca-certificate", &c.front_proxy_ca, "front-proxy-ca.crt", "front-proxy-ca.key");
    // The Deployment a renewal of the API server's certificate rolls (no controller runs here).
    c.apply(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": TENANT, "namespace": NS},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": TENANT}},
            "template": {"metadata": {"labels": {"app": TENANT}}, "spec": {"containers": [{"name": "c", "image": "none"}]}}}}));
    // A Secret of an owned name, not the companion's.
    c.apply(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "rotating-scheduler-kubeconfig", "namespace": NS},
        "stringData": {"note": "someone else's"}}));

    let mut record = rendered_record();
    let owned: Vec<String> =
        record["spec"]["issuance"].as_array().unwrap().iter().map(|r| r["secret"].as_str().unwrap().to_string()).collect();
    assert_eq!(owned.len(), 7, "{owned:?}");
    c.apply(&record);

    // 1. Issue.
    let run = companion(&c, "issue");
    let others: Vec<&String> = owned.iter().filter(|n| n.as_str() != "rotating-scheduler-kubeconfig").collect();
    wait_for("the companion's Secrets", Duration::from_secs(60), || others.iter().all(|n| c.secret(n).is_some()), &[&run.log]);
    let first = check_complete_but(&c, &record, &["rotating-scheduler-kubeconfig"]);
    assert_eq!(
        data(&c.secret("rotating-scheduler-kubeconfig").unwrap(), "note").as_deref(),
        Some("someone else's"),
        "not its Secret: untouched"
    );
    wait_for(
        "the SecretNotOwned Event",
        Duration::from_secs(30),
        || c.ok(&["get", "events", "-n", NS, "-o", "json"]).contains("SecretNotOwned"),
        &[&run.log],
    );
    // The API server (client CA = the tenant CA) takes the issued kubeconfigs: embedded, and files
    // beside the kubeconfig (the layout of the Secret mounted as a directory).
    let admin = c.secret("rotating-admin-kubeconfig").unwrap();
    let admin_conf = c.dir.path().join("issued-admin.conf");
    std::fs::write(&admin_conf, data(&admin, "admin.conf").unwrap()).unwrap();
    let whoami = |conf: &Path| {
        let out = Command::new(&c.kubectl)
            .arg("--kubeconfig")
            .arg(conf)
            .args(["--server", &c.server, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(whoami(&admin_conf), "kubernetes-admin");
    let kcm = c.secret("rotating-controller-manager-kubeconfig").unwrap();
    let kcm_dir = c.dir.path().join("kcm");
    std::fs::create_dir_all(&kcm_dir).unwrap();
    for key in ["controller-manager.conf", "controller-manager.crt", "controller-manager.key"] {
        std::fs::write(kcm_dir.join(key), data(&kcm, key).unwrap()).unwrap();
    }
    assert_eq!(whoami(&kcm_dir.join("controller-manager.conf")), "system:kube-controller-manager");
    // Deleted: issued again. No key in the log.
    c.ok(&["delete", "secret", "-n", NS, "rotating-scheduler-kubeconfig"]);
    wait_for("the scheduler kubeconfig", Duration::from_secs(30), || c.secret("rotating-scheduler-kubeconfig").is_some(), &[&run.log]);

    // 2. A changed request re-issues at once; 60 s leaves are renewed inside their window, and the
    //    renewal konnectivity-server reads once rolls the Deployment.
    set_entries(&mut record, "validity", json!({"seconds": 60}));
    record["spec"]["renewBeforeFraction"] = json!(0.5);
    c.apply(&record);
    let stamp_changed = |before: &BTreeMap<String, String>| {
        owned.iter().all(|n| {
            c.secret(n).is_some_and(|s| s["metadata"]["annotations"]["tcpc.dev/issued-for"].as_str() != before.get(n).map(String::as_str))
        })
    };
    wait_for("re-issue for the changed request", Duration::from_secs(30), || stamp_changed(&first), &[&run.log]);
    let short = check_complete(&c, &record);
    let serial = |name: &str| {
        let s = c.secret(name).unwrap();
        tcpc_pki::CertInfo::parse(&data(&s, "apiserver.crt").unwrap()).unwrap().serial_hex
    };
    let rolled_for = || {
        let d: Value = serde_json::from_str(&c.ok(&["get", "deployment", "-n", NS, TENANT, "-o", "json"])).unwrap();
        d["spec"]["template"]["metadata"]["annotations"]["tcpc.dev/companion-certificates"].as_str().map(str::to_string)
    };
    let mut serials = vec![short["apiserver-serial"].clone()];
    for renewal in 1..=2 {
        let last = serials.last().unwrap().clone();
        wait_for(&format!("renewal {renewal}"), Duration::from_secs(60), || serial("rotating-api-server-certificate") != last, &[&run.log]);
        serials.push(serial("rotating-api-server-certificate"));
        let current = serials.last().unwrap().clone();
        wait_for(
            "the roll",
            Duration::from_secs(20),
            || rolled_for().as_deref() == Some(current.as_str()) || serial("rotating-api-server-certificate") != current,
            &[&run.log],
        );
    }
    check_complete(&c, &record);
    let log = std::fs::read_to_string(&run.log).unwrap();
    assert!(log.contains("inside its renewal window"), "{}", tail(&log));
    assert!(!log.contains("PRIVATE KEY") && !log.contains("client-key-data"), "key material in the log");
    drop(run);

    // 3. SIGKILL during rotations. RSA-2048 keys: a rotation of seven Secrets takes a while.
    set_entries(&mut record, "validity", json!({"days": 1}));
    set_entries(&mut record, "keyAlgorithm", json!("RSA-2048"));
    let (mut mixed, mut window) = (0, Duration::from_millis(1500));
    for i in 0..=20 {
        let before = check_complete(&c, &record);
        let mut next = record.clone();
        let apiserver =
            next["spec"]["issuance"].as_array_mut().unwrap().iter_mut().find(|r| r["secret"] == "rotating-api-server-certificate").unwrap();
        apiserver["entries"][0]["spec"]["dnsSans"].as_array_mut().unwrap().push(json!(format!("kill-{i}.example.com")));
        c.apply(&next);
        let run = companion(&c, &format!("kill-{i}"));
        let started = Instant::now();
        if i == 0 {
            // Calibration: how long one whole rotation takes from the start.
            wait_for("a whole rotation", Duration::from_secs(120), || stamp_changed(&before), &[&run.log]);
            window = started.elapsed();
            record = next;
            continue;
        }
        std::thread::sleep(window * i / 21);
        // SIGKILL (Child::kill).
        drop(run);
        let after = check_complete(&c, &next);
        let changed = owned.iter().filter(|n| after.get(*n) != before.get(*n)).count();
        if changed > 0 && changed < owned.len() {
            mixed += 1;
        }
        record = next;
    }
    eprintln!(
        "SIGKILL x20 over a rotation window of {window:?}: {mixed} kills left some Secrets renewed and others not, none half-written"
    );
    assert!(mixed >= 3, "the kills missed the rotations ({mixed} mixed): the test proves too little");
    // A last run issues exactly the last request: every stamp is its digest.
    let run = companion(&c, "converge");
    let signers = BTreeMap::from([
        (tcpc_pki::issuance::Signer { secret: "rotating-ca".into(), cert: "ca.crt".into(), key: "ca.key".into() }, &c.tenant_ca),
        (
            tcpc_pki::issuance::Signer {
                secret: "rotating-front-proxy-ca-certificate".into(),
                cert: "front-proxy-ca.crt".into(),
                key: "front-proxy-ca.key".into(),
            },
            &c.front_proxy_ca,
        ),
    ]);
    let signers = signers.into_iter().map(|(s, ca)| (s, tcpc_pki::issuance::SignerMaterial::parse(&ca.cert, &ca.key).unwrap())).collect();
    let expected: BTreeMap<String, String> = record["spec"]["issuance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let request: tcpc_pki::issuance::IssuedSecret = serde_json::from_value(r.clone()).unwrap();
            (request.secret.clone(), tcpc_pki::issuance::issued_for(&request, &signers))
        })
        .collect();
    wait_for(
        "convergence on the last request",
        Duration::from_secs(120),
        || {
            expected.iter().all(|(name, stamp)| {
                c.secret(name).is_some_and(|s| s["metadata"]["annotations"]["tcpc.dev/issued-for"].as_str() == Some(stamp.as_str()))
            })
        },
        &[&run.log],
    );
    let pem = data(&c.secret("rotating-api-server-certificate").unwrap(), "apiserver.crt").unwrap();
    assert!(tcpc_pki::CertInfo::parse(&pem).unwrap().dns_sans.contains(&"kill-20.example.com".to_string()));
    let done = check_complete(&c, &record);
    assert_eq!(done.len(), owned.len() + 1, "every Secret exists: {done:?}");
}
