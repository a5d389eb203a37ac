//! What a render would change, for people and for bots: `tcpc diff`, the failure report of
//! `tcpc check`, and `--format json` of check, diff and validate. Pure: the IO edge hands in the
//! tree on disk, the tree a render would write, both locks and the clock.
//!
//! Every change is attributed: to a tenant (`<ns>/<name>`), an object (kind, namespace, name)
//! and its file in the output tree, and a cause — the input file the object was rendered from
//! (its `tcpc.dev/source` annotation, else the tenant's spec file). The JSON schema is
//! documented in `docs/json-output.md` and checked in as `docs/report.schema.json`; it only
//! grows (new optional fields), and `schemaVersion` changes if anything else ever does.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use similar::TextDiff;

use crate::filter::{Filter, Owner, owner};
use crate::lock::Lock;
use crate::model::Tree;

pub const SCHEMA_VERSION: u32 = 1;

/// How an object changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

impl ChangeKind {
    fn sign(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Changed => '~',
            ChangeKind::Removed => '-',
        }
    }
}

/// The Kubernetes identity of a changed object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

/// One file of the tree, or one lock entry, that a render would change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// `<ns>/<name>`, or `None` for files shared by tenants (aggregating kustomizations,
    /// Namespace objects) and lock-wide changes.
    pub tenant: Option<String>,
    /// `management` or `tenant`; `None` for lock entries.
    pub bundle: Option<&'static str>,
    /// `None` for kustomizations and lock entries.
    pub object: Option<ObjectRef>,
    /// The file, relative to the output directory, or `tcpc.lock` (the lock's file name).
    pub file: String,
    pub change: ChangeKind,
    /// The input file that caused it, relative to the repository; `None` when no single file
    /// did (an aggregating kustomization).
    pub cause: Option<String>,
    /// Unified diff of the file (or of the tenant's lock entry, as pretty JSON).
    pub diff: String,
}

/// A tenant left as it was because it needs new key material and no identity was given.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub tenant: String,
    pub cause: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryStatus {
    Ok,
    Warn,
    Fail,
}

/// A certificate recorded in the lock, with its expiry judged against `check.warnDays` /
/// `check.failDays`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    pub tenant: String,
    /// The artefact name in the lock (`apiserver`, `ca`, …).
    pub certificate: String,
    /// RFC 3339.
    pub not_after: String,
    pub days_left: i64,
    pub status: ExpiryStatus,
}

/// The whole review of one run.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub changes: Vec<Change>,
    pub pending: Vec<Pending>,
    pub certificates: Vec<Certificate>,
}

/// What the IO edge hands [`review`].
pub struct Inputs<'a> {
    pub on_disk: &'a Tree,
    pub new: &'a Tree,
    pub old_lock: &'a Lock,
    /// The lock's root file as read (its shards are compared entry by entry).
    pub old_lock_root: &'a str,
    /// The lock a render would write (`None`: unchanged).
    pub new_lock: Option<&'a Lock>,
    /// File name of the lock, for [`Change::file`].
    pub lock_file: &'a str,
    pub filter: &'a Filter,
    pub pending: &'a [crate::Pending],
}

/// `tcpc.dev/source` of an emitted object, read from its canonical YAML text.
pub fn source_of(text: &str) -> Option<String> {
    let prefix = format!("{}: ", crate::SOURCE_ANNOTATION);
    text.lines().find_map(|l| l.trim_start().strip_prefix(&prefix)).map(|v| {
        let v = v.trim();
        if v.starts_with('"') {
            serde_json::from_str::<String>(v).unwrap_or_else(|_| v.to_string())
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            inner.replace("''", "'")
        } else {
            v.to_string()
        }
    })
}

/// Kind, apiVersion, namespace and name of an emitted object (`None` for a kustomization or
/// anything unreadable).
fn object_ref(text: &str) -> Option<ObjectRef> {
    let docs = tcpc_yaml::parse_stream(text).ok()?;
    let v = docs.first()?.root.to_json();
    let s = |p: &str| v.pointer(p).and_then(serde_json::Value::as_str).map(str::to_string);
    let kind = s("/kind")?;
    if kind == "Kustomization" && s("/apiVersion").is_some_and(|a| a.starts_with("kustomize.config.k8s.io/")) {
        return None;
    }
    Some(ObjectRef { api_version: s("/apiVersion")?, kind, namespace: s("/metadata/namespace"), name: s("/metadata/name")? })
}

