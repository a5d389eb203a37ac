//! `delivery` of `tcpc.yaml`: how a tenant bundle reaches its tenant cluster without a human.
//!
//! Flux: a `kustomize.toolkit.fluxcd.io/v1` Kustomization per tenant, in the tenant's
//! namespace of the management bundle, applies `<path>/<ns>/<name>/tenant` to the tenant
//! with the super-admin kubeconfig of the tenant's admin Secret (`spec.kubeConfig.secretRef`):
//! the tenant bundle holds the RBAC admin.conf's group needs, so only `system:masters` can
//! apply it the first time (kubeadm's reason for super-admin.conf); delivery therefore puts
//! the super-admin kubeconfig into the admin Secret, as Kamaji has it. Nothing can make a
//! Kustomization aimed at another cluster wait for a Deployment of this one, so it waits the
//! Flux way: until the tenant API server answers, every apply fails and is retried after
//! `retryInterval`. The parent Kustomization (`tcpc install flux`, `wait: true`) counts the
//! tenant's Kustomization among its objects, so it turns Ready only once the tenant bundle
//! is applied in the tenant.

use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::Inputs;

/// The Flux Kustomization of one tenant (`templates/management/flux-kustomization.yaml.j2`).
#[derive(Debug, Clone, Serialize)]
pub struct FluxPlan {
    /// `<path>/<ns>/<name>/tenant`.
    pub path: String,
    pub source_name: String,
    pub source_namespace: String,
    pub interval: String,
    pub retry_interval: String,
    /// Key of `<tcp>-admin-kubeconfig`: `super-admin.svc` or `super-admin.conf`.
    pub kubeconfig_key: String,
}

/// The Argo CD cluster Secret of one tenant (sealed by the PKI stage, component
/// `argocd-cluster`): Argo CD connects as super-admin, for the same reason as Flux.
#[derive(Debug, Clone, Serialize)]
pub struct ArgoCdPlan {
    /// Where Argo CD reads cluster Secrets.
    pub namespace: String,
    /// `tcpc-<tcp>-<8 hex of sha256("<ns>/<tcp>")>`: unique in that namespace, whatever
    /// dashes the tenants' names hold.
    pub secret_name: String,
    /// The cluster's name in Argo CD (`destination.name`): `<ns>/<tcp>`.
    pub cluster_name: String,
    /// The tenant API URL Argo CD dials.
    pub server: String,
    pub project: Option<String>,
}

/// The label of an Argo CD cluster Secret that names the tenant's namespace (the tenant's name
/// is `kamaji.clastix.io/name`): what an ApplicationSet's cluster generator builds paths from.
pub const ARGOCD_TENANT_NAMESPACE_LABEL: &str = "tcpc.dev/tenant-namespace";

/// The labels of the Argo CD cluster Secret beyond Kamaji's.
pub fn argocd_labels(namespace: &str) -> [(&'static str, String); 2] {
    [("argocd.argoproj.io/secret-type", "cluster".to_string()), (ARGOCD_TENANT_NAMESPACE_LABEL, namespace.to_string())]
}

/// The Argo CD plan of tenant `namespace/name`, when `delivery.argocd` is set (checked by
/// [`check_config`]). `service_url` is the in-cluster Service URL, `public_url` the endpoint.
pub fn argocd_plan(inputs: &Inputs, namespace: &str, name: &str, service_url: &str, public_url: &str) -> Option<ArgoCdPlan> {
    use sha2::{Digest as _, Sha256};
    let argo = inputs.config.delivery.as_ref()?.argocd.as_ref()?;
    let hash = hex::encode(Sha256::digest(crate::model::tenant_key(namespace, name).as_bytes()));
    Some(ArgoCdPlan {
        namespace: argo.namespace.clone().unwrap_or_else(|| "argocd".to_string()),
        secret_name: format!("tcpc-{name}-{}", &hash[..8]),
        cluster_name: crate::model::tenant_key(namespace, name),
        server: if argo.endpoint.as_deref() == Some("public") { public_url.to_string() } else { service_url.to_string() },
        project: argo.project.clone(),
    })
}

/// The keys of the admin kubeconfig Secret Flux may connect with: the super-admin ones, which
/// `delivery.flux` puts into it (`hardening::super_admin_in_cluster`).
const KUBECONFIG_KEYS: [&str; 2] = ["super-admin.svc", "super-admin.conf"];

/// Checks `delivery` of `tcpc.yaml` (located errors into it).
pub fn check_config(inputs: &Inputs, diags: &mut Diagnostics) {
    check_argocd(inputs, diags);
    let Some(flux) = inputs.config.delivery.as_ref().and_then(|d| d.flux.as_ref()) else { return };
    let Some(doc) = &inputs.config_doc else { return };
    let mut err = |pointer: &str, message: String, label: &str, help: &str| {
        diags.push(Diagnostic::error(message).at(doc.file, doc.span(pointer), label).help(help.to_string()));
    };
    for (pointer, value) in
        [("/delivery/flux/interval", flux.interval.as_deref()), ("/delivery/flux/retryInterval", flux.retry_interval.as_deref())]
    {
        if let Some(v) = value
            && !is_duration(v)
        {
            err(pointer, format!("invalid duration `{v}`"), "expected a Go duration", "write `30s`, `10m` or `1h30m`");
        }
    }
    if let Some(key) = flux.kubeconfig_key.as_deref()
        && !KUBECONFIG_KEYS.contains(&key)
    {
        err(
            "/delivery/flux/kubeconfigKey",
            format!("unknown kubeconfig key `{key}`"),
            "expected `super-admin.svc` or `super-admin.conf`",
            "Flux connects as super-admin (only system:masters can create the tenant's RBAC before it exists): `super-admin.svc` (server: the in-cluster Service) or `super-admin.conf` (the public endpoint)",
        );
    }
    if let Some(path) = flux.path.as_deref()
        && (path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c == ".."))
    {
        err(
            "/delivery/flux/path",
            format!("invalid path `{path}`"),
            "expected a path inside the Git repository",
            "Flux reads paths relative to the repository root: write `./rendered` or `./platform/rendered`",
        );
    }
    let output = inputs.config.output_dir();
    if flux.path.is_none() && (output.starts_with('/') || output.split('/').any(|c| c == "..")) {
        err(
            "/delivery/flux",
            format!("`delivery.flux.path` is needed: the output directory `{output}` lies outside this directory"),
            "path missing",
            "write where Flux finds the output in the Git repository, e.g. `path: ./rendered` (`tcpc install flux` prints it)",
        );
    }
    if let Some(r) = &flux.source_ref {
        for (pointer, value) in
            [("/delivery/flux/sourceRef/name", Some(r.name.as_str())), ("/delivery/flux/sourceRef/namespace", r.namespace.as_deref())]
        {
            if let Some(v) = value
                && !crate::resolve::is_dns1123_label(v)
            {
                err(pointer, format!("invalid name `{v}`"), "not a DNS-1123 label", "Kubernetes names: lower-case letters, digits and `-`");
            }
        }
    }
}

