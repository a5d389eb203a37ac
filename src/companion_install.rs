//! The companion's install (`tcpc install companion`, and the kustomize Component of the
//! rendered tree when `companion.image` is set): its CRD (`RenderedControlPlane`), identity,
//! least-privilege RBAC, Deployment (two replicas, one leader), metrics Service and PDB.
//!
//! What it may do, and why: read the records and write only their status subresource; watch
//! the control-plane Deployments (a failing pod is seen at once); record Events; hold its
//! Lease in its own namespace. It reads no Secret through this RBAC: each tenant bundle grants
//! `get` on that tenant's admin kubeconfig and certificate Secrets by name, and under `rotation:
//! companion` what it issues (`templates/management/companion.yaml.j2`).
//!
//! Invariant: pure; every object passes the typed check.

use serde_json::{Value, json};

use crate::model::Tree;

/// The `RenderedControlPlane` CRD, generated from the companion's types
/// (`tcpc-companion crd`; `crates/companion` tests that this file is what it generates).
pub const CRD: &str = include_str!("../crates/companion/crd.yaml");

/// The directory of the rendered tree holding the Component (not a namespace name: those have
/// no `_`).
pub const COMPONENT_DIR: &str = "_companion";

/// Every object but the CRD, checked.
fn documents(namespace: &str, image: &str) -> Vec<Value> {
    const NAME: &str = crate::resolve::COMPANION_SERVICE_ACCOUNT;
    let labels = json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "tcpc"});
    let selector = json!({"app.kubernetes.io/name": NAME});
    let docs = [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": namespace, "labels": labels}}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": NAME, "labels": labels},
            "rules": [
                {"apiGroups": ["tcpc.dev"], "resources": ["renderedcontrolplanes"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["tcpc.dev"], "resources": ["renderedcontrolplanes/status"], "verbs": ["get", "patch"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "rules": [
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [NAME], "verbs": ["get", "update"]},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": NAME,
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "companion",
                            "image": image,
                            "args": [],
                            "env": [
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                            ],
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": false,
                                "readOnlyRootFilesystem": true,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]},
        }),
        json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
        }),
    ];
    docs.into_iter().map(|doc| crate::check::check(doc).expect("the companion's manifests are valid")).collect()
}

/// The install as files, in apply order (the CRD first): `<kind>-<name>.yaml` → YAML.
pub fn files(namespace: &str, image: &str) -> Vec<(String, String)> {
    // In the canonical form of every rendered file (sorted keys), as kustomize writes it back.
    let crd = tcpc_yaml::parse_stream(CRD).ok().and_then(|docs| docs.into_iter().next()).expect("crd.yaml parses").root.to_json();
    let mut out = vec![("customresourcedefinition-renderedcontrolplanes.tcpc.dev.yaml".to_string(), tcpc_yaml::emit(&crd))];
    for doc in documents(namespace, image) {
        let rendered =
            crate::model::Rendered { object: doc, namespace: String::new(), tcp: String::new(), bundle: crate::model::Bundle::Management };
        let emitted = rendered.emit();
        out.push((emitted.file, emitted.text));
    }
    out
}

/// The kustomize Component of the rendered tree (`_companion/`), when tcpc.yaml names the
/// companion's image; empty otherwise.
pub fn component(config: &tcpc_spec::Config) -> Tree {
    let mut tree = Tree::new();
    let (Some(namespace), Some(image)) = (config.companion_namespace(), config.companion.as_ref().and_then(|c| c.image.as_deref())) else {
        return tree;
    };
    let files = files(namespace, image);
    let resources: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
    let kustomization = tcpc_yaml::emit(&json!({
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": resources,
    }));
    for (file, text) in &files {
        tree.insert(format!("{COMPONENT_DIR}/{file}"), text.clone());
    }
    tree.insert(format!("{COMPONENT_DIR}/kustomization.yaml"), kustomization);
    tree
}
