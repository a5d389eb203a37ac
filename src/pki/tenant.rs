//! One tenant's PKI stage, phase by phase ([`tenant_pki`] reads top to bottom):
//!
//! 1. [`Subject::new`]: the certificate specs and what is stored (encrypted) for the tenant and
//!    its DataStore, checked for what an import must provide;
//! 2. [`Subject::adopt`]: a state the lock does not describe is opened, and its material kept;
//! 3. [`Subject::decide`]: which artefacts are due, from public facts only (lock, specs, clock);
//! 4. [`Subject::reuse`]: nothing due and every Secret's inputs unchanged: the sealed objects
//!    of the lock, no identity needed;
//! 5. [`Subject::open`], [`Subject::issue`]: the state opened with the identity, what is due
//!    issued;
//! 6. [`Subject::seal`]: each Secret built, compared by keyed fingerprint, re-sealed only if it
//!    changed; the state re-encrypted only if it did.

use std::collections::BTreeMap;

use rand_core::{CryptoRng, RngCore};
use serde_json::Value;
use serde_json::value::RawValue;
use tcpc_pki::{Artefact, CertInfo, CertSpec, Issued, Issuer, IssuerRef, PrivateKey, TenantPkiParams, Validity};
use zeroize::Zeroizing;

use super::sa_rotation;
use super::secrets::{SecretPlan, certificate_annotations, rendered, seal, secret_data, secret_plans};
use super::{
    DataStoreCaCert, DataStoreCredentials, DataStoreState, PkiEnv, PkiError, ROOTS, StoredPair, TenantPkiOutput, TenantState,
    datastore_client_certificate_key, datastore_credentials_key, datastore_state_key, decode_secret, decrypt_json, etcd_checksum,
    generate_password, issuer, key_algorithm, pod_checksum, reason, rfc3339, sha256, tenant_state_key,
};
use crate::lock::{ArtefactLock, DataStoreRecord, SecretLock, TenantLock};
use crate::resolve::{KinePlan, Tenant};

/// Runs the PKI stage for one tenant.
pub fn tenant_pki(
    t: &Tenant,
    prev: Option<&TenantLock>,
    env: &PkiEnv<'_>,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TenantPkiOutput, PkiError> {
    let subject = Subject::new(t, env)?;
    let who = &subject.who;
    let rotate = env.rotate_ca.contains(who);
    // A lock entry whose state is gone: refuse rather than re-key silently.
    if prev.is_some() && subject.state_text.is_none() && !rotate {
        return Err(PkiError::Failed(format!(
            "{who}: tcpc.lock records this tenant, but its encrypted state ({}.age) is missing\nhelp: restore it from Git; to re-key the tenant on purpose, run `tcpc rotate ca {who} --identity FILE`",
            tenant_state_key(t)
        )));
    }
    let adopted = subject.adopt(prev, env)?;
    let decision = subject.decide(prev, env, adopted.as_ref(), rotate)?;
    let sa_extra = prev.and_then(sa_rotation::extra_record).map(|(_, r)| r.fingerprint.as_str());
    let secrets = secret_plans(t, &decision.fingerprints, &subject.ds_fingerprint, env.sealer, sa_extra);
    if adopted.is_none()
        && decision.due.is_empty()
        && decision.sa_step.is_none()
        && let Some(p) = prev
        && secrets.iter().all(|s| p.secrets.get(&s.name).is_some_and(|l| l.inputs == s.inputs))
    {
        return subject.reuse(p, &secrets, &decision, env);
    }
    // Something must be issued or sealed: that needs the key material.
    if env.identities.is_empty() {
        let mut why: Vec<String> = decision.due.iter().map(|(a, r)| format!("  - {} must be issued: {r}", a.as_str())).collect();
        why.extend(decision.sa_step.map(|s| format!("  - {}", s.reason())));
        if why.is_empty() {
            why.push("  - its Secrets must be sealed again (their inputs or the seal target changed)".into());
        }
        return Err(PkiError::NeedsIdentity(format!(
            "{who}: new key material is needed, which requires the age identity\n{}",
            why.join("\n")
        )));
    }
    let material = subject.open(env, adopted.map(|a| a.state), rng)?;
    let issuance = subject.issue(prev, env, material, decision, rng)?;
    subject.seal(prev, env, issuance, rng)
}

