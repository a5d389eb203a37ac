//! Deterministic signer handed to rcgen (instead of rcgen's ring-backed
//! `KeyPair`, whose ECDSA nonces come from the OS RNG).

use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};

use crate::key::{Parsed, PrivateKey};

pub(crate) enum Signer {
    /// Signed by `ec::sign` (fixed-base table; same bytes as `p256::ecdsa::SigningKey`).
    P256(p256::SecretKey, Vec<u8>),
    P384(p384::ecdsa::SigningKey, Vec<u8>),
    Rsa(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>, Vec<u8>),
}

impl Signer {
    pub(crate) fn new(key: &PrivateKey) -> Signer {
        let raw = key.raw_public_key();
        match key.parsed() {
            Parsed::P256(sk) => Signer::P256(sk, raw),
            Parsed::P384(sk) => Signer::P384(p384::ecdsa::SigningKey::from(&sk), raw),
            Parsed::Rsa(sk) => Signer::Rsa(Box::new(rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(*sk)), raw),
        }
    }
}

impl PublicKeyData for Signer {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Signer::P256(_, raw) | Signer::P384(_, raw) | Signer::Rsa(_, raw) => raw,
        }
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            Signer::P256(..) => &rcgen::PKCS_ECDSA_P256_SHA256,
            Signer::P384(..) => &rcgen::PKCS_ECDSA_P384_SHA384,
            Signer::Rsa(..) => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl SigningKey for Signer {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use signature::{SignatureEncoding as _, Signer as _};
        Ok(match self {
            Signer::P256(sk, _) => crate::ec::sign(&sk.to_nonzero_scalar(), msg).ok_or(rcgen::Error::RemoteKeyError)?,
            Signer::P384(sk, _) => {
                let sig: p384::ecdsa::Signature = sk.try_sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)?;
                sig.to_der().as_bytes().to_vec()
            }
            Signer::Rsa(sk, _) => sk.try_sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)?.to_vec(),
        })
    }
}

/// A public key only (the subject of a certificate we issue).
pub(crate) struct SubjectKey {
    raw: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl SubjectKey {
    pub(crate) fn new(key: &PrivateKey) -> Self {
        let alg = match key.algorithm() {
            crate::KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            crate::KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            _ => &rcgen::PKCS_RSA_SHA256,
        };
        SubjectKey { raw: key.raw_public_key(), alg }
    }
}

impl PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}
