//! `--tenant NS/NAME` (repeatable, globs) and `--bundle management|tenant`: which part of the
//! output a command looks at. Pure.
//!
//! A filter selects output, never input: every spec is still parsed, resolved and checked (a
//! broken tenant fails a filtered run too), but only the selected tenants' files and lock
//! entries are written, compared or reported. A filtered `render` keeps every other tenant's
//! files and lock entry exactly as they were ([`merge_tree`], [`merge_lock`]).
//!
//! Paths of the output tree belong to a tenant (`<ns>/<tcp>/...`) or are shared (the
//! aggregating kustomizations and `<ns>/namespace.yaml`, part of the management bundle). Shared
//! files are selected only when no `--tenant` is given.

use globset::GlobMatcher;

use crate::emit;
use crate::lock::Lock;
use crate::model::{Bundle, EmittedFile, Tree};

/// What a command looks at. The default selects everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `<ns>/<name>` globs; empty: every tenant.
    tenants: Vec<(String, GlobMatcher)>,
    /// `None`: both bundles.
    pub bundle: Option<Bundle>,
}

/// Where a path of the output tree belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// `<ns>/<tcp>/...`: the tenant's bundle (`None` for `<ns>/<tcp>/kustomization.yaml`,
    /// which only reaches the management bundle).
    Tenant { namespace: &'a str, name: &'a str, bundle: Bundle },
    /// Aggregating kustomizations and Namespace objects.
    Shared,
}

/// The owner of a path of the output tree.
pub fn owner(path: &str) -> Owner<'_> {
    let parts: Vec<&str> = path.splitn(4, '/').collect();
    match parts.as_slice() {
        [ns, tcp, "tenant", _] => Owner::Tenant { namespace: ns, name: tcp, bundle: Bundle::Tenant },
        [ns, tcp, "management", _] | [ns, tcp, "kustomization.yaml"] => {
            Owner::Tenant { namespace: ns, name: tcp, bundle: Bundle::Management }
        }
        _ => Owner::Shared,
    }
}

impl Filter {
    /// Builds a filter from `--tenant` patterns (`<ns>/<name>`, each part a glob).
    pub fn new(patterns: &[String], bundle: Option<Bundle>) -> Result<Filter, String> {
        let mut tenants = Vec::new();
        for p in patterns {
            let Some((ns, name)) = p.split_once('/') else {
                return Err(format!("--tenant: expected <namespace>/<name> (globs allowed, e.g. `tenants/*`), got `{p}`"));
            };
            if ns.is_empty() || name.is_empty() || name.contains('/') {
                return Err(format!("--tenant: expected <namespace>/<name> (globs allowed, e.g. `tenants/*`), got `{p}`"));
            }
            // `*` never crosses the `/` between namespace and name.
            let glob = globset::GlobBuilder::new(p).literal_separator(true).build().map_err(|e| format!("--tenant `{p}`: {e}"))?;
            tenants.push((p.clone(), glob.compile_matcher()));
        }
        Ok(Filter { tenants, bundle })
    }

    /// True when the filter selects everything.
    pub fn is_all(&self) -> bool {
        self.tenants.is_empty() && self.bundle.is_none()
    }

    /// True when `--tenant` was given.
    pub fn by_tenant(&self) -> bool {
        !self.tenants.is_empty()
    }

    /// Whether the tenant `<ns>/<name>` is selected.
    pub fn tenant(&self, key: &str) -> bool {
        self.tenants.is_empty() || self.tenants.iter().any(|(_, g)| g.is_match(key))
    }

    /// Whether a bundle is selected.
    pub fn bundle_selected(&self, bundle: Bundle) -> bool {
        self.bundle.is_none_or(|b| b == bundle)
    }

    /// Whether a path of the output tree is selected.
    pub fn path(&self, path: &str) -> bool {
        match owner(path) {
            Owner::Tenant { namespace, name, bundle } => {
                self.bundle_selected(bundle) && self.tenant(&crate::model::tenant_key(namespace, name))
            }
            Owner::Shared => !self.by_tenant() && self.bundle_selected(Bundle::Management),
        }
    }

    /// The selected part of a tree, with the Namespace object of every namespace whose
    /// management bundle is selected (a stream applied on its own must create it first).
    pub fn tree(&self, tree: &Tree) -> Tree {
        let mut out: Tree = tree.iter().filter(|(p, _)| self.path(p)).map(|(p, t)| (p.clone(), t.clone())).collect();
        let namespaces: std::collections::BTreeSet<String> = out
            .keys()
            .filter_map(|p| match owner(p) {
                Owner::Tenant { namespace, bundle: Bundle::Management, .. } => Some(namespace.to_string()),
                _ => None,
            })
            .collect();
        for ns in namespaces {
            let path = format!("{ns}/{}", emit::NAMESPACE_FILE);
            if let Some(text) = tree.get(&path) {
                out.insert(path, text.clone());
            }
        }
        out
    }

    /// `--tenant` patterns that select no tenant among `keys` (a typo selects nothing; callers
    /// report it rather than silently doing nothing).
    pub fn unmatched<'a>(&self, keys: impl IntoIterator<Item = &'a str> + Clone) -> Vec<String> {
        self.tenants.iter().filter(|(_, g)| !keys.clone().into_iter().any(|k| g.is_match(k))).map(|(p, _)| p.clone()).collect()
    }
}

