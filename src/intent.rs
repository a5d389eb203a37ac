//! Destruction is explicit: what the user allowed for one run, and the check that a tenant
//! recorded in `tcpc.lock` does not vanish from the output unnoticed.
//!
//! A tenant can disappear from the inputs for many reasons that are not a decision — a
//! misspelt `kind`, an `exclude` glob, a deleted or unreadable file — and removing its output
//! makes a GitOps prune delete a running control plane. So a render whose inputs lack a
//! tenant the lock records fails, naming it, unless `--allow-removal NS/NAME` or a tombstone
//! in the repository (`apiVersion: tcpc.dev/v1alpha1`, `kind: Tombstone`, `metadata.name` and
//! `metadata.namespace` of the tenant; reviewed in Git like any change) says so. Its encrypted
//! state is kept: adding the tenant back reuses its keys (its CA stays).
//!
//! Invariant: pure; the decision depends only on the lock, the rendered tenants and the intent.

use std::collections::BTreeSet;

use crate::diag::{Diagnostic, Diagnostics};
use crate::lock::Lock;

/// What the user explicitly asked for on the command line; nothing here is ever inferred.
#[derive(Debug, Default, Clone)]
pub struct Intent {
    /// `--allow-removal NS/NAME`: tenants whose output (and lock entry) may go.
    pub allow_removal: BTreeSet<String>,
    /// `tcpc rotate ca NS/NAME`: tenants whose CAs and service-account key are re-keyed.
    pub rotate_ca: BTreeSet<String>,
    /// `tcpc rotate sa-key NS/NAME`: tenants whose service-account key rotation takes its next
    /// step (`pki::sa_rotation`), and `--min-overlap`: how long the old key must have verified
    /// since it stopped signing before it is retired.
    pub rotate_sa: BTreeSet<String>,
    pub sa_min_overlap: time::Duration,
}

impl Intent {
    /// Nothing asked beyond rendering what the files say.
    pub fn is_empty(&self) -> bool {
        self.allow_removal.is_empty() && self.rotate_ca.is_empty() && self.rotate_sa.is_empty()
    }
}

/// TenantControlPlane annotation acknowledging a DataStore move: the name of the DataStore the
/// tenant's data was migrated from.
pub const DATASTORE_MIGRATED_FROM: &str = "tcpc.dev/datastore-migrated-from";

/// Errors for tenants whose DataStore (name, driver or schema) differs from the one the lock
/// records, unless the TenantControlPlane acknowledges the move with
/// [`DATASTORE_MIGRATED_FROM`] naming the recorded DataStore: a control plane pointed at another
/// DataStore starts empty, and the tenant cluster's objects are gone.
pub fn check_datastore_changes(lock: &Lock, tenants: &[crate::resolve::Tenant], inputs: &crate::parse::Inputs) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for t in tenants {
        let key = t.key();
        let Some(prev) = lock.tenants.get(&key).and_then(|l| l.datastore.as_ref()) else { continue };
        let now = crate::lock::DataStoreRecord::of(t);
        if prev.same_place(&now) {
            continue;
        }
        let default_ns = inputs.config.default_namespace();
        let Some(doc) = inputs
            .tcps
            .iter()
            .find(|d| d.value.metadata.name == t.name && d.value.metadata.namespace.as_deref().unwrap_or(default_ns) == t.namespace)
        else {
            continue;
        };
        let annotations = doc.value.metadata.annotations.as_ref();
        if annotations.and_then(|a| a.get(DATASTORE_MIGRATED_FROM)).is_some_and(|v| *v == prev.name) {
            continue;
        }
        let spec = &doc.value.spec;
        let pointer = if prev.name != now.name || prev.driver != now.driver {
            if spec.data_store.is_some() { "/spec/dataStore" } else { "/spec" }
        } else if spec.data_store_schema.is_some() {
            "/spec/dataStoreSchema"
        } else {
            "/metadata/name"
        };
        diags.push(
            Diagnostic::error(format!(
                "TenantControlPlane {key} would move from DataStore `{}` ({}, `{}`) to `{}` ({}, `{}`)",
                prev.name, prev.driver, prev.schema, now.name, now.driver, now.schema
            ))
            .at(doc.file, doc.span(pointer), "its data is not there")
            .note("tcpc.lock records where the tenant's data is; the control plane would start empty on the new DataStore and every object of the tenant cluster would be gone")
            .help(format!(
                "migrate the data first (block writes with `spec.writePermissions`, copy the keys, e.g. with Kamaji's migrate Job or `etcdctl`), then acknowledge the move on the TenantControlPlane: `metadata.annotations: {{{DATASTORE_MIGRATED_FROM}: {}}}`",
                prev.name
            )),
        );
    }
    diags
}

