//! PKI stage: decides, per tenant, which certificates must be (re-)issued, issues them, builds
//! the Secrets the control plane mounts and seals them for the cluster — reusing the sealed
//! objects recorded in the lock whenever their inputs are unchanged.
//!
//! The decision needs only public information (the lock and the resolved tenant), so a render
//! with unchanged inputs needs no identity and produces byte-identical output. Only when
//! something must be issued or re-sealed is the age identity used to open the tenant's state.
//!
//! Invariants: pure (time, randomness, identities and state files are handed in); private keys
//! only exist in zeroizing buffers and leave this module sealed or age-encrypted; messages name
//! artefacts, never their content.

use std::collections::BTreeMap;

use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tcpc_pki::{Artefact, Issued, Issuer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::lock::{ArtefactLock, TenantLock};
use crate::model::Rendered;
use crate::resolve::Tenant;

pub mod sa_rotation;
mod secrets;
mod tenant;

pub use secrets::{companion_issuance, companion_secrets};
pub use tenant::{cert_specs, tenant_pki};

/// The artefacts the companion issues in the cluster under `rotation: companion`: every leaf the
/// tenant's CA or front-proxy CA signs and the control plane mounts, and the admin kubeconfig.
/// The CAs, the service-account key, the DataStore's client certificate (its CA belongs to the
/// DataStore) and `super-admin` (kept in Git) stay tcpc's.
pub const COMPANION_ISSUED: [Artefact; 7] = [
    Artefact::Apiserver,
    Artefact::ApiserverKubeletClient,
    Artefact::FrontProxyClient,
    Artefact::Admin,
    Artefact::ControllerManager,
    Artefact::Scheduler,
    Artefact::Konnectivity,
];

/// How Secrets are sealed for the cluster.
pub enum Sealer {
    SealedSecrets { cert: tcpc_seal::sealedsecrets::ControllerCert, scope: tcpc_seal::sealedsecrets::Scope, cert_sha256: String },
    Sops { recipients: Vec<age::x25519::Recipient>, recipient_strings: Vec<String> },
}

impl Sealer {
    /// A public identity of the seal target: changing it re-seals everything.
    fn id(&self) -> String {
        match self {
            Sealer::SealedSecrets { scope, cert_sha256, .. } => format!("sealedsecrets:{}:{cert_sha256}", scope.as_str()),
            Sealer::Sops { recipient_strings, .. } => format!("sops:{}", recipient_strings.join(",")),
        }
    }
}

/// What the PKI stage is handed from the IO edge.
pub struct PkiEnv<'a> {
    pub now: OffsetDateTime,
    pub identities: &'a [age::x25519::Identity],
    /// Encrypted state files by key (`tenants/<ns>/<tcp>`, `datastores/<name>`).
    pub states: &'a BTreeMap<String, String>,
    /// age recipients new state is encrypted to.
    pub recipients: &'a [String],
    pub sealer: &'a Sealer,
    pub renew_before_fraction: f64,
    /// Tenants (`<ns>/<name>`) whose CAs and service-account key are re-keyed on request
    /// (`tcpc rotate ca`); no other path re-keys them.
    pub rotate_ca: &'a std::collections::BTreeSet<String>,
    /// Tenants whose service-account key rotation takes its next step (`tcpc rotate sa-key`),
    /// and how long the old key must have verified before it is retired.
    pub rotate_sa: &'a std::collections::BTreeSet<String>,
    pub sa_min_overlap: time::Duration,
}

/// The trust roots of a tenant: re-keyed only by `tcpc rotate ca`, never as a side effect.
const ROOTS: &[Artefact] = &[Artefact::Ca, Artefact::FrontProxyCa, Artefact::EtcdCa, Artefact::Sa];

/// A tenant's key material, as stored (age-encrypted) in the state directory.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantState {
    /// Artefact name → certificate PEM (absent for `sa`) and private key PEM.
    pub artefacts: BTreeMap<String, StoredPair>,
    /// Extra certificates to publish with an imported CA (its chain up to the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_chain: Option<String>,
    /// The CA was imported (`tcpc import ca`): tcpc never re-issues it.
    #[serde(default)]
    pub imported_ca: bool,
    /// 32 random bytes (hex) keying this tenant's lock fingerprints.
    pub fingerprint_secret: String,
    /// MySQL and PostgreSQL DataStores: the password of the tenant's own database user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore_password: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredPair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    pub key: String,
}

