//! `tcpc.lock`: what was issued and emitted, so an unchanged render needs no secret.
//!
//! Per tenant the lock records, for every PKI artefact, a hash of the *public* inputs it was
//! made from (its certificate spec and its issuer's fingerprint), its validity window and its
//! fingerprint; and for every Secret, a hash of its public inputs, a keyed fingerprint of its
//! plaintext (HMAC with a key held in the encrypted state) and the sealed object last emitted.
//!
//! Invariant: nothing in the lock reveals secret material. Hashes of public inputs are plain
//! SHA-256; anything derived from secret bytes is an HMAC under a key only the state holds.
//!
//! On disk the lock is sharded per tenant ([`LockFiles`]): the root file (`pki.lockFile`,
//! `tcpc.lock`) holds what is fleet-wide, and `<lockFile>.d/<namespace>/<name>.json` each
//! tenant's entry, so a one-tenant change reads and writes one shard, and two branches that
//! change different tenants merge without conflict. A root that still lists `tenants` (the
//! single-file lock of earlier releases) is read as it is and written sharded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub const API_VERSION: &str = tcpc_spec::TCPC_API_VERSION;
pub const KIND: &str = "Lock";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lock {
    pub api_version: String,
    pub kind: String,
    /// Keyed by `<namespace>/<name>`.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantLock>,
    /// Tenants removed with a Tombstone while `teardown.datastore` is on, by `<namespace>/<name>`:
    /// where their data was, so the teardown Job is rendered for as long as the Tombstone stays.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub teardown: BTreeMap<String, DataStoreRecord>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantLock {
    /// SHA-256 of the encrypted state file this entry was written with.
    pub state: String,
    /// The tenant CA bundle (public), for objects that publish it (cluster-info).
    pub ca_bundle: String,
    pub artefacts: BTreeMap<String, ArtefactLock>,
    pub secrets: BTreeMap<String, SecretLock>,
    /// Where the tenant's data lives: a render that would move it elsewhere is refused
    /// (`intent::check_datastore_changes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore: Option<DataStoreRecord>,
}

/// The DataStore a tenant's data is in, as the lock records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataStoreRecord {
    pub name: String,
    pub driver: String,
    /// etcd: the key prefix; SQL: the database; NATS: the bucket.
    pub schema: String,
    /// The user the tenant's setup Job created (SQL, and etcd with a setup Job): what a
    /// teardown drops. Not part of where the data is ([`DataStoreRecord::same_place`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl DataStoreRecord {
    pub fn of(t: &crate::resolve::Tenant) -> Self {
        DataStoreRecord {
            name: t.datastore.name.clone(),
            driver: t.datastore.driver.clone(),
            schema: t.datastore.schema.clone(),
            user: t.datastore.setup().map(|_| t.datastore.user.clone()),
        }
    }

    /// The same DataStore, driver and schema: the tenant's data is where the record says.
    pub fn same_place(&self, other: &DataStoreRecord) -> bool {
        (&self.name, &self.driver, &self.schema) == (&other.name, &other.driver, &other.schema)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtefactLock {
    /// `sha256:` of the public inputs (certificate spec, issuer fingerprint).
    pub inputs: String,
    /// SHA-256 of the certificate DER (or of the public key, for `sa`).
    pub fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Imported (bring-your-own) material is never re-issued by tcpc.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretLock {
    /// `sha256:` of the public inputs (artefact fingerprints, layout, seal target).
    pub inputs: String,
    /// `hmac-sha256:` of the plaintext data under the tenant's state key.
    pub plaintext: String,
    /// The sealed object exactly as emitted, kept as JSON text (it is only ever re-emitted).
    pub object: Box<RawValue>,
}

/// The root file as written: what is not per tenant.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Root<'a> {
    api_version: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    teardown: &'a BTreeMap<String, DataStoreRecord>,
}

impl Lock {
    pub fn new() -> Lock {
        Lock { api_version: API_VERSION.into(), kind: KIND.into(), tenants: BTreeMap::new(), teardown: BTreeMap::new() }
    }

    /// Parses a lock file. The lock is JSON (which is also YAML): it is machine-written,
    /// can be large (it holds every sealed Secret), and JSON parses an order of magnitude faster.
    pub fn parse(text: &str) -> Result<Lock, String> {
        if text.trim().is_empty() {
            return Ok(Lock::new());
        }
        // Hand-edited or older YAML locks are accepted too; the next write makes them JSON.
        let lock: Lock = parse_json_or_yaml(text)?;
        if lock.api_version != API_VERSION || lock.kind != KIND {
            return Err(format!("invalid lock file: expected apiVersion {API_VERSION}, kind {KIND}"));
        }
        Ok(lock)
    }

    /// Canonical text of the whole lock as one file (the single-file format): pretty JSON (one
    /// value per line, so diffs stay reviewable), keys sorted, trailing newline.
    pub fn to_text(&self) -> String {
        pretty(self)
    }

    /// Canonical text of the root file of the sharded lock: everything but the tenants.
    pub fn root_text(&self) -> String {
        pretty(&Root { api_version: &self.api_version, kind: &self.kind, teardown: &self.teardown })
    }
}

/// Canonical text of one tenant's shard: pretty JSON, keys sorted, trailing newline.
pub fn shard_text(entry: &TenantLock) -> String {
    pretty(entry)
}

fn pretty(value: &impl Serialize) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::to_value(value).expect("lock serialises")).expect("lock serialises");
    s.push('\n');
    s
}