fn unified(a: &str, b: &str, old_name: Option<&str>, new_name: Option<&str>) -> String {
    let ha = old_name.map_or_else(|| "/dev/null".to_string(), |p| format!("a/{p}"));
    let hb = new_name.map_or_else(|| "/dev/null".to_string(), |p| format!("b/{p}"));
    TextDiff::from_lines(a, b).unified_diff().context_radius(3).header(&ha, &hb).to_string()
}

/// Compares what is on disk with what a render would write, restricted to `filter`.
pub fn review(i: &Inputs<'_>) -> Review {
    // Each tenant's spec file, from any of its objects (new first, then old).
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    for tree in [i.new, i.on_disk] {
        for (path, text) in tree {
            if let Owner::Tenant { namespace, name, .. } = owner(path) {
                let key = crate::model::tenant_key(namespace, name);
                if !sources.contains_key(&key)
                    && let Some(s) = source_of(text)
                {
                    sources.insert(key, s);
                }
            }
        }
    }
    let mut changes = Vec::new();
    let paths: BTreeSet<&String> = i.on_disk.keys().chain(i.new.keys()).collect();
    for path in paths.into_iter().filter(|p| i.filter.path(p)) {
        let (old, new) = (i.on_disk.get(path), i.new.get(path));
        let change = match (old, new) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(_), Some(_)) => ChangeKind::Changed,
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (None, None) => continue,
        };
        let text = new.or(old).map_or("", String::as_str);
        let (tenant, bundle) = match owner(path) {
            Owner::Tenant { namespace, name, bundle } => (Some(crate::model::tenant_key(namespace, name)), Some(bundle.dir())),
            Owner::Shared => (None, Some(crate::model::Bundle::Management.dir())),
        };
        let cause = source_of(text).or_else(|| tenant.as_ref().and_then(|t| sources.get(t).cloned()));
        let diff =
            unified(old.map_or("", String::as_str), new.map_or("", String::as_str), old.map(|_| path.as_str()), new.map(|_| path.as_str()));
        changes.push(Change { tenant, bundle, object: object_ref(text), file: path.clone(), change, cause, diff });
    }
    // The lock, entry by entry.
    if let Some(new_lock) = i.new_lock {
        // The very lock read (nothing changed): no entry to compare, only the root's format.
        let same = std::ptr::eq(new_lock, i.old_lock);
        let keys: BTreeSet<&String> =
            if same { BTreeSet::new() } else { i.old_lock.tenants.keys().chain(new_lock.tenants.keys()).collect() };
        let pretty = |l: Option<&crate::lock::TenantLock>| l.map(crate::lock::shard_text);
        let mut any_entry = false;
        for key in keys.into_iter().filter(|k| i.filter.tenant(k)) {
            let (a, b) = (pretty(i.old_lock.tenants.get(key)), pretty(new_lock.tenants.get(key)));
            let change = match (&a, &b) {
                (Some(a), Some(b)) if a == b => continue,
                (Some(_), Some(_)) => ChangeKind::Changed,
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (None, None) => continue,
            };
            any_entry = true;
            let name = format!("{}.d/{}", i.lock_file, crate::lock::shard_path(key));
            let diff = unified(
                a.as_deref().unwrap_or_default(),
                b.as_deref().unwrap_or_default(),
                a.as_ref().map(|_| name.as_str()),
                b.as_ref().map(|_| name.as_str()),
            );
            changes.push(Change {
                tenant: Some(key.clone()),
                bundle: None,
                object: None,
                file: name.clone(),
                change,
                cause: sources.get(key).cloned(),
                diff,
            });
        }
        // The root file: teardown records, or the single-file lock of earlier releases (its
        // entries move to shards).
        let new_text = new_lock.root_text();
        if !any_entry && !i.filter.by_tenant() && new_text != i.old_lock_root {
            let change = if i.old_lock_root.is_empty() { ChangeKind::Added } else { ChangeKind::Changed };
            let diff = unified(i.old_lock_root, &new_text, Some(i.lock_file), Some(i.lock_file));
            changes.push(Change { tenant: None, bundle: None, object: None, file: i.lock_file.to_string(), change, cause: None, diff });
        }
    }
    changes.sort_by(|a, b| (&a.tenant, a.bundle.is_none(), &a.file).cmp(&(&b.tenant, b.bundle.is_none(), &b.file)));
    let pending = i
        .pending
        .iter()
        .map(|p| (crate::model::tenant_key(&p.namespace, &p.name), p))
        .filter(|(k, _)| i.filter.tenant(k))
        .map(|(tenant, p)| Pending { cause: sources.get(&tenant).cloned(), tenant, message: p.message.clone() })
        .collect();
    Review { changes, pending, certificates: Vec::new() }
}

