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
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tcpc_pki::{Artefact, CertInfo, Issued, Issuer, IssuerRef, PrivateKey, TenantPkiParams, Validity};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::lock::{ArtefactLock, SecretLock, TenantLock};
use crate::model::{Bundle, Rendered};
use crate::resolve::Tenant;

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

/// One Secret: its name, component label and keys (key → which artefact and part it holds).
struct SecretPlan {
    name: String,
    component: &'static str,
    inputs: String,
}

/// Runs the PKI stage for one tenant.
pub fn tenant_pki(
    t: &Tenant,
    prev: Option<&TenantLock>,
    env: &PkiEnv<'_>,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TenantPkiOutput, PkiError> {
    let who = t.key();
    let key_alg = key_algorithm(t.pki.key_algorithm);
    let mut params = TenantPkiParams::new(&t.name, &t.namespace);
    params.service_dns_names = t.service_dns_names.clone();
    params.cluster_domain = t.cluster_domain.clone();
    params.service_ips = t.kubernetes_service_ips.clone();
    params.advertise_address = t.advertise_address.as_deref().and_then(|a| a.parse().ok());
    params.cert_sans = t.cert_sans.clone();
    params.key_algorithm = key_alg;
    params.leaf_validity = Validity::Days(t.pki.leaf_validity_days);
    params.ca_validity = Validity::Days(t.pki.ca_validity_days);
    params.datastore_user = Some(t.datastore.user.clone());
    let dedicated = t.datastore.dedicated.as_ref();
    params.dedicated_etcd = dedicated.map(|d| d.dns_names.clone());
    let mut specs = tcpc_pki::tenant_cert_specs(&params).map_err(|e| format!("{who}: {e}"))?;
    if t.konnectivity.is_none() {
        specs.remove(&Artefact::Konnectivity);
    }
    let kine = t.datastore.kine.as_ref();
    if kine.is_some() {
        // kine authenticates with the tenant's database user, not with a certificate.
        specs.remove(&Artefact::DatastoreClient);
    }

    let state_key = tenant_state_key(t);
    let state_text = env.states.get(&state_key);
    let state_hash = state_text.map(|s| sha256(s.as_bytes()));
    let rotate = env.rotate_ca.contains(&who);
    // A lock entry whose state is gone: refuse rather than re-key silently.
    if prev.is_some() && state_text.is_none() && !rotate {
        return Err(PkiError::Failed(format!(
            "{who}: tcpc.lock records this tenant, but its encrypted state ({state_key}.age) is missing\nhelp: restore it from Git; to re-key the tenant on purpose, run `tcpc rotate ca {who} --identity FILE`"
        )));
    }
    // State the lock does not describe (the lock lost its entry, the tenant is re-added, or the
    // state is newer than the lock): the state is the truth — open it and keep its key material.
    let adopt = state_text.is_some() && prev.is_none_or(|p| Some(&p.state) != state_hash.as_ref());
    let mut opened: Option<TenantState> = None;
    let mut adopted_notes: Vec<String> = Vec::new();
    let mut adopted: BTreeMap<Artefact, String> = BTreeMap::new();
    if adopt {
        if env.identities.is_empty() {
            // A failure, not a pending tenant: without its lock entry nothing of the tenant could be
            // kept, and the render must not drop it from the tree.
            return Err(PkiError::Failed(format!(
                "{who}: its encrypted state is not the one tcpc.lock records (the lock lost its entry, or the state is newer); opening it requires the age identity\nhelp: pass `--identity FILE`, or set TCPC_AGE_IDENTITY_FILE (a path) or TCPC_AGE_IDENTITY (the identity itself)"
            )));
        }
        let st: TenantState = decrypt_json(state_text.expect("adopt implies a state"), env.identities)
            .map_err(|e| format!("{who}: cannot open the state: {e}"))?;
        for a in specs.keys().copied().chain([Artefact::Sa]) {
            let Some(pair) = st.artefacts.get(a.as_str()) else { continue };
            let fp = match &pair.cert {
                Some(cert) => {
                    format!("sha256:{}", CertInfo::parse(cert).map_err(|e| format!("{who}: state: {a}: {e}"))?.sha256_fingerprint_hex)
                }
                None => sha256(&PrivateKey::from_pem(&pair.key).map_err(|e| format!("{who}: state: {a}: {e}"))?.public_key_der()),
            };
            adopted.insert(a, fp);
        }
        opened = Some(st);
    }
    let ds_key = datastore_state_key(&t.datastore.name);
    let ds_state_text = env.states.get(&ds_key);
    let creds_text = env.states.get(&datastore_credentials_key(&t.datastore.name));
    let client_text = env.states.get(&datastore_client_certificate_key(&t.datastore.name));
    let ds = &t.datastore.name;
    match kine {
        None if dedicated.is_none() && ds_state_text.is_none() => {
            return Err(PkiError::Failed(format!(
                "{who}: the CA of DataStore `{ds}` has not been imported; run `tcpc import datastore-ca {ds} --cert CA.crt --key CA.key`"
            )));
        }
        Some(k) if k.shared_credentials && creds_text.is_none() => {
            return Err(PkiError::Failed(format!(
                "{who}: the credentials of DataStore `{ds}` have not been imported; run `tcpc import datastore-credentials {ds} --username USER --password-file FILE`"
            )));
        }
        Some(k) if k.client_certificate && client_text.is_none() => {
            return Err(PkiError::Failed(format!(
                "{who}: DataStore `{ds}` has a client certificate, and it has not been imported; run `tcpc import datastore-client-certificate {ds} --cert CLIENT.crt --key CLIENT.key`"
            )));
        }
        Some(k) if k.tls && k.ca_pem.is_none() && ds_state_text.is_none() => {
            return Err(PkiError::Failed(format!(
                "{who}: DataStore `{ds}` references its CA certificate in a Secret, and it has not been imported; run `tcpc import datastore-ca {ds} --cert CA.crt` (or put the certificate inline as `content`: it is public)"
            )));
        }
        _ => {}
    }
    // Everything the tenant's DataStore Secrets are made from, as one public fingerprint.
    let ds_fingerprint = match kine {
        // The tenant's own etcd CA signs its client certificate: its fingerprint is the input.
        None if dedicated.is_some() => String::new(),
        None => sha256(ds_state_text.map_or("", String::as_str).as_bytes()),
        Some(k) => sha256(
            format!(
                "{}\n{}\n{}{}",
                if k.shared_credentials { creds_text.map_or("", String::as_str) } else { "" },
                if k.tls && k.ca_pem.is_none() { ds_state_text.map_or("", String::as_str) } else { "" },
                if k.client_certificate { format!("{}\n", client_text.map_or("", String::as_str)) } else { String::new() },
                serde_json::to_string(k).expect("kine plan serialises")
            )
            .as_bytes(),
        ),
    };

    // Decide, in issuance order (CAs first): the inputs of a leaf include its issuer's
    // fingerprint, so a re-issued CA re-issues everything it signed.
    let mut fingerprints: BTreeMap<Artefact, String> = BTreeMap::new();
    let mut due: BTreeMap<Artefact, String> = BTreeMap::new();
    let order: Vec<Artefact> = specs.keys().copied().chain([Artefact::Sa]).collect();
    let input_of = |a: Artefact, fingerprints: &BTreeMap<Artefact, String>| -> String {
        let issuer_fp = match a.issuer() {
            IssuerRef::Ca => fingerprints.get(&Artefact::Ca).cloned().unwrap_or_default(),
            IssuerRef::FrontProxyCa => fingerprints.get(&Artefact::FrontProxyCa).cloned().unwrap_or_default(),
            IssuerRef::DatastoreCa if dedicated.is_none() => ds_fingerprint.clone(),
            IssuerRef::DatastoreCa | IssuerRef::EtcdCa => fingerprints.get(&Artefact::EtcdCa).cloned().unwrap_or_default(),
            IssuerRef::SelfSigned | IssuerRef::None => String::new(),
        };
        let spec_json = match specs.get(&a) {
            Some(spec) => serde_json::to_string(spec).expect("spec serialises"),
            None => format!("{{\"sa\":\"{key_alg}\"}}"),
        };
        sha256(format!("{spec_json}\n{issuer_fp}").as_bytes())
    };
    for a in &order {
        let input = input_of(*a, &fingerprints);
        let root = ROOTS.contains(a);
        // When adopting, a lock record counts only if it describes what the state holds.
        let prev_a = prev.and_then(|p| p.artefacts.get(a.as_str())).filter(|p| !adopt || adopted.get(a) == Some(&p.fingerprint));
        let why = if rotate && root {
            Some("re-key requested (tcpc rotate ca)".to_string())
        } else if adopt && prev_a.is_none() {
            match adopted.get(a) {
                Some(_) if root => None,
                Some(_) => Some("the lock does not record the certificate the state holds".to_string()),
                None => Some("missing from the state".to_string()),
            }
        } else {
            reason(prev_a, &input, env.now, env.renew_before_fraction)
        };
        if let Some(w) = &why
            && root
            && !rotate
            && (prev_a.is_some() || adopted.contains_key(a))
        {
            return Err(PkiError::Failed(format!(
                "{who}: {a} would have to be re-keyed ({w}); trust roots are re-keyed only on request\nhelp: run `tcpc rotate ca {who} --identity FILE` (every client of the tenant must then trust the new CA)"
            )));
        }
        if why.is_none()
            && let Some(fp) = adopted.get(a)
        {
            if prev_a.is_none() {
                adopted_notes.push(format!("{who}: kept {a} from the state (the lock did not record it)"));
            }
            fingerprints.insert(*a, fp.clone());
            continue;
        }
        match why {
            Some(why) => {
                due.insert(*a, why);
                // Placeholder until issued: dependents see their issuer as changed.
                fingerprints.insert(*a, format!("pending:{input}"));
            }
            None => {
                fingerprints.insert(*a, prev_a.map(|p| p.fingerprint.clone()).unwrap_or_default());
            }
        }
    }

    let secrets = secret_plans(t, &fingerprints, &ds_fingerprint, env.sealer);
    let all_reusable = !adopt
        && due.is_empty()
        && prev.is_some_and(|p| secrets.iter().all(|s| p.secrets.get(&s.name).is_some_and(|l| l.inputs == s.inputs)));
    if all_reusable {
        let p = prev.expect("checked above");
        crate::lock_check::check_ca_bundle(
            &p.ca_bundle,
            p.artefacts.get("ca").map(|a| a.fingerprint.as_str()),
            &format!("tcpc.lock: tenants.\"{who}\""),
        )?;
        let objects = secrets
            .iter()
            .map(|s| {
                let object = serde_json::from_str(p.secrets[&s.name].object.get()).map_err(|e| format!("{who}: corrupt lock: {e}"))?;
                let entry = format!("tcpc.lock: tenants.\"{who}\".secrets.\"{}\".object", s.name);
                crate::lock_check::check_sealed(t, &s.name, s.component, env.sealer, &object, &entry)?;
                Ok(rendered(t, object, certificate_annotations(t, &s.name, &specs, &p.artefacts, &p.ca_bundle)))
            })
            .collect::<Result<_, String>>()?;
        use base64::Engine as _;
        let ca_b64 = base64::engine::general_purpose::STANDARD.encode(p.ca_bundle.as_bytes());
        return Ok(TenantPkiOutput {
            secrets: objects,
            pod_checksum: pod_checksum(&fingerprints, kine.map(|_| ds_fingerprint.as_str())),
            etcd_checksum: etcd_checksum(&fingerprints, dedicated.is_some()),
            ca_cert_b64: ca_b64,
            // A lock entry without the DataStore record (older tcpc), or an acknowledged move:
            // record where the data is now.
            lock: (p.datastore.as_ref() != Some(&crate::lock::DataStoreRecord::of(t)))
                .then(|| TenantLock { datastore: Some(crate::lock::DataStoreRecord::of(t)), ..p.clone() }),
            new_state: None,
            report: vec![],
        });
    }

    // Something must be issued or sealed: that needs the key material.
    if env.identities.is_empty() {
        let mut why: Vec<String> = due.iter().map(|(a, r)| format!("  - {} must be issued: {r}", a.as_str())).collect();
        if why.is_empty() {
            why.push("  - its Secrets must be sealed again (their inputs or the seal target changed)".into());
        }
        return Err(PkiError::NeedsIdentity(format!(
            "{who}: new key material is needed, which requires the age identity\n{}",
            why.join("\n")
        )));
    }
    let mut state: TenantState = match (opened, state_text) {
        (Some(st), _) => st,
        (None, Some(text)) => decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the state: {e}"))?,
        (None, None) => TenantState::default(),
    };
    if state.fingerprint_secret.is_empty() {
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(secret.as_mut());
        state.fingerprint_secret = hex::encode(secret.as_ref());
    }
    // etcd: the CA that signs the tenant's client certificate; kine: the CA certificate only,
    // when the spec does not carry it inline.
    let ds_state: Option<DataStoreState> = match (kine, ds_state_text) {
        (Some(k), Some(text)) if k.tls && k.ca_pem.is_none() => {
            let c: DataStoreCaCert =
                decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore CA state: {e}"))?;
            Some(DataStoreState { cert: c.cert.clone(), key: String::new() })
        }
        (Some(_), _) => None,
        (None, Some(text)) => {
            Some(decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore CA state: {e}"))?)
        }
        // A dedicated etcd (checked above).
        (None, None) => None,
    };
    let creds: Option<DataStoreCredentials> = match creds_text {
        Some(text) if kine.is_some_and(|k| k.shared_credentials) => {
            Some(decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore credentials: {e}"))?)
        }
        _ => None,
    };
    let client_pair: Option<DataStoreState> = match client_text {
        Some(text) if kine.is_some_and(|k| k.client_certificate) => {
            Some(decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore client certificate: {e}"))?)
        }
        _ => None,
    };
    if kine.is_some_and(|k| k.setup.is_some()) && state.datastore_password.is_none() {
        state.datastore_password = Some(generate_password(rng));
    }

    let mut report = Vec::new();
    let mut lock = TenantLock {
        state: String::new(),
        ca_bundle: String::new(),
        artefacts: BTreeMap::new(),
        secrets: BTreeMap::new(),
        datastore: Some(crate::lock::DataStoreRecord::of(t)),
    };
    let mut issued: BTreeMap<Artefact, Issued> = BTreeMap::new();
    // Issuers are built once: each build re-derives and checks the CA's public key.
    let mut issuers: BTreeMap<Artefact, Issuer> = BTreeMap::new();
    let mut sa_key: Option<PrivateKey> = None;
    // Each key's PEM, encoded once: encoding an EC key re-derives its public point.
    let mut key_pems: BTreeMap<Artefact, Zeroizing<String>> = BTreeMap::new();
    for a in &order {
        let input = input_of(*a, &fingerprints);
        let stored = state.artefacts.get(a.as_str()).cloned();
        let imported = *a == Artefact::Ca && state.imported_ca;
        let needs = !imported && (due.contains_key(a) || stored.is_none());
        if *a == Artefact::Sa {
            let (key, pem) = match (&stored, needs) {
                (Some(s), false) => (PrivateKey::from_pem(&s.key).map_err(|e| format!("{who}: sa: {e}"))?, Zeroizing::new(s.key.clone())),
                _ => {
                    let k = PrivateKey::generate(key_alg, rng).map_err(|e| format!("{who}: sa: {e}"))?;
                    let pem = k.to_pem();
                    (k, pem)
                }
            };
            if needs {
                report.push(format!("{who}: issued sa ({})", due.get(a).map_or("missing from state", String::as_str)));
            }
            let fp = sha256(&key.public_key_der());
            fingerprints.insert(*a, fp.clone());
            lock.artefacts.insert(
                "sa".into(),
                ArtefactLock { inputs: input.clone(), fingerprint: fp, not_before: None, not_after: None, serial: None, imported: false },
            );
            state.artefacts.insert("sa".into(), StoredPair { cert: None, key: pem.to_string() });
            key_pems.insert(*a, pem);
            sa_key = Some(key);
            continue;
        }
        let spec = &specs[a];
        let pair = match (&stored, needs) {
            (Some(StoredPair { cert: Some(cert), key }), false) => {
                key_pems.insert(*a, Zeroizing::new(key.clone()));
                Issued { cert_pem: cert.clone(), key: PrivateKey::from_pem(key).map_err(|e| format!("{who}: {a}: {e}"))? }
            }
            _ => {
                let new = match a.issuer() {
                    IssuerRef::SelfSigned => tcpc_pki::self_signed_ca(spec, None, env.now, rng),
                    IssuerRef::Ca => tcpc_pki::issue(spec, None, issuer(&issued, &mut issuers, Artefact::Ca)?, env.now, rng),
                    IssuerRef::FrontProxyCa => {
                        tcpc_pki::issue(spec, None, issuer(&issued, &mut issuers, Artefact::FrontProxyCa)?, env.now, rng)
                    }
                    IssuerRef::DatastoreCa | IssuerRef::EtcdCa if dedicated.is_some() => {
                        tcpc_pki::issue(spec, None, issuer(&issued, &mut issuers, Artefact::EtcdCa)?, env.now, rng)
                    }
                    IssuerRef::EtcdCa => unreachable!("etcd-ca exists only with a dedicated etcd"),
                    IssuerRef::DatastoreCa => {
                        let ds_state = ds_state.as_ref().filter(|d| !d.key.is_empty()).ok_or_else(|| {
                            format!("{who}: the CA key of DataStore `{}` has not been imported; run `tcpc import datastore-ca {} --cert CA.crt --key CA.key`", t.datastore.name, t.datastore.name)
                        })?;
                        let ds_key = PrivateKey::from_pem(&ds_state.key).map_err(|e| format!("{who}: DataStore CA key: {e}"))?;
                        let ds_issuer = Issuer::new(&ds_state.cert, ds_key).map_err(|e| format!("{who}: DataStore CA: {e}"))?;
                        tcpc_pki::issue(spec, None, &ds_issuer, env.now, rng)
                    }
                    IssuerRef::None => unreachable!("sa handled above"),
                }
                .map_err(|e| format!("{who}: issuing {a}: {e}"))?;
                report.push(format!("{who}: issued {a} ({})", due.get(a).map_or("missing from state", String::as_str)));
                new
            }
        };
        let info = CertInfo::parse(&pair.cert_pem).map_err(|e| format!("{who}: {a}: {e}"))?;
        let fp = format!("sha256:{}", info.sha256_fingerprint_hex);
        fingerprints.insert(*a, fp.clone());
        lock.artefacts.insert(
            a.as_str().into(),
            ArtefactLock {
                inputs: if imported { format!("imported:{fp}") } else { input.clone() },
                fingerprint: fp,
                not_before: Some(rfc3339(info.not_before)),
                not_after: Some(rfc3339(info.not_after)),
                serial: Some(info.serial_hex.clone()),
                imported,
            },
        );
        let pem = key_pems.entry(*a).or_insert_with(|| pair.key.to_pem());
        state.artefacts.insert(a.as_str().into(), StoredPair { cert: Some(pair.cert_pem.clone()), key: pem.to_string() });
        issued.insert(*a, pair);
    }

    // Recompute Secret inputs with the final fingerprints, then build, compare and seal.
    let plans = secret_plans(t, &fingerprints, &ds_fingerprint, env.sealer);
    let fkey = tcpc_seal::fingerprint::FingerprintKey::derive(&decode_secret(&state.fingerprint_secret)?, &format!("tcpc/secrets/{who}"));
    let ca_bundle = format!("{}{}", issued[&Artefact::Ca].cert_pem, state.ca_chain.clone().unwrap_or_default());
    lock.ca_bundle = ca_bundle.clone();
    let sa = sa_key.as_ref().expect("sa issued");
    let ds_ca = match dedicated {
        Some(_) => issued[&Artefact::EtcdCa].cert_pem.clone(),
        None => kine.and_then(|k| k.ca_pem.clone()).or_else(|| ds_state.as_ref().map(|d| d.cert.clone())).unwrap_or_default(),
    };
    let data = secret_data(
        t,
        &issued,
        &key_pems,
        sa,
        &ds_ca,
        &ca_bundle,
        creds.as_ref(),
        client_pair.as_ref(),
        state.datastore_password.as_deref(),
    );
    let mut objects = Vec::new();
    for plan in &plans {
        let payload = &data[&plan.name];
        let mut canon = Vec::new();
        for (k, v) in payload {
            canon.extend_from_slice(k.as_bytes());
            canon.push(0);
            canon.extend_from_slice(v);
            canon.push(0);
        }
        let plaintext_fp = tcpc_seal::fingerprint::fingerprint(&fkey, &canon);
        canon.iter_mut().for_each(|b| *b = 0);
        let reuse = prev.and_then(|p| p.secrets.get(&plan.name)).filter(|l| l.inputs == plan.inputs && l.plaintext == plaintext_fp);
        let (object, raw) = match reuse {
            Some(l) => {
                let object = serde_json::from_str(l.object.get()).map_err(|e| format!("{who}: corrupt lock: {e}"))?;
                let entry = format!("tcpc.lock: tenants.\"{who}\".secrets.\"{}\".object", plan.name);
                crate::lock_check::check_sealed(t, &plan.name, plan.component, env.sealer, &object, &entry)?;
                (object, l.object.clone())
            }
            None => {
                report.push(format!("{who}: sealed Secret {}", plan.name));
                let object: Value = seal(t, plan, payload, env, rng).map_err(|e| format!("{who}: sealing {}: {e}", plan.name))?;
                let entry = format!("{who}: freshly sealed Secret {} (this is a tcpc bug)", plan.name);
                crate::lock_check::check_sealed(t, &plan.name, plan.component, env.sealer, &object, &entry)?;
                let raw = RawValue::from_string(serde_json::to_string(&object).expect("serialises")).expect("valid JSON");
                (object, raw)
            }
        };
        lock.secrets.insert(plan.name.clone(), SecretLock { inputs: plan.inputs.clone(), plaintext: plaintext_fp, object: raw });
        objects.push(rendered(t, object, certificate_annotations(t, &plan.name, &specs, &lock.artefacts, &lock.ca_bundle)));
    }

    let state_json = Zeroizing::new(serde_json::to_vec(&state).expect("state serialises"));
    let unchanged = report.iter().all(|r| r.contains("sealed Secret")) && state_text.is_some();
    report.splice(0..0, adopted_notes);
    let new_state = if unchanged {
        None
    } else {
        if env.recipients.is_empty() {
            return Err(PkiError::Failed(format!("{who}: new key material must be stored, but tcpc.yaml lists no `pki.recipients`")));
        }
        Some(
            tcpc_seal::state::encrypt_to_recipients(&state_json, env.recipients)
                .map_err(|e| format!("{who}: encrypting the state: {e}"))?,
        )
    };
    lock.state = sha256(new_state.as_deref().or(state_text.map(String::as_str)).unwrap_or_default().as_bytes());
    use base64::Engine as _;
    Ok(TenantPkiOutput {
        secrets: objects,
        pod_checksum: pod_checksum(&fingerprints, kine.map(|_| ds_fingerprint.as_str())),
        etcd_checksum: etcd_checksum(&fingerprints, dedicated.is_some()),
        ca_cert_b64: base64::engine::general_purpose::STANDARD.encode(ca_bundle.as_bytes()),
        lock: Some(lock),
        new_state,
        report,
    })
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

/// `kine`: the DataStore fingerprint of a kine tenant, whose pod reads the datastore-config Secret.
fn pod_checksum(fingerprints: &BTreeMap<Artefact, String>, kine: Option<&str>) -> String {
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

/// The Secrets and the public facts each one's content depends on.
fn secret_plans(t: &Tenant, fp: &BTreeMap<Artefact, String>, ds_fp: &str, sealer: &Sealer) -> Vec<SecretPlan> {
    let s = &t.secrets;
    let f = |a: Artefact| fp.get(&a).cloned().unwrap_or_default();
    let seal_id = sealer.id();
    let plan = |name: &str, component: &'static str, facts: Vec<String>| SecretPlan {
        name: name.to_string(),
        component,
        inputs: sha256(format!("{}/{name}\n{seal_id}\n{}", t.namespace, facts.join("\n")).as_bytes()),
    };
    let local = format!("https://127.0.0.1:{}", t.port);
    let svc = format!("https://{}.{}.svc:{}", t.name, t.namespace, t.port);
    let mut plans = vec![
        plan(&s.ca, "ca", vec![f(Artefact::Ca)]),
        plan(&s.front_proxy_ca, "front-proxy-ca-certificate", vec![f(Artefact::FrontProxyCa)]),
        plan(&s.sa, "sa-certificate", vec![f(Artefact::Sa)]),
        plan(&s.apiserver, "api-server-certificate", vec![f(Artefact::Apiserver)]),
        plan(&s.apiserver_kubelet_client, "api-server-kubelet-client-certificate", vec![f(Artefact::ApiserverKubeletClient)]),
        plan(&s.front_proxy_client, "front-proxy-client-certificate", vec![f(Artefact::FrontProxyClient)]),
        plan(
            &s.admin_kubeconfig,
            "admin-kubeconfig",
            vec![
                f(Artefact::Ca),
                f(Artefact::Admin),
                if t.super_admin_in_cluster { f(Artefact::SuperAdmin) } else { "no super-admin".into() },
                t.server_url.clone(),
                svc,
            ],
        ),
        plan(
            &s.controller_manager_kubeconfig,
            "controller-manager-kubeconfig",
            vec![f(Artefact::Ca), f(Artefact::ControllerManager), local.clone()],
        ),
        plan(&s.scheduler_kubeconfig, "scheduler-kubeconfig", vec![f(Artefact::Ca), f(Artefact::Scheduler), local.clone()]),
    ];
    if t.konnectivity.is_some() {
        plans.push(plan(&s.konnectivity_kubeconfig, "konnectivity-kubeconfig", vec![f(Artefact::Ca), f(Artefact::Konnectivity), local]));
    }
    if let Some(a) = &t.argocd_delivery {
        let facts = vec![f(Artefact::Ca), f(Artefact::SuperAdmin), a.server.clone(), a.cluster_name.clone(), a.namespace.clone()];
        plans.push(plan(&a.secret_name, "argocd-cluster", [facts, a.project.iter().cloned().collect()].concat()));
    }
    if let Some(e) = &t.datastore.dedicated {
        plans.push(plan(&e.secret, "etcd-certificates", vec![f(Artefact::EtcdCa), f(Artefact::EtcdServer), f(Artefact::EtcdPeer)]));
    }
    match &t.datastore.kine {
        None => {
            let mut facts = vec![f(Artefact::DatastoreClient), ds_fp.to_string()];
            if t.datastore.dedicated.is_some() {
                facts.push(f(Artefact::EtcdCa));
            }
            plans.push(plan(&s.datastore, "datastore-certificate", facts));
        }
        Some(k) => {
            if k.tls {
                plans.push(plan(&s.datastore, "datastore-certificate", vec![ds_fp.to_string()]));
            }
            plans.push(plan(&k.config_secret, "datastore-config", vec![ds_fp.to_string()]));
            if let Some(secret) = k.setup.as_ref().and_then(|s| s.secret.as_ref()) {
                plans.push(plan(secret, "datastore-setup", vec![ds_fp.to_string()]));
            }
        }
    }
    plans
}

type Payload = BTreeMap<String, Zeroizing<Vec<u8>>>;

/// The plaintext content of every Secret, by name (Kamaji's key names).
fn secret_data(
    t: &Tenant,
    issued: &BTreeMap<Artefact, Issued>,
    key_pems: &BTreeMap<Artefact, Zeroizing<String>>,
    sa: &PrivateKey,
    ds_ca_cert: &str,
    ca_bundle: &str,
    creds: Option<&DataStoreCredentials>,
    client: Option<&DataStoreState>,
    tenant_password: Option<&str>,
) -> BTreeMap<String, Payload> {
    let s = &t.secrets;
    let bytes = |v: &str| Zeroizing::new(v.as_bytes().to_vec());
    let pair = |a: Artefact, base: &str| -> Payload {
        let i = &issued[&a];
        BTreeMap::from([
            (format!("{base}.crt"), bytes(&i.cert_pem)),
            (format!("{base}.key"), Zeroizing::new(key_pems[&a].as_bytes().to_vec())),
        ])
    };
    let kubeconfig = |a: Artefact, server: &str| -> Zeroizing<Vec<u8>> {
        let i = &issued[&a];
        let user = a.kubeconfig().map_or("user", |(u, _)| u);
        Zeroizing::new(tcpc_pki::kubeconfig_with_key_pem(&t.name, server, ca_bundle, user, &i.cert_pem, &key_pems[&a]).as_bytes().to_vec())
    };
    let local = format!("https://127.0.0.1:{}", t.port);
    let svc = format!("https://{}.{}.svc:{}", t.name, t.namespace, t.port);
    let mut ca = pair(Artefact::Ca, "ca");
    ca.insert("ca.crt".into(), bytes(ca_bundle));
    let mut out = BTreeMap::from([
        (s.ca.clone(), ca),
        (s.front_proxy_ca.clone(), pair(Artefact::FrontProxyCa, "front-proxy-ca")),
        (
            s.sa.clone(),
            BTreeMap::from([
                ("sa.key".to_string(), Zeroizing::new(key_pems[&Artefact::Sa].as_bytes().to_vec())),
                ("sa.pub".to_string(), bytes(&sa.public_key_pem())),
            ]),
        ),
        (s.apiserver.clone(), pair(Artefact::Apiserver, "apiserver")),
        (s.apiserver_kubelet_client.clone(), pair(Artefact::ApiserverKubeletClient, "apiserver-kubelet-client")),
        (s.front_proxy_client.clone(), pair(Artefact::FrontProxyClient, "front-proxy-client")),
        (s.admin_kubeconfig.clone(), {
            let mut m = BTreeMap::from([
                ("admin.conf".to_string(), kubeconfig(Artefact::Admin, &t.server_url)),
                ("admin.svc".to_string(), kubeconfig(Artefact::Admin, &svc)),
            ]);
            // system:masters bypasses RBAC: in the cluster only when the spec asks for it.
            if t.super_admin_in_cluster {
                m.insert("super-admin.conf".to_string(), kubeconfig(Artefact::SuperAdmin, &t.server_url));
                m.insert("super-admin.svc".to_string(), kubeconfig(Artefact::SuperAdmin, &svc));
            }
            m
        }),
        (
            s.controller_manager_kubeconfig.clone(),
            BTreeMap::from([("controller-manager.conf".to_string(), kubeconfig(Artefact::ControllerManager, &local))]),
        ),
        (s.scheduler_kubeconfig.clone(), BTreeMap::from([("scheduler.conf".to_string(), kubeconfig(Artefact::Scheduler, &local))])),
    ]);
    if t.konnectivity.is_some() {
        out.insert(
            s.konnectivity_kubeconfig.clone(),
            BTreeMap::from([("konnectivity-server.conf".to_string(), kubeconfig(Artefact::Konnectivity, &local))]),
        );
    }
    if let Some(a) = &t.argocd_delivery {
        out.insert(
            a.secret_name.clone(),
            argocd_cluster(a, ca_bundle, &issued[&Artefact::SuperAdmin].cert_pem, &key_pems[&Artefact::SuperAdmin]),
        );
    }
    if let Some(e) = &t.datastore.dedicated {
        let mut m = pair(Artefact::EtcdServer, "server");
        m.extend(pair(Artefact::EtcdPeer, "peer"));
        m.insert("ca.crt".to_string(), bytes(ds_ca_cert));
        out.insert(e.secret.clone(), m);
    }
    match (&t.datastore.kine, creds) {
        (None, _) => {
            let ds = &issued[&Artefact::DatastoreClient];
            out.insert(
                s.datastore.clone(),
                BTreeMap::from([
                    ("ca.crt".to_string(), bytes(ds_ca_cert)),
                    ("server.crt".to_string(), bytes(&ds.cert_pem)),
                    ("server.key".to_string(), Zeroizing::new(key_pems[&Artefact::DatastoreClient].as_bytes().to_vec())),
                ]),
            );
        }
        (Some(k), creds) => {
            if k.tls {
                let mut m = BTreeMap::from([("ca.crt".to_string(), bytes(ds_ca_cert))]);
                // kine's `--cert-file`/`--key-file` (Kamaji's names for the DataStore's client pair).
                if let Some(c) = client {
                    m.insert("server.crt".to_string(), bytes(&c.cert));
                    m.insert("server.key".to_string(), bytes(&c.key));
                }
                out.insert(s.datastore.clone(), m);
            }
            // NATS: the DataStore's own credentials (one bucket per tenant); SQL: the tenant's user.
            let (user, password) = match (&k.setup, tenant_password, creds) {
                (Some(_), Some(p), _) => (t.datastore.user.as_str(), p),
                (_, _, Some(c)) => (c.username.as_str(), c.password.as_str()),
                _ => ("", ""),
            };
            out.insert(
                k.config_secret.clone(),
                BTreeMap::from([
                    ("DB_CONNECTION_STRING".to_string(), bytes(&k.connection_string)),
                    ("DB_SCHEMA".to_string(), bytes(&t.datastore.schema)),
                    ("DB_USER".to_string(), bytes(user)),
                    ("DB_PASSWORD".to_string(), bytes(password)),
                ]),
            );
            if let Some((setup, secret)) = k.setup.as_ref().and_then(|s| Some((s, s.secret.as_ref()?))) {
                let mut m = BTreeMap::from([
                    ("DB_HOST".to_string(), bytes(&setup.host)),
                    ("DB_PORT".to_string(), bytes(&setup.port.to_string())),
                    ("DB_SCHEMA".to_string(), bytes(&t.datastore.schema)),
                    ("DB_USER".to_string(), bytes(&t.datastore.user)),
                    ("DB_PASSWORD".to_string(), bytes(tenant_password.unwrap_or_default())),
                ]);
                if k.tls {
                    m.insert("ca.crt".to_string(), bytes(ds_ca_cert));
                }
                out.insert(secret.clone(), m);
            }
        }
    }
    out
}

/// Argo CD's cluster Secret: the cluster's name and server, and `config` with the TLS client
/// credentials (`tlsClientConfig` of base64 PEMs, Argo CD's `ClusterConfig`). Only the key is
/// secret; it never leaves zeroizing buffers.
fn argocd_cluster(a: &crate::resolve::delivery::ArgoCdPlan, ca_bundle: &str, cert_pem: &str, key_pem: &str) -> Payload {
    use base64::Engine as _;
    let b64 = |v: &[u8]| Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(v));
    let (ca, cert, key) = (b64(ca_bundle.as_bytes()), b64(cert_pem.as_bytes()), b64(key_pem.as_bytes()));
    let config = Zeroizing::new(format!(r#"{{"tlsClientConfig":{{"caData":"{}","certData":"{}","keyData":"{}"}}}}"#, *ca, *cert, *key));
    let mut m = BTreeMap::from([
        ("config".to_string(), Zeroizing::new(config.as_bytes().to_vec())),
        ("name".to_string(), Zeroizing::new(a.cluster_name.as_bytes().to_vec())),
        ("server".to_string(), Zeroizing::new(a.server.as_bytes().to_vec())),
    ]);
    if let Some(p) = &a.project {
        m.insert("project".to_string(), Zeroizing::new(p.as_bytes().to_vec()));
    }
    m
}

fn seal(t: &Tenant, plan: &SecretPlan, payload: &Payload, env: &PkiEnv<'_>, rng: &mut (impl RngCore + CryptoRng)) -> Result<Value, String> {
    let labels = crate::lock_check::secret_labels(t, plan.component);
    match env.sealer {
        Sealer::SealedSecrets { cert, scope, .. } => tcpc_seal::sealedsecrets::sealed_secret(
            cert,
            *scope,
            &plan.name,
            crate::lock_check::secret_namespace(t, plan.component),
            "Opaque",
            &labels,
            &BTreeMap::new(),
            payload,
            rng,
        )
        .map_err(|e| e.to_string()),
        Sealer::Sops { recipients, .. } => {
            use base64::Engine as _;
            let data: serde_json::Map<String, Value> = payload
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(base64::engine::general_purpose::STANDARD.encode(v.as_slice()))))
                .collect();
            let secret = json!({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": plan.name, "namespace": crate::lock_check::secret_namespace(t, plan.component), "labels": labels},
                "data": data,
            });
            crate::check::check(secret.clone()).map_err(|e| e.to_string())?;
            let lastmodified =
                env.now.format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).expect("formats");
            tcpc_seal::sops::encrypt_secret(&secret, recipients, &lastmodified, rng).map_err(|e| e.to_string())
        }
    }
}

/// A sealed object for output, with the public facts of the certificate it holds as
/// annotations. The lock keeps the object without them: they are derived on every render from
/// the certificate specs and the lock (never from the identity). SOPS documents are left as
/// they are: their MAC covers the metadata.
fn rendered(t: &Tenant, mut object: Value, annotations: BTreeMap<String, String>) -> Rendered {
    if object.get("sops").is_none()
        && !annotations.is_empty()
        && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(a) = meta.entry("annotations").or_insert_with(|| json!({})).as_object_mut()
    {
        for (k, v) in annotations {
            a.insert(k, Value::String(v));
        }
    }
    Rendered { namespace: t.namespace.clone(), tcp: t.name.clone(), bundle: Bundle::Management, object }
}

/// The certificate a Secret is about (for kubeconfigs: the client certificate; `admin`'s Secret
/// also holds `super-admin`, issued with it).
fn secret_certificate(t: &Tenant, secret: &str) -> Option<Artefact> {
    let s = &t.secrets;
    [
        (&s.ca, Artefact::Ca),
        (&s.front_proxy_ca, Artefact::FrontProxyCa),
        (&s.apiserver, Artefact::Apiserver),
        (&s.apiserver_kubelet_client, Artefact::ApiserverKubeletClient),
        (&s.front_proxy_client, Artefact::FrontProxyClient),
        (&s.datastore, Artefact::DatastoreClient),
        (&s.admin_kubeconfig, Artefact::Admin),
        (&s.controller_manager_kubeconfig, Artefact::ControllerManager),
        (&s.scheduler_kubeconfig, Artefact::Scheduler),
        (&s.konnectivity_kubeconfig, Artefact::Konnectivity),
    ]
    .into_iter()
    .find(|(name, _)| name.as_str() == secret)
    .map(|(_, a)| a)
    // A dedicated etcd's Secret: described by its serving certificate (the peer one is its twin).
    .or_else(|| t.datastore.dedicated.as_ref().filter(|e| e.secret == secret).map(|_| Artefact::EtcdServer))
    // Argo CD's cluster Secret: its client certificate.
    .or_else(|| t.argocd_delivery.as_ref().filter(|a| a.secret_name == secret).map(|_| Artefact::SuperAdmin))
}

/// `tcpc.dev/certificate-subject`, `-sans` and `-not-after` of the certificate a Secret holds:
/// public facts, from the certificate spec (or, for an imported CA, the published CA bundle)
/// and the lock.
fn certificate_annotations(
    t: &Tenant,
    secret: &str,
    specs: &BTreeMap<Artefact, tcpc_pki::CertSpec>,
    artefacts: &BTreeMap<String, ArtefactLock>,
    ca_bundle: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(a) = secret_certificate(t, secret) else { return out };
    let Some(entry) = artefacts.get(a.as_str()) else { return out };
    let subject = |cn: &str, orgs: &[String]| {
        let mut s = format!("CN={cn}");
        for o in orgs {
            s.push_str(&format!(",O={o}"));
        }
        s
    };
    let (subject, sans) = if entry.imported {
        match CertInfo::parse(ca_bundle) {
            Ok(info) => (subject(&info.subject_cn, &info.organizations), san_list(&info.dns_sans, &info.ip_sans)),
            Err(_) => return out,
        }
    } else {
        match specs.get(&a) {
            Some(spec) => (subject(&spec.common_name, &spec.organizations), san_list(&spec.dns_sans, &spec.ip_sans)),
            None => return out,
        }
    };
    out.insert("tcpc.dev/certificate-subject".into(), subject);
    if !sans.is_empty() {
        out.insert("tcpc.dev/certificate-sans".into(), sans);
    }
    if let Some(na) = &entry.not_after {
        out.insert("tcpc.dev/certificate-not-after".into(), na.clone());
    }
    out
}

fn san_list(dns: &[String], ips: &[std::net::IpAddr]) -> String {
    dns.iter().cloned().chain(ips.iter().map(ToString::to_string)).collect::<Vec<_>>().join(",")
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
