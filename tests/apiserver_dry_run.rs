//! Every rendered manifest must be accepted by a real kube-apiserver.
//!
//! Starts a throwaway loopback control plane (`tools/apiserver.sh`: Debian's etcd and
//! our kube-apiserver from `tools/peers.sh`), installs the SealedSecret CRD, creates
//! the namespaces the manifests use (for real: server-side dry-run needs them), then
//! runs `kubectl apply --dry-run=server -f <file>...` over every YAML/JSON file under
//! `golden/` (kustomization files excepted) — or, while `golden/` has no YAML yet, over
//! `tests/fixtures/dry-run/`. Anything the apiserver rejects fails the test with
//! kubectl's own message.
//!
//! Pod Security: every namespace is labelled `pod-security.kubernetes.io/enforce=restricted`
//! (and `warn`), as a hardened management cluster would be. Admission enforces Pod Security on
//! Pods only (workloads just get warnings), so the pod template of every rendered Deployment is
//! also submitted as a Pod (server-side dry-run): the real admission plugin must accept it. A
//! negative control — the same Pod without its containers' securityContexts — must be refused,
//! so the check cannot pass by being switched off.
//!
//! Missing peers: see `tests/common/peers.rs` (skip loudly, or fail under
//! `TCPC_REQUIRE_PEERS=1`).

mod common;

