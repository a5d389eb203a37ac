//! Leaves issued in the cluster (`rotation: companion`): what the compiler asks for, and how one
//! Secret's content is made from it.
//!
//! The compiler writes an [`IssuedSecret`] per companion-owned Secret into the tenant's
//! `RenderedControlPlane` record (public facts only: names, subjects, SANs, validity); the
//! companion reads the signers' Secrets, calls [`issue_secret`] and writes the result in one
//! API call, so a Secret is always complete (a certificate with its key, a kubeconfig with the
//! files it names). [`issued_for`] is the digest the companion stamps on the Secret: when the
//! request or a signer changes, the digest changes and the Secret is issued again at once.
//!
//! Invariant: pure (time and randomness are handed in); keys stay in zeroizing buffers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{CertInfo, CertSpec, Error, Issuer, PrivateKey, Rng, issue, kubeconfig_with_key_pem, renewal_due};

/// One Secret the companion owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedSecret {
    /// Its name, in the tenant's namespace.
    pub secret: String,
    /// How the processes that read it take a renewed certificate.
    pub reload: Reload,
    /// The certificates it holds, each with its key.
    pub entries: Vec<IssuedEntry>,
}

/// How a renewal reaches the processes that read a Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reload {
    /// They re-read the files (kube-apiserver's serving and client certificates, client-go's
    /// certificate files): nothing restarts.
    Files,
    /// One of them reads the files once (konnectivity-server): the Deployment is rolled.
    Roll,
    /// Nothing in the control plane reads it (the admin kubeconfig, for people).
    None,
}

/// One certificate and its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedEntry {
    /// The artefact (`apiserver`, `controller-manager`, …).
    pub artefact: String,
    /// The CA that signs it: a Secret of the tenant's namespace and the keys of its certificate
    /// (a bundle: the first certificate signs) and private key.
    pub signer: Signer,
    pub spec: CertSpec,
    /// Keys the PEM certificate and key are written to (absent: only in kubeconfigs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_key: Option<String>,
    /// Kubeconfigs of this certificate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubeconfigs: Vec<KubeconfigFile>,
}

/// A signer: `secret`'s `cert` and `key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signer {
    pub secret: String,
    pub cert: String,
    pub key: String,
}

/// A kubeconfig written beside the certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeconfigFile {
    /// The Secret key it is written to.
    pub key: String,
    pub cluster: String,
    pub server: String,
    /// The user name (kubeadm names it after the CN).
    pub user: String,
    /// Names the certificate and key files (`certKey`/`keyKey`, relative to the kubeconfig,
    /// so the same Secret mounted as a directory): client-go re-reads them, so a renewal needs
    /// no restart. Otherwise embedded (`*-data`), for kubeconfigs handed to people.
    #[serde(default)]
    pub files: bool,
}

/// A signer's material as read from the cluster: the certificate bundle and the private key.
pub struct SignerMaterial {
    pub cert_bundle: String,
    pub issuer: Issuer,
}

impl SignerMaterial {
    /// Parses a signer's certificate bundle and PEM key.
    pub fn parse(cert_bundle: &str, key_pem: &str) -> Result<Self, Error> {
        let key = PrivateKey::from_pem(key_pem)?;
        Ok(SignerMaterial { cert_bundle: cert_bundle.to_string(), issuer: Issuer::new(cert_bundle, key)? })
    }
}

/// A Secret's content: key → bytes.
pub type SecretData = BTreeMap<String, Zeroizing<Vec<u8>>>;

