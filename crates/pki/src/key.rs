//! Key algorithms and private keys.

use std::fmt;
use std::str::FromStr;

use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::traits::PublicKeyParts as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Error, Rng, ec, pem};

/// Asymmetric key algorithm of a certificate / key pair.
///
/// Names follow kubeadm's `encryptionAlgorithm` (v1beta4) spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256, signatures with SHA-256 (default, as kubeadm's `ECDSA-P256`).
    #[default]
    #[serde(rename = "ECDSA-P256")]
    EcdsaP256,
    /// ECDSA on NIST P-384, signatures with SHA-384.
    #[serde(rename = "ECDSA-P384")]
    EcdsaP384,
    /// RSA 2048 bit, signatures PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "RSA-2048")]
    Rsa2048,
    /// RSA 3072 bit.
    #[serde(rename = "RSA-3072")]
    Rsa3072,
    /// RSA 4096 bit.
    #[serde(rename = "RSA-4096")]
    Rsa4096,
}

impl KeyAlgorithm {
    /// All supported algorithms.
    pub const ALL: [KeyAlgorithm; 5] =
        [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::Rsa2048, KeyAlgorithm::Rsa3072, KeyAlgorithm::Rsa4096];

    /// Canonical name (`ECDSA-P256`, `RSA-2048`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ECDSA-P256",
            KeyAlgorithm::EcdsaP384 => "ECDSA-P384",
            KeyAlgorithm::Rsa2048 => "RSA-2048",
            KeyAlgorithm::Rsa3072 => "RSA-3072",
            KeyAlgorithm::Rsa4096 => "RSA-4096",
        }
    }

    /// True for the RSA family.
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096)
    }

    fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyAlgorithm::Rsa2048 => Some(2048),
            KeyAlgorithm::Rsa3072 => Some(3072),
            KeyAlgorithm::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    fn from_rsa_bits(bits: usize) -> Result<Self, Error> {
        match bits {
            2048 => Ok(KeyAlgorithm::Rsa2048),
            3072 => Ok(KeyAlgorithm::Rsa3072),
            4096 => Ok(KeyAlgorithm::Rsa4096),
            other => Err(Error::Key(format!("RSA key size {other} is not supported (2048, 3072, 4096)"))),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        KeyAlgorithm::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            Error::InvalidSpec(format!(
                "unknown key algorithm {s:?} (expected one of ECDSA-P256, ECDSA-P384, RSA-2048, RSA-3072, RSA-4096)"
            ))
        })
    }
}

/// A private key, held as PKCS#8 DER in a zeroizing buffer.
///
/// `Debug` is redacted: it prints the algorithm and the SHA-256 of the public
/// key only.
#[derive(Clone)]
pub struct PrivateKey {
    alg: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
    /// Cached public halves (SPKI DER, raw subjectPublicKey bits): deriving
    /// them costs a scalar multiplication / RSA parse each time.
    spki: Vec<u8>,
    raw_pub: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.alg)
            .field("public_key_sha256", &self.public_key_fingerprint())
            .field("private", &"<redacted>")
            .finish()
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg && self.pkcs8.as_slice() == other.pkcs8.as_slice()
    }
}
impl Eq for PrivateKey {}

/// Parsed key, used transiently for signing/encoding.
pub(crate) enum Parsed {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

impl PrivateKey {
    fn build(alg: KeyAlgorithm, pkcs8: Zeroizing<Vec<u8>>) -> Self {
        let mut k = PrivateKey { alg, pkcs8, spki: vec![], raw_pub: vec![] };
        let (spki, raw) = match k.parsed() {
            Parsed::P256(_) => {
                // The DER was produced or checked by this module: its public point is the key's
                // (no scalar multiplication here, see `ec`).
                let (_, public) = ec::decode_pkcs8(&k.pkcs8).expect("valid p256");
                let public = public.expect("p256 PKCS#8 written with its public key");
                let pk = p256::PublicKey::from_sec1_bytes(&public).expect("valid p256 point");
                (pk.to_public_key_der().expect("spki").into_vec(), public)
            }
            Parsed::P384(sk) => {
                let pk = sk.public_key();
                (pk.to_public_key_der().expect("spki").into_vec(), pk.to_sec1_bytes().to_vec())
            }
            Parsed::Rsa(sk) => {
                let pk = sk.to_public_key();
                (
                    rsa::pkcs8::EncodePublicKey::to_public_key_der(&pk).expect("spki").into_vec(),
                    pk.to_pkcs1_der().expect("pkcs1 pub").into_vec(),
                )
            }
        };
        k.spki = spki;
        k.raw_pub = raw;
        k
    }