use common::apiserver::ControlPlane;
use common::peers;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Kubectl<'a> {
    bin: PathBuf,
    cp: &'a ControlPlane,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(&self.cp.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cp.dir.path().join("kube-cache"))
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl and panics with its output unless it succeeds.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        if !out.status.success() {
            panic!(
                "kubectl {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Kustomize's own files are not Kubernetes objects; the objects they list are checked directly.
const NOT_MANIFESTS: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Every YAML/JSON file under `dir`, recursively, sorted, symlinks resolved.
fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let Ok(p) = e.path().canonicalize() else { continue };
        let name = e.file_name();
        if p.is_dir() {
            manifest_files(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml" | "json"))
            && !NOT_MANIFESTS.contains(&name.to_str().unwrap_or(""))
        {
            out.push(p);
        }
    }
    out.sort();
}

/// The files of `golden/` once it holds rendered output, else the stand-in fixtures.
fn manifests() -> Vec<PathBuf> {
    let mut files = Vec::new();
    manifest_files(&peers::repo_root().join("golden"), &mut files);
    if files.is_empty() {
        eprintln!("note: golden/ has no YAML yet; dry-running tests/fixtures/dry-run/ instead");
        manifest_files(&peers::repo_root().join("tests/fixtures/dry-run"), &mut files);
    }
    assert!(!files.is_empty(), "no manifests to check");
    files
}

/// `-f FILE` for each file.
fn file_args(files: &[PathBuf]) -> Vec<&str> {
    files.iter().flat_map(|f| ["-f", f.to_str().expect("utf-8 path")]).collect()
}

/// The SealedSecret CRD: the upstream one that `tools/peers.sh kubeseal` copies out of
/// the Go module cache next to the bin dir, else a minimal structural CRD of our own.
fn sealed_secret_crd(scratch: &Path) -> PathBuf {
    if let Some(p) =
        peers::bin_dir().and_then(|b| b.parent().map(|d| d.join("share/sealedsecrets.bitnami.com.yaml"))).filter(|p| p.is_file())
    {
        return p;
    }
    eprintln!("note: upstream SealedSecret CRD not found (tools/peers.sh kubeseal); using a minimal one");
    let p = scratch.join("sealedsecrets-crd.yaml");
    std::fs::write(&p, MINIMAL_SEALED_SECRET_CRD).expect("write CRD");
    p
}

/// Gateway API's TLSRoute CRD (`tools/peers.sh gateway-api`), for tenants exposed by a Gateway.
/// Missing: a failure with `TCPC_REQUIRE_PEERS=1`, else the TLSRoutes are left out with a note.
fn tls_route_crd() -> Option<PathBuf> {
    let p = peers::bin_dir()?.parent()?.join("share/gateway-api/tlsroutes.yaml");
    if p.is_file() {
        return Some(p);
    }
    let why = format!("the TLSRoute CRD is not at {} (run tools/peers.sh gateway-api)", p.display());
    assert!(std::env::var("TCPC_REQUIRE_PEERS").as_deref() != Ok("1"), "TCPC_REQUIRE_PEERS=1 but {why}");
    eprintln!("note: {why}; TLSRoutes are not dry-run");
    None
}

/// Namespaces the manifests live in (and Namespace objects they declare), as kubectl
/// itself reads them (client-side dry run, so multi-document files and lists count).
fn namespaces(kubectl: &Kubectl, files: &[PathBuf]) -> BTreeSet<String> {
    let mut args = vec!["apply", "--dry-run=client", "-o", "json"];
    args.extend(file_args(files));
    let json = kubectl.ok(&args);
    let v: serde_json::Value = serde_json::from_str(&json).expect("kubectl -o json output");
    let items = match v.get("items").and_then(|i| i.as_array()) {
        Some(items) if v["kind"] == "List" => items.clone(),
        _ => vec![v],
    };
    let mut out = BTreeSet::new();
    for item in &items {
        if item["kind"] == "Namespace" {
            out.extend(item["metadata"]["name"].as_str().map(String::from));
        }
        out.extend(item["metadata"]["namespace"].as_str().map(String::from));
    }
    out
}

#[test]
fn manifests_pass_server_side_dry_run() {
    let (Some(kubectl), Some(apiserver), Some(etcd)) =
        (peers::require_peer("kubectl"), peers::require_peer("kube-apiserver"), peers::require_peer("etcd"))
    else {
        return;
    };
    let files = manifests();
    let cp = ControlPlane::start(&apiserver, &etcd);
    let k = Kubectl { bin: kubectl, cp: &cp };

    let crd = sealed_secret_crd(cp.dir.path());
    k.ok(&["apply", "-f", crd.to_str().unwrap()]);
    k.ok(&["wait", "--for=condition=Established", "--timeout=60s", "crd/sealedsecrets.bitnami.com"]);
    let files = match tls_route_crd() {
        Some(crd) => {
            k.ok(&["apply", "-f", crd.to_str().unwrap()]);
            k.ok(&["wait", "--for=condition=Established", "--timeout=60s", "crd/tlsroutes.gateway.networking.k8s.io"]);
            files
        }
        None => files.into_iter().filter(|f| !f.file_name().is_some_and(|n| n.to_string_lossy().starts_with("tlsroute-"))).collect(),
    };
    install_companion(&k, cp.dir.path());
    // The tree's `_companion/` Component holds the same objects (tests/gitops.rs compares them),
    // applied for real just above, server-side; a client-side dry run over them only exercises
    // kubectl's merge of a server-side-applied CRD.
    let files: Vec<PathBuf> = files.into_iter().filter(|f| !f.components().any(|c| c.as_os_str() == "_companion")).collect();

    // Pod Security "restricted" is what a hardened management cluster enforces on the tenants'
    // namespaces; the tenant bundles' namespaces (kube-system, kube-public) belong to the tenant
    // clusters, where kube-proxy and a host-network konnectivity agent must run as kubeadm's do.
    let management: Vec<PathBuf> = files.iter().filter(|f| f.components().any(|c| c.as_os_str() == "management")).cloned().collect();
    let restricted = namespaces(&k, &management);
    for ns in namespaces(&k, &files) {
        let out = k.run(&["create", "namespace", &ns]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || err.contains("AlreadyExists"), "kubectl create namespace {ns}: {err}");
        if !restricted.contains(&ns) {
            continue;
        }
        k.ok(&[
            "label",
            "--overwrite",
            "namespace",
            &ns,
            RESTRICTED_ENFORCE,
            RESTRICTED_WARN,
            "pod-security.kubernetes.io/enforce-version=latest",
        ]);
    }

    let mut args = vec!["apply", "--dry-run=server"];
    args.extend(file_args(&files));
    let out = k.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kube-apiserver rejected manifests:\n{stderr}\n(accepted:\n{stdout})");
    assert!(stdout.contains("(server dry run)"), "kubectl applied nothing:\n{stdout}{stderr}");
    assert!(!stderr.contains("PodSecurity"), "a workload would violate Pod Security \"restricted\":\n{stderr}");
    eprintln!("{stdout}");

    control_plane_pods_pass_pod_security_restricted(&k, &management);
}

/// `tcpc install companion` for the examples, applied for real (the records need its CRD): the
/// apiserver accepts every object, its Deployment draws no Pod Security warning in the
/// namespace the install labels `restricted`, and its pod template is admitted there.
fn install_companion(k: &Kubectl, scratch: &Path) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let out = Command::new(env!("CARGO_BIN_EXE_tcpc"))
        .args(["install", "companion", examples.to_str().unwrap(), "--image", "tcpc-companion:test"])
        .output()
        .expect("run tcpc install companion");
    assert!(out.status.success(), "tcpc install companion: {}", String::from_utf8_lossy(&out.stderr));
    let file = scratch.join("companion.yaml");
    std::fs::write(&file, &out.stdout).expect("write companion.yaml");
    let applied = k.run(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "kube-apiserver rejected `tcpc install companion`:\n{stderr}");
    assert!(!stderr.contains("PodSecurity"), "the companion would violate Pod Security \"restricted\":\n{stderr}");
    k.ok(&["wait", "--for=condition=Established", "--timeout=60s", "crd/renderedcontrolplanes.tcpc.dev"]);
    // its pod template, as a Pod (the Deployment alone: the rest is applied already)
    let text = String::from_utf8(out.stdout).unwrap();
    let deployment = text.split("\n---\n").find(|d| d.contains("\nkind: Deployment\n")).expect("a Deployment");
    let file = scratch.join("companion-deployment.yaml");
    std::fs::write(&file, deployment).unwrap();
    let pods = pods_of_deployments(k, &[file]);
    assert_eq!(pods.len(), 1, "one Deployment in the companion's manifests");
    let pod = scratch.join("companion-pod.json");
    std::fs::write(&pod, serde_json::to_vec(&pods[0]).unwrap()).unwrap();
    k.ok(&["create", "--dry-run=server", "-f", pod.to_str().unwrap()]);
}

const RESTRICTED_ENFORCE: &str = "pod-security.kubernetes.io/enforce=restricted";
const RESTRICTED_WARN: &str = "pod-security.kubernetes.io/warn=restricted";

/// Each Deployment's pod template as a Pod of the same namespace.
fn pods_of_deployments(k: &Kubectl, files: &[PathBuf]) -> Vec<serde_json::Value> {
    let mut args = vec!["apply", "--dry-run=client", "-o", "json"];
    args.extend(file_args(files));
    let v: serde_json::Value = serde_json::from_str(&k.ok(&args)).expect("kubectl -o json output");
    let items = match v.get("items").and_then(|i| i.as_array()) {
        Some(items) if v["kind"] == "List" => items.clone(),
        _ => vec![v],
    };
    items
        .iter()
        // the control planes', and the members of dedicated etcds
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
        .map(|d| {
            let template = &d["spec"]["template"];
            // A StatefulSet's member mounts its claims as the controller would add them.
            let mut spec = template["spec"].clone();
            for claim in d["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
                let name = &claim["metadata"]["name"];
                let claim_name = format!("{}-{}-0", name.as_str().expect("claim name"), d["metadata"]["name"].as_str().expect("name"));
                let volume = serde_json::json!({"name": name, "persistentVolumeClaim": {"claimName": claim_name}});
                spec["volumes"].as_array_mut().expect("volumes").push(volume);
            }
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("{}-pod-security", d["metadata"]["name"].as_str().expect("name")),
                    "namespace": d["metadata"]["namespace"],
                    "labels": template["metadata"]["labels"],
                },
                "spec": spec,
            })
        })
        .collect()
}

