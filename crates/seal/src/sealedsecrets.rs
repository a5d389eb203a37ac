//! Bitnami SealedSecrets, sealed offline against the controller's public certificate.
//!
//! Wire format of one sealed value (what the controller's hybrid decryption expects):
//!
//! ```text
//! base64std( u16be(len(rsa_ct)) ‖ rsa_ct ‖ aes_gcm_ct ‖ gcm_tag )
//! rsa_ct     = RSA-OAEP(SHA-256 hash and MGF1-SHA-256, label)(session_key)
//! session_key: 32 fresh random bytes (AES-256)
//! aes_gcm_ct = AES-256-GCM(session_key, nonce = 12 zero bytes, no AAD)(plaintext)
//! label      = "namespace/name" (strict) | "namespace" (namespace-wide) | "" (cluster-wide)
//! ```
//!
//! The zero nonce is safe only because every value gets its own fresh session key.
//!
//! **Reuse.** Sealing is randomized: the same plaintext gives a different ciphertext on every
//! call. To keep Git diffs quiet, the caller records, in the lock file, the ciphertext it last
//! emitted together with [`reuse_fingerprint`] of everything that ciphertext depends on
//! (controller public key, scope, namespace, name, key, plaintext); on the next run, if
//! [`may_reuse`] says the recorded fingerprint still matches, it emits the recorded
//! ciphertext again instead of sealing anew. This module keeps no state itself.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::{CryptoRng, RngCore};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::fingerprint::{FingerprintKey, fingerprint_fields, fingerprints_equal};
use crate::{Result, SealError};

/// API group/version of the SealedSecret kind.
pub const API_VERSION: &str = "bitnami.com/v1alpha1";
/// Annotation that makes a SealedSecret namespace-wide.
pub const NAMESPACE_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// Annotation that makes a SealedSecret cluster-wide.
pub const CLUSTER_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/cluster-wide";

const SESSION_KEY_BYTES: usize = 32;

/// The sealed-secrets controller's public certificate (RSA).
#[derive(Clone)]
pub struct ControllerCert {
    key: RsaPublicKey,
    /// The key's Montgomery constants, computed once (see `oaep`).
    op: crate::oaep::PublicOp,
    spki_der: Vec<u8>,
    cert_der: Option<Vec<u8>>,
}

impl std::fmt::Debug for ControllerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerCert")
            .field("rsa_bits", &(self.key.size() * 8))
            .field("spki_sha256", &crate::sha256_hex(&self.spki_der))
            .finish()
    }
}

impl ControllerCert {
    /// Parse the controller's certificate as `kubeseal --fetch-cert` prints it (PEM
    /// `CERTIFICATE`). A bare `PUBLIC KEY` PEM (SubjectPublicKeyInfo) is accepted too.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let bad = |m: String| SealError::InvalidCertificate(m);
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| bad(format!("not PEM: {e}")))?;
        match block.label.as_str() {
            "CERTIFICATE" => {
                let cert = block.parse_x509().map_err(|e| bad(format!("bad X.509: {e}")))?;
                let spki = cert.public_key().raw.to_vec();
                let key = RsaPublicKey::from_public_key_der(&spki).map_err(|e| bad(format!("public key is not RSA: {e}")))?;
                Ok(Self { op: crate::oaep::PublicOp::new(&key), key, spki_der: spki, cert_der: Some(block.contents.clone()) })
            }
            "PUBLIC KEY" => {
                let key = RsaPublicKey::from_public_key_der(&block.contents).map_err(|e| bad(format!("public key is not RSA: {e}")))?;
                Ok(Self { op: crate::oaep::PublicOp::new(&key), key, spki_der: block.contents.clone(), cert_der: None })
            }
            other => Err(bad(format!("unexpected PEM block {other:?}"))),
        }
    }

    /// Wrap an RSA public key directly (tests, or keys obtained elsewhere).
    pub fn from_public_key(key: RsaPublicKey) -> Result<Self> {
        use rsa::pkcs8::EncodePublicKey;
        let spki = key.to_public_key_der().map_err(|e| SealError::InvalidCertificate(e.to_string()))?.as_bytes().to_vec();
        Ok(Self { op: crate::oaep::PublicOp::new(&key), key, spki_der: spki, cert_der: None })
    }

    /// The RSA public key.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.key
    }

    /// DER SubjectPublicKeyInfo of the key (public material).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// DER of the certificate, when parsed from a certificate.
    pub fn cert_der(&self) -> Option<&[u8]> {
        self.cert_der.as_deref()
    }
}

