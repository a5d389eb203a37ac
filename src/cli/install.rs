//! `tcpc install argocd-plugin` and `tcpc install flux`: the manifests that wire tcpc's output
//! into Argo CD and Flux, printed (never applied) so they are reviewed like everything else.

use serde_json::{Value, json};

/// The Argo CD ConfigManagementPlugin definition (`plugin.yaml`).
pub fn plugin_yaml() -> String {
    tcpc_yaml::emit(&json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ConfigManagementPlugin",
        "metadata": {"name": "tcpc"},
        "spec": {
            "discover": {"fileName": "./tcpc.yaml"},
            "generate": {"command": ["tcpc", "render", "--stdout"]},
            "parameters": {
                "static": [
                    {
                        "name": "tenants",
                        "title": "TenantControlPlanes to render (NS/NAME, globs; empty: all)",
                        "collectionType": "array",
                        "required": false,
                    },
                    {
                        "name": "bundle",
                        "title": "Bundle: management (this cluster), tenant (join objects) or all",
                        "collectionType": "string",
                        "string": "management",
                        "required": false,
                    },
                ],
                "dynamic": {"command": ["tcpc", "plugin", "parameters"]},
            },
            "preserveFileMode": false,
        },
    }))
}

/// The ConfigMap holding `plugin.yaml`, mounted into the sidecar.
fn plugin_configmap(namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "tcpc-cmp-plugin", "namespace": namespace},
        "data": {"plugin.yaml": plugin_yaml()},
    })
}

/// Strategic-merge patch of `argocd-repo-server`: the tcpc sidecar run by Argo CD's own
/// `argocd-cmp-server` (copied into `/var/run/argocd` by the repo-server's init container).
fn sidecar_patch(namespace: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "argocd-repo-server", "namespace": namespace},
        "spec": {"template": {"spec": {
            "containers": [{
                "name": "tcpc",
                "image": image,
                "command": ["/var/run/argocd/argocd-cmp-server"],
                "env": [{"name": "TCPC_LOCK_TIMEOUT", "value": "20"}],
                "securityContext": {
                    "runAsNonRoot": true,
                    "runAsUser": 999,
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "volumeMounts": [
                    {"name": "var-files", "mountPath": "/var/run/argocd"},
                    {"name": "plugins", "mountPath": "/home/argocd/cmp-server/plugins"},
                    {"name": "tcpc-cmp-plugin", "mountPath": "/home/argocd/cmp-server/config/plugin.yaml", "subPath": "plugin.yaml"},
                    {"name": "tcpc-tmp", "mountPath": "/tmp"},
                ],
            }],
            "volumes": [
                {"name": "tcpc-cmp-plugin", "configMap": {"name": "tcpc-cmp-plugin"}},
                {"name": "tcpc-tmp", "emptyDir": {}},
            ],
        }}},
    })
}

/// An Application rendering a tcpc repository with the plugin.
fn application(namespace: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "tenant-control-planes", "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://git.example.com/platform.git",
                "targetRevision": "main",
                "path": ".",
                "plugin": {
                    "name": "tcpc",
                    "parameters": [
                        {"name": "bundle", "string": "management"},
                        {"name": "tenants", "array": ["*/*"]},
                    ],
                },
            },
            "destination": {"server": "https://kubernetes.default.svc"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        },
    })
}

/// What `--only` picks.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArgoPart {
    /// `plugin.yaml` itself.
    Plugin,
    /// The ConfigMap holding plugin.yaml.
    Configmap,
    /// The argocd-repo-server sidecar patch.
    Patch,
    /// An example Application.
    Application,
}

pub fn argocd(namespace: &str, image: &str, only: Option<ArgoPart>) -> String {
    let doc = |part: ArgoPart| match part {
        ArgoPart::Plugin => plugin_yaml(),
        ArgoPart::Configmap => tcpc_yaml::emit(&plugin_configmap(namespace)),
        ArgoPart::Patch => tcpc_yaml::emit(&sidecar_patch(namespace, image)),
        ArgoPart::Application => tcpc_yaml::emit(&application(namespace)),
    };
    match only {
        Some(part) => doc(part),
        None => format!(
            "# tcpc as an Argo CD config-management plugin.\n\
             # kubectl apply -f <(tcpc install argocd-plugin --only configmap)\n\
             # kubectl -n {namespace} patch deployment argocd-repo-server --patch-file <(tcpc install argocd-plugin --only patch)\n\
             # The sidecar image must hold `tcpc` on its PATH; the repo-server's init container provides argocd-cmp-server.\n\
             ---\n{}---\n{}---\n{}",
            doc(ArgoPart::Configmap),
            doc(ArgoPart::Patch),
            doc(ArgoPart::Application)
        ),
    }
}

/// What the tenants' ApplicationSet reads and where it lives.
pub struct ApplicationSetSettings<'a> {
    pub name: &'a str,
    /// Argo CD's namespace (`delivery.argocd.namespace`), where the cluster Secrets are.
    pub namespace: &'a str,
    pub project: &'a str,
    pub url: &'a str,
    pub revision: &'a str,
    /// `./<path of the output directory in the Git repository>`.
    pub path: String,
}