/// Submits `pods` (server-side dry-run) and returns kubectl's output.
fn create_pods(k: &Kubectl, dir: &Path, name: &str, pods: &[serde_json::Value]) -> Output {
    let path = dir.join(name);
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": pods});
    std::fs::write(&path, serde_json::to_vec_pretty(&list).unwrap()).expect("write pods");
    k.run(&["create", "--dry-run=server", "-f", path.to_str().unwrap()])
}

fn control_plane_pods_pass_pod_security_restricted(k: &Kubectl, files: &[PathBuf]) {
    let pods = pods_of_deployments(k, files);
    assert!(!pods.is_empty(), "no Deployment in the manifests");
    assert!(pods.iter().any(|p| p["metadata"]["name"] == "isolated-etcd-pod-security"), "the dedicated etcd's pod is checked too");
    // Pods are admitted only with their ServiceAccount present (no controller creates them here) ...
    for p in &pods {
        let ns = p["metadata"]["namespace"].as_str().expect("namespace");
        let sa = p["spec"]["serviceAccountName"].as_str().unwrap_or("default");
        let out = k.run(&["-n", ns, "create", "serviceaccount", sa]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || err.contains("already exists"), "kubectl create serviceaccount {ns}/{sa}: {err}");
    }
    // ... and with the RuntimeClasses they name (the RuntimeClass admission plugin checks).
    for rc in pods.iter().filter_map(|p| p["spec"]["runtimeClassName"].as_str()) {
        let path = k.cp.dir.path().join(format!("runtimeclass-{rc}.json"));
        let obj = serde_json::json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": rc}, "handler": rc});
        std::fs::write(&path, obj.to_string()).unwrap();
        k.ok(&["apply", "-f", path.to_str().unwrap()]);
    }
    let out = create_pods(k, k.cp.dir.path(), "control-plane-pods.json", &pods);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Pod Security \"restricted\" refused a control-plane pod:\n{stderr}\n(accepted:\n{stdout})");
    assert_eq!(stdout.matches("(server dry run)").count(), pods.len(), "not every pod was admitted:\n{stdout}{stderr}");
    eprintln!("Pod Security restricted admitted {} control-plane pod(s):\n{stdout}", pods.len());

    // Negative control: without the containers' securityContexts the same pod is refused.
    let mut bare = pods[0].clone();
    for c in bare["spec"]["containers"].as_array_mut().expect("containers") {
        c.as_object_mut().expect("container").remove("securityContext");
    }
    let out = create_pods(k, k.cp.dir.path(), "bare-pod.json", &[bare]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("violates PodSecurity \"restricted"),
        "a pod without securityContexts was not refused by Pod Security restricted: the check is void\n{stderr}"
    );
}

/// Our own minimal structural schema for SealedSecret (fallback only).
const MINIMAL_SEALED_SECRET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sealedsecrets.bitnami.com
spec:
  group: bitnami.com
  scope: Namespaced
  names:
    kind: SealedSecret
    listKind: SealedSecretList
    plural: sealedsecrets
    singular: sealedsecret
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources:
        status: {}
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [encryptedData]
              properties:
                encryptedData:
                  type: object
                  additionalProperties: {type: string}
                data: {type: string}
                template:
                  type: object
                  properties:
                    metadata:
                      type: object
                      x-kubernetes-preserve-unknown-fields: true
                    type: {type: string}
                    immutable: {type: boolean}
                    data:
                      type: object
                      additionalProperties: {type: string}
                      nullable: true
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
"#;
