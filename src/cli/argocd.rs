//! Plugin mode: `tcpc render --stdout` run by Argo CD's config-management plugin server
//! (`argocd-cmp-server`, see `tcpc install argocd-plugin`).
//!
//! Plugin mode is on when `ARGOCD_APP_NAME` is set (Argo CD sets it for every generate run).
//! Then tcpc
//! - takes its selection from `ARGOCD_APP_PARAMETERS` (JSON), else `PARAM_TENANTS_<i>` /
//!   `PARAM_BUNDLE`, else `ARGOCD_ENV_TCPC_TENANTS` (comma- or space-separated) /
//!   `ARGOCD_ENV_TCPC_BUNDLE`; command-line flags win over all of them;
//! - writes nothing: no state, no lock, no tree, and never issues key material (an identity in
//!   its environment is an error: what it issued would be lost and churn on every sync);
//! - prints only Kubernetes objects on stdout, all at once at the end, and everything else on
//!   stderr; any error (invalid input, a tenant that needs new key material, an empty
//!   selection) exits non-zero with nothing on stdout — Argo CD would prune every tenant on an
//!   empty stream;
//! - refuses to print a plaintext `Secret` (Argo CD caches generated manifests in Redis).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use tcpc::emit;
use tcpc::filter::Filter;
use tcpc::intent::Intent;
use tcpc::repo_lock::{self, Locks};

use crate::{BundleArg, Failure, Mode, load_and_compile, lock_dir};

/// Whether this process runs as Argo CD's plugin.
pub fn active() -> bool {
    std::env::var_os("ARGOCD_APP_NAME").is_some()
}

/// The selection Argo CD passed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub tenants: Vec<String>,
    pub bundle: Option<BundleArg>,
}

fn bundle_arg(v: &str, from: &str) -> Result<Option<BundleArg>, String> {
    match v.trim() {
        "" => Ok(None),
        "management" => Ok(Some(BundleArg::Management)),
        "tenant" => Ok(Some(BundleArg::Tenant)),
        "all" => Ok(Some(BundleArg::All)),
        other => Err(format!("{from}: bundle must be `management`, `tenant` or `all`, got `{other}`")),
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split([',', ' ', '\n', '\t']).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Reads the plugin parameters from the environment Argo CD sets. Pure.
pub fn params(env: &BTreeMap<String, String>) -> Result<Params, String> {
    // Argo CD sets `ARGOCD_APP_PARAMETERS=null` for an Application without parameters (its
    // parameter list marshalled as JSON): no parameters, like an unset variable.
    if let Some(json) = env.get("ARGOCD_APP_PARAMETERS").filter(|j| !matches!(j.trim(), "" | "null")) {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Param {
            name: String,
            #[serde(default)]
            string: Option<String>,
            #[serde(default)]
            array: Option<Vec<String>>,
            #[serde(default)]
            map: Option<BTreeMap<String, String>>,
        }
        let list: Vec<Param> = serde_json::from_str(json).map_err(|e| format!("ARGOCD_APP_PARAMETERS is not a parameter list: {e}"))?;
        let mut p = Params::default();
        for param in list {
            match param.name.as_str() {
                "tenants" => {
                    p.tenants = match (param.array, param.string) {
                        (Some(a), _) => a.into_iter().filter(|s| !s.trim().is_empty()).collect(),
                        (None, Some(s)) => split_list(&s),
                        (None, None) => Vec::new(),
                    }
                }
                "bundle" => p.bundle = bundle_arg(param.string.as_deref().unwrap_or_default(), "ARGOCD_APP_PARAMETERS")?,
                other => {
                    let _ = param.map;
                    return Err(format!("ARGOCD_APP_PARAMETERS: unknown parameter `{other}` (tcpc knows `tenants` and `bundle`)"));
                }
            }
        }
        return Ok(p);
    }
    let mut p = Params::default();
    let mut indexed: BTreeMap<usize, String> = BTreeMap::new();
    for (k, v) in env {
        if let Some(i) = k.strip_prefix("PARAM_TENANTS_").and_then(|i| i.parse::<usize>().ok()) {
            indexed.insert(i, v.clone());
        }
    }
    if !indexed.is_empty() {
        p.tenants = indexed.into_values().filter(|s| !s.trim().is_empty()).collect();
    } else if let Some(v) = env.get("PARAM_TENANTS") {
        p.tenants = split_list(v);
    } else if let Some(v) = env.get("ARGOCD_ENV_TCPC_TENANTS") {
        p.tenants = split_list(v);
    }
    p.bundle = match (env.get("PARAM_BUNDLE"), env.get("ARGOCD_ENV_TCPC_BUNDLE")) {
        (Some(v), _) => bundle_arg(v, "PARAM_BUNDLE")?,
        (None, Some(v)) => bundle_arg(v, "ARGOCD_ENV_TCPC_BUNDLE")?,
        (None, None) => None,
    };
    Ok(p)
}

/// Refuses a plaintext Secret among the files about to be printed.
fn plaintext_secret(tree: &tcpc::model::Tree) -> Option<&str> {
    tree.iter()
        .find(|(_, text)| text.lines().any(|l| l == "kind: Secret") && !text.lines().any(|l| l.starts_with("sops:")))
        .map(|(p, _)| p.as_str())
}

/// `tcpc render --stdout` in plugin mode. `tenants`/`bundle`: the command line's, which win
/// over Argo CD's parameters.
pub fn generate(
    dir: &Path,
    tenants: Vec<String>,
    bundle: Option<BundleArg>,
    identity: Option<&Path>,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let p = params(&env).map_err(Failure::Io)?;
    let tenants = if tenants.is_empty() { p.tenants } else { tenants };
    let bundle = bundle.or(p.bundle).unwrap_or(BundleArg::Management);
    if identity.is_some() || env.contains_key("TCPC_AGE_IDENTITY") || env.contains_key("TCPC_AGE_IDENTITY_FILE") {
        return Err(Failure::Io(
            "plugin mode never issues key material (it could not commit it): remove the age identity from the plugin's environment and run `tcpc render --identity FILE` in CI".into(),
        ));
    }
    let filter = Filter::new(&tenants, bundle.single()).map_err(Failure::Io)?;
    eprintln!(
        "tcpc: Argo CD application {} (revision {}, path {})",
        env.get("ARGOCD_APP_NAME").map_or("?", String::as_str),
        env.get("ARGOCD_APP_REVISION").map_or("?", String::as_str),
        env.get("ARGOCD_APP_SOURCE_PATH").map_or("?", String::as_str)
    );
    if !dir.is_dir() {
        return Err(Failure::Io(format!("{} is not a directory", dir.display())));
    }
    let mut locks = Locks::default();
    lock_dir(&mut locks, dir, repo_lock::Mode::Shared, timeout)?;
    if tcpc::commit::pending(dir) {
        return Err(Failure::Io(format!(
            "an interrupted render left a pending commit ({}): commit a complete render",
            tcpc::commit::JOURNAL
        )));
    }
    let (repo, compiled) =
        load_and_compile(dir, Mode::Render { identity: None, intent: &Intent::default(), write: None, output: None, incremental: false })?;
    crate::check_filter(&filter, &compiled)?;
    let pending: Vec<_> =
        compiled.pending.iter().filter(|p| filter.tenant(&tcpc::model::tenant_key(&p.namespace, &p.name))).cloned().collect();
    if !pending.is_empty() {
        crate::report_pending(&pending, compiled.tenants, dir, "cannot be generated");
        eprintln!("error: refusing to generate a partial manifest list: render with the identity in CI and commit");
        return Err(Failure::NeedsIdentity);
    }
    let new_lock = compiled.lock.as_ref().unwrap_or(&repo.lock);
    if !repo.lock_files.plan(&repo.lock_path, new_lock, Some(&compiled.lock_changed)).is_empty() {
        eprintln!("warning: {} is stale (run `tcpc render` and commit it); the manifests are complete", repo.lock_path.display());
    }
    let selected = filter.tree(&compiled.tree);
    if let Some(path) = plaintext_secret(&selected) {
        return Err(Failure::Io(format!("refusing to print a plaintext Secret ({path}): configure `sealing` in tcpc.yaml")));
    }
    let text = emit::stream(&selected, bundle.bundles());
    if text.is_empty() {
        return Err(Failure::Io(
            "the selection renders no object: refusing to print an empty manifest list (Argo CD would prune everything)".into(),
        ));
    }
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))?;
    eprintln!("tcpc: {} object(s)", text.matches("\n---\n").count() + 1);
    Ok(())
}