/// One Application per cluster Secret of `delivery.argocd` (cluster generator, selected by the
/// Secrets' component label), syncing `<path>/<ns>/<name>/tenant` into that tenant. The tenant
/// bundle orders itself with sync waves (RBAC and configuration before what uses them); until
/// the tenant API server answers, syncs fail and are retried.
pub fn argocd_applicationset(s: &ApplicationSetSettings<'_>) -> String {
    let ns = r#"{{ index .metadata.labels "tcpc.dev/tenant-namespace" }}"#;
    let tcp = r#"{{ index .metadata.labels "kamaji.clastix.io/name" }}"#;
    let set = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": s.name, "namespace": s.namespace},
        "spec": {
            "goTemplate": true,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"clusters": {"selector": {"matchLabels": {"kamaji.clastix.io/component": "argocd-cluster"}}}}],
            "template": {
                "metadata": {"name": "{{ .nameNormalized }}", "labels": {"app.kubernetes.io/managed-by": "tcpc"}},
                "spec": {
                    "project": s.project,
                    "source": {"repoURL": s.url, "targetRevision": s.revision, "path": format!("{}/{ns}/{tcp}/tenant", s.path)},
                    "destination": {"name": "{{ .name }}"},
                    "syncPolicy": {
                        "automated": {"prune": true, "selfHeal": true},
                        "retry": {"limit": 20, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
                    },
                },
            },
        },
    });
    format!(
        "# One Application per tenant registered by `delivery.argocd` (its cluster Secret, rendered by tcpc):\n\
         # Argo CD syncs the tenant bundle into the tenant cluster.\n---\n{}",
        tcpc_yaml::emit(&set)
    )
}

/// Where Flux finds the repository and how it applies the rendered tree.
pub struct FluxSettings<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub url: &'a str,
    pub branch: &'a str,
    /// `./<path of the output directory in the Git repository>`.
    pub path: String,
    /// The SOPS backend is configured: add `decryption` with the age key Secret.
    pub sops: bool,
}

pub fn flux(s: &FluxSettings<'_>) -> String {
    let repo = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": s.name, "namespace": s.namespace},
        "spec": {"interval": "1m", "url": s.url, "ref": {"branch": s.branch}},
    });
    let mut ks = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": s.name, "namespace": s.namespace},
        "spec": {
            "interval": "10m",
            "path": s.path,
            "prune": true,
            "wait": true,
            "timeout": "5m",
            "sourceRef": {"kind": "GitRepository", "name": s.name},
        },
    });
    let mut header =
        String::from("# Flux applies what `tcpc render` committed; the tenant bundles go to each tenant cluster separately.\n");
    if s.sops {
        ks["spec"]["decryption"] = json!({"provider": "sops", "secretRef": {"name": "sops-age"}});
        header.push_str(&format!(
            "# The age identity that opens sealing.sops.ageRecipients, as the Secret Flux decrypts with:\n\
             #   kubectl -n {} create secret generic sops-age --from-file=age.agekey=<identity file>\n",
            s.namespace
        ));
    }
    format!("{header}---\n{}---\n{}", tcpc_yaml::emit(&repo), tcpc_yaml::emit(&ks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argocd_documents_parse_and_hold_the_essentials() {
        let all = argocd("argocd", "example/tcpc:1", None);
        let docs = tcpc_yaml::parse_stream(&all).unwrap();
        assert_eq!(docs.len(), 3);
        let patch = docs[1].root.to_json();
        let c = &patch["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["securityContext"]["runAsUser"], 999);
        assert_eq!(c["command"][0], "/var/run/argocd/argocd-cmp-server");
        let plugin = tcpc_yaml::parse_stream(&plugin_yaml()).unwrap()[0].root.to_json();
        assert_eq!(plugin["spec"]["generate"]["command"], json!(["tcpc", "render", "--stdout"]));
        assert_eq!(plugin["spec"]["discover"]["fileName"], "./tcpc.yaml");
        assert_eq!(docs[0].root.to_json()["data"]["plugin.yaml"], plugin_yaml());
    }

    #[test]
    fn flux_decrypts_only_with_sops() {
        let mut s = FluxSettings {
            name: "tcpc",
            namespace: "flux-system",
            url: "https://x",
            branch: "main",
            path: "./rendered".into(),
            sops: false,
        };
        assert!(!flux(&s).contains("decryption"));
        s.sops = true;
        let docs = tcpc_yaml::parse_stream(&flux(&s)).unwrap();
        assert_eq!(docs[1].root.to_json()["spec"]["decryption"]["provider"], "sops");
    }
}

/// `tcpc install companion`: the companion's CRD (`RenderedControlPlane`), identity, least
/// privilege RBAC, Deployment (two replicas, one leader), metrics Service and PDB.
///
/// What it may do, and why: read the records and write only their status subresource; watch
/// the control-plane Deployments (a failing pod is seen at once); record Events; hold its
/// Lease in its own namespace. It reads no Secret through this RBAC: each tenant bundle grants
/// `get` on that tenant's admin kubeconfig and certificate Secrets by name
/// (`templates/management/companion.yaml.j2`).
pub fn companion(namespace: &str, image: &str) -> String {
    const NAME: &str = tcpc::resolve::COMPANION_SERVICE_ACCOUNT;
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
    let mut out = String::from(
        "# The tcpc companion: live status of every rendered tenant (kubectl get rcp -A).\n\
         # kubectl apply --server-side -f <(tcpc install companion)\n\
         # Tenants rendered with `companion: {}` in tcpc.yaml carry a RenderedControlPlane and grant\n\
         # the companion `get` on their admin kubeconfig and certificate Secrets, by name.\n",
    );
    out.push_str("---\n");
    out.push_str(COMPANION_CRD.trim_start_matches("---\n"));
    for doc in docs {
        let checked = tcpc::check::check(doc).expect("the companion's manifests are valid");
        out.push_str("---\n");
        out.push_str(&tcpc_yaml::emit(&checked));
    }
    out
}

/// The `RenderedControlPlane` CRD, generated from the companion's types
/// (`tcpc-companion crd`; `crates/companion` tests that this file is what it generates).
pub const COMPANION_CRD: &str = include_str!("../../crates/companion/crd.yaml");
