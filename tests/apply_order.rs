//! `tcpc render --stdout` is what `kubectl apply -f -` (and the Argo CD plugin) creates, in
//! stream order: in the examples' stream every object a workload or binding refers to inside
//! its own bundle — its Namespace, ServiceAccount, ConfigMaps, Secrets, Roles — comes before it,
//! so kube-proxy, CoreDNS and the konnectivity agent never start in a tenant whose RBAC and
//! configuration are not there yet, and no control-plane pod waits for its Secrets.

mod common;

use std::collections::BTreeSet;

use common::{root, run, tcpc};
use serde_json::Value;

/// `(kind, namespace, name)` of the objects `o` refers to.
fn references(o: &Value) -> Vec<(&'static str, String, String)> {
    let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut out = Vec::new();
    if !ns.is_empty() {
        out.push(("Namespace", String::new(), ns.clone()));
    }
    let pod = match o["kind"].as_str() {
        Some("Deployment" | "DaemonSet" | "StatefulSet" | "Job") => o.pointer("/spec/template/spec"),
        _ => None,
    };
    if let Some(pod) = pod {
        if let Some(sa) = pod["serviceAccountName"].as_str() {
            out.push(("ServiceAccount", ns.clone(), sa.to_string()));
        }
        for v in pod["volumes"].as_array().into_iter().flatten() {
            if let Some(n) = v.pointer("/configMap/name").and_then(Value::as_str) {
                out.push(("ConfigMap", ns.clone(), n.to_string()));
            }
            if let Some(n) = v.pointer("/secret/secretName").and_then(Value::as_str) {
                out.push(("Secret", ns.clone(), n.to_string()));
            }
        }
    }
    if let Some(r) = o.get("roleRef").filter(|_| o["kind"].as_str().is_some_and(|k| k.ends_with("Binding"))) {
        let kind = if r["kind"] == "Role" { "Role" } else { "ClusterRole" };
        let role_ns = if kind == "Role" { ns.clone() } else { String::new() };
        out.push((kind, role_ns, r["name"].as_str().unwrap_or_default().to_string()));
    }
    out
}

type Key = (String, String, String);

fn key(o: &Value) -> Key {
    let mut kind = o["kind"].as_str().unwrap_or_default().to_string();
    if kind == "SealedSecret" {
        kind = "Secret".into(); // what the controller unseals it into, under the same name
    }
    let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    (kind, ns, o["metadata"]["name"].as_str().unwrap_or_default().to_string())
}

#[test]
fn the_stream_creates_what_a_workload_uses_before_the_workload() {
    let r = run(tcpc().arg("render").arg(root().join("examples")).args(["--stdout", "--bundle", "all"])).expect_code(0, "render --stdout");
    // (cluster, object): management bundles share the management cluster; each tenant bundle
    // goes to its own tenant cluster (whose kube-system every tenant bundle fills alike).
    let mut objects: Vec<(String, Value)> = Vec::new();
    for chunk in r.stdout.split("---\n# Source: ").filter(|c| !c.is_empty()) {
        let (path, text) = chunk.split_once('\n').expect("a path line");
        let cluster = match path.rsplit_once("/tenant/") {
            Some((tenant, _)) => tenant.to_string(),
            None => "management".to_string(),
        };
        let docs = tcpc_yaml::parse_stream(text).unwrap_or_else(|e| panic!("{path}: {}", e.message));
        assert_eq!(docs.len(), 1, "{path}: one object per file");
        objects.push((cluster, docs[0].root.to_json()));
    }
    let all: BTreeSet<(&str, Key)> = objects.iter().map(|(c, o)| (c.as_str(), key(o))).collect();
    let mut created: BTreeSet<(&str, Key)> = BTreeSet::new();
    let (mut checked, mut problems, mut kinds) = (0, Vec::new(), BTreeSet::new());
    for (cluster, o) in &objects {
        for (kind, ns, name) in references(o) {
            let want = (cluster.as_str(), (kind.to_string(), ns, name));
            if !all.contains(&want) {
                continue; // made elsewhere (the tenant cluster's kube-system, a DataStore's namespace)
            }
            checked += 1;
            if !created.contains(&want) {
                let (_, (_, ns, name)) = &want;
                problems.push(format!("{cluster}: {} {} comes before the {kind} {ns}/{name} it uses", o["kind"], o["metadata"]["name"]));
            }
        }
        kinds.insert(o["kind"].as_str().unwrap_or_default().to_string());
        created.insert((cluster.as_str(), key(o)));
    }
    assert!(problems.is_empty(), "stream out of apply order:\n  {}", problems.join("\n  "));
    // Not vacuous: workloads with ServiceAccounts and config, bindings and Namespaces were checked.
    for kind in ["Namespace", "DaemonSet", "Deployment", "ServiceAccount", "ClusterRoleBinding", "RoleBinding"] {
        assert!(kinds.contains(kind), "the examples' stream has no {kind}");
    }
    assert!(checked > 50, "only {checked} references checked");
}