/// Every certificate the lock records (selected tenants only), judged against the thresholds.
pub fn certificates(lock: &Lock, filter: &Filter, now: time::OffsetDateTime, warn_days: i64, fail_days: i64) -> Vec<Certificate> {
    let mut out = Vec::new();
    for (tenant, t) in lock.tenants.iter().filter(|(k, _)| filter.tenant(k)) {
        for (name, a) in &t.artefacts {
            let Some(text) = a.not_after.as_deref() else { continue };
            let Ok(not_after) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) else { continue };
            let days_left = (not_after - now).whole_days();
            let status = if days_left < fail_days {
                ExpiryStatus::Fail
            } else if days_left < warn_days {
                ExpiryStatus::Warn
            } else {
                ExpiryStatus::Ok
            };
            out.push(Certificate { tenant: tenant.clone(), certificate: name.clone(), not_after: text.to_string(), days_left, status });
        }
    }
    out
}

impl Review {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The report for people: changes grouped by tenant, then by object, each naming its cause
    /// and followed by its unified diff (coloured when `color`).
    pub fn text(&self, output_dir: &str, color: bool) -> String {
        use std::fmt::Write as _;
        let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
        let mut out = String::new();
        let mut current: Option<Option<&String>> = None;
        for c in &self.changes {
            if current != Some(c.tenant.as_ref()) {
                current = Some(c.tenant.as_ref());
                let head = match &c.tenant {
                    Some(t) => format!("tenant {t}"),
                    None => "shared by all tenants".to_string(),
                };
                let _ = writeln!(out, "{}", paint("1", &head));
            }
            let what = match (&c.object, c.bundle) {
                (Some(o), Some(b)) => format!(
                    "{} {}{} ({b} bundle, {output_dir}/{})",
                    o.kind,
                    o.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default(),
                    o.name,
                    c.file
                ),
                (None, Some(b)) => format!("{output_dir}/{} ({b} bundle)", c.file),
                (_, None) => match &c.tenant {
                    Some(t) => format!("{} entry {t}", c.file),
                    None => c.file.clone(),
                },
            };
            let cause = c.cause.as_deref().map(|f| format!(" <- {f}")).unwrap_or_default();
            let verb = match c.change {
                ChangeKind::Added => "added",
                ChangeKind::Changed => "changed",
                ChangeKind::Removed => "removed",
            };
            let _ = writeln!(out, "  {} {verb}: {what}{cause}", c.change.sign());
            for line in c.diff.lines() {
                let painted = if line.starts_with("+++") || line.starts_with("---") {
                    paint("1", line)
                } else if line.starts_with('+') {
                    paint("32", line)
                } else if line.starts_with('-') {
                    paint("31", line)
                } else if line.starts_with("@@") {
                    paint("36", line)
                } else {
                    line.to_string()
                };
                let _ = writeln!(out, "    {painted}");
            }
        }
        for p in &self.pending {
            let cause = p.cause.as_deref().map(|f| format!(" <- {f}")).unwrap_or_default();
            let _ = writeln!(out, "tenant {} needs the identity{cause}: {}", p.tenant, p.message);
        }
        out
    }

    /// `n objects in m tenants would change`.
    pub fn summary(&self) -> String {
        let tenants: BTreeSet<_> = self.changes.iter().filter_map(|c| c.tenant.as_ref()).collect();
        let n = self.changes.len();
        format!(
            "{n} {} in {} {} would change",
            if n == 1 { "file or lock entry" } else { "files or lock entries" },
            tenants.len(),
            if tenants.len() == 1 { "tenant" } else { "tenants" }
        )
    }
}