/// The digest a Secret is stamped with: the request and its signers' certificates. A Secret
/// whose stamp differs is issued again.
pub fn issued_for(request: &IssuedSecret, signers: &BTreeMap<Signer, SignerMaterial>) -> String {
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(request).expect("a request serialises"));
    for entry in &request.entries {
        h.update(b"\0");
        h.update(signers.get(&entry.signer).map_or("", |s| s.cert_bundle.as_str()).as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Why a Secret must be issued (again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reissue {
    /// It does not exist.
    Missing,
    /// What it must contain changed: the rendered request or a signer.
    Changed,
    /// An entry's certificate cannot be read (the artefact).
    Unreadable(String),
    /// An entry's certificate is inside its renewal window (the artefact, its notAfter).
    Due(String, OffsetDateTime),
}

impl Reissue {
    /// The Event reason: `CertificateIssued`, `CertificateReissued` or `CertificateRenewed`.
    pub fn event_reason(&self) -> &'static str {
        match self {
            Reissue::Missing => "CertificateIssued",
            Reissue::Changed | Reissue::Unreadable(_) => "CertificateReissued",
            Reissue::Due(..) => "CertificateRenewed",
        }
    }
}

impl std::fmt::Display for Reissue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reissue::Missing => f.write_str("it does not exist"),
            Reissue::Changed => f.write_str("what it must contain changed (the rendered spec or a signer)"),
            Reissue::Unreadable(a) => write!(f, "{a}: no readable certificate"),
            Reissue::Due(a, not_after) => write!(f, "{a}: inside its renewal window (not after {not_after})"),
        }
    }
}

/// Why `request`'s Secret, as found (`data`, stamped `stamp`), must be issued again; `None` when
/// it is complete, current and outside its renewal window.
pub fn reissue_reason(
    request: &IssuedSecret,
    signers: &BTreeMap<Signer, SignerMaterial>,
    data: Option<&BTreeMap<String, Vec<u8>>>,
    stamp: Option<&str>,
    now: OffsetDateTime,
    renew_before_fraction: f64,
) -> Option<Reissue> {
    let Some(data) = data else { return Some(Reissue::Missing) };
    if stamp != Some(issued_for(request, signers).as_str()) {
        return Some(Reissue::Changed);
    }
    for entry in &request.entries {
        let Some(info) = entry_cert(entry, data) else {
            return Some(Reissue::Unreadable(entry.artefact.clone()));
        };
        if renewal_due(&info, now, renew_before_fraction) {
            return Some(Reissue::Due(entry.artefact.clone(), info.not_after));
        }
    }
    None
}

/// When the Secret's first certificate enters its renewal window.
pub fn next_renewal(request: &IssuedSecret, data: &BTreeMap<String, Vec<u8>>, renew_before_fraction: f64) -> Option<OffsetDateTime> {
    request
        .entries
        .iter()
        .filter_map(|e| entry_cert(e, data))
        .map(|info| {
            let lifetime = info.lifetime().as_seconds_f64().max(0.0);
            info.not_after - time::Duration::seconds_f64(lifetime * renew_before_fraction.clamp(0.0, 1.0))
        })
        .min()
}

/// The certificate of `entry` in `data`: its PEM key, or its first kubeconfig's embedded data.
pub fn entry_cert(entry: &IssuedEntry, data: &BTreeMap<String, Vec<u8>>) -> Option<CertInfo> {
    if let Some(k) = &entry.cert_key {
        return CertInfo::parse(std::str::from_utf8(data.get(k)?).ok()?).ok();
    }
    let kubeconfig = std::str::from_utf8(data.get(&entry.kubeconfigs.first()?.key)?).ok()?;
    let line = kubeconfig.lines().find_map(|l| l.trim().strip_prefix("client-certificate-data:"))?;
    use base64::Engine as _;
    let pem = base64::engine::general_purpose::STANDARD.decode(line.trim()).ok()?;
    CertInfo::parse(std::str::from_utf8(&pem).ok()?).ok()
}

