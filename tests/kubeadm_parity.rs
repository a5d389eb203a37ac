//! kubeadm parity, per minor: the flags tcpc renders for kube-apiserver, kube-controller-manager
//! and kube-scheduler are the flags kubeadm of the tenant's minor writes into its static Pods for
//! the same cluster, except for the differences listed in [`KAMAJI_DIFFERENCES`], each with its
//! reason.
//!
//! kubeadm reads the very ClusterConfiguration tcpc renders into the tenant's `kubeadm-config`
//! (plus an InitConfiguration with a node address) and writes its manifests with
//! `kubeadm init phase control-plane all --dry-run` into a temp dir. Run for the pinned release
//! and for each release of `KUBERNETES_EXTRA_VERSIONS` (the oldest supported minor among them).

mod common;
use common::peers;
use common::pki as harness;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use harness::*;

/// `(component, flag, why tcpc differs from kubeadm)`: where tcpc follows Kamaji.
const KAMAJI_DIFFERENCES: &[(&str, &str, &str)] = &[
    ("kube-apiserver", "advertise-address", "set only from networkProfile.address; otherwise kube-apiserver uses the pod IP"),
    ("kube-apiserver", "enable-admission-plugins", "Kamaji's default list (spec.controlPlane.deployment.extraArgs may change it)"),
    ("kube-apiserver", "etcd-certfile", "Kamaji's path of the DataStore client certificate"),
    ("kube-apiserver", "etcd-keyfile", "Kamaji's path of the DataStore client key"),
    ("kube-apiserver", "etcd-compaction-interval", "a shared DataStore is compacted once, by the DataStore, not by every tenant"),
    ("kube-apiserver", "etcd-prefix", "one key prefix per tenant in a shared DataStore"),
    ("kube-apiserver", "profiling", "Kamaji switches profiling off"),
    ("kube-controller-manager", "bind-address", "probed on the pod IP by the management cluster's kubelet"),
    ("kube-controller-manager", "profiling", "Kamaji switches profiling off"),
    ("kube-scheduler", "bind-address", "probed on the pod IP by the management cluster's kubelet"),
    ("kube-scheduler", "profiling", "Kamaji switches profiling off"),
];

const COMPONENTS: [&str; 3] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];

fn flags<'a>(args: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    args.filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split_once('=').map_or((a.to_string(), String::new()), |(k, v)| (k.into(), v.into())))
        .collect()
}

fn parity(version: Option<&'static str>) {
    let Some(_) = require_base_peers() else { return };
    let name = version.map_or_else(|| "kubeadm".to_string(), |v| format!("kubeadm-{v}"));
    let Some(kubeadm) = peers::require_peer(&name) else { return };

    let ws = Workspace::examples();
    if let Some(v) = version {
        ws.set_version("tenants/minimal.yaml", v);
    }
    ws.render(Some(&identity_file()), EPOCH).expect_ok();
    let dir = ws.golden().join("tenants/minimal");
    let cm = yaml_file(&dir.join("tenant/configmap-kubeadm-config.yaml"));
    let cluster = cm["data"]["ClusterConfiguration"].as_str().unwrap();
    let api = cluster.lines().find_map(|l| l.strip_prefix("apiVersion: ")).unwrap().trim_matches('"').to_string();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("kubeadm.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: {api}\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.1\n  bindPort: 6443\nnodeRegistration:\n  name: node1\n---\n{cluster}"
        ),
    )
    .unwrap();
    let requested = work.path().join("manifests");
    std::fs::create_dir(&requested).unwrap();
    let out = Command::new(&kubeadm)
        .args(["init", "phase", "control-plane", "all", "--dry-run", "--config"])
        .arg(&config)
        .env("KUBEADM_INIT_DRYRUN_DIR", &requested)
        .output()
        .unwrap();
    assert!(out.status.success(), "{name} init phase control-plane: {}", String::from_utf8_lossy(&out.stderr));
    // Older kubeadm ignores KUBEADM_INIT_DRYRUN_DIR and names the temp dir it made under
    // /etc/kubernetes/tmp; it is removed when this test ends.
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let folder =
        said.lines().find_map(|l| l.split_once("Using manifest folder \"")).map(|(_, rest)| rest.trim_end_matches('"').to_string());
    let manifests = folder.map_or(requested.clone(), std::path::PathBuf::from);
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if self.0.starts_with("/etc/kubernetes/tmp/") {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
    let _cleanup = Cleanup(manifests.clone());

    let deployment = yaml_file(&dir.join("management/deployment-minimal.yaml"));
    let containers = deployment["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    let allowed: BTreeSet<(&str, &str)> = KAMAJI_DIFFERENCES.iter().map(|(c, f, _)| (*c, *f)).collect();
    let mut unexplained = Vec::new();
    for component in COMPONENTS {
        let file = manifests.join(format!("{component}.yaml"));
        let pod = yaml_file(&file);
        let command = pod["spec"]["containers"][0]["command"].as_array().unwrap_or_else(|| panic!("{}: no command", file.display()));
        let theirs = flags(command.iter().skip(1).map(|a| a.as_str().unwrap()));
        let c = containers.iter().find(|c| c["name"] == component).unwrap();
        let ours = flags(c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()));
        assert!(theirs.len() >= 4, "{component}: kubeadm wrote {} flags", theirs.len());
        for flag in theirs.keys().chain(ours.keys()).collect::<BTreeSet<_>>() {
            if theirs.get(flag) != ours.get(flag) && !allowed.contains(&(component, flag.as_str())) {
                unexplained.push(format!("{component} --{flag}: kubeadm {:?}, tcpc {:?}", theirs.get(flag), ours.get(flag)));
            }
        }
    }
    assert!(unexplained.is_empty(), "{name}: flags that differ from kubeadm's without a listed reason:\n{}", unexplained.join("\n"));
}

#[test]
fn the_pinned_release_renders_kubeadms_flags() {
    parity(None);
}

/// Every other release built (CI: the oldest supported minor, v1.30.14, and v1.35.4; more with
/// `TCPC_MORE_KUBERNETES_VERSIONS`).
#[test]
fn every_built_release_renders_its_kubeadms_flags() {
    for v in peers::built_releases("kubeadm", "v1.30.14") {
        eprintln!("kubeadm parity: {v}");
        parity(Some(v));
    }
}
