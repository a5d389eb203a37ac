//! A real kube-apiserver serves with tcpc's certificates and accepts tcpc's kubeconfigs.
//!
//! A one-tenant copy of `examples/` (`tenants/minimal`) gets a DataStore CA made here with
//! openssl; that CA also issues the server certificate of a Debian etcd on 127.0.0.1 that
//! requires client certificates from it. After `tcpc render --identity`, the SealedSecrets are
//! unsealed with kubeseal and written into a directory laid out exactly as the rendered
//! Deployment's `apiserver-pki` projected volume mounts them, and our kube-apiserver runs with
//! the rendered container's args (paths rewritten to that directory, etcd and port local).
//! Then, over TLS verified against the tenant CA from the kubeconfigs:
//! - super-admin.conf (O=system:masters), written offline by `tcpc kubeconfig --user
//!   super-admin` (it is not in the cluster by default), applies the rendered tenant bundle;
//! - admin.conf (O=kubeadm:cluster-admins) is forbidden before that binding exists, and
//!   creates and reads a namespace after;
//! - controller-manager.conf and scheduler.conf authenticate as their users (`auth whoami`);
//! - a ServiceAccount token (signed with sa.key, checked with sa.pub) authenticates.
//!
//! Flags changed from the Deployment: `/etc/kubernetes/pki` → the temp pki dir,
//! `--etcd-servers` → the local etcd, `--secure-port` → a free port; added
//! `--bind-address=127.0.0.1`, `--advertise-address=127.0.0.1` and
//! `--endpoint-reconciler-type=none` (a loopback address may not be published in the
//! `kubernetes` Endpoints). Any flag naming a file that does not exist here is dropped and
//! printed (none for `minimal`).
//!
//! Missing peers: see `tests/common/peers.rs` (skip loudly, or fail under `TCPC_REQUIRE_PEERS=1`).

mod common;
use common::peers;
use common::pki as harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::*;

/// The binaries of one Kubernetes release: `kube-apiserver` etc. (the pinned release), or
/// `kube-apiserver-<version>` etc. (a release of `KUBERNETES_EXTRA_VERSIONS`).
struct Release {
    /// The tenant's `kubernetes.version`; `None`: as the examples have it.
    version: Option<&'static str>,
    apiserver: PathBuf,
    controller_manager: PathBuf,
    scheduler: PathBuf,
}

impl Release {
    fn find(version: Option<&'static str>) -> Option<Release> {
        let bin = |name: &str| peers::require_peer(&version.map_or_else(|| name.to_string(), |v| format!("{name}-{v}")));
        Some(Release {
            version,
            apiserver: bin("kube-apiserver")?,
            controller_manager: bin("kube-controller-manager")?,
            scheduler: bin("kube-scheduler")?,
        })
    }
}

#[test]
fn kube_apiserver_serves_with_tcpc_pki() {
    let Some(release) = Release::find(None) else { return };
    serve(&release);
}

/// Every other release built (CI: the oldest supported minor, v1.30.14, and v1.35.4; more with
/// `TCPC_MORE_KUBERNETES_VERSIONS`): kubeadm's flags of that minor as tcpc renders them start
/// its control plane, and its tenant bundle (for v1.30: kubeadm API v1beta3) applies.
#[test]
fn every_built_release_serves_with_its_rendered_flags() {
    for v in peers::built_releases("kube-apiserver", "v1.30.14") {
        eprintln!("control plane of {v}");
        let Some(release) = Release::find(Some(v)) else { return };
        serve(&release);
    }
}