/// Issues every certificate of `request` and returns the Secret's whole content.
pub fn issue_secret(
    request: &IssuedSecret,
    signers: &BTreeMap<Signer, SignerMaterial>,
    now: OffsetDateTime,
    rng: &mut impl Rng,
) -> Result<SecretData, Error> {
    let mut out = SecretData::new();
    for entry in &request.entries {
        let signer = signers.get(&entry.signer).ok_or_else(|| {
            Error::InvalidSpec(format!("{}: its signer {}/{} was not read", entry.artefact, entry.signer.secret, entry.signer.cert))
        })?;
        let mut spec = entry.spec.clone();
        spec.canonicalize();
        let issued = issue(&spec, None, &signer.issuer, now, rng)?;
        let key_pem = issued.key.to_pem();
        if let Some(k) = &entry.cert_key {
            out.insert(k.clone(), Zeroizing::new(issued.cert_pem.as_bytes().to_vec()));
        }
        if let Some(k) = &entry.key_key {
            out.insert(k.clone(), Zeroizing::new(key_pem.as_bytes().to_vec()));
        }
        for kc in &entry.kubeconfigs {
            let text = match (kc.files, &entry.cert_key, &entry.key_key) {
                (true, Some(cert), Some(key)) => {
                    Zeroizing::new(kubeconfig_with_files(&kc.cluster, &kc.server, &signer.cert_bundle, &kc.user, cert, key))
                }
                (true, _, _) => {
                    return Err(Error::InvalidSpec(format!(
                        "{}: kubeconfig {} names files the entry does not write",
                        entry.artefact, kc.key
                    )));
                }
                (false, _, _) => {
                    kubeconfig_with_key_pem(&kc.cluster, &kc.server, &signer.cert_bundle, &kc.user, &issued.cert_pem, &key_pem)
                }
            };
            out.insert(kc.key.clone(), Zeroizing::new(text.as_bytes().to_vec()));
        }
    }
    Ok(out)
}