/// Every certificate of the tenant as kubeadm would issue it (with Kamaji's additions), whoever
/// issues it.
pub fn cert_specs(t: &Tenant) -> Result<BTreeMap<Artefact, CertSpec>, PkiError> {
    let mut params = TenantPkiParams::new(&t.name, &t.namespace);
    params.service_dns_names = t.service_dns_names.clone();
    params.cluster_domain = t.cluster_domain.clone();
    params.service_ips = t.kubernetes_service_ips.clone();
    params.advertise_address = t.advertise_address.as_deref().and_then(|a| a.parse().ok());
    params.cert_sans = t.cert_sans.clone();
    params.key_algorithm = key_algorithm(t.pki.key_algorithm);
    params.leaf_validity = Validity::Days(t.pki.leaf_validity_days);
    params.ca_validity = Validity::Days(t.pki.ca_validity_days);
    params.datastore_user = Some(t.datastore.user.clone());
    params.dedicated_etcd = t.datastore.dedicated.as_ref().map(|d| d.dns_names.clone());
    let mut specs = tcpc_pki::tenant_cert_specs(&params).map_err(|e| format!("{}: {e}", t.key()))?;
    if t.konnectivity.is_none() {
        specs.remove(&Artefact::Konnectivity);
    }
    Ok(specs)
}

/// The facts of one tenant's PKI, gathered before anything is decided.
struct Subject<'a> {
    t: &'a Tenant,
    who: String,
    key_alg: tcpc_pki::KeyAlgorithm,
    specs: BTreeMap<Artefact, CertSpec>,
    /// Issuance order: CAs before what they sign, the service-account key last.
    order: Vec<Artefact>,
    kine: Option<&'a KinePlan>,
    dedicated: bool,
    /// The encrypted state of the tenant and of its DataStore, as stored.
    state_text: Option<&'a String>,
    ds_state_text: Option<&'a String>,
    creds_text: Option<&'a String>,
    client_text: Option<&'a String>,
    /// Everything the tenant's DataStore Secrets are made from, as one public fingerprint.
    ds_fingerprint: String,
}

/// A state the lock does not describe, opened: its material is kept.
struct Adopted {
    state: TenantState,
    /// The fingerprint of each artefact the state holds.
    fingerprints: BTreeMap<Artefact, String>,
}

/// What must be issued (and why), and each artefact's fingerprint as decided (`pending:` for
/// what is due).
struct Decision {
    fingerprints: BTreeMap<Artefact, String>,
    due: BTreeMap<Artefact, String>,
    /// Artefacts kept from an adopted state, for the report.
    notes: Vec<String>,
    /// The service-account key rotation step requested (`tcpc rotate sa-key`).
    sa_step: Option<sa_rotation::Step>,
    /// `tcpc rotate ca`: the trust roots and the service-account key are re-keyed (which ends
    /// any service-account key rotation).
    rekey_roots: bool,
}

/// The key material, opened with the identity.
struct Material {
    state: TenantState,
    ds_state: Option<DataStoreState>,
    creds: Option<DataStoreCredentials>,
    client_pair: Option<DataStoreState>,
}

/// Every artefact issued or taken from the state, and the new lock's artefact records.
struct Issuance {
    material: Material,
    fingerprints: BTreeMap<Artefact, String>,
    issued: BTreeMap<Artefact, Issued>,
    /// Each key's PEM, encoded once: encoding an EC key re-derives its public point.
    key_pems: BTreeMap<Artefact, Zeroizing<String>>,
    sa_key: PrivateKey,
    /// The second verifying service-account key, during a rotation.
    sa_extra: Option<sa_rotation::Extra>,
    lock: TenantLock,
    report: Vec<String>,
    /// Artefacts kept from an adopted state, reported first.
    notes: Vec<String>,
}

impl<'a> Subject<'a> {
    fn new(t: &'a Tenant, env: &PkiEnv<'a>) -> Result<Self, PkiError> {
        let who = t.key();
        let key_alg = key_algorithm(t.pki.key_algorithm);
        let mut specs = cert_specs(t)?;
        if t.pki.companion_rotation {
            // Issued in the cluster by the companion (the record asks for them).
            specs.retain(|a, _| !super::COMPANION_ISSUED.contains(a));
        }
        let kine = t.datastore.kine.as_ref();
        if kine.is_some() {
            // kine authenticates with the tenant's database user, not with a certificate.
            specs.remove(&Artefact::DatastoreClient);
        }
        let order = specs.keys().copied().chain([Artefact::Sa]).collect();
        let ds = &t.datastore.name;
        let mut subject = Subject {
            t,
            key_alg,
            specs,
            order,
            kine,
            dedicated: t.datastore.dedicated.is_some(),
            state_text: env.states.get(&tenant_state_key(t)),
            ds_state_text: env.states.get(&datastore_state_key(ds)),
            creds_text: env.states.get(&datastore_credentials_key(ds)),
            client_text: env.states.get(&datastore_client_certificate_key(ds)),
            ds_fingerprint: String::new(),
            who,
        };
        subject.check_imports()?;
        subject.ds_fingerprint = subject.datastore_fingerprint();
        Ok(subject)
    }