/// The directory of the per-tenant shards of the lock at `lock_file`: `<lock_file>.d`.
pub fn shard_dir(lock_file: &Path) -> PathBuf {
    let mut name = lock_file.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".d");
    lock_file.with_file_name(name)
}

/// The shard of tenant `key` (`<namespace>/<name>`), relative to [`shard_dir`].
pub fn shard_path(key: &str) -> String {
    format!("{key}.json")
}

/// The lock as it is on disk: the root file's text and each shard's, by tenant key. What a
/// render compares with before it writes (only shards whose text changes are written) and what
/// the up-to-date stamp hashes.
#[derive(Debug, Default, Clone)]
pub struct LockFiles {
    /// The root file (empty when absent).
    pub root: String,
    /// Each shard's text, by `<namespace>/<name>`.
    pub shards: BTreeMap<String, String>,
}

/// A lock file that does not parse: which file (relative to the lock's directory), its text and why.
#[derive(Debug)]
pub struct LockError {
    pub file: String,
    pub text: String,
    pub message: String,
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// What a render writes to the lock: files and their text, and shards to remove, each with its
/// label in the up-to-date stamp ([`LockFiles::labelled`]).
#[derive(Debug, Default)]
pub struct LockWrite {
    /// (label, path, text).
    pub files: Vec<(String, PathBuf, String)>,
    /// (label, path).
    pub removed: Vec<(String, PathBuf)>,
}

impl LockWrite {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.removed.is_empty()
    }
}

impl LockFiles {
    /// Reads the root file at `lock_file` and every shard under [`shard_dir`] (hidden files,
    /// such as temp files of a killed run, aside). Anything else in the shard directory is an
    /// error: the lock is written by tcpc only.
    pub fn read(lock_file: &Path) -> std::io::Result<LockFiles> {
        Self::read_except(lock_file, |_| false)
    }

    /// [`LockFiles::read`], leaving out the shards of the tenants `skip` names (kept as they
    /// are: `Compiled::kept`).
    pub fn read_except(lock_file: &Path, skip: impl Fn(&str) -> bool) -> std::io::Result<LockFiles> {
        let root = match std::fs::read_to_string(lock_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(std::io::Error::other(format!("reading {}: {e}", lock_file.display()))),
        };
        let mut shards = BTreeMap::new();
        for (key, path) in shard_files(lock_file)?.into_iter().filter(|(k, _)| !skip(k)) {
            let text = std::fs::read_to_string(&path).map_err(|e| std::io::Error::other(format!("reading {}: {e}", path.display())))?;
            shards.insert(key, text);
        }
        Ok(LockFiles { root, shards })
    }