fn check_argocd(inputs: &Inputs, diags: &mut Diagnostics) {
    let Some(argo) = inputs.config.delivery.as_ref().and_then(|d| d.argocd.as_ref()) else { return };
    let Some(doc) = &inputs.config_doc else { return };
    let mut err = |pointer: &str, message: String, label: &str, help: &str| {
        diags.push(Diagnostic::error(message).at(doc.file, doc.span(pointer), label).help(help.to_string()));
    };
    if let Some(ns) = argo.namespace.as_deref()
        && !crate::resolve::is_dns1123_label(ns)
    {
        err(
            "/delivery/argocd/namespace",
            format!("invalid namespace `{ns}`"),
            "not a DNS-1123 label",
            "the namespace Argo CD runs in, e.g. `argocd`",
        );
    }
    if let Some(e) = argo.endpoint.as_deref()
        && !matches!(e, "service" | "public")
    {
        err(
            "/delivery/argocd/endpoint",
            format!("unknown endpoint `{e}`"),
            "expected `service` or `public`",
            "`service`: Argo CD runs in the management cluster and dials the tenant's Service; `public`: it dials the tenant's control-plane endpoint",
        );
    }
    if let Some(p) = argo.project.as_deref()
        && !crate::resolve::is_dns1123_subdomain(p)
    {
        err(
            "/delivery/argocd/project",
            format!("invalid project `{p}`"),
            "not a Kubernetes object name",
            "the name of an Argo CD AppProject, e.g. `tenants`",
        );
    }
}

/// Where Flux finds the output directory in the Git repository: `delivery.flux.path`, else
/// `./<output>` (tcpc.yaml at the root of the Git repository). `None` without `delivery.flux`.
pub fn flux_base(config: &tcpc_spec::Config) -> Option<String> {
    let flux = config.delivery.as_ref()?.flux.as_ref()?;
    let base = flux.path.clone().unwrap_or_else(|| format!("./{}", config.output_dir().trim_start_matches("./")));
    Some(base.trim_end_matches('/').to_string())
}

/// The GitRepository of `delivery.flux.sourceRef`: (name, namespace), defaults `tcpc`,
/// `flux-system` (what `tcpc install flux` creates).
pub fn flux_source(config: &tcpc_spec::Config) -> (String, String) {
    let r = config.delivery.as_ref().and_then(|d| d.flux.as_ref()).and_then(|f| f.source_ref.as_ref());
    (r.map_or("tcpc", |r| r.name.as_str()).to_string(), r.and_then(|r| r.namespace.clone()).unwrap_or_else(|| "flux-system".to_string()))
}

/// The Flux plan of tenant `namespace/name`, when `delivery.flux` is set (checked by [`check_config`]).
pub fn flux_plan(inputs: &Inputs, namespace: &str, name: &str) -> Option<FluxPlan> {
    let flux = inputs.config.delivery.as_ref()?.flux.as_ref()?;
    let base = flux_base(&inputs.config)?;
    let (source_name, source_namespace) = flux_source(&inputs.config);
    Some(FluxPlan {
        path: format!("{base}/{namespace}/{name}/tenant"),
        source_name,
        source_namespace,
        interval: flux.interval.clone().unwrap_or_else(|| "10m".to_string()),
        retry_interval: flux.retry_interval.clone().unwrap_or_else(|| "30s".to_string()),
        kubeconfig_key: flux.kubeconfig_key.clone().unwrap_or_else(|| KUBECONFIG_KEYS[0].to_string()),
    })
}

/// A Go `time.ParseDuration` string of the units Flux users write: `90s`, `10m`, `1h30m`, `1.5h`.
fn is_duration(s: &str) -> bool {
    let mut rest = s;
    let mut any = false;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 || rest[..digits].parse::<f64>().is_err() {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "h", "m", "s"].into_iter().find(|u| rest.starts_with(u));
        let Some(u) = unit else { return false };
        rest = &rest[u.len()..];
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_go_durations() {
        for ok in ["30s", "10m", "1h30m", "1.5h", "500ms"] {
            assert!(super::is_duration(ok), "{ok}");
        }
        for bad in ["", "10", "m", "10x", "-1m", "1h 2m", "1d"] {
            assert!(!super::is_duration(bad), "{bad}");
        }
    }
}