    /// What the DataStore needs imported (`tcpc import …`) before the tenant can be issued.
    fn check_imports(&self) -> Result<(), PkiError> {
        let (who, ds) = (&self.who, &self.t.datastore.name);
        let missing = match self.kine {
            None if !self.dedicated && self.ds_state_text.is_none() => {
                format!("the CA of DataStore `{ds}` has not been imported; run `tcpc import datastore-ca {ds} --cert CA.crt --key CA.key`")
            }
            Some(k) if k.shared_credentials && self.creds_text.is_none() => format!(
                "the credentials of DataStore `{ds}` have not been imported; run `tcpc import datastore-credentials {ds} --username USER --password-file FILE`"
            ),
            Some(k) if k.client_certificate && self.client_text.is_none() => format!(
                "DataStore `{ds}` has a client certificate, and it has not been imported; run `tcpc import datastore-client-certificate {ds} --cert CLIENT.crt --key CLIENT.key`"
            ),
            Some(k) if k.tls && k.ca_pem.is_none() && self.ds_state_text.is_none() => format!(
                "DataStore `{ds}` references its CA certificate in a Secret, and it has not been imported; run `tcpc import datastore-ca {ds} --cert CA.crt` (or put the certificate inline as `content`: it is public)"
            ),
            _ => return Ok(()),
        };
        Err(PkiError::Failed(format!("{who}: {missing}")))
    }

    /// Everything the tenant's DataStore Secrets are made from, as one public fingerprint.
    fn datastore_fingerprint(&self) -> String {
        fn text(s: Option<&String>) -> &str {
            s.map_or("", String::as_str)
        }
        match self.kine {
            // The tenant's own etcd CA signs its client certificate: its fingerprint is the input.
            None if self.dedicated => String::new(),
            None => sha256(text(self.ds_state_text).as_bytes()),
            Some(k) => sha256(
                format!(
                    "{}\n{}\n{}{}",
                    if k.shared_credentials { text(self.creds_text) } else { "" },
                    if k.tls && k.ca_pem.is_none() { text(self.ds_state_text) } else { "" },
                    if k.client_certificate { format!("{}\n", text(self.client_text)) } else { String::new() },
                    serde_json::to_string(k).expect("kine plan serialises")
                )
                .as_bytes(),
            ),
        }
    }

    /// A state the lock does not describe (the lock lost its entry, the tenant is re-added, or
    /// the state is newer than the lock) is the truth: it is opened and its key material kept.
    fn adopt(&self, prev: Option<&TenantLock>, env: &PkiEnv<'_>) -> Result<Option<Adopted>, PkiError> {
        let who = &self.who;
        let Some(text) = self.state_text else { return Ok(None) };
        let hash = sha256(text.as_bytes());
        if prev.is_some_and(|p| p.state == hash) {
            return Ok(None);
        }
        if env.identities.is_empty() {
            // A failure, not a pending tenant: without its lock entry nothing of the tenant could be
            // kept, and the render must not drop it from the tree.
            return Err(PkiError::Failed(format!(
                "{who}: its encrypted state is not the one tcpc.lock records (the lock lost its entry, or the state is newer); opening it requires the age identity\nhelp: pass `--identity FILE`, or set TCPC_AGE_IDENTITY_FILE (a path) or TCPC_AGE_IDENTITY (the identity itself)"
            )));
        }
        let state: TenantState = decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the state: {e}"))?;
        let mut fingerprints = BTreeMap::new();
        for a in &self.order {
            let Some(pair) = state.artefacts.get(a.as_str()) else { continue };
            let fp = match &pair.cert {
                Some(cert) => {
                    format!("sha256:{}", CertInfo::parse(cert).map_err(|e| format!("{who}: state: {a}: {e}"))?.sha256_fingerprint_hex)
                }
                None => sha256(&PrivateKey::from_pem(&pair.key).map_err(|e| format!("{who}: state: {a}: {e}"))?.public_key_der()),
            };
            fingerprints.insert(*a, fp);
        }
        Ok(Some(Adopted { state, fingerprints }))
    }