/// `tcpc plugin parameters`: the parameters announced to Argo CD's UI (the `dynamic`
/// parameters command of plugin.yaml), with every TenantControlPlane of the repository.
pub fn announce(dir: &Path) -> Result<(), Failure> {
    let (_, compiled) = load_and_compile(dir, Mode::Validate { full: false })?;
    let all = tcpc::review::tenants_of(&compiled, &Filter::default());
    let tenants: Vec<String> = all.into_iter().map(|t| t.tenant).collect();
    let json = serde_json::json!([
        {
            "name": "tenants",
            "title": "TenantControlPlanes to render (NS/NAME, globs; empty: all)",
            "tooltip": format!("{} in this repository: {}", tenants.len(), tenants.join(", ")),
            "collectionType": "array",
            "array": tenants,
        },
        {
            "name": "bundle",
            "title": "Bundle: management (this cluster), tenant (join objects) or all",
            "collectionType": "string",
            "string": "management",
        }
    ]);
    let mut out = serde_json::to_string(&json).expect("serialises");
    out.push('\n');
    std::io::stdout().lock().write_all(out.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_parameters_in_argo_order() {
        let p = params(&env(&[
            ("ARGOCD_APP_PARAMETERS", r#"[{"name":"tenants","array":["tenants/*"]},{"name":"bundle","string":"tenant"}]"#),
            ("PARAM_BUNDLE", "management"),
        ]))
        .unwrap();
        assert_eq!(p, Params { tenants: vec!["tenants/*".into()], bundle: Some(BundleArg::Tenant) });
        let p = params(&env(&[("PARAM_TENANTS_1", "b/b"), ("PARAM_TENANTS_0", "a/a"), ("ARGOCD_ENV_TCPC_TENANTS", "x/x")])).unwrap();
        assert_eq!(p.tenants, ["a/a", "b/b"]);
        let p = params(&env(&[("ARGOCD_ENV_TCPC_TENANTS", "a/a, b/*"), ("ARGOCD_ENV_TCPC_BUNDLE", "all")])).unwrap();
        assert_eq!(p, Params { tenants: vec!["a/a".into(), "b/*".into()], bundle: Some(BundleArg::All) });
        assert!(params(&env(&[("PARAM_BUNDLE", "both")])).is_err());
        assert!(params(&env(&[("ARGOCD_APP_PARAMETERS", r#"[{"name":"tenant","string":"a/a"}]"#)])).is_err());
        assert!(params(&env(&[("ARGOCD_APP_PARAMETERS", "{")])).is_err());
        // No parameters in the Application: Argo CD passes `null`; the plugin env still selects.
        let p = params(&env(&[("ARGOCD_APP_PARAMETERS", "null"), ("ARGOCD_ENV_TCPC_BUNDLE", "tenant")])).unwrap();
        assert_eq!(p, Params { tenants: vec![], bundle: Some(BundleArg::Tenant) });
    }
}