impl Drop for TenantState {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for pair in self.artefacts.values_mut() {
            pair.key.zeroize();
        }
        self.fingerprint_secret.zeroize();
        self.datastore_password.zeroize();
    }
}

/// A DataStore's CA, imported with `tcpc import datastore-ca`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataStoreState {
    pub cert: String,
    /// Empty when only the certificate was imported (kine DataStores verify the server with it).
    #[serde(default)]
    pub key: String,
}

impl Drop for DataStoreState {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key.zeroize();
    }
}

pub fn tenant_state_key(t: &Tenant) -> String {
    format!("tenants/{}/{}", t.namespace, t.name)
}

pub fn datastore_state_key(name: &str) -> String {
    format!("datastores/{name}")
}

/// The admin credentials of a MySQL, PostgreSQL or NATS DataStore, imported with
/// `tcpc import datastore-credentials` (what its `basicAuth` Secret references hold).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataStoreCredentials {
    pub username: String,
    pub password: String,
}

impl Drop for DataStoreCredentials {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.username.zeroize();
        self.password.zeroize();
    }
}

pub fn datastore_credentials_key(name: &str) -> String {
    format!("datastore-credentials/{name}")
}

/// The client certificate and key a kine DataStore's `tlsConfig.clientCertificate` references,
/// imported with `tcpc import datastore-client-certificate` (a [`DataStoreState`] pair): each
/// tenant's kine presents it to the database server.
pub fn datastore_client_certificate_key(name: &str) -> String {
    format!("datastore-client-certificate/{name}")
}

/// A kine DataStore's CA certificate, imported with `tcpc import datastore-ca NAME --cert` when the
/// spec references it in a Secret (the state of an etcd DataStore also holds the key).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataStoreCaCert {
    cert: String,
}

/// Characters of generated database passwords: URL- and shell-safe, so they travel in kine's
/// endpoint URL as they are.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A 32-character password (about 190 bits), drawn uniformly by rejection sampling.
fn generate_password(rng: &mut (impl RngCore + CryptoRng)) -> String {
    let mut out = String::with_capacity(32);
    let limit = 256 - 256 % PASSWORD_ALPHABET.len();
    while out.len() < 32 {
        let mut b = [0u8; 1];
        rng.fill_bytes(&mut b);
        if (b[0] as usize) < limit {
            out.push(PASSWORD_ALPHABET[b[0] as usize % PASSWORD_ALPHABET.len()] as char);
        }
    }
    out
}

/// The PKI stage's result for one tenant.
pub struct TenantPkiOutput {
    pub secrets: Vec<Rendered>,
    /// Checksum of the fingerprints the pod mounts (rolls the Deployment when they change).
    pub pod_checksum: String,
    /// A dedicated etcd: the checksum of its certificates (rolls its members when they change).
    pub etcd_checksum: Option<String>,
    /// Base64 of the tenant CA bundle (for cluster-info in the tenant bundle).
    pub ca_cert_b64: String,
    /// The tenant's new lock entry; `None` when it is unchanged.
    pub lock: Option<TenantLock>,
    /// New encrypted state to write, when it changed.
    pub new_state: Option<String>,
    /// What was (re-)issued or re-sealed, and why — for the user.
    pub report: Vec<String>,
}

/// Why the PKI stage of one tenant did not complete.
#[derive(Debug)]
pub enum PkiError {
    /// New key material is due but no identity was given. Not a failure of the run: the
    /// tenant is left as it was, every other tenant renders. The message lists what is due.
    NeedsIdentity(String),
    Failed(String),
}

impl From<String> for PkiError {
    fn from(e: String) -> Self {
        PkiError::Failed(e)
    }
}

/// Artefacts whose fingerprints the control-plane pod mounts.
const MOUNTED: &[Artefact] = &[
    Artefact::Ca,
    Artefact::FrontProxyCa,
    Artefact::Apiserver,
    Artefact::ApiserverKubeletClient,
    Artefact::FrontProxyClient,
    Artefact::DatastoreClient,
    Artefact::ControllerManager,
    Artefact::Scheduler,
    Artefact::Sa,
];

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Why an artefact needs issuing, if it does.
fn reason(prev: Option<&ArtefactLock>, inputs: &str, now: OffsetDateTime, fraction: f64) -> Option<String> {
    let Some(prev) = prev else { return Some("new".into()) };
    if prev.imported {
        return None;
    }
    if prev.inputs != inputs {
        return Some("its inputs changed".into());
    }
    let parse =
        |s: &Option<String>| s.as_deref().and_then(|v| OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok());
    if let (Some(nb), Some(na)) = (parse(&prev.not_before), parse(&prev.not_after)) {
        let life = na - nb;
        if na - now < life * fraction {
            return Some(format!("less than {:.0}% of its lifetime is left", fraction * 100.0));
        }
    }
    None
}