/// Writes what `container` mounts (secret and projected-secret volumes, from the unsealed
/// Secrets) under `root` + its mount path, kubeconfigs pointed at `server`; returns its args
/// with every absolute path that now exists under `root` rewritten there.
fn materialize(
    pod: &serde_json::Value,
    container: &serde_json::Value,
    secrets: &BTreeMap<String, Unsealed>,
    root: &Path,
    server: &str,
) -> Vec<String> {
    let volumes = pod["volumes"].as_array().unwrap();
    for mount in container["volumeMounts"].as_array().unwrap() {
        let volume = volumes.iter().find(|v| v["name"] == mount["name"]).unwrap();
        let dir = root.join(mount["mountPath"].as_str().unwrap().trim_start_matches('/'));
        let sources: Vec<(String, Option<&Vec<serde_json::Value>>)> = if let Some(s) = volume.get("secret") {
            vec![(s["secretName"].as_str().unwrap().to_string(), s["items"].as_array())]
        } else if let Some(p) = volume.get("projected") {
            p["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["secret"]["name"].as_str().unwrap().to_string(), s["secret"]["items"].as_array()))
                .collect()
        } else {
            panic!("{}: volume {} is neither a Secret nor projected Secrets", container["name"], mount["name"])
        };
        for (name, items) in sources {
            let secret =
                secrets.get(&name).unwrap_or_else(|| panic!("{} mounts Secret {name}, which tcpc did not render", container["name"]));
            let pairs: Vec<(String, String)> = match items {
                Some(items) => {
                    items.iter().map(|i| (i["key"].as_str().unwrap().to_string(), i["path"].as_str().unwrap().to_string())).collect()
                }
                None => secret.data.keys().map(|k| (k.clone(), k.clone())).collect(),
            };
            for (key, path) in pairs {
                let value = secret.data.get(&key).unwrap_or_else(|| panic!("{name} lacks {key}"));
                let value = String::from_utf8_lossy(value).replace("https://127.0.0.1:6443", server);
                let dest = dir.join(path);
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::fs::write(&dest, value).unwrap();
            }
        }
    }
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match a.split_once("=/") {
                Some((flag, rest)) if root.join(rest).exists() => format!("{flag}={}", root.join(rest).display()),
                _ => a.to_string(),
            }
        })
        .collect()
}