/// A kubeconfig whose client certificate and key are files (relative paths resolve against the
/// kubeconfig's directory): client-go sets `ReloadTLSFiles` for these and picks up a renewal.
pub fn kubeconfig_with_files(cluster: &str, server: &str, ca_pem: &str, user: &str, cert_file: &str, key_file: &str) -> String {
    use base64::Engine as _;
    let q = |s: &str| serde_json::to_string(s).expect("string serialises");
    let context = format!("{user}@{cluster}");
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: {user}\n  name: {context}\ncurrent-context: {context}\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\n",
        ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes()),
        server = q(server),
        cluster = q(cluster),
        user = q(user),
        context = q(&context),
        cert = q(cert_file),
        key = q(key_file),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CertKind, KeyAlgorithm, Validity, self_signed_ca};
    use rand_core::SeedableRng as _;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn signer() -> (Signer, SignerMaterial) {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let ca = self_signed_ca(&CertSpec::ca("kubernetes", KeyAlgorithm::EcdsaP256), None, now(), &mut rng).unwrap();
        let s = Signer { secret: "alpha-ca".into(), cert: "ca.crt".into(), key: "ca.key".into() };
        (s, SignerMaterial::parse(&ca.cert_pem, &ca.key.to_pem()).unwrap())
    }

    fn request(signer: &Signer, validity: Validity) -> IssuedSecret {
        let mut spec = CertSpec::leaf("system:kube-scheduler", vec![], CertKind::Client, vec![], vec![], KeyAlgorithm::EcdsaP256);
        spec.validity = validity;
        IssuedSecret {
            secret: "alpha-scheduler-kubeconfig".into(),
            reload: Reload::Files,
            entries: vec![IssuedEntry {
                artefact: "scheduler".into(),
                signer: signer.clone(),
                spec,
                cert_key: Some("scheduler.crt".into()),
                key_key: Some("scheduler.key".into()),
                kubeconfigs: vec![KubeconfigFile {
                    key: "scheduler.conf".into(),
                    cluster: "alpha".into(),
                    server: "https://127.0.0.1:6443".into(),
                    user: "system:kube-scheduler".into(),
                    files: true,
                }],
            }],
        }
    }

    fn plain(data: &SecretData) -> BTreeMap<String, Vec<u8>> {
        data.iter().map(|(k, v)| (k.clone(), v.to_vec())).collect()
    }

    #[test]
    fn a_secret_holds_the_certificate_its_key_and_a_kubeconfig_naming_them() {
        let (s, m) = signer();
        let signers = BTreeMap::from([(s.clone(), m)]);
        let req = request(&s, Validity::Seconds(600));
        let data = issue_secret(&req, &signers, now(), &mut rand_chacha::ChaCha20Rng::seed_from_u64(2)).unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["scheduler.conf", "scheduler.crt", "scheduler.key"]);
        let cert = std::str::from_utf8(&data["scheduler.crt"]).unwrap();
        let key = PrivateKey::from_pem(std::str::from_utf8(&data["scheduler.key"]).unwrap()).unwrap();
        assert!(crate::key_matches_cert(cert, &key));
        let info = CertInfo::parse(cert).unwrap();
        assert_eq!(info.subject_cn, "system:kube-scheduler");
        assert_eq!(info.not_after, now() + time::Duration::seconds(600));
        let conf = std::str::from_utf8(&data["scheduler.conf"]).unwrap();
        assert!(conf.contains("client-certificate: \"scheduler.crt\"\n    client-key: \"scheduler.key\"\n"), "{conf}");
        assert!(!conf.contains("PRIVATE KEY") && !conf.contains("client-key-data"), "{conf}");
    }

    #[test]
    fn reissue_reasons_cover_absence_a_changed_request_and_the_renewal_window() {
        let (s, m) = signer();
        let signers = BTreeMap::from([(s.clone(), m)]);
        let req = request(&s, Validity::Seconds(600));
        let stamp = issued_for(&req, &signers);
        let data = plain(&issue_secret(&req, &signers, now(), &mut rand_chacha::ChaCha20Rng::seed_from_u64(3)).unwrap());
        let reason = |req: &IssuedSecret, at: i64| {
            reissue_reason(req, &signers, Some(&data), Some(&stamp), now() + time::Duration::seconds(at), 0.5)
        };
        assert_eq!(reissue_reason(&req, &signers, None, None, now(), 0.5), Some(Reissue::Missing));
        // Half of the lifetime (backdated not-before included) is left at `due`.
        let info = entry_cert(&req.entries[0], &data).unwrap();
        let due = info.not_after - info.lifetime() / 2;
        assert_eq!(next_renewal(&req, &data, 0.5), Some(due));
        let at = (due - now()).whole_seconds();
        assert_eq!(reason(&req, at - 1), None);
        assert!(matches!(reason(&req, at + 1), Some(Reissue::Due(a, _)) if a == "scheduler"));
        let mut with_san = req.clone();
        with_san.entries[0].spec.dns_sans.push("extra.example.com".into());
        assert_eq!(reason(&with_san, 0), Some(Reissue::Changed));
    }

    #[test]
    fn a_new_signer_changes_the_stamp() {
        let (s, m) = signer();
        let req = request(&s, Validity::Seconds(600));
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let other = self_signed_ca(&CertSpec::ca("kubernetes", KeyAlgorithm::EcdsaP256), None, now(), &mut rng).unwrap();
        let a = issued_for(&req, &BTreeMap::from([(s.clone(), m)]));
        let b = issued_for(&req, &BTreeMap::from([(s, SignerMaterial::parse(&other.cert_pem, &other.key.to_pem()).unwrap())]));
        assert_ne!(a, b);
    }

    #[test]
    fn an_embedded_kubeconfig_is_read_back_for_its_certificate() {
        let (s, m) = signer();
        let signers = BTreeMap::from([(s.clone(), m)]);
        let mut req = request(&s, Validity::Seconds(600));
        req.entries[0].cert_key = None;
        req.entries[0].key_key = None;
        req.entries[0].kubeconfigs[0].files = false;
        let data = plain(&issue_secret(&req, &signers, now(), &mut rand_chacha::ChaCha20Rng::seed_from_u64(4)).unwrap());
        assert_eq!(data.keys().collect::<Vec<_>>(), ["scheduler.conf"]);
        assert_eq!(entry_cert(&req.entries[0], &data).unwrap().subject_cn, "system:kube-scheduler");
    }
}