/// Sealing scope: which names the ciphertext is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Scope {
    /// Bound to namespace and name (label `namespace/name`). The controller's default.
    #[default]
    Strict,
    /// Bound to the namespace only (label `namespace`).
    NamespaceWide,
    /// Not bound (empty label).
    ClusterWide,
}

impl Scope {
    /// The name kubeseal uses for `--scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }

    /// The annotation that selects this scope (`None` for strict, the default).
    pub fn annotation(self) -> Option<(&'static str, &'static str)> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some((NAMESPACE_WIDE_ANNOTATION, "true")),
            Scope::ClusterWide => Some((CLUSTER_WIDE_ANNOTATION, "true")),
        }
    }

    /// The scope the controller reads from a SealedSecret's annotations (cluster-wide wins).
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Scope {
        if annotations.get(CLUSTER_WIDE_ANNOTATION).map(String::as_str) == Some("true") {
            Scope::ClusterWide
        } else if annotations.get(NAMESPACE_WIDE_ANNOTATION).map(String::as_str) == Some("true") {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// The RSA-OAEP label for this scope.
    pub fn label(self, namespace: &str, name: &str) -> String {
        match self {
            Scope::Strict => format!("{namespace}/{name}"),
            Scope::NamespaceWide => namespace.to_owned(),
            Scope::ClusterWide => String::new(),
        }
    }

    fn check(self, namespace: &str, name: &str) -> Result<()> {
        if self != Scope::ClusterWide && namespace.is_empty() {
            return Err(SealError::MissingIdentity { scope: self.as_str(), what: "namespace" });
        }
        if self == Scope::Strict && name.is_empty() {
            return Err(SealError::MissingIdentity { scope: self.as_str(), what: "name" });
        }
        Ok(())
    }
}

/// Seal one value for the controller. Randomized: identical inputs give a different output on
/// every call (fresh session key and fresh OAEP seed from `rng`).
pub fn seal_value(
    cert: &ControllerCert,
    scope: Scope,
    namespace: &str,
    name: &str,
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<String> {
    scope.check(namespace, name)?;
    let label = scope.label(namespace, name);

    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_BYTES]);
    rng.fill_bytes(session_key.as_mut());

    // RSA-OAEP(SHA-256, MGF1-SHA-256, label): the same bytes as `RsaPublicKey::encrypt`.
    let rsa_ct = cert.op.encrypt(rng, &label, session_key.as_ref())?;
    let rsa_len = u16::try_from(rsa_ct.len()).map_err(|_| SealError::Rsa("RSA ciphertext longer than 65535 bytes".into()))?;

    let aead = Aes256Gcm::new_from_slice(session_key.as_ref()).expect("32-byte key");
    let aes_ct = aead.encrypt(&Nonce::from([0u8; 12]), plaintext).map_err(|_| SealError::Rsa("AES-GCM encryption failed".into()))?;

    let mut out = Vec::with_capacity(2 + rsa_ct.len() + aes_ct.len());
    out.extend_from_slice(&rsa_len.to_be_bytes());
    out.extend_from_slice(&rsa_ct);
    out.extend_from_slice(&aes_ct);
    Ok(B64.encode(out))
}

/// Parse an RSA private key PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`).
fn parse_private_key(pem: &str) -> Result<RsaPrivateKey> {
    RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| SealError::InvalidPrivateKey("neither PKCS#1 nor PKCS#8 RSA PEM".into()))
}