/// The PKI crate's algorithm for the spec's (the same five, spelt alike).
fn key_algorithm(a: tcpc_spec::pki::KeyAlgorithm) -> tcpc_pki::KeyAlgorithm {
    use tcpc_spec::pki::KeyAlgorithm as Spec;
    match a {
        Spec::EcdsaP256 => tcpc_pki::KeyAlgorithm::EcdsaP256,
        Spec::EcdsaP384 => tcpc_pki::KeyAlgorithm::EcdsaP384,
        Spec::Rsa2048 => tcpc_pki::KeyAlgorithm::Rsa2048,
        Spec::Rsa3072 => tcpc_pki::KeyAlgorithm::Rsa3072,
        Spec::Rsa4096 => tcpc_pki::KeyAlgorithm::Rsa4096,
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).expect("formats")
}

fn issuer<'a>(issued: &BTreeMap<Artefact, Issued>, cache: &'a mut BTreeMap<Artefact, Issuer>, a: Artefact) -> Result<&'a Issuer, String> {
    if let std::collections::btree_map::Entry::Vacant(e) = cache.entry(a) {
        let i = issued.get(&a).ok_or_else(|| format!("{a} missing"))?.to_issuer().map_err(|e| e.to_string())?;
        e.insert(i);
    }
    Ok(&cache[&a])
}

fn decode_secret(hex_secret: &str) -> Result<[u8; 32], String> {
    let bytes = Zeroizing::new(hex::decode(hex_secret).map_err(|_| "corrupt state: fingerprint secret".to_string())?);
    bytes.as_slice().try_into().map_err(|_| "corrupt state: fingerprint secret".to_string())
}

fn decrypt_json<T: for<'de> Deserialize<'de>>(armored: &str, identities: &[age::x25519::Identity]) -> Result<T, String> {
    let plain = tcpc_seal::state::decrypt_with_identities(armored, identities).map_err(|e| e.to_string())?;
    serde_json::from_slice(&plain).map_err(|_| "the decrypted state is not valid".to_string())
}

/// `kine`: the DataStore fingerprint of a kine tenant, whose pod reads the datastore-config Secret;
/// `sa_extra`: the fingerprint of the second verifying service-account key during a rotation.
fn pod_checksum(fingerprints: &BTreeMap<Artefact, String>, kine: Option<&str>, sa_extra: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(k) = kine {
        text.push_str("kine=");
        text.push_str(k);
        text.push('\n');
    }
    for a in MOUNTED {
        if let Some(fp) = fingerprints.get(a) {
            text.push_str(a.as_str());
            text.push('=');
            text.push_str(fp);
            text.push('\n');
        }
    }
    if let Some(fp) = sa_extra {
        text.push_str("sa-extra=");
        text.push_str(fp);
        text.push('\n');
    }
    sha256(text.as_bytes())
}

/// A dedicated etcd's members mount its CA, server and peer certificates.
fn etcd_checksum(fingerprints: &BTreeMap<Artefact, String>, dedicated: bool) -> Option<String> {
    dedicated.then(|| {
        let text: String = [Artefact::EtcdCa, Artefact::EtcdServer, Artefact::EtcdPeer]
            .iter()
            .map(|a| format!("{a}={}\n", fingerprints.get(a).map_or("", String::as_str)))
            .collect();
        sha256(text.as_bytes())
    })
}

#[cfg(test)]
mod password_tests {
    use rand_core::SeedableRng as _;

    #[test]
    fn generated_passwords_are_32_alphanumerics_and_differ() {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
        let a = super::generate_password(&mut rng);
        let b = super::generate_password(&mut rng);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_algorithms_are_spelt_alike() {
        for &a in tcpc_spec::pki::KeyAlgorithm::ALL {
            assert_eq!(key_algorithm(a).as_str(), a.as_str());
        }
    }
}
