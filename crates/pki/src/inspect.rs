//! Reading certificates back.

use std::net::IpAddr;

use sha2::Digest as _;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::{Error, PrivateKey};

/// Facts about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject CN (first one), empty if none.
    pub subject_cn: String,
    /// Subject O values, in order.
    pub organizations: Vec<String>,
    /// NotBefore.
    pub not_before: OffsetDateTime,
    /// NotAfter.
    pub not_after: OffsetDateTime,
    /// Serial number, lowercase hex, big-endian, no leading zero bytes.
    pub serial_hex: String,
    /// SHA-256 over the certificate DER, lowercase hex.
    pub sha256_fingerprint_hex: String,
    /// DNS subjectAltNames, in certificate order.
    pub dns_sans: Vec<String>,
    /// IP subjectAltNames, in certificate order.
    pub ip_sans: Vec<IpAddr>,
    /// BasicConstraints CA:TRUE.
    pub is_ca: bool,
}

impl CertInfo {
    /// Parse the first `CERTIFICATE` block of `pem`.
    pub fn parse(pem: &str) -> Result<Self, Error> {
        let block = crate::pem::decode_first(pem, &["CERTIFICATE"])?;
        let (_, x509) = x509_parser::parse_x509_certificate(&block.der).map_err(|e| Error::Certificate(e.to_string()))?;
        Ok(Self::from_x509(&x509, &block.der))
    }

    pub(crate) fn from_x509(x509: &X509Certificate<'_>, der: &[u8]) -> Self {
        let subject = x509.subject();
        let subject_cn = subject.iter_common_name().next().and_then(|a| a.as_str().ok()).unwrap_or_default().to_string();
        let organizations = subject.iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_string).collect();
        let mut dns_sans = Vec::new();
        let mut ip_sans = Vec::new();
        if let Ok(Some(san)) = x509.subject_alternative_name() {
            for gn in &san.value.general_names {
                match gn {
                    GeneralName::DNSName(d) => dns_sans.push(d.to_string()),
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => ip_sans.push(IpAddr::from(<[u8; 4]>::try_from(*b).expect("len 4"))),
                        16 => ip_sans.push(IpAddr::from(<[u8; 16]>::try_from(*b).expect("len 16"))),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        let is_ca = matches!(x509.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        let serial = x509.tbs_certificate.raw_serial();
        let serial = match serial.iter().position(|b| *b != 0) {
            Some(i) => &serial[i..],
            None => &serial[serial.len().saturating_sub(1)..],
        };
        CertInfo {
            subject_cn,
            organizations,
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            serial_hex: hex::encode(serial),
            sha256_fingerprint_hex: hex::encode(sha2::Sha256::digest(der)),
            dns_sans,
            ip_sans,
            is_ca,
        }
    }

    /// NotAfter − NotBefore.
    pub fn lifetime(&self) -> time::Duration {
        self.not_after - self.not_before
    }
}

pub(crate) fn x509_key_matches(x509: &X509Certificate<'_>, key: &PrivateKey) -> bool {
    let spki = x509.public_key();
    let alg_ok = match key.algorithm() {
        a if a.is_rsa() => spki.algorithm.algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION,
        _ => spki.algorithm.algorithm == x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY,
    };
    alg_ok && spki.subject_public_key.data.as_ref() == key.raw_public_key().as_slice()
}

/// True if `key` is the private half of the public key in `cert_pem`.
/// A certificate that does not parse does not match.
pub fn key_matches_cert(cert_pem: &str, key: &PrivateKey) -> bool {
    let Ok(block) = crate::pem::decode_first(cert_pem, &["CERTIFICATE"]) else {
        return false;
    };
    match x509_parser::parse_x509_certificate(&block.der) {
        Ok((_, x509)) => x509_key_matches(&x509, key),
        Err(_) => false,
    }
}

/// True when less than `renew_before_fraction` of the certificate's lifetime
/// is left at `now` (or it is already expired). E.g. `1.0/3.0` renews in the
/// last third of the lifetime, like cert-manager's default.
pub fn renewal_due(info: &CertInfo, now: OffsetDateTime, renew_before_fraction: f64) -> bool {
    let left = info.not_after - now;
    if left <= time::Duration::ZERO {
        return true;
    }
    let lifetime = info.lifetime().as_seconds_f64().max(0.0);
    left.as_seconds_f64() < lifetime * renew_before_fraction.clamp(0.0, 1.0)
}

/// kubeadm's public-key pins of every certificate in a PEM bundle, in order: `sha256:` and the
/// hex SHA-256 of the certificate's DER SubjectPublicKeyInfo — the value `kubeadm join
/// --discovery-token-ca-cert-hash` takes, and what
/// `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum` prints.
pub fn public_key_pins(pem_bundle: &str) -> Result<Vec<String>, Error> {
    let mut pins = Vec::new();
    for block in crate::pem::decode_all(pem_bundle)?.into_iter().filter(|b| b.label == "CERTIFICATE") {
        let (_, x509) = x509_parser::parse_x509_certificate(&block.der).map_err(|e| Error::Certificate(e.to_string()))?;
        pins.push(format!("sha256:{}", hex::encode(sha2::Sha256::digest(x509.public_key().raw))));
    }
    if pins.is_empty() {
        return Err(Error::Certificate("no CERTIFICATE block".into()));
    }
    Ok(pins)
}