    /// Generate a fresh key of `alg` from `rng`.
    ///
    /// RSA generation is deterministic given the RNG state (`prime`: sieved search, Montgomery
    /// Miller–Rabin, Baillie–PSW confirmation) but still the slowest thing here.
    pub fn generate(alg: KeyAlgorithm, rng: &mut impl Rng) -> Result<Self, Error> {
        let pkcs8 = match alg {
            KeyAlgorithm::EcdsaP256 => {
                // As `p256::SecretKey::random` draws it, then encoded as `to_pkcs8_der` does.
                let d = p256::NonZeroScalar::random(rng);
                ec::pkcs8_der(&d, &ec::public_point(&d))
            }
            KeyAlgorithm::EcdsaP384 => {
                let sk = p384::SecretKey::random(rng);
                der_to_vec(sk.to_pkcs8_der())?
            }
            _ => {
                let bits = alg.rsa_bits().expect("rsa");
                let sk = crate::prime::rsa_key(bits, rng).map_err(|e| Error::Key(e.to_string()))?;
                der_to_vec(rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&sk))?
            }
        };
        Ok(Self::build(alg, pkcs8))
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    /// PKCS#8 (RFC 5208 `PrivateKeyInfo`) DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Build from PKCS#8 DER (algorithm detected).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        if let Some(decoded) = ec::decode_pkcs8(der) {
            return Self::from_p256(decoded);
        }
        if let Ok(sk) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(Self::build(KeyAlgorithm::EcdsaP384, der_to_vec(sk.to_pkcs8_der())?));
        }
        match <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_der(der) {
            Ok(sk) => Self::from_rsa(sk),
            Err(_) => Err(Error::Key("PKCS#8 key is neither ECDSA P-256/P-384 nor RSA (or is malformed)".into())),
        }
    }

    /// A P-256 key from outside: the public point it carries, if any, must be its own.
    fn from_p256((d, carried): (p256::NonZeroScalar, Option<Vec<u8>>)) -> Result<Self, Error> {
        let public = ec::public_point(&d);
        if carried.is_some_and(|c| c != public) {
            return Err(Error::Key("EC key: the public key does not match the private key".into()));
        }
        Ok(Self::build(KeyAlgorithm::EcdsaP256, ec::pkcs8_der(&d, &public)))
    }

    fn from_rsa(sk: rsa::RsaPrivateKey) -> Result<Self, Error> {
        sk.validate().map_err(|e| Error::Key(format!("RSA key failed validation: {e}")))?;
        let alg = KeyAlgorithm::from_rsa_bits(sk.size() * 8)?;
        Ok(Self::build(alg, der_to_vec(rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&sk))?))
    }

    /// Parse a PEM private key: `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY`
    /// (SEC1, P-256/P-384) or `RSA PRIVATE KEY` (PKCS#1). Encrypted keys are
    /// rejected. The first key block in the text is used.
    pub fn from_pem(text: &str) -> Result<Self, Error> {
        let block = pem::decode_first(text, &["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"])?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "EC PRIVATE KEY" => {
                if let Some(decoded) = ec::decode_sec1(&block.der) {
                    Self::from_p256(decoded)
                } else if let Ok(sk) = p384::SecretKey::from_sec1_der(&block.der) {
                    Ok(Self::build(KeyAlgorithm::EcdsaP384, der_to_vec(sk.to_pkcs8_der())?))
                } else {
                    Err(Error::Key("SEC1 EC key is not on P-256/P-384 (or is malformed)".into()))
                }
            }
            _ => {
                let sk =
                    rsa::RsaPrivateKey::from_pkcs1_der(&block.der).map_err(|_| Error::Key("malformed PKCS#1 RSA private key".into()))?;
                Self::from_rsa(sk)
            }
        }
    }

    /// PEM in the format kubeadm writes: SEC1 `EC PRIVATE KEY` for ECDSA,
    /// PKCS#1 `RSA PRIVATE KEY` for RSA.
    ///
    /// client-go's `keyutil.ParsePrivateKeyPEM` (kube-apiserver,
    /// kube-controller-manager, kubeconfig loading) and Go's
    /// `tls.X509KeyPair` accept these and PKCS#8 alike; we pick kubeadm's
    /// choice so that files are interchangeable with kubeadm-made PKI (Kamaji
    /// and older tooling that call `x509.ParseECPrivateKey` /
    /// `ParsePKCS1PrivateKey` directly keep working). Use
    /// [`PrivateKey::to_pkcs8_pem`] for `PRIVATE KEY`.
    pub fn to_pem(&self) -> Zeroizing<String> {
        match self.parsed() {
            Parsed::P256(sk) => pem::encode("EC PRIVATE KEY", &ec::sec1_der(&sk.to_nonzero_scalar(), &self.raw_pub, true)),
            Parsed::P384(sk) => pem::encode("EC PRIVATE KEY", &sec1_with_curve(&sk.to_sec1_der().expect("sec1"), OID_P384)),
            Parsed::Rsa(sk) => pem::encode("RSA PRIVATE KEY", sk.to_pkcs1_der().expect("pkcs1 encode").as_bytes()),
        }
    }

    /// PKCS#8 `PRIVATE KEY` PEM.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        pem::encode("PRIVATE KEY", &self.pkcs8)
    }

    /// SubjectPublicKeyInfo DER of the public half.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// PKIX `PUBLIC KEY` PEM of the public half (what kubeadm writes as `sa.pub`).
    pub fn public_key_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki).to_string()
    }

    /// The raw subjectPublicKey bits as they appear in a certificate:
    /// uncompressed SEC1 point for ECDSA, PKCS#1 `RSAPublicKey` for RSA.
    pub(crate) fn raw_public_key(&self) -> Vec<u8> {
        self.raw_pub.clone()
    }

    /// Hex SHA-256 over the SubjectPublicKeyInfo DER (safe to log).
    pub fn public_key_fingerprint(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&self.spki))
    }

    pub(crate) fn parsed(&self) -> Parsed {
        // The buffer was produced or validated by this module, so decoding cannot fail.
        match self.alg {
            KeyAlgorithm::EcdsaP256 => Parsed::P256(p256::SecretKey::from(ec::decode_pkcs8(&self.pkcs8).expect("valid p256").0)),
            KeyAlgorithm::EcdsaP384 => Parsed::P384(p384::SecretKey::from_pkcs8_der(&self.pkcs8).expect("valid p384")),
            _ => {
                Parsed::Rsa(Box::new(<rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_der(&self.pkcs8).expect("valid rsa")))
            }
        }
    }
}

const OID_P384: &str = "1.3.132.0.34";

/// Re-encode a SEC1 `ECPrivateKey` with the `parameters [0] namedCurve`
/// field set. The `p256`/`p384` crates omit it (it is redundant inside
/// PKCS#8), but stand-alone `EC PRIVATE KEY` files need it: Go's
/// `x509.ParseECPrivateKey` fails with "unknown elliptic curve" without it.
fn sec1_with_curve(der: &[u8], curve_oid: &str) -> Zeroizing<Vec<u8>> {
    use sec1::der::Encode as _;
    let mut k = sec1::EcPrivateKey::try_from(der).expect("sec1 produced by p256/p384");
    k.parameters = Some(sec1::EcParameters::NamedCurve(sec1::der::asn1::ObjectIdentifier::new_unwrap(curve_oid)));
    Zeroizing::new(k.to_der().expect("sec1 encode"))
}

fn der_to_vec(r: Result<rsa::pkcs8::SecretDocument, rsa::pkcs8::Error>) -> Result<Zeroizing<Vec<u8>>, Error> {
    let doc = r.map_err(|e| Error::Key(format!("PKCS#8 encoding failed: {e}")))?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}