/// The tree a filtered render writes: the selected tenant files of `new`, every other tenant
/// file of `previous`, and the aggregating kustomizations and Namespace objects laid out again
/// over the result (`namespaces`: the Namespace objects of the compile).
pub fn merge_tree(
    filter: &Filter,
    new: &Tree,
    previous: &Tree,
    namespaces: &std::collections::BTreeMap<String, String>,
    component: &Tree,
) -> Result<Tree, String> {
    if filter.is_all() {
        return Ok(new.clone());
    }
    let mut files = Vec::new();
    let mut take = |tree: &Tree, selected: bool| {
        for (path, text) in tree {
            let parts: Vec<&str> = path.split('/').collect();
            let &[ns, tcp, bundle_dir, file] = parts.as_slice() else { continue };
            let bundle = match bundle_dir {
                "management" => Bundle::Management,
                "tenant" => Bundle::Tenant,
                _ => continue,
            };
            if file == "kustomization.yaml" || filter.path(path) != selected {
                continue;
            }
            files.push(EmittedFile { namespace: ns.into(), tcp: tcp.into(), bundle, file: file.into(), text: text.clone() });
        }
    };
    take(new, true);
    take(previous, false);
    let mut out = emit::layout(files, &Default::default())?;
    // Namespaces of tenants kept from the previous tree are in it, not in this compile.
    let mut ns_objects = namespaces.clone();
    for (path, text) in previous {
        if let Some(ns) = path.strip_suffix(&format!("/{}", emit::NAMESPACE_FILE)).filter(|ns| !ns.contains('/')) {
            ns_objects.entry(ns.to_string()).or_insert_with(|| text.clone());
        }
    }
    emit::add_namespaces(&mut out, ns_objects, &Default::default());
    emit::add_component(&mut out, component);
    Ok(out)
}

/// The lock a filtered render writes: the entries of the selected tenants from `new` (absent
/// there: removed), every other entry from `previous`. `None` when nothing changed.
pub fn merge_lock(filter: &Filter, new: Option<&Lock>, previous: &Lock) -> Option<Lock> {
    let new = new?;
    if !filter.by_tenant() {
        return Some(new.clone());
    }
    let mut out = previous.clone();
    out.tenants.retain(|k, _| !filter.tenant(k));
    for (k, v) in &new.tenants {
        if filter.tenant(k) {
            out.tenants.insert(k.clone(), v.clone());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, &str)]) -> Tree {
        entries.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
    }

    #[test]
    fn selects_tenants_by_glob_and_bundle() {
        let f = Filter::new(&["tenants/mini*".into(), "platform/full".into()], Some(Bundle::Tenant)).unwrap();
        assert!(f.tenant("tenants/minimal"));
        assert!(f.tenant("platform/full"));
        assert!(!f.tenant("tenants/edge"));
        assert!(!f.tenant("tenants/x/minimal"));
        assert!(f.path("tenants/minimal/tenant/configmap-x.yaml"));
        assert!(!f.path("tenants/minimal/management/service-x.yaml"));
        assert!(!f.path("kustomization.yaml"), "shared files only without --tenant");
        let all = Filter::new(&[], Some(Bundle::Management)).unwrap();
        assert!(all.path("kustomization.yaml") && all.path("tenants/namespace.yaml"));
        assert!(all.path("tenants/a/kustomization.yaml"));
        assert!(!all.path("tenants/a/tenant/kustomization.yaml"));
        assert!(Filter::new(&["minimal".into()], None).is_err());
        assert!(Filter::new(&["a/b/c".into()], None).is_err());
        assert_eq!(f.unmatched(["tenants/minimal"]), vec!["platform/full".to_string()]);
    }

    #[test]
    fn filtered_merge_keeps_other_tenants() {
        let f = Filter::new(&["ns/a".into()], None).unwrap();
        let previous = tree(&[("ns/a/management/x.yaml", "old a"), ("ns/b/management/x.yaml", "old b"), ("ns/b/tenant/y.yaml", "old b")]);
        let new = tree(&[("ns/a/management/x.yaml", "new a"), ("ns/b/management/x.yaml", "new b")]);
        let merged = merge_tree(&f, &new, &previous, &Default::default(), &Default::default()).unwrap();
        assert_eq!(merged["ns/a/management/x.yaml"], "new a");
        assert_eq!(merged["ns/b/management/x.yaml"], "old b");
        assert_eq!(merged["ns/b/tenant/y.yaml"], "old b");
        assert!(merged.contains_key("ns/kustomization.yaml") && merged.contains_key("kustomization.yaml"));

        let mut prev_lock = Lock::new();
        prev_lock.tenants.insert("ns/a".into(), Default::default());
        prev_lock.tenants.insert("ns/b".into(), crate::lock::TenantLock { state: "b".into(), ..Default::default() });
        let mut new_lock = Lock::new();
        new_lock.tenants.insert("ns/a".into(), crate::lock::TenantLock { state: "a2".into(), ..Default::default() });
        let merged = merge_lock(&f, Some(&new_lock), &prev_lock).unwrap();
        assert_eq!(merged.tenants["ns/a"].state, "a2");
        assert_eq!(merged.tenants["ns/b"].state, "b", "an unselected tenant's entry stays");
        assert!(merge_lock(&f, None, &prev_lock).is_none());
    }
}