    /// The lock these files hold. `lock_file` names the root in errors (as the user wrote it).
    pub fn parse(&self, lock_file: &str) -> Result<Lock, LockError> {
        let err = |file: String, text: &str, message: String| LockError { file, text: text.to_string(), message };
        let mut lock = Lock::parse(&self.root).map_err(|m| err(lock_file.to_string(), &self.root, m))?;
        if !lock.tenants.is_empty() && !self.shards.is_empty() {
            return Err(err(
                lock_file.to_string(),
                &self.root,
                format!("lists tenants, and {lock_file}.d holds tenant shards too: one lock, two places"),
            ));
        }
        // Shards are independent: parsed on every core (at 10,000 tenants they are ~500 MB).
        let shards: Vec<(&String, &String)> = self.shards.iter().collect();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(shards.len().max(1));
        let chunk = shards.len().div_ceil(workers).max(1);
        let parsed: Vec<Result<(String, TenantLock), LockError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = shards
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(key, text)| {
                                let file = format!("{lock_file}.d/{}", shard_path(key));
                                parse_json_or_yaml::<TenantLock>(text).map(|e| ((*key).clone(), e)).map_err(|m| err(file, text, m))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("lock parser panicked")).collect()
        });
        for entry in parsed {
            let (key, entry) = entry?;
            lock.tenants.insert(key, entry);
        }
        Ok(lock)
    }

    /// The lock files of `new` that differ from these ones: the root, the shards of `changed`
    /// tenants (all of them when these files are the single-file format, or `changed` is
    /// `None`) whose text differs, and the shards of tenants `new` no longer has.
    pub fn plan(&self, lock_file: &Path, new: &Lock, changed: Option<&std::collections::BTreeSet<String>>) -> LockWrite {
        let mut w = LockWrite::default();
        // A root listing tenants is the single-file format; with shards beside it, `parse` refused it.
        let legacy = self.shards.is_empty() && Lock::parse(&self.root).is_ok_and(|l| !l.tenants.is_empty());
        let root = new.root_text();
        if root != self.root {
            w.files.push(("lock".into(), lock_file.to_path_buf(), root));
        }
        let dir = shard_dir(lock_file);
        for (key, entry) in &new.tenants {
            if legacy || changed.is_none_or(|c| c.contains(key)) || !self.shards.contains_key(key) {
                let text = shard_text(entry);
                if self.shards.get(key) != Some(&text) {
                    w.files.push((format!("lock/{key}"), dir.join(shard_path(key)), text));
                }
            }
        }
        w.removed =
            self.shards.keys().filter(|k| !new.tenants.contains_key(*k)).map(|k| (format!("lock/{k}"), dir.join(shard_path(k)))).collect();
        w
    }

    /// Each file as the up-to-date stamp labels it (`lock`, `lock/<namespace>/<name>`), with its text.
    pub fn labelled(&self) -> impl Iterator<Item = (String, &str)> {
        std::iter::once(("lock".to_string(), self.root.as_str())).chain(self.shards.iter().map(|(k, t)| (format!("lock/{k}"), t.as_str())))
    }
}