fn serve(release: &Release) {
    let Some(p) = require_base_peers() else { return };
    let apiserver = &release.apiserver;
    let Some(etcd) = peers::require_peer("etcd") else { return };

    // A one-tenant repository whose DataStore CA is ours.
    let ws = Workspace::minimal_fresh();
    if let Some(v) = release.version {
        ws.set_version("tenants/minimal.yaml", v);
    }
    // Argo CD's cluster Secret too (`delivery.argocd`): its credentials are checked below.
    let config = std::fs::read_to_string(ws.path("tcpc.yaml")).unwrap();
    std::fs::write(ws.path("tcpc.yaml"), format!("{config}delivery:\n  argocd:\n    project: tenants\n")).unwrap();
    let work = tempfile::Builder::new().prefix("tcpc-pki-apiserver-").tempdir().unwrap();
    let w = work.path();
    let (ds_ca, etcd_server) = local_datastore(&p.openssl, &ws, w);
    ws.render(Some(&identity_file()), EPOCH).expect_ok();

    // Unseal, and lay the files out as the Deployment's projected volume does.
    let mgmt = ws.golden().join("tenants/minimal/management");
    let secrets: BTreeMap<String, Unsealed> =
        unseal_all(&p.kubeseal, &mgmt).into_iter().map(|(k, v)| (k.trim_start_matches("tenants/").to_string(), v)).collect();
    let deployment = yaml_file(&mgmt.join("deployment-minimal.yaml"));
    let pod = &deployment["spec"]["template"]["spec"];
    let pki = w.join("pki");
    let mount_path = write_apiserver_pki(pod, &secrets, &pki);
    let container = pod["containers"].as_array().unwrap().iter().find(|c| c["name"] == "kube-apiserver").expect("kube-apiserver container");

    let mut procs = Procs { children: Vec::new(), logs: w.to_path_buf() };

    // etcd, TLS with client-cert auth against the DataStore CA.
    let etcd_url = start_etcd(&mut procs, &etcd, w, &ds_ca, &etcd_server);

    // kube-apiserver with the rendered args.
    let api_port = free_port();
    let server = format!("https://127.0.0.1:{api_port}");
    let (mut args, dropped) = apiserver_args(container, &mount_path, &pki, &etcd_url, api_port);
    for must in [
        "--client-ca-file",
        "--tls-cert-file",
        "--etcd-certfile",
        "--service-account-key-file",
        "--service-account-signing-key-file",
        "--requestheader-client-ca-file",
    ] {
        assert!(args.iter().any(|a| a.starts_with(&format!("{must}="))), "rendered kube-apiserver args lack {must}: {args:?}");
    }
    args.extend(["--bind-address=127.0.0.1".into(), "--advertise-address=127.0.0.1".into(), "--endpoint-reconciler-type=none".into()]);
    eprintln!("kube-apiserver args: {args:?}\ndropped (files not available here): {dropped:?}");
    assert!(dropped.is_empty(), "flags naming files the pki volume does not provide: {dropped:?}");
    procs.spawn("kube-apiserver", Command::new(apiserver).args(&args));

    // Kubeconfigs from the Secrets.
    let conf = |secret: &str, key: &str| -> PathBuf {
        let path = w.join(key);
        std::fs::write(&path, &secrets[secret].data[key]).unwrap();
        path
    };
    let admin = conf("minimal-admin-kubeconfig", "admin.conf");
    // super-admin.conf stays out of the cluster by default: `tcpc kubeconfig` writes it from the state.
    let super_admin = w.join("super-admin.conf");
    tcpc(
        &[
            "kubeconfig".into(),
            "tenants/minimal".into(),
            "--user".into(),
            "super-admin".into(),
            "--dir".into(),
            s(&ws.examples_dir()),
            "--identity".into(),
            s(&identity_file()),
            "-o".into(),
            s(&super_admin),
        ],
        EPOCH,
    )
    .expect_ok();
    assert!(!secrets["minimal-admin-kubeconfig"].data.contains_key("super-admin.conf"), "super-admin.conf is in the cluster by default");
    let cm = conf("minimal-controller-manager-kubeconfig", "controller-manager.conf");
    let sched = conf("minimal-scheduler-kubeconfig", "scheduler.conf");
    let k = Kubectl { bin: p.kubectl.clone(), server: server.clone() };

    // /readyz, over TLS verified with the tenant CA (the apiserver cert has 127.0.0.1).
    let start = Instant::now();
    loop {
        procs.assert_alive("kube-apiserver");
        let out = k.cmd(&super_admin, &["get", "--raw", "/readyz"]).output().unwrap();
        if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "kube-apiserver not ready: {}\n--- kube-apiserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            procs.log_tail("kube-apiserver")
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    if let Some(v) = release.version {
        let version: serde_json::Value = serde_json::from_str(&k.ok(&super_admin, &["version", "-o", "json"])).unwrap();
        assert_eq!(version["serverVersion"]["gitVersion"], v, "the release under test serves");
    }

    // kube-controller-manager and kube-scheduler with their rendered args and mounts (kubeconfig
    // servers pointed at this apiserver, a free secure port each): each takes its leader lease.
    for (name, bin) in [("kube-controller-manager", &release.controller_manager), ("kube-scheduler", &release.scheduler)] {
        let c = pod["containers"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} container"));
        let mut args = materialize(pod, c, &secrets, &w.join(name), &server);
        args.retain(|a| !a.starts_with("--bind-address="));
        args.extend(["--bind-address=127.0.0.1".to_string(), format!("--secure-port={}", free_port())]);
        eprintln!("{name} args: {args:?}");
        procs.spawn(name, Command::new(bin).args(&args));
    }
    for name in ["kube-controller-manager", "kube-scheduler"] {
        let start = Instant::now();
        loop {
            procs.assert_alive(name);
            let out = k
                .cmd(&super_admin, &["get", "lease", "-n", "kube-system", name, "-o", "jsonpath={.spec.holderIdentity}"])
                .output()
                .unwrap();
            if out.status.success() && !out.stdout.is_empty() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(90), "{name} took no leader lease:\n{}", procs.log_tail(name));
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    // Who is who.
    let who = k.whoami(&super_admin);
    assert_eq!(who["username"], "kubernetes-super-admin");
    assert!(who["groups"].as_array().unwrap().iter().any(|g| g == "system:masters"), "{who}");
    let who = k.whoami(&admin);
    assert_eq!(who["username"], "kubernetes-admin");
    assert!(who["groups"].as_array().unwrap().iter().any(|g| g == "kubeadm:cluster-admins"), "{who}");
    assert_eq!(k.whoami(&cm)["username"], "system:kube-controller-manager");
    assert_eq!(k.whoami(&sched)["username"], "system:kube-scheduler");
    let out = k.cmd(&cm, &["get", "--raw", "/api"]).output().unwrap();
    assert!(out.status.success(), "controller-manager.conf: GET /api: {}", String::from_utf8_lossy(&out.stderr));

    // Argo CD, through its own code (db.SecretToCluster, Cluster.RESTConfig), reaches the tenant
    // with the cluster Secret: the in-cluster Service name (dialled here on the local port) is
    // in the serving certificate, the client is super-admin (only system:masters can create the
    // tenant bundle's RBAC before it exists).
    let argo =
        secrets.iter().find(|(k, _)| k.starts_with("argocd/")).map(|(_, v)| v).expect("the Argo CD cluster Secret (delivery.argocd)");
    assert_eq!(argo.object["metadata"]["labels"]["argocd.argoproj.io/secret-type"], "cluster", "{}", argo.object["metadata"]);
    assert_eq!(argo.text("server"), "https://minimal.tenants.svc:6443");
    if let Some(check) = peers::require_peer("argocd-cluster-check") {
        let file = w.join("argocd-cluster.json");
        std::fs::write(&file, serde_json::to_vec(&argo.object).unwrap()).unwrap();
        let out = Command::new(&check)
            .args(["connect", "-secret"])
            .arg(&file)
            .args(["-dial", &format!("127.0.0.1:{api_port}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "argocd-cluster-check connect: {}", String::from_utf8_lossy(&out.stderr));
        let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(seen["name"], "tenants/minimal");
        assert_eq!(seen["project"], "tenants");
        assert_eq!(seen["username"], "kubernetes-super-admin", "{seen}");
        assert!(seen["groups"].as_array().unwrap().iter().any(|g| g == "system:masters"), "{seen}");
        let version = k.ok(&super_admin, &["version", "-o", "json"]);
        let version: serde_json::Value = serde_json::from_str(&version).unwrap();
        assert_eq!(seen["version"], version["serverVersion"]["gitVersion"], "Argo CD reached this kube-apiserver");
    }

    // admin is powerless until the kubeadm:cluster-admins binding of the tenant bundle exists.
    let out = k.cmd(&admin, &["auth", "can-i", "create", "namespaces"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no",
        "admin.conf before the kubeadm RBAC: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // super-admin applies the rendered tenant bundle (kube-public etc. appear shortly after ready).
    let bundle = ws.golden().join("tenants/minimal/tenant");
    let start = Instant::now();
    loop {
        let out = k.cmd(&super_admin, &["apply", "-k"]).arg(&bundle).output().unwrap();
        if out.status.success() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "super-admin.conf: apply -k tenant bundle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // Now admin creates and reads a namespace.
    let start = Instant::now();
    loop {
        let out = k.cmd(&admin, &["create", "namespace", "tcpc-pki-check"]).output().unwrap();
        if out.status.success() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "admin.conf: create namespace: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(k.ok(&admin, &["get", "namespace", "tcpc-pki-check", "-o", "name"]).trim(), "namespace/tcpc-pki-check");
    // And super-admin too.
    k.ok(&super_admin, &["create", "namespace", "tcpc-pki-check-2"]);
    assert_eq!(k.ok(&super_admin, &["get", "namespace", "tcpc-pki-check-2", "-o", "name"]).trim(), "namespace/tcpc-pki-check-2");

    // A ServiceAccount token: signed with sa.key, verified with sa.pub by the apiserver.
    k.ok(&admin, &["create", "serviceaccount", "probe", "-n", "tcpc-pki-check"]);
    let token = k.ok(&admin, &["create", "token", "probe", "-n", "tcpc-pki-check"]);
    let empty = w.join("empty-kubeconfig");
    std::fs::write(&empty, "apiVersion: v1\nkind: Config\n").unwrap();
    let out = k
        .cmd(&empty, &["auth", "whoami", "-o", "json", "--token", token.trim()])
        .arg("--certificate-authority")
        .arg(pki.join("ca.crt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "ServiceAccount token rejected: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"]["userInfo"]["username"], "system:serviceaccount:tcpc-pki-check:probe");

    // A client certificate from another CA is not accepted (the check above can fail).
    let other_ca = openssl_ca(&p.openssl, &w.join("other"), "ca", "kubernetes");
    let intruder = openssl_signed(
        &p.openssl,
        &w.join("other"),
        "intruder",
        "kubernetes-super-admin",
        &other_ca,
        "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
    let out = k
        .cmd(&empty, &["auth", "whoami"])
        .arg("--certificate-authority")
        .arg(pki.join("ca.crt"))
        .arg("--client-certificate")
        .arg(&intruder.0)
        .arg("--client-key")
        .arg(&intruder.1)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a client certificate from a foreign CA was accepted");
    drop(procs);
}
