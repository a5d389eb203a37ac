//! P-256 fast paths: fixed-base scalar multiplication with a precomputed table, ECDSA signing
//! on top of it, and SEC1 / PKCS#8 encoding from already known halves.
//!
//! Why: the `p256` 0.13 crate computes `k·G` with the generic 4-bit window (252 doublings and
//! 64 additions), and its encoders and decoders recompute the public key at every call
//! (`to_pkcs8_der`, `to_sec1_der`, `from_pkcs8_der` and `SigningKey::from` each do a full
//! scalar multiplication). A tenant PKI did ~70 of them; profiles put ~80% of the PKI time in
//! P-256 field arithmetic.
//!
//! Here `k·G` is 64 mixed additions of table points `T[i][j] = j·16^i·G` (selected in constant
//! time), and the public point is computed once per key. Results are the same group elements,
//! hence byte-identical keys, certificates and signatures (RFC 6979 nonces): the tests compare
//! every function with the `p256` crate's own.

use std::sync::LazyLock;

use p256::elliptic_curve::group::Curve as _;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::elliptic_curve::subtle::{ConditionallySelectable as _, ConstantTimeEq as _};
use p256::elliptic_curve::{Field as _, PrimeField as _};
use p256::{AffinePoint, FieldBytes, NonZeroScalar, ProjectivePoint, Scalar, U256};
use sha2::Digest as _;
use zeroize::Zeroizing;

/// `TABLE[i][j] = j·16^i·G` (affine; `j = 0` is the identity).
static TABLE: LazyLock<Box<[[AffinePoint; 16]; 64]>> = LazyLock::new(|| {
    let mut proj = vec![ProjectivePoint::IDENTITY; 64 * 16];
    let mut base = ProjectivePoint::GENERATOR;
    for i in 0..64 {
        for j in 1..16 {
            proj[i * 16 + j] = proj[i * 16 + j - 1] + base;
        }
        // base = 16^(i+1)·G
        base = proj[i * 16 + 15] + base;
    }
    let mut affine = vec![AffinePoint::IDENTITY; 64 * 16];
    ProjectivePoint::batch_normalize(&proj, &mut affine);
    let mut t = Box::new([[AffinePoint::IDENTITY; 16]; 64]);
    for (i, row) in t.iter_mut().enumerate() {
        row.copy_from_slice(&affine[i * 16..(i + 1) * 16]);
    }
    t
});

/// `k·G` in constant time (every nibble position costs one 16-way select and one addition).
pub(crate) fn mul_g(k: &Scalar) -> ProjectivePoint {
    let bytes = Zeroizing::new(k.to_bytes()); // big-endian
    let table = &*TABLE;
    let mut acc = ProjectivePoint::IDENTITY;
    for (i, row) in table.iter().enumerate() {
        // Nibble i (little-endian order over the 256-bit integer).
        let byte = bytes[31 - i / 2];
        let nibble = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
        let mut p = AffinePoint::IDENTITY;
        for (j, entry) in row.iter().enumerate().skip(1) {
            p.conditional_assign(entry, (j as u8).ct_eq(&nibble));
        }
        acc += p;
    }
    acc
}

/// The uncompressed SEC1 encoding (`04 ‖ x ‖ y`) of `d·G`.
pub(crate) fn public_point(d: &NonZeroScalar) -> Vec<u8> {
    mul_g(d).to_affine().to_encoded_point(false).as_bytes().to_vec()
}

/// ECDSA-P256-SHA256 signature of `msg` (DER), with the RFC 6979 nonce: the same bytes as
/// `p256::ecdsa::SigningKey::try_sign`.
pub(crate) fn sign(d: &NonZeroScalar, msg: &[u8]) -> Option<Vec<u8>> {
    let digest = sha2::Sha256::digest(msg);
    let z: FieldBytes = digest;
    let d_repr = Zeroizing::new(d.to_repr());
    let order = FieldBytes::from(hex_literal_order());
    let k_bytes = Zeroizing::new(rfc6979::generate_k::<sha2::Sha256, _>(&d_repr, &order, &z, &[]));
    let k = Option::<Scalar>::from(Scalar::from_repr(*k_bytes))?;
    if bool::from(k.is_zero()) {
        return None;
    }
    let k_inv = Option::<Scalar>::from(k.invert())?;
    let big_r = mul_g(&k).to_affine();
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
    let zs = <Scalar as Reduce<U256>>::reduce_bytes(&z);
    let s = k_inv * (zs + r * d.as_ref());
    let sig = p256::ecdsa::Signature::from_scalars(r, s).ok()?;
    Some(sig.to_der().as_bytes().to_vec())
}

/// The group order n, big-endian.
const fn hex_literal_order() -> [u8; 32] {
    [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
        0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
    ]
}

pub(crate) const OID_P256: &str = "1.2.840.10045.3.1.7";

/// SEC1 `ECPrivateKey` DER (version 1, private key, optional `[0]` named curve, `[1]` public key).
pub(crate) fn sec1_der(d: &NonZeroScalar, public: &[u8], with_curve: bool) -> Zeroizing<Vec<u8>> {
    use sec1::der::Encode as _;
    let private = Zeroizing::new(d.to_repr());
    let k = sec1::EcPrivateKey {
        private_key: &private[..],
        parameters: with_curve.then(|| sec1::EcParameters::NamedCurve(sec1::der::asn1::ObjectIdentifier::new_unwrap(OID_P256))),
        public_key: Some(public),
    };
    Zeroizing::new(k.to_der().expect("sec1 encode"))
}