/// Every shard under [`shard_dir`] of `lock_file`, as (tenant key, path), sorted by key; hidden
/// entries skipped. An absent directory has none.
pub fn shard_files(lock_file: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let dir = shard_dir(lock_file);
    let mut out = Vec::new();
    let unexpected = |p: &Path| {
        std::io::Error::other(format!(
            "{}: not a tenant's lock shard (<namespace>/<name>.json); tcpc writes this directory, nobody edits it",
            p.display()
        ))
    };
    let namespaces = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(std::io::Error::other(format!("reading {}: {e}", dir.display()))),
    };
    for ns in namespaces {
        let ns = ns?;
        let ns_name = ns.file_name().to_string_lossy().into_owned();
        if ns_name.starts_with('.') {
            continue;
        }
        if !ns.file_type()?.is_dir() {
            return Err(unexpected(&ns.path()));
        }
        for file in std::fs::read_dir(ns.path())? {
            let file = file?;
            let name = file.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match name.strip_suffix(".json") {
                Some(tenant) if file.file_type()?.is_file() && !tenant.is_empty() => out.push((format!("{ns_name}/{tenant}"), file.path())),
                _ => return Err(unexpected(&file.path())),
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads and parses the lock at `lock_file` (root and shards).
pub fn read(lock_file: &Path) -> Result<Lock, String> {
    let files = LockFiles::read(lock_file).map_err(|e| e.to_string())?;
    let shown = lock_file.file_name().map_or_else(|| lock_file.display().to_string(), |n| n.to_string_lossy().into_owned());
    files.parse(&shown).map_err(|e| e.to_string())
}

/// JSON, or (hand-edited, older) YAML.
fn parse_json_or_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(json_err) => {
            let docs = tcpc_yaml::parse_stream(text).map_err(|_| format!("invalid lock file: {json_err}"))?;
            let value = docs.first().map(|d| d.root.to_json()).unwrap_or_default();
            serde_json::from_value(value).map_err(|e| format!("invalid lock file: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: &str) -> TenantLock {
        TenantLock { state: state.into(), ca_bundle: format!("bundle of {state}\n"), ..Default::default() }
    }

    fn lock(entries: &[(&str, &str)]) -> Lock {
        let mut l = Lock::new();
        for (k, s) in entries {
            l.tenants.insert(k.to_string(), entry(s));
        }
        l
    }

    /// Writes `w` as the commit would (files, then removals).
    fn write(w: &LockWrite) {
        for (_, path, text) in &w.files {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        for (_, path) in &w.removed {
            std::fs::remove_file(path).unwrap();
        }
    }

    fn written(w: &LockWrite) -> Vec<&str> {
        w.files.iter().map(|(l, ..)| l.as_str()).chain(w.removed.iter().map(|(l, _)| l.as_str())).collect()
    }

    #[test]
    fn a_sharded_lock_round_trips_and_a_change_writes_only_its_shard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tcpc.lock");
        let mut first = lock(&[("ns/a", "1"), ("ns/b", "1"), ("other/c", "1")]);
        first
            .teardown
            .insert("ns/gone".into(), DataStoreRecord { name: "d".into(), driver: "etcd".into(), schema: "s".into(), user: None });
        let w = LockFiles::default().plan(&path, &first, None);
        assert_eq!(written(&w), ["lock", "lock/ns/a", "lock/ns/b", "lock/other/c"]);
        write(&w);
        assert!(dir.path().join("tcpc.lock.d/ns/a.json").is_file() && !std::fs::read_to_string(&path).unwrap().contains("\"tenants\""));
        let files = LockFiles::read(&path).unwrap();
        assert_eq!(files.parse("tcpc.lock").unwrap().to_text(), first.to_text(), "the shards read back as the lock written");

        // b changed, c removed, d added: exactly those shards; the root is left alone.
        let mut second = first.clone();
        second.tenants.insert("ns/b".into(), entry("2"));
        second.tenants.remove("other/c");
        second.tenants.insert("ns/d".into(), entry("1"));
        let changed = std::collections::BTreeSet::from(["ns/b".to_string()]);
        let w = files.plan(&path, &second, Some(&changed));
        assert_eq!(written(&w), ["lock/ns/b", "lock/ns/d", "lock/other/c"]);
        write(&w);
        assert_eq!(LockFiles::read(&path).unwrap().parse("tcpc.lock").unwrap().to_text(), second.to_text());
        // Nothing changed: nothing written, even when every entry is compared.
        assert!(LockFiles::read(&path).unwrap().plan(&path, &second, None).is_empty());
    }

    #[test]
    fn a_single_file_lock_is_read_and_written_sharded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tcpc.lock");
        let old = lock(&[("ns/a", "1"), ("ns/b", "1")]);
        std::fs::write(&path, old.to_text()).unwrap();
        let files = LockFiles::read(&path).unwrap();
        assert_eq!(files.parse("tcpc.lock").unwrap().to_text(), old.to_text());
        // No entry changed, yet every one moves to its shard and the root loses them.
        let w = files.plan(&path, &old, Some(&Default::default()));
        assert_eq!(written(&w), ["lock", "lock/ns/a", "lock/ns/b"]);
        write(&w);
        let files = LockFiles::read(&path).unwrap();
        assert_eq!(files.parse("tcpc.lock").unwrap().to_text(), old.to_text());
        assert!(files.plan(&path, &old, None).is_empty());
    }

    #[test]
    fn two_places_and_stray_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tcpc.lock");
        write(&LockFiles::default().plan(&path, &lock(&[("ns/a", "1")]), None));
        // A root listing tenants beside shards (a bad merge of an old and a new lock).
        std::fs::write(&path, lock(&[("ns/b", "1")]).to_text()).unwrap();
        let e = LockFiles::read(&path).unwrap().parse("tcpc.lock").unwrap_err();
        assert!(e.file == "tcpc.lock" && e.message.contains("two places"), "{e}");
        std::fs::write(&path, Lock::new().root_text()).unwrap();
        // A shard that does not parse is named by its own path.
        std::fs::write(dir.path().join("tcpc.lock.d/ns/a.json"), "{\"state\": 1}").unwrap();
        let e = LockFiles::read(&path).unwrap().parse("tcpc.lock").unwrap_err();
        assert_eq!(e.file, "tcpc.lock.d/ns/a.json", "{e}");
        // Hidden files (a killed run's temp file) are skipped; anything else is refused.
        std::fs::write(dir.path().join("tcpc.lock.d/ns/.a.json.tcpc-tmp-1"), "torn").unwrap();
        std::fs::write(dir.path().join("tcpc.lock.d/ns/a.json"), shard_text(&entry("1"))).unwrap();
        assert_eq!(LockFiles::read(&path).unwrap().shards.len(), 1);
        for stray in ["tcpc.lock.d/ns/a.yaml", "tcpc.lock.d/top.json"] {
            std::fs::write(dir.path().join(stray), "{}").unwrap();
            let e = LockFiles::read(&path).unwrap_err();
            assert!(e.to_string().contains("not a tenant's lock shard"), "{stray}: {e}");
            std::fs::remove_file(dir.path().join(stray)).unwrap();
        }
    }
}
