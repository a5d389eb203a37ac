//! Service-account key rotation with overlap (`tcpc rotate sa-key`), against a real
//! kube-apiserver serving the rendered files at each step.
//!
//! A one-tenant copy of `examples/` (`tenants/minimal`, its DataStore CA and a Debian etcd made
//! here, as in `tests/pki_apiserver.rs`). Tokens are requested from the API server at each step
//! and checked by it after every later step:
//! - before: token T0 (signed by the first key);
//! - after `add`: sa.pub holds two keys, sa.key is unchanged; T0 verifies; T1 is signed by the
//!   first key still (same `kid`);
//! - after `sign`: sa.key is the new key, sa.pub still holds both; T0 and T1 verify; T2 has a new
//!   `kid`;
//! - `retire` before `--min-overlap` (24 h by default) is refused and changes nothing;
//! - after `retire`: sa.pub holds the new key only; T2 verifies, T0 and T1 are rejected.
//!
//! Every step changes the pod checksum (the control plane rolls), and a render without the
//! identity between steps changes nothing.

mod common;
use common::peers;
use common::pki as harness;
use common::snapshot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use harness::*;

/// One kube-apiserver run on the tenant's rendered files.
struct Served {
    kubectl: Kubectl,
    ca: PathBuf,
}

struct Setup {
    ws: Workspace,
    work: tempfile::TempDir,
    peers: Peers,
    apiserver: PathBuf,
    etcd_url: String,
    super_admin: PathBuf,
    procs: Procs,
}

impl Setup {
    fn w(&self) -> &Path {
        self.work.path()
    }

    fn secrets(&self) -> BTreeMap<String, Unsealed> {
        let mgmt = self.ws.golden().join("tenants/minimal/management");
        unseal_all(&self.peers.kubeseal, &mgmt).into_iter().map(|(k, v)| (k.trim_start_matches("tenants/").to_string(), v)).collect()
    }

    fn pod_checksum(&self) -> String {
        let deployment = yaml_file(&self.ws.golden().join("tenants/minimal/management/deployment-minimal.yaml"));
        deployment["spec"]["template"]["metadata"]["annotations"]["tcpc.dev/pki-checksum"].as_str().unwrap().to_string()
    }

    /// (Re)starts kube-apiserver on the rendered files of this moment, waits for /readyz.
    fn serve(&mut self, step: &str) -> Served {
        self.procs.stop("kube-apiserver");
        let secrets = self.secrets();
        let deployment = yaml_file(&self.ws.golden().join("tenants/minimal/management/deployment-minimal.yaml"));
        let pod = &deployment["spec"]["template"]["spec"];
        let pki = self.w().join(format!("pki-{step}"));
        let mount_path = write_apiserver_pki(pod, &secrets, &pki);
        let container = pod["containers"].as_array().unwrap().iter().find(|c| c["name"] == "kube-apiserver").unwrap();
        let port = free_port();
        let (mut args, dropped) = apiserver_args(container, &mount_path, &pki, &self.etcd_url, port);
        assert!(dropped.is_empty(), "{dropped:?}");
        args.extend(["--bind-address=127.0.0.1".into(), "--advertise-address=127.0.0.1".into(), "--endpoint-reconciler-type=none".into()]);
        self.procs.spawn("kube-apiserver", Command::new(&self.apiserver).args(&args));
        let kubectl = Kubectl { bin: self.peers.kubectl.clone(), server: format!("https://127.0.0.1:{port}") };
        let start = Instant::now();
        loop {
            self.procs.assert_alive("kube-apiserver");
            let out = kubectl.cmd(&self.super_admin, &["get", "--raw", "/readyz"]).output().unwrap();
            if out.status.success() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "{step}: not ready:\n{}", self.procs.log_tail("kube-apiserver"));
            std::thread::sleep(Duration::from_millis(300));
        }
        Served { kubectl, ca: pki.join("ca.crt") }
    }

    /// `tcpc rotate sa-key tenants/minimal` at `epoch`, with `extra` arguments.
    fn rotate(&self, epoch: i64, extra: &[&str]) -> Run {
        let mut args = vec!["rotate".into(), "sa-key".into(), "tenants/minimal".into(), s(&self.ws.examples_dir())];
        args.extend(["--identity".into(), s(&identity_file())]);
        args.extend(extra.iter().map(|a| a.to_string()));
        tcpc(&args, epoch)
    }

    /// The sa Secret's public keys, and its private key.
    fn sa_keys(&self) -> (Vec<String>, String) {
        let secrets = self.secrets();
        let sa = &secrets["minimal-sa-certificate"];
        let pubs = pem_blocks(&String::from_utf8_lossy(&sa.data["sa.pub"]));
        (pubs, String::from_utf8_lossy(&sa.data["sa.key"]).into_owned())
    }
}

impl Served {
    fn token(&self, super_admin: &Path) -> String {
        self.kubectl.ok(super_admin, &["create", "token", "probe", "-n", "default", "--duration", "48h"]).trim().to_string()
    }

    /// Whether the API server authenticates `token` as the probe ServiceAccount.
    fn accepts(&self, empty: &Path, token: &str) -> bool {
        let out = self
            .kubectl
            .cmd(empty, &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", "--token", token])
            .arg("--certificate-authority")
            .arg(&self.ca)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || stderr.contains("Unauthorized"), "whoami failed otherwise: {stderr}");
        out.status.success() && String::from_utf8_lossy(&out.stdout) == "system:serviceaccount:default:probe"
    }
}

/// The `kid` of a JWT's header: which key signed it.
fn kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    json["kid"].as_str().unwrap().to_string()
}