/// Inverse of [`seal_value`] with the controller's private key. For tests and recovery; the
/// compiler itself never holds the controller's private key.
pub fn unseal_value(private_key_pem: &str, scope: Scope, namespace: &str, name: &str, b64: &str) -> Result<Zeroizing<Vec<u8>>> {
    let key = parse_private_key(private_key_pem)?;
    let raw = Zeroizing::new(B64.decode(b64.trim()).map_err(|_| SealError::InvalidCiphertext("not base64".into()))?);
    if raw.len() < 2 {
        return Err(SealError::InvalidCiphertext("too short".into()));
    }
    let rsa_len = u16::from_be_bytes([raw[0], raw[1]]) as usize;
    if raw.len() < 2 + rsa_len {
        return Err(SealError::InvalidCiphertext("too short".into()));
    }
    let (rsa_ct, aes_ct) = raw[2..].split_at(rsa_len);
    let padding = Oaep::new_with_label::<Sha256, _>(scope.label(namespace, name));
    let session_key = Zeroizing::new(key.decrypt(padding, rsa_ct).map_err(|_| SealError::DecryptionFailed)?);
    let aead = Aes256Gcm::new_from_slice(&session_key).map_err(|_| SealError::DecryptionFailed)?;
    let pt = aead.decrypt(&Nonce::from([0u8; 12]), aes_ct).map_err(|_| SealError::DecryptionFailed)?;
    Ok(Zeroizing::new(pt))
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// Build a complete `bitnami.com/v1alpha1` `SealedSecret`, one sealed value per data key.
///
/// Shape (as `kubeseal` writes it, minus `creationTimestamp: null`):
/// * `metadata`: `name`, `namespace` (omitted only for cluster-wide with an empty namespace),
///   `annotations` = the scope annotation (non-strict only). The controller derives the
///   decryption label from THESE annotations.
/// * `spec.template.metadata`: `name`, `namespace`, `labels`, `annotations` of the Secret to
///   create; the scope annotation is set here too (as kubeseal does) and any conflicting scope
///   annotation in `annotations` is replaced.
/// * `spec.template.type`: `secret_type` (omitted when empty).
/// * `spec.encryptedData`: key → [`seal_value`] output.
#[allow(clippy::too_many_arguments)]
pub fn sealed_secret(
    cert: &ControllerCert,
    scope: Scope,
    name: &str,
    namespace: &str,
    secret_type: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    data: &BTreeMap<String, Zeroizing<Vec<u8>>>,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Value> {
    if name.is_empty() {
        return Err(SealError::MissingIdentity { scope: scope.as_str(), what: "name" });
    }
    scope.check(namespace, name)?;

    let mut template_annotations = annotations.clone();
    template_annotations.remove(NAMESPACE_WIDE_ANNOTATION);
    template_annotations.remove(CLUSTER_WIDE_ANNOTATION);
    let mut outer_annotations = BTreeMap::new();
    if let Some((k, v)) = scope.annotation() {
        template_annotations.insert(k.to_owned(), v.to_owned());
        outer_annotations.insert(k.to_owned(), v.to_owned());
    }

    let mut encrypted = Map::new();
    for (key, value) in data {
        encrypted.insert(key.clone(), Value::String(seal_value(cert, scope, namespace, name, value, rng)?));
    }

    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if !namespace.is_empty() {
        meta.insert("namespace".into(), json!(namespace));
    }
    let mut template_meta = meta.clone();
    if !outer_annotations.is_empty() {
        meta.insert("annotations".into(), string_map(&outer_annotations));
    }
    if !labels.is_empty() {
        template_meta.insert("labels".into(), string_map(labels));
    }
    if !template_annotations.is_empty() {
        template_meta.insert("annotations".into(), string_map(&template_annotations));
    }
    let mut template = Map::new();
    template.insert("metadata".into(), Value::Object(template_meta));
    if !secret_type.is_empty() {
        template.insert("type".into(), json!(secret_type));
    }

    Ok(json!({
        "apiVersion": API_VERSION,
        "kind": "SealedSecret",
        "metadata": Value::Object(meta),
        "spec": {
            "encryptedData": Value::Object(encrypted),
            "template": Value::Object(template),
        },
    }))
}

/// Keyed fingerprint of everything a sealed value depends on: the controller's public key,
/// scope, namespace, name, data key and plaintext. Store it in the lock next to the emitted
/// ciphertext; see [`may_reuse`]. Keyed so the plaintext lock cannot confirm guesses.
pub fn reuse_fingerprint(
    fkey: &FingerprintKey,
    cert: &ControllerCert,
    scope: Scope,
    namespace: &str,
    name: &str,
    data_key: &str,
    plaintext: &[u8],
) -> String {
    fingerprint_fields(
        fkey,
        &[
            b"tcpc/sealedsecret/v1",
            &cert.spki_der,
            scope.as_str().as_bytes(),
            namespace.as_bytes(),
            name.as_bytes(),
            data_key.as_bytes(),
            plaintext,
        ],
    )
}

/// Whether the recorded ciphertext may be emitted again: true iff a fingerprint was recorded
/// and it equals the current [`reuse_fingerprint`] (constant-time comparison).
pub fn may_reuse(recorded_fingerprint: Option<&str>, current_fingerprint: &str) -> bool {
    recorded_fingerprint.is_some_and(|r| fingerprints_equal(r, current_fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use rsa::pkcs1::EncodeRsaPrivateKey;

    fn key() -> (RsaPrivateKey, String) {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let k = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let pem = k.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap().to_string();
        (k, pem)
    }

    #[test]
    fn round_trip_all_scopes_and_labels_bind() {
        let (k, pem) = key();
        let cert = ControllerCert::from_public_key(k.to_public_key()).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for scope in [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide] {
            let ct = seal_value(&cert, scope, "ns", "n", b"s3cret", &mut rng).unwrap();
            let raw = B64.decode(&ct).unwrap();
            assert_eq!(u16::from_be_bytes([raw[0], raw[1]]), 256);
            assert_eq!(raw.len(), 2 + 256 + 6 + 16);
            assert_eq!(&*unseal_value(&pem, scope, "ns", "n", &ct).unwrap(), b"s3cret");
            // Fresh randomness each call.
            assert_ne!(ct, seal_value(&cert, scope, "ns", "n", b"s3cret", &mut rng).unwrap());
            let other_name = unseal_value(&pem, scope, "ns", "other", &ct);
            let other_ns = unseal_value(&pem, scope, "other", "n", &ct);
            match scope {
                Scope::Strict => assert!(other_name.is_err() && other_ns.is_err()),
                Scope::NamespaceWide => assert!(other_name.is_ok() && other_ns.is_err()),
                Scope::ClusterWide => assert!(other_name.is_ok() && other_ns.is_ok()),
            }
        }
    }

    #[test]
    fn strict_needs_namespace() {
        let (k, _) = key();
        let cert = ControllerCert::from_public_key(k.to_public_key()).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        assert!(seal_value(&cert, Scope::Strict, "", "n", b"x", &mut rng).is_err());
        assert!(seal_value(&cert, Scope::ClusterWide, "", "n", b"x", &mut rng).is_ok());
    }

    #[test]
    fn object_shape() {
        let (k, pem) = key();
        let cert = ControllerCert::from_public_key(k.to_public_key()).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut data = BTreeMap::new();
        data.insert("tls.key".to_owned(), Zeroizing::new(b"KEY".to_vec()));
        let labels = BTreeMap::from([("app".to_owned(), "x".to_owned())]);
        let annotations = BTreeMap::from([(CLUSTER_WIDE_ANNOTATION.to_owned(), "true".to_owned())]);
        let v = sealed_secret(&cert, Scope::NamespaceWide, "n", "ns", "kubernetes.io/tls", &labels, &annotations, &data, &mut rng).unwrap();
        assert_eq!(v["apiVersion"], "bitnami.com/v1alpha1");
        assert_eq!(v["kind"], "SealedSecret");
        assert_eq!(v["metadata"]["annotations"][NAMESPACE_WIDE_ANNOTATION], "true");
        let tmeta = &v["spec"]["template"]["metadata"];
        assert_eq!(tmeta["annotations"][NAMESPACE_WIDE_ANNOTATION], "true");
        assert!(tmeta["annotations"].get(CLUSTER_WIDE_ANNOTATION).is_none());
        assert_eq!(tmeta["labels"]["app"], "x");
        assert_eq!(v["spec"]["template"]["type"], "kubernetes.io/tls");
        let ct = v["spec"]["encryptedData"]["tls.key"].as_str().unwrap();
        assert_eq!(&*unseal_value(&pem, Scope::NamespaceWide, "ns", "whatever", ct).unwrap(), b"KEY");
        assert!(!format!("{v}").contains("KEY\""));
    }

    #[test]
    fn reuse_decision() {
        let (k, _) = key();
        let cert = ControllerCert::from_public_key(k.to_public_key()).unwrap();
        let fk = FingerprintKey::derive(&[9; 32], "lock/sealedsecrets");
        let f = reuse_fingerprint(&fk, &cert, Scope::Strict, "ns", "n", "k", b"v");
        assert!(may_reuse(Some(&f), &f));
        assert!(!may_reuse(None, &f));
        let g = reuse_fingerprint(&fk, &cert, Scope::Strict, "ns", "n", "k", b"v2");
        assert!(!may_reuse(Some(&f), &g));
    }
}
