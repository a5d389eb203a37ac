//! Keyed fingerprints for the lock file.
//!
//! The lock file is plaintext in Git. A plain hash of a secret value would let anyone who can
//! read the repository confirm a guess of that value offline (hash the guess, compare). So
//! everything derived from secret material is fingerprinted with HMAC-SHA256 under a key that
//! only holders of the (age-encrypted) state secret can derive. Public material (certificates,
//! public keys, rendered non-secret manifests) may use the unkeyed [`sha256_hex`].
//!
//! Key derivation: HKDF-SHA256 (RFC 5869) with
//! `salt = "tcpc/fingerprint/v1"`, `IKM = state secret (32 bytes)`, `info = context label`,
//! `L = 32`. Different context labels give independent keys, so a fingerprint from one
//! purpose cannot be replayed as another.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every keyed fingerprint string.
pub const FINGERPRINT_PREFIX: &str = "hmac-sha256:";

const HKDF_SALT: &[u8] = b"tcpc/fingerprint/v1";

/// A 32-byte HMAC-SHA256 key derived from the state secret for one context.
/// Its bytes are zeroized on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct FingerprintKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(<redacted>)")
    }
}

impl FingerprintKey {
    /// Derive the key for `context` (e.g. `"lock/secret-values"`) from the 32-byte state
    /// secret with HKDF-SHA256.
    pub fn derive(state_secret: &[u8; 32], context: &str) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(HKDF_SALT), state_secret);
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(context.as_bytes(), okm.as_mut()).expect("32 bytes is a valid HKDF-SHA256 output length");
        FingerprintKey(okm)
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as Mac>::new_from_slice(self.0.as_ref()).expect("HMAC accepts any key length")
    }
}

/// `hmac-sha256:<64 lowercase hex>` = HMAC-SHA256(key, bytes).
pub fn fingerprint(key: &FingerprintKey, bytes: &[u8]) -> String {
    let mut mac = key.mac();
    mac.update(bytes);
    format!("{FINGERPRINT_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Keyed fingerprint of several fields at once, each length-prefixed (u64 big-endian) so
/// that field boundaries cannot be shifted (`("ab","c")` differs from `("a","bc")`).
pub fn fingerprint_fields(key: &FingerprintKey, fields: &[&[u8]]) -> String {
    let mut mac = key.mac();
    for field in fields {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field);
    }
    format!("{FINGERPRINT_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Constant-time check that `recorded` is the fingerprint of `bytes` under `key`.
pub fn verify(key: &FingerprintKey, bytes: &[u8], recorded: &str) -> bool {
    let Some(hex_part) = recorded.strip_prefix(FINGERPRINT_PREFIX) else {
        return false;
    };
    let Ok(tag) = hex::decode(hex_part) else {
        return false;
    };
    let mut mac = key.mac();
    mac.update(bytes);
    mac.verify_slice(&tag).is_ok()
}

/// Constant-time equality of two fingerprint strings (for deciding reuse from a lock file).
pub fn fingerprints_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Unkeyed lowercase hex SHA-256, for PUBLIC material only (certificates, public keys).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_bytes_same_output() {
        let k = FingerprintKey::derive(&[7u8; 32], "lock/values");
        let a = fingerprint(&k, b"hunter2");
        assert_eq!(a, fingerprint(&FingerprintKey::derive(&[7u8; 32], "lock/values"), b"hunter2"));
        assert!(a.starts_with("hmac-sha256:"));
        assert_eq!(a.len(), "hmac-sha256:".len() + 64);
        assert!(verify(&k, b"hunter2", &a));
        assert!(!verify(&k, b"hunter3", &a));
        assert!(fingerprints_equal(&a, &a.clone()));
    }

    #[test]
    fn different_key_or_context_differs() {
        let k1 = FingerprintKey::derive(&[7u8; 32], "lock/values");
        let k2 = FingerprintKey::derive(&[8u8; 32], "lock/values");
        let k3 = FingerprintKey::derive(&[7u8; 32], "lock/other");
        let f1 = fingerprint(&k1, b"x");
        assert_ne!(f1, fingerprint(&k2, b"x"));
        assert_ne!(f1, fingerprint(&k3, b"x"));
        assert_ne!(f1, fingerprint(&k1, b"y"));
        // Not a plain hash of the value.
        assert!(!f1.ends_with(&sha256_hex(b"x")));
        assert!(!format!("{k1:?}").contains("07"));
    }

    #[test]
    fn fields_are_length_prefixed() {
        let k = FingerprintKey::derive(&[1u8; 32], "c");
        assert_ne!(fingerprint_fields(&k, &[b"ab", b"c"]), fingerprint_fields(&k, &[b"a", b"bc"]));
    }

    #[test]
    fn rfc4231_case_2_hmac_is_wired_right() {
        // HMAC-SHA256 test vector (RFC 4231 case 2) through the same Mac construction.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
