//! `tcpc.lock`: what was issued and emitted, so an unchanged render needs no secret.
//!
//! Per tenant the lock records, for every PKI artefact, a hash of the *public* inputs it was
//! made from (its certificate spec and its issuer's fingerprint), its validity window and its
//! fingerprint; and for every Secret, a hash of its public inputs, a keyed fingerprint of its
//! plaintext (HMAC with a key held in the encrypted state) and the sealed object last emitted.
//!
//! Invariant: nothing in the lock reveals secret material. Hashes of public inputs are plain
//! SHA-256; anything derived from secret bytes is an HMAC under a key only the state holds.

use std::collections::BTreeMap;

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
        let lock: Lock = match serde_json::from_str(text) {
            Ok(lock) => lock,
            // Hand-edited or older YAML locks are accepted too; the next write makes them JSON.
            Err(json_err) => {
                let docs = tcpc_yaml::parse_stream(text).map_err(|_| format!("invalid lock file: {json_err}"))?;
                let value = docs.first().map(|d| d.root.to_json()).unwrap_or_default();
                serde_json::from_value(value).map_err(|e| format!("invalid lock file: {e}"))?
            }
        };
        if lock.api_version != API_VERSION || lock.kind != KIND {
            return Err(format!("invalid lock file: expected apiVersion {API_VERSION}, kind {KIND}"));
        }
        Ok(lock)
    }

    /// Canonical text of the lock: pretty JSON (one value per line, so diffs stay reviewable),
    /// keys sorted, trailing newline.
    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(&serde_json::to_value(self).expect("lock serialises")).expect("lock serialises");
        s.push('\n');
        s
    }
}