    /// The public inputs of artefact `a`: its spec and its issuer's fingerprint (so a re-issued
    /// CA re-issues everything it signed).
    fn input_of(&self, a: Artefact, fingerprints: &BTreeMap<Artefact, String>) -> String {
        let fp = |a: Artefact| fingerprints.get(&a).cloned().unwrap_or_default();
        let issuer_fp = match a.issuer() {
            IssuerRef::Ca => fp(Artefact::Ca),
            IssuerRef::FrontProxyCa => fp(Artefact::FrontProxyCa),
            IssuerRef::DatastoreCa if !self.dedicated => self.ds_fingerprint.clone(),
            IssuerRef::DatastoreCa | IssuerRef::EtcdCa => fp(Artefact::EtcdCa),
            IssuerRef::SelfSigned | IssuerRef::None => String::new(),
        };
        let spec_json = match self.specs.get(&a) {
            Some(spec) => serde_json::to_string(spec).expect("spec serialises"),
            None => format!("{{\"sa\":\"{}\"}}", self.key_alg),
        };
        sha256(format!("{spec_json}\n{issuer_fp}").as_bytes())
    }

    /// Decides, in issuance order (CAs first), what must be issued and why. Public facts only.
    fn decide(&self, prev: Option<&TenantLock>, env: &PkiEnv<'_>, adopted: Option<&Adopted>, rotate: bool) -> Result<Decision, PkiError> {
        let who = &self.who;
        let mut d = Decision { fingerprints: BTreeMap::new(), due: BTreeMap::new(), notes: Vec::new(), sa_step: None, rekey_roots: rotate };
        if env.rotate_sa.contains(who) {
            let Some(p) = prev else {
                return Err(PkiError::Failed(format!("{who}: rotate sa-key: the tenant has no service-account key yet; render it first")));
            };
            let step = sa_rotation::Step::next(p);
            if step == sa_rotation::Step::Retire {
                sa_rotation::check_retire(p, env.now, env.sa_min_overlap, who)?;
            }
            d.sa_step = Some(step);
        }
        let from_state = |a: &Artefact| adopted.and_then(|ad| ad.fingerprints.get(a));
        for a in &self.order {
            let input = self.input_of(*a, &d.fingerprints);
            let root = ROOTS.contains(a);
            // When adopting, a lock record counts only if it describes what the state holds.
            let prev_a =
                prev.and_then(|p| p.artefacts.get(a.as_str())).filter(|p| adopted.is_none() || from_state(a) == Some(&p.fingerprint));
            let why = if rotate && root {
                Some("re-key requested (tcpc rotate ca)".to_string())
            } else if adopted.is_some() && prev_a.is_none() {
                match from_state(a) {
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
                && (prev_a.is_some() || from_state(a).is_some())
            {
                return Err(PkiError::Failed(format!(
                    "{who}: {a} would have to be re-keyed ({w}); trust roots are re-keyed only on request\nhelp: run `tcpc rotate ca {who} --identity FILE` (every client of the tenant must then trust the new CA)"
                )));
            }
            if why.is_none()
                && let Some(fp) = from_state(a)
            {
                if prev_a.is_none() {
                    d.notes.push(format!("{who}: kept {a} from the state (the lock did not record it)"));
                }
                d.fingerprints.insert(*a, fp.clone());
                continue;
            }
            match why {
                Some(why) => {
                    d.due.insert(*a, why);
                    // Placeholder until issued: dependents see their issuer as changed.
                    d.fingerprints.insert(*a, format!("pending:{input}"));
                }
                None => {
                    d.fingerprints.insert(*a, prev_a.map(|p| p.fingerprint.clone()).unwrap_or_default());
                }
            }
        }
        Ok(d)
    }

    /// Nothing due and every Secret's inputs unchanged: the sealed objects the lock records,
    /// checked against the tenant's spec. No identity needed.
    /// The lock entry after a reuse, when it must change: a lock entry without the DataStore
    /// record (older tcpc) or an acknowledged move records where the data is now; artefacts and
    /// Secrets the tenant no longer has (leaves that went to the companion under `rotation:
    /// companion`, konnectivity turned off) leave it, so nothing reports or checks them.
    fn reused_lock(&self, p: &TenantLock, secrets: &[SecretPlan]) -> Option<TenantLock> {
        let here = Some(DataStoreRecord::of(self.t));
        let keep = |name: &str| self.order.iter().any(|a| a.as_str() == name) || [sa_rotation::NEXT, sa_rotation::PREVIOUS].contains(&name);
        let stale_artefacts = p.artefacts.keys().any(|k| !keep(k));
        let stale_secrets = p.secrets.keys().any(|k| !secrets.iter().any(|s| &s.name == k));
        if p.datastore == here && !stale_artefacts && !stale_secrets {
            return None;
        }
        let mut lock = TenantLock { datastore: here, ..p.clone() };
        lock.artefacts.retain(|k, _| keep(k));
        lock.secrets.retain(|k, _| secrets.iter().any(|s| &s.name == k));
        Some(lock)
    }

    fn reuse(&self, p: &TenantLock, secrets: &[SecretPlan], d: &Decision, env: &PkiEnv<'_>) -> Result<TenantPkiOutput, PkiError> {
        let (t, who) = (self.t, &self.who);
        crate::lock_check::check_ca_bundle(
            &p.ca_bundle,
            p.artefacts.get("ca").map(|a| a.fingerprint.as_str()),
            &format!("tcpc.lock.d/{who}.json: caBundle"),
        )?;
        let objects = secrets
            .iter()
            .map(|s| {
                let object = serde_json::from_str(p.secrets[&s.name].object.get()).map_err(|e| format!("{who}: corrupt lock: {e}"))?;
                let entry = format!("tcpc.lock.d/{who}.json: secrets.\"{}\".object", s.name);
                crate::lock_check::check_sealed(t, &s.name, s.component, env.sealer, &object, &entry)?;
                Ok(rendered(t, object, certificate_annotations(t, &s.name, &self.specs, &p.artefacts, &p.ca_bundle)))
            })
            .collect::<Result<_, String>>()?;
        use base64::Engine as _;
        Ok(TenantPkiOutput {
            secrets: objects,
            pod_checksum: pod_checksum(
                &d.fingerprints,
                self.kine.map(|_| self.ds_fingerprint.as_str()),
                sa_rotation::extra_record(p).map(|(_, r)| r.fingerprint.as_str()),
            ),
            etcd_checksum: etcd_checksum(&d.fingerprints, self.dedicated),
            ca_cert_b64: base64::engine::general_purpose::STANDARD.encode(p.ca_bundle.as_bytes()),
            lock: self.reused_lock(p, secrets),
            new_state: None,
            report: vec![],
        })
    }

    /// Opens the tenant's state (or starts one) and the DataStore material it is issued with.
    fn open(&self, env: &PkiEnv<'_>, adopted: Option<TenantState>, rng: &mut (impl RngCore + CryptoRng)) -> Result<Material, PkiError> {
        let (who, kine) = (&self.who, self.kine);
        let mut state: TenantState = match (adopted, self.state_text) {
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
        let ds_state: Option<DataStoreState> = match (kine, self.ds_state_text) {
            (Some(k), Some(text)) if k.tls && k.ca_pem.is_none() => {
                let c: DataStoreCaCert =
                    decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore CA state: {e}"))?;
                Some(DataStoreState { cert: c.cert.clone(), key: String::new() })
            }
            (Some(_), _) => None,
            (None, Some(text)) => {
                Some(decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore CA state: {e}"))?)
            }
            // A dedicated etcd (checked in `check_imports`).
            (None, None) => None,
        };
        let creds: Option<DataStoreCredentials> = match self.creds_text {
            Some(text) if kine.is_some_and(|k| k.shared_credentials) => {
                Some(decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore credentials: {e}"))?)
            }
            _ => None,
        };
        let client_pair: Option<DataStoreState> = match self.client_text {
            Some(text) if kine.is_some_and(|k| k.client_certificate) => {
                Some(decrypt_json(text, env.identities).map_err(|e| format!("{who}: cannot open the DataStore client certificate: {e}"))?)
            }
            _ => None,
        };
        if kine.is_some_and(|k| k.setup.is_some()) && state.datastore_password.is_none() {
            state.datastore_password = Some(generate_password(rng));
        }
        Ok(Material { state, ds_state, creds, client_pair })
    }

    /// Issues what is due, in order, and takes the rest from the state; records each artefact.
    fn issue(
        &self,
        prev: Option<&TenantLock>,
        env: &PkiEnv<'_>,
        mut material: Material,
        decision: Decision,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Issuance, PkiError> {
        let (t, who) = (self.t, &self.who);
        let Decision { mut fingerprints, due, notes, sa_step, rekey_roots } = decision;
        let mut report = Vec::new();
        let sa_extra = sa_rotation::apply(&mut material.state, sa_step, rekey_roots, prev, self.key_alg, env.now, rng, who)?;
        if let Some(step) = sa_step {
            report.push(format!("{who}: {}", step.reason()));
        }
        let mut lock = TenantLock {
            state: String::new(),
            ca_bundle: String::new(),
            artefacts: BTreeMap::new(),
            secrets: BTreeMap::new(),
            datastore: Some(DataStoreRecord::of(t)),
        };
        let mut issued: BTreeMap<Artefact, Issued> = BTreeMap::new();
        // Issuers are built once: each build re-derives and checks the CA's public key.
        let mut issuers: BTreeMap<Artefact, Issuer> = BTreeMap::new();
        let mut sa_key: Option<PrivateKey> = None;
        let mut key_pems: BTreeMap<Artefact, Zeroizing<String>> = BTreeMap::new();
        let state = &mut material.state;
        for a in &self.order {
            let input = self.input_of(*a, &fingerprints);
            let stored = state.artefacts.get(a.as_str()).cloned();
            let imported = *a == Artefact::Ca && state.imported_ca;
            let needs = !imported && (due.contains_key(a) || stored.is_none());
            let why = || due.get(a).map_or("missing from state", String::as_str).to_string();
            if *a == Artefact::Sa {
                let (key, pem) = match (&stored, needs) {
                    (Some(s), false) => {
                        (PrivateKey::from_pem(&s.key).map_err(|e| format!("{who}: sa: {e}"))?, Zeroizing::new(s.key.clone()))
                    }
                    _ => {
                        let k = PrivateKey::generate(self.key_alg, rng).map_err(|e| format!("{who}: sa: {e}"))?;
                        let pem = k.to_pem();
                        (k, pem)
                    }
                };
                if needs {
                    report.push(format!("{who}: issued sa ({})", why()));
                }
                let fp = sha256(&key.public_key_der());
                fingerprints.insert(*a, fp.clone());
                lock.artefacts.insert(
                    "sa".into(),
                    ArtefactLock {
                        inputs: input.clone(),
                        fingerprint: fp,
                        not_before: None,
                        not_after: None,
                        serial: None,
                        imported: false,
                    },
                );
                state.artefacts.insert("sa".into(), StoredPair { cert: None, key: pem.to_string() });
                key_pems.insert(*a, pem);
                sa_key = Some(key);
                continue;
            }
            let spec = &self.specs[a];
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
                        IssuerRef::DatastoreCa | IssuerRef::EtcdCa if self.dedicated => {
                            tcpc_pki::issue(spec, None, issuer(&issued, &mut issuers, Artefact::EtcdCa)?, env.now, rng)
                        }
                        IssuerRef::EtcdCa => unreachable!("etcd-ca exists only with a dedicated etcd"),
                        IssuerRef::DatastoreCa => {
                            let ds = &t.datastore.name;
                            let ds_state = material.ds_state.as_ref().filter(|d| !d.key.is_empty()).ok_or_else(|| {
                                format!("{who}: the CA key of DataStore `{ds}` has not been imported; run `tcpc import datastore-ca {ds} --cert CA.crt --key CA.key`")
                            })?;
                            let ds_key = PrivateKey::from_pem(&ds_state.key).map_err(|e| format!("{who}: DataStore CA key: {e}"))?;
                            let ds_issuer = Issuer::new(&ds_state.cert, ds_key).map_err(|e| format!("{who}: DataStore CA: {e}"))?;
                            tcpc_pki::issue(spec, None, &ds_issuer, env.now, rng)
                        }
                        IssuerRef::None => unreachable!("sa handled above"),
                    }
                    .map_err(|e| format!("{who}: issuing {a}: {e}"))?;
                    report.push(format!("{who}: issued {a} ({})", why()));
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
        let sa_key = sa_key.expect("the order ends with sa");
        if let Some(extra) = &sa_extra {
            lock.artefacts.insert(extra.name.into(), extra.record.clone());
        }
        Ok(Issuance { material, fingerprints, issued, key_pems, sa_key, sa_extra, lock, report, notes })
    }

    /// Builds each Secret from the issued material, reuses its sealed object when its inputs
    /// and plaintext fingerprint are unchanged, seals it otherwise; stores the state if it changed.
    fn seal(
        &self,
        prev: Option<&TenantLock>,
        env: &PkiEnv<'_>,
        issuance: Issuance,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<TenantPkiOutput, PkiError> {
        let (t, who) = (self.t, &self.who);
        let Issuance { material, fingerprints, issued, key_pems, sa_key, sa_extra, mut lock, mut report, notes } = issuance;
        let sa_extra_fp = sa_extra.as_ref().map(|e| e.record.fingerprint.as_str());
        let Material { state, ds_state, creds, client_pair } = material;
        // Secret inputs with the final fingerprints.
        let plans = secret_plans(t, &fingerprints, &self.ds_fingerprint, env.sealer, sa_extra_fp);
        let fkey =
            tcpc_seal::fingerprint::FingerprintKey::derive(&decode_secret(&state.fingerprint_secret)?, &format!("tcpc/secrets/{who}"));
        let ca_bundle = format!("{}{}", issued[&Artefact::Ca].cert_pem, state.ca_chain.clone().unwrap_or_default());
        lock.ca_bundle = ca_bundle.clone();
        let ds_ca = if self.dedicated {
            issued[&Artefact::EtcdCa].cert_pem.clone()
        } else {
            self.kine.and_then(|k| k.ca_pem.clone()).or_else(|| ds_state.as_ref().map(|d| d.cert.clone())).unwrap_or_default()
        };
        let data = secret_data(
            t,
            &issued,
            &key_pems,
            &sa_key,
            sa_extra.as_ref().map(|e| e.public_pem.as_str()),
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
                    let entry = format!("tcpc.lock.d/{who}.json: secrets.\"{}\".object", plan.name);
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
            objects.push(rendered(t, object, certificate_annotations(t, &plan.name, &self.specs, &lock.artefacts, &lock.ca_bundle)));
        }

        let state_json = Zeroizing::new(serde_json::to_vec(&state).expect("state serialises"));
        // Nothing issued, at most re-sealed: the key material is what the state holds.
        let unchanged = report.iter().all(|r| r.contains("sealed Secret")) && self.state_text.is_some();
        report.splice(0..0, notes);
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
        lock.state = sha256(new_state.as_deref().or(self.state_text.map(String::as_str)).unwrap_or_default().as_bytes());
        use base64::Engine as _;
        Ok(TenantPkiOutput {
            secrets: objects,
            pod_checksum: pod_checksum(&fingerprints, self.kine.map(|_| self.ds_fingerprint.as_str()), sa_extra_fp),
            etcd_checksum: etcd_checksum(&fingerprints, self.dedicated),
            ca_cert_b64: base64::engine::general_purpose::STANDARD.encode(ca_bundle.as_bytes()),
            lock: Some(lock),
            new_state,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    const TCP: &str = "apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata: {name: alpha, namespace: tenants}
spec:
  controlPlane: {service: {serviceType: ClusterIP}}
  kubernetes: {version: v1.36.3, kubelet: {cgroupfs: systemd}}
";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    /// Runs `f` on `tenants/alpha`'s subject (the DataStore CA imported) and its environment.
    fn with_subject<R>(f: impl FnOnce(&Subject<'_>, &PkiEnv<'_>) -> R) -> R {
        let t = crate::resolve::resolve_one(crate::resolve::TEST_DATASTORE, TCP.to_string());
        let states: BTreeMap<String, String> = [(datastore_state_key("default"), "age-armored".to_string())].into();
        let sealer = super::super::Sealer::Sops { recipients: vec![], recipient_strings: vec![] };
        let env = PkiEnv {
            now: now(),
            identities: &[],
            states: &states,
            recipients: &[],
            sealer: &sealer,
            renew_before_fraction: 1.0 / 3.0,
            rotate_ca: &Default::default(),
            rotate_sa: &Default::default(),
            sa_min_overlap: time::Duration::ZERO,
        };
        match Subject::new(&t, &env) {
            Ok(subject) => f(&subject, &env),
            Err(PkiError::Failed(m) | PkiError::NeedsIdentity(m)) => panic!("{m}"),
        }
    }

    fn decide(prev: Option<&TenantLock>, rotate: bool) -> Result<Decision, PkiError> {
        with_subject(|subject, env| subject.decide(prev, env, None, rotate))
    }

    /// A lock recording every artefact as issued a day ago for a year, with the inputs tcpc
    /// computes today; `edit` changes records.
    fn lock(edit: impl Fn(&str, &mut ArtefactLock)) -> TenantLock {
        let artefacts = with_subject(|subject, _| {
            let mut fingerprints = BTreeMap::new();
            let mut artefacts = BTreeMap::new();
            for a in &subject.order {
                let fp = format!("sha256:fake-{a}");
                let mut record = ArtefactLock {
                    inputs: subject.input_of(*a, &fingerprints),
                    fingerprint: fp.clone(),
                    not_before: Some(rfc3339(now() - time::Duration::days(1))),
                    not_after: Some(rfc3339(now() + time::Duration::days(364))),
                    serial: None,
                    imported: false,
                };
                edit(a.as_str(), &mut record);
                fingerprints.insert(*a, fp);
                artefacts.insert(a.as_str().to_string(), record);
            }
            artefacts
        });
        TenantLock { state: String::new(), ca_bundle: String::new(), artefacts, secrets: BTreeMap::new(), datastore: None }
    }

    fn due(d: &Decision) -> Vec<&str> {
        d.due.keys().map(|a| a.as_str()).collect()
    }

    #[test]
    fn a_new_tenant_has_everything_due_cas_first() {
        let d = decide(None, false).ok().unwrap();
        assert!(d.due.values().all(|why| why == "new"), "{:?}", d.due);
        assert!(d.due.contains_key(&Artefact::Ca) && d.due.contains_key(&Artefact::Sa) && d.due.contains_key(&Artefact::Apiserver));
        assert!(d.fingerprints.values().all(|fp| fp.starts_with("pending:")));
    }

    #[test]
    fn an_unchanged_lock_has_nothing_due() {
        let d = decide(Some(&lock(|_, _| {})), false).ok().unwrap();
        assert!(d.due.is_empty(), "{:?}", d.due);
        assert_eq!(d.fingerprints[&Artefact::Apiserver], "sha256:fake-apiserver");
    }

    #[test]
    fn a_leaf_whose_inputs_changed_is_due_alone() {
        let d = decide(
            Some(&lock(|a, r| {
                if a == "apiserver" {
                    r.inputs = "sha256:older".into()
                }
            })),
            false,
        )
        .ok()
        .unwrap();
        assert_eq!(due(&d), ["apiserver"]);
        assert_eq!(d.due[&Artefact::Apiserver], "its inputs changed");
    }

    #[test]
    fn a_leaf_in_its_renewal_window_is_due() {
        // A year's certificate with 30 days left: under a third of its lifetime.
        let (issued, expires) = (rfc3339(now() - time::Duration::days(335)), rfc3339(now() + time::Duration::days(30)));
        let d = decide(
            Some(&lock(|a, r| {
                if a == "admin" {
                    (r.not_before, r.not_after) = (Some(issued.clone()), Some(expires.clone()));
                }
            })),
            false,
        )
        .ok()
        .unwrap();
        assert_eq!(due(&d), ["admin"]);
        assert!(d.due[&Artefact::Admin].contains("lifetime is left"), "{}", d.due[&Artefact::Admin]);
    }

    #[test]
    fn a_trust_root_is_never_re_keyed_as_a_side_effect() {
        let err = decide(
            Some(&lock(|a, r| {
                if a == "ca" {
                    r.inputs = "sha256:older".into()
                }
            })),
            false,
        )
        .err()
        .unwrap();
        let PkiError::Failed(message) = err else { panic!("a failure, not a pending tenant") };
        assert!(message.contains("ca would have to be re-keyed") && message.contains("tcpc rotate ca tenants/alpha"), "{message}");
    }

    #[test]
    fn rotating_the_ca_re_issues_everything_it_signed() {
        let d = decide(Some(&lock(|_, _| {})), true).ok().unwrap();
        assert_eq!(d.due[&Artefact::Ca], "re-key requested (tcpc rotate ca)");
        // Leaves signed by the CA see its pending fingerprint as a changed input.
        assert_eq!(d.due[&Artefact::Apiserver], "its inputs changed");
        assert_eq!(d.due[&Artefact::Admin], "its inputs changed");
    }
}
