//! Sealing for the cluster and for the tool's own state.
//!
//! * [`sealedsecrets`]: Bitnami SealedSecrets (`bitnami.com/v1alpha1`), sealed offline against
//!   the controller's public certificate.
//! * [`sops`]: SOPS-encrypted Kubernetes `Secret`s with age recipients, as `sops -d` and Flux's
//!   kustomize-controller decrypt them.
//! * [`state`]: ASCII-armored age for the tool's own key material kept in Git.
//! * [`fingerprint`]: keyed fingerprints for the plaintext lock file.
//!
//! Invariants of this crate:
//! * No IO, no clock, no global state. Randomness comes only through a handed
//!   `rng: &mut (impl CryptoRng + RngCore)`, time only as a handed value. The one exception is
//!   age itself, which draws its ephemeral keys and file keys from the OS (the `age` crate
//!   offers no way to hand it an RNG); see [`state`] and [`sops`].
//! * Secret bytes live in [`zeroize::Zeroizing`] buffers and never appear in `Debug` output or
//!   in error text.
//! * Every map we build or walk is taken in sorted (byte-order) key order, independent of
//!   whether `serde_json` was built with `preserve_order`.

pub mod fingerprint;
pub mod sealedsecrets;
pub mod sops;
pub mod state;

mod canonical;
mod oaep;

pub use fingerprint::{FingerprintKey, fingerprint, sha256_hex};
pub use sealedsecrets::{ControllerCert, Scope};

/// Everything that can go wrong while sealing or unsealing. No variant carries secret bytes.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("invalid controller certificate: {0}")]
    InvalidCertificate(String),
    #[error("invalid RSA private key: {0}")]
    InvalidPrivateKey(String),
    #[error("RSA-OAEP operation failed: {0}")]
    Rsa(String),
    #[error("{scope} scope needs a non-empty {what}")]
    MissingIdentity { scope: &'static str, what: &'static str },
    #[error("invalid ciphertext: {0}")]
    InvalidCiphertext(String),
    #[error("decryption failed (wrong key, wrong scope/namespace/name, or tampered data)")]
    DecryptionFailed,
    #[error("invalid input document: {0}")]
    InvalidDocument(String),
    #[error("invalid timestamp {0:?}: expected RFC 3339 UTC without fractional seconds, e.g. 2024-05-01T12:00:00Z")]
    InvalidTimestamp(String),
    #[error("SOPS MAC mismatch: the document was modified after encryption")]
    MacMismatch,
    #[error("invalid age recipient {0:?}")]
    InvalidRecipient(String),
    #[error("invalid age identity on line {line}")]
    InvalidIdentity { line: usize },
    #[error("no age recipients given")]
    NoRecipients,
    #[error("no age identities given")]
    NoIdentities,
    #[error("age: {0}")]
    Age(String),
}

pub type Result<T, E = SealError> = std::result::Result<T, E>;