/// Errors for tenants recorded in `lock` but absent from `present`, unless allowed, and for
/// intents naming unknown tenants; report lines for the allowed removals.
pub fn check_removals(lock: &Lock, present: &[String], intent: &Intent, tombstones: &[String]) -> (Diagnostics, Vec<String>) {
    let mut diags = Diagnostics::default();
    let mut report = Vec::new();
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    for name in lock.tenants.keys() {
        if present.contains(name.as_str()) {
            continue;
        }
        let why = if intent.allow_removal.contains(name) {
            Some("--allow-removal")
        } else if tombstones.contains(name) {
            Some("tombstone")
        } else {
            None
        };
        if let Some(why) = why {
            report.push(format!("{name}: removed ({why}); its encrypted state is kept, so adding it back reuses its keys"));
            continue;
        }
        diags.push(
            Diagnostic::error(format!("TenantControlPlane {name} is recorded in tcpc.lock but no longer found in the inputs"))
                .note("rendering without it would delete its manifests, and a GitOps prune would delete its control plane")
                .note("it may be excluded by `exclude`, its file deleted, or its `apiVersion`/`kind` misspelt (see the warnings above)")
                .help(format!(
                    "if the removal is intended, pass `--allow-removal {name}`, or commit a tombstone: `{{apiVersion: tcpc.dev/v1alpha1, kind: Tombstone, metadata: {{namespace: {ns}, name: {n}}}}}`",
                    ns = name.split('/').next().unwrap_or_default(),
                    n = name.split('/').nth(1).unwrap_or_default()
                )),
        );
    }
    for name in &intent.allow_removal {
        if present.contains(name.as_str()) {
            diags.push(Diagnostic::error(format!("--allow-removal {name}: this TenantControlPlane is still in the inputs")));
        } else if !lock.tenants.contains_key(name) {
            diags.push(Diagnostic::error(format!("--allow-removal {name}: tcpc.lock records no such TenantControlPlane")));
        }
    }
    for name in tombstones {
        if present.contains(name.as_str()) {
            diags.push(
                Diagnostic::error(format!("a Tombstone names {name}, which is still in the inputs"))
                    .help("delete the tombstone, or the TenantControlPlane"),
            );
        }
    }
    for (what, names) in [("rotate ca", &intent.rotate_ca), ("rotate sa-key", &intent.rotate_sa)] {
        for name in names {
            if !present.contains(name.as_str()) {
                diags.push(
                    Diagnostic::error(format!("{what} {name}: no such TenantControlPlane in the inputs"))
                        .help("name it as <namespace>/<name>"),
                );
            }
        }
    }
    for name in intent.rotate_ca.intersection(&intent.rotate_sa) {
        diags.push(
            Diagnostic::error(format!("rotate ca and rotate sa-key both name {name}"))
                .help("`rotate ca` re-keys the service-account key too; run one, then the other"),
        );
    }
    (diags, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(names: &[&str]) -> Lock {
        let mut l = Lock::new();
        for n in names {
            l.tenants.insert(n.to_string(), Default::default());
        }
        l
    }

    #[test]
    fn rotations_name_tenants_of_the_inputs_and_not_both_at_once() {
        let l = lock(&["ns/a"]);
        let intent = Intent { rotate_sa: ["ns/a".to_string(), "ns/gone".to_string()].into(), ..Default::default() };
        let (d, _) = check_removals(&l, &["ns/a".into()], &intent, &[]);
        assert_eq!(d.error_count(), 1);
        assert!(d.iter().next().unwrap().message.contains("rotate sa-key ns/gone"));
        let both = Intent { rotate_ca: ["ns/a".to_string()].into(), rotate_sa: ["ns/a".to_string()].into(), ..Default::default() };
        let (d, _) = check_removals(&l, &["ns/a".into()], &both, &[]);
        assert!(d.iter().any(|d| d.message.contains("rotate ca and rotate sa-key both name ns/a")), "{d:?}");
    }

    #[test]
    fn a_vanished_tenant_fails_unless_allowed() {
        let l = lock(&["ns/a", "ns/b"]);
        let (d, r) = check_removals(&l, &["ns/a".into()], &Intent::default(), &[]);
        assert_eq!(d.error_count(), 1);
        assert!(d.iter().next().unwrap().message.contains("ns/b"));
        assert!(r.is_empty());
        let intent = Intent { allow_removal: ["ns/b".to_string()].into(), ..Default::default() };
        let (d, r) = check_removals(&l, &["ns/a".into()], &intent, &[]);
        assert!(!d.has_errors());
        assert_eq!(r.len(), 1);
        // Allowing what is present or unknown is a mistake worth reporting.
        let intent = Intent { allow_removal: ["ns/a".to_string(), "ns/zz".to_string()].into(), ..Default::default() };
        let (d, _) = check_removals(&l, &["ns/a".into(), "ns/b".into()], &intent, &[]);
        assert_eq!(d.error_count(), 2);
        // A tombstone in the repository allows it too, and must not name a present tenant.
        let (d, r) = check_removals(&l, &["ns/a".into()], &Intent::default(), &["ns/b".into()]);
        assert!(!d.has_errors());
        assert!(r[0].contains("(tombstone)"));
        let (d, _) = check_removals(&l, &["ns/a".into(), "ns/b".into()], &Intent::default(), &["ns/a".into()]);
        assert_eq!(d.error_count(), 1);
    }
}
