//! tcpc's PKI knobs that are shared between `tcpc.yaml` and the per-TCP
//! extension `spec.pki`. Kamaji has no such fields.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

string_enum! {
    /// Key algorithm for generated private keys.
    pub enum KeyAlgorithm {
        /// ECDSA on NIST P-256.
        EcdsaP256 = "ECDSA-P256",
        /// ECDSA on NIST P-384.
        EcdsaP384 = "ECDSA-P384",
        /// RSA, 2048-bit modulus (kubeadm's and therefore Kamaji's choice).
        Rsa2048 = "RSA-2048",
        /// RSA, 3072-bit modulus.
        Rsa3072 = "RSA-3072",
        /// RSA, 4096-bit modulus.
        Rsa4096 = "RSA-4096",
    }
}

impl KeyAlgorithm {
    /// Used when neither `spec.pki.keyAlgorithm` nor `tcpc.yaml`
    /// `pki.keyAlgorithm` is set: ECDSA-P256 — small keys, fast issuance, and
    /// accepted by every Kubernetes component and client.
    pub const DEFAULT: KeyAlgorithm = KeyAlgorithm::EcdsaP256;
}

string_enum! {
    /// Who renews leaf certificates and component kubeconfigs.
    pub enum Rotation {
        /// tcpc, in Git: leaves are sealed in the bundle and renewed by a scheduled
        /// `tcpc render --identity` (the default).
        Git = "git",
        /// The in-cluster companion: leaves are not in Git; it issues them from the tenant's CA
        /// Secrets into Secrets it owns and renews them there.
        Companion = "companion",
    }
}

/// Per-TenantControlPlane PKI overrides (`spec.pki`, a tcpc extension).
/// Each field overrides the matching `tcpc.yaml` `pki` setting for this TCP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpPki {
    /// Key algorithm for this TCP's keys. Default: `tcpc.yaml` `pki.keyAlgorithm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Validity of leaf certificates, in days. Default: `tcpc.yaml`
    /// `pki.leafValidityDays` (365). At most 36500 (100 years).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = crate::config::MAX_VALIDITY_DAYS))]
    pub leaf_validity_days: Option<u32>,
    /// Who renews this TCP's leaf certificates. Default: `tcpc.yaml` `pki.rotation` (`git`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
}
