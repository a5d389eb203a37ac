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

/// `tcpc install companion`: the companion's manifests ([`tcpc::companion_install`]) as one
/// stream to apply.
pub fn companion(namespace: &str, image: &str) -> String {
    let mut out = String::from(
        "# The tcpc companion: live status of every rendered tenant (kubectl get rcp -A).\n\
         # kubectl apply --server-side -f <(tcpc install companion)\n\
         # Tenants rendered with `companion: {}` in tcpc.yaml carry a RenderedControlPlane and grant\n\
         # the companion `get` on their admin kubeconfig and certificate Secrets, by name.\n",
    );
    for (_, text) in tcpc::companion_install::files(namespace, image) {
        out.push_str("---\n");
        out.push_str(&text);
    }
    out
}