#[test]
fn sa_key_rotation_keeps_every_token_valid_until_the_old_key_is_retired() {
    let Some(p) = require_base_peers() else { return };
    let Some(apiserver) = peers::require_peer("kube-apiserver") else { return };
    let Some(etcd) = peers::require_peer("etcd") else { return };

    // A one-tenant repository whose DataStore CA is ours.
    let ws = Workspace::minimal_fresh();
    let work = tempfile::Builder::new().prefix("tcpc-sa-rotation-").tempdir().unwrap();
    let w = work.path().to_path_buf();
    let (ds_ca, etcd_server) = local_datastore(&p.openssl, &ws, &w);
    ws.render(Some(&identity_file()), EPOCH).expect_ok();
    let super_admin = w.join("super-admin.conf");
    let kubeconfig = ["kubeconfig", "tenants/minimal", "--user", "super-admin", "--dir"].map(String::from);
    let mut args = kubeconfig.to_vec();
    args.extend([s(&ws.examples_dir()), "--identity".into(), s(&identity_file()), "-o".into(), s(&super_admin)]);
    tcpc(&args, EPOCH).expect_ok();
    let empty = w.join("empty-kubeconfig");
    std::fs::write(&empty, "apiVersion: v1\nkind: Config\n").unwrap();

    let mut procs = Procs { children: Vec::new(), logs: w.clone() };
    let etcd_url = start_etcd(&mut procs, &etcd, &w, &ds_ca, &etcd_server);
    let mut setup = Setup { ws, work, peers: p, apiserver, etcd_url, super_admin: super_admin.clone(), procs };

    // Before: one key.
    let (pubs0, key0) = setup.sa_keys();
    assert_eq!(pubs0.len(), 1);
    let checksum0 = setup.pod_checksum();
    let api = setup.serve("0");
    api.kubectl.ok(&super_admin, &["create", "serviceaccount", "probe", "-n", "default"]);
    let t0 = api.token(&super_admin);
    assert!(api.accepts(&empty, &t0));

    // add: both keys verify, the old one signs.
    let e1 = EPOCH + 60;
    let run = setup.rotate(e1, &[]).expect_ok();
    assert!(run.stderr.contains("rotation 1/3"), "{}", run.stderr);
    let (pubs1, key1) = setup.sa_keys();
    assert_eq!((pubs1.len(), &pubs1[0], &key1), (2, &pubs0[0], &key0), "add: the signer stays, a second public key is published");
    let checksum1 = setup.pod_checksum();
    assert_ne!(checksum1, checksum0, "add rolls the control plane");
    let before = snapshot(&setup.ws.golden());
    setup.ws.render(None, e1).expect_ok();
    assert_eq!(snapshot(&setup.ws.golden()), before, "a render without the identity after add changes nothing");
    let api = setup.serve("1-add");
    assert!(api.accepts(&empty, &t0), "add: T0 verifies");
    let jwks: serde_json::Value = serde_json::from_str(&api.kubectl.ok(&super_admin, &["get", "--raw", "/openid/v1/jwks"])).unwrap();
    // What the companion reports (status.serviceAccountKeys): the keys that verify.
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2), "add: /openid/v1/jwks publishes both keys: {jwks}");
    let t1 = api.token(&super_admin);
    assert_eq!(kid(&t1), kid(&t0), "add: the old key still signs");

    // sign: the new key signs, both verify.
    let e2 = EPOCH + 120;
    setup.rotate(e2, &[]).expect_ok();
    let (pubs2, key2) = setup.sa_keys();
    assert_eq!(pubs2.len(), 2);
    assert_eq!((&pubs2[0], &pubs2[1]), (&pubs1[1], &pubs0[0]), "sign: the new key first, the old one still published");
    assert_ne!(key2, key0, "sign: the new key signs");
    assert_ne!(setup.pod_checksum(), checksum1, "sign rolls the control plane");
    let api = setup.serve("2-sign");
    assert!(api.accepts(&empty, &t0) && api.accepts(&empty, &t1), "sign: tokens of the old key verify");
    let t2 = api.token(&super_admin);
    assert_ne!(kid(&t2), kid(&t0), "sign: the new key signs");
    assert!(api.accepts(&empty, &t2));

    // retire before the overlap: refused, nothing written.
    let before = snapshot(&setup.ws.golden());
    let lock = setup.ws.lock_files();
    let run = setup.rotate(e2 + 3600, &[]).expect_fail();
    assert!(run.stderr.contains("stopped signing 1h0m ago") && run.stderr.contains("--min-overlap"), "{}", run.stderr);
    assert_eq!(snapshot(&setup.ws.golden()), before);
    assert_eq!(setup.ws.lock_files(), lock);

    // retire after it: only the new key is left; tokens of the old key stop verifying.
    let e3 = e2 + 24 * 3600 + 1;
    let run = setup.rotate(e3, &[]).expect_ok();
    assert!(run.stderr.contains("rotation 3/3"), "{}", run.stderr);
    let (pubs3, key3) = setup.sa_keys();
    assert_eq!((pubs3, &key3), (vec![pubs2[0].clone()], &key2));
    let api = setup.serve("3-retire");
    assert!(api.accepts(&empty, &t2), "retire: T2 verifies");
    assert!(!api.accepts(&empty, &t0) && !api.accepts(&empty, &t1), "retire: tokens of the retired key are rejected");

    // The next rotation starts over.
    let run = setup.rotate(e3 + 60, &["--min-overlap", "0s"]).expect_ok();
    assert!(run.stderr.contains("rotation 1/3"), "{}", run.stderr);
}
