//! `tcpc-pki`: pure, offline certificate and kubeconfig issuance for tenant
//! control planes (kubeadm-equivalent PKI).
//!
//! # Purity
//!
//! Nothing in this crate reads the wall clock or OS randomness. Every
//! operation that needs time takes `now: time::OffsetDateTime`; every
//! operation that needs randomness (key generation, serial numbers) takes an
//! explicit `rng: &mut (impl CryptoRng + RngCore)`.
//!
//! # Determinism
//!
//! Given the same inputs, the same `now` and an RNG in the same state, the
//! output is byte-for-byte identical, for every key algorithm:
//!
//! * keys are generated from the handed RNG (`p256`, `p384`, `rsa` crates);
//! * serial numbers are drawn from the handed RNG;
//! * signatures are produced by our own [`rcgen::SigningKey`] implementation
//!   rather than by rcgen's *ring* backend: ECDSA uses RFC 6979 deterministic
//!   nonces (`p256`/`p384` crates) and RSA uses PKCS#1 v1.5, which is
//!   deterministic by construction. (ring would draw ECDSA nonces from the OS
//!   RNG, which is why we do not hand it our keys.)
//! * `now` is truncated to whole seconds (X.509 times have second precision).
//!
//! # Secrets
//!
//! Private keys live in [`zeroize::Zeroizing`] buffers, their `Debug` output is
//! redacted, and no error message carries key material.

mod cert;
mod ec;
mod error;
mod inspect;
pub mod issuance;
mod key;
pub mod kubeadm;
mod kubeconfig;
pub mod montgomery;
mod pem;
mod prime;
mod signer;

pub use cert::{
    CERTIFICATE_BACKDATE, CertKind, CertSpec, DEFAULT_CA_VALIDITY_DAYS, DEFAULT_LEAF_VALIDITY_DAYS, Issued, Issuer, Validity, issue,
    self_signed_ca,
};
pub use error::Error;
pub use inspect::{CertInfo, key_matches_cert, public_key_pins, renewal_due};
pub use key::{KeyAlgorithm, PrivateKey};
pub use kubeadm::{Artefact, IssuerRef, TenantPki, TenantPkiParams, issue_tenant_pki, tenant_cert_specs};
pub use kubeconfig::{kubeconfig, kubeconfig_with_key_pem};

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The RNG bound used throughout the crate.
pub trait Rng: rand_core::CryptoRng + rand_core::RngCore {}
impl<T: rand_core::CryptoRng + rand_core::RngCore + ?Sized> Rng for T {}