/// The machine-readable report (`--format json`), see `docs/json-output.md`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    pub schema_version: u32,
    /// `check`, `diff` or `validate`.
    pub command: &'a str,
    /// `ok`, `stale`, `needs-identity`, `expiring` or `invalid`.
    pub status: &'a str,
    pub exit_code: u8,
    /// Every selected tenant, sorted.
    pub tenants: Vec<TenantSummary>,
    pub changes: &'a [Change],
    pub pending: &'a [Pending],
    pub certificates: &'a [Certificate],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    pub tenant: String,
    /// Its spec file.
    pub source: Option<String>,
}

/// The selected tenants of a tree with their spec files.
pub fn tenants(tree: &Tree, filter: &Filter) -> Vec<TenantSummary> {
    let mut out: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (path, text) in tree {
        if let Owner::Tenant { namespace, name, .. } = owner(path) {
            let key = crate::model::tenant_key(namespace, name);
            if filter.tenant(&key) {
                let e = out.entry(key).or_default();
                if e.is_none() {
                    *e = source_of(text);
                }
            }
        }
    }
    out.into_iter().map(|(tenant, source)| TenantSummary { tenant, source }).collect()
}

/// The selected tenants of a compile with their spec files: those in its tree and those a
/// previous render vouched for (`Compiled::vouched`).
pub fn tenants_of(compiled: &crate::Compiled, filter: &Filter) -> Vec<TenantSummary> {
    let mut all: BTreeMap<String, Option<String>> = tenants(&compiled.tree, filter).into_iter().map(|t| (t.tenant, t.source)).collect();
    for (tenant, source) in compiled.vouched.iter().filter(|(t, _)| filter.tenant(t)) {
        all.insert(tenant.clone(), Some(source.clone()));
    }
    all.into_iter().map(|(tenant, source)| TenantSummary { tenant, source }).collect()
}

impl Report<'_> {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("reports serialise");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_source_annotations() {
        assert_eq!(source_of("metadata:\n  annotations:\n    tcpc.dev/source: tenants/a.yaml\n").as_deref(), Some("tenants/a.yaml"));
        assert_eq!(source_of("    tcpc.dev/source: \"a b: c.yaml\"\n").as_deref(), Some("a b: c.yaml"));
        assert_eq!(source_of("    tcpc.dev/source: 'it''s.yaml'\n").as_deref(), Some("it's.yaml"));
        assert_eq!(source_of("kind: X\n"), None);
    }

    #[test]
    fn attributes_changes_to_tenants_objects_and_causes() {
        let obj = |name: &str, v: &str| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    tcpc.dev/source: tenants/{name}.yaml\n  name: {name}\n  namespace: ns\ndata:\n  v: '{v}'\n"
            )
        };
        let t = |e: &[(&str, String)]| e.iter().map(|(p, t)| (p.to_string(), t.clone())).collect::<Tree>();
        let old = t(&[("ns/a/tenant/configmap-a.yaml", obj("a", "1")), ("ns/b/tenant/configmap-b.yaml", obj("b", "1"))]);
        let new = t(&[("ns/a/tenant/configmap-a.yaml", obj("a", "2")), ("ns/b/tenant/configmap-b.yaml", obj("b", "1"))]);
        let lock = Lock::new();
        let filter = Filter::default();
        let r = review(&Inputs {
            on_disk: &old,
            new: &new,
            old_lock: &lock,
            old_lock_root: "",
            new_lock: None,
            lock_file: "tcpc.lock",
            filter: &filter,
            pending: &[],
        });
        assert_eq!(r.changes.len(), 1);
        let c = &r.changes[0];
        assert_eq!(c.tenant.as_deref(), Some("ns/a"));
        assert_eq!(c.cause.as_deref(), Some("tenants/a.yaml"));
        assert_eq!(c.object.as_ref().map(|o| o.kind.as_str()), Some("ConfigMap"));
        assert!(c.diff.contains("-  v: '1'") && c.diff.contains("+  v: '2'"), "{}", c.diff);
        let text = r.text("out", false);
        assert!(
            text.contains("tenant ns/a\n  ~ changed: ConfigMap ns/a (tenant bundle, out/ns/a/tenant/configmap-a.yaml) <- tenants/a.yaml"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
        assert!(r.text("out", true).contains("\x1b[32m+"));
    }
}