/// PKCS#8 `PrivateKeyInfo` DER, as `p256::SecretKey::to_pkcs8_der` writes it (the inner SEC1
/// structure without curve parameters, which the algorithm identifier carries).
pub(crate) fn pkcs8_der(d: &NonZeroScalar, public: &[u8]) -> Zeroizing<Vec<u8>> {
    use p256::pkcs8::der::Encode as _;
    let inner = sec1_der(d, public, false);
    let oid_ec = p256::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    let oid_curve = p256::pkcs8::ObjectIdentifier::new_unwrap(OID_P256);
    let alg = p256::pkcs8::AlgorithmIdentifierRef { oid: oid_ec, parameters: Some((&oid_curve).into()) };
    let info = p256::pkcs8::PrivateKeyInfo::new(alg, &inner);
    Zeroizing::new(info.to_der().expect("pkcs8 encode"))
}

/// The private scalar and the public point of a P-256 key in PKCS#8 or SEC1 DER, without any
/// scalar multiplication. The public point is whatever the encoding carries (`None` if absent):
/// callers that did not produce the DER themselves compare it with [`public_point`].
pub(crate) fn decode_sec1(der: &[u8]) -> Option<(NonZeroScalar, Option<Vec<u8>>)> {
    let k = sec1::EcPrivateKey::try_from(der).ok()?;
    if let Some(sec1::EcParameters::NamedCurve(oid)) = k.parameters
        && oid != sec1::der::asn1::ObjectIdentifier::new_unwrap(OID_P256)
    {
        return None;
    }
    // Left-padded to 32 bytes, as `p256::SecretKey::from_slice` accepts (24 to 32 bytes).
    let len = k.private_key.len();
    if !(24..=32).contains(&len) {
        return None;
    }
    let mut repr = Zeroizing::new(FieldBytes::default());
    repr[32 - len..].copy_from_slice(k.private_key);
    let d = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(*repr))?;
    Some((d, k.public_key.map(<[u8]>::to_vec)))
}

/// Like [`decode_sec1`], for PKCS#8 `PrivateKeyInfo` DER of an id-ecPublicKey P-256 key.
pub(crate) fn decode_pkcs8(der: &[u8]) -> Option<(NonZeroScalar, Option<Vec<u8>>)> {
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der).ok()?;
    if info.algorithm.oid != p256::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1") {
        return None;
    }
    let curve = info.algorithm.parameters_oid().ok()?;
    if curve != p256::pkcs8::ObjectIdentifier::new_unwrap(OID_P256) {
        return None;
    }
    decode_sec1(info.private_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::EncodePrivateKey as _;
    use rand_core::SeedableRng as _;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn mul_g_matches_the_generic_multiplication() {
        let mut rng = rng();
        let mut scalars = vec![Scalar::ONE, -Scalar::ONE, Scalar::from(15u64), Scalar::from(16u64)];
        scalars.extend((0..64).map(|_| Scalar::random(&mut rng)));
        for k in scalars {
            assert_eq!(mul_g(&k).to_affine(), (ProjectivePoint::GENERATOR * k).to_affine());
        }
        assert_eq!(mul_g(&Scalar::ZERO), ProjectivePoint::IDENTITY);
    }

    #[test]
    fn encodings_match_the_p256_crate() {
        let mut rng = rng();
        for _ in 0..32 {
            let sk = p256::SecretKey::random(&mut rng);
            let d = sk.to_nonzero_scalar();
            let public = public_point(&d);
            assert_eq!(public, sk.public_key().to_encoded_point(false).as_bytes());
            assert_eq!(pkcs8_der(&d, &public).as_slice(), sk.to_pkcs8_der().unwrap().as_bytes());
            assert_eq!(sec1_der(&d, &public, false).as_slice(), sk.to_sec1_der().unwrap().as_slice());
            let (d2, p2) = decode_pkcs8(&pkcs8_der(&d, &public)).unwrap();
            assert_eq!((d2.to_repr(), p2.as_deref()), (d.to_repr(), Some(public.as_slice())));
            let (d3, p3) = decode_sec1(&sec1_der(&d, &public, true)).unwrap();
            assert_eq!((d3.to_repr(), p3.as_deref()), (d.to_repr(), Some(public.as_slice())));
        }
    }

    #[test]
    fn signatures_match_the_p256_crate() {
        use signature::Signer as _;
        let mut rng = rng();
        for n in 0..32usize {
            let sk = p256::SecretKey::random(&mut rng);
            let msg: Vec<u8> = (0..n * 37).map(|i| (i * 7 + n) as u8).collect();
            let theirs: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(&sk).sign(&msg);
            assert_eq!(sign(&sk.to_nonzero_scalar(), &msg).unwrap(), theirs.to_der().as_bytes());
        }
    }

    #[test]
    fn other_curves_and_garbage_are_refused() {
        let mut rng = rng();
        let p384 = p384::SecretKey::random(&mut rng);
        assert!(decode_pkcs8(p384::pkcs8::EncodePrivateKey::to_pkcs8_der(&p384).unwrap().as_bytes()).is_none());
        assert!(decode_sec1(&p384.to_sec1_der().unwrap()).is_none());
        assert!(decode_pkcs8(b"\x30\x03\x02\x01\x00").is_none());
        assert!(decode_sec1(&[]).is_none());
    }
}
