//! Certificate specs and issuance.

use std::fmt;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::inspect::CertInfo;
use crate::signer::{Signer, SubjectKey};
use crate::{Error, KeyAlgorithm, PrivateKey, Rng};

/// How far NotBefore is moved into the past, to tolerate small clock skew
/// between the issuing machine and verifiers. Same value as kubeadm's
/// `CertificateBackdate` (5 minutes).
pub const CERTIFICATE_BACKDATE: Duration = Duration::minutes(5);
/// Default CA lifetime (kubeadm: `CACertificateValidityPeriod`, 10 years of 365 days).
pub const DEFAULT_CA_VALIDITY_DAYS: u32 = 3650;
/// Default leaf lifetime (kubeadm: `CertificateValidityPeriod`, 365 days).
pub const DEFAULT_LEAF_VALIDITY_DAYS: u32 = 365;

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum CertKind {
    /// A CA (BasicConstraints CA:TRUE, keyCertSign).
    Ca,
    /// TLS server (extKeyUsage serverAuth).
    Server,
    /// TLS client (extKeyUsage clientAuth).
    Client,
    /// Both serverAuth and clientAuth.
    ServerAndClient,
}

/// Certificate lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Validity {
    /// Whole days of 24 hours.
    Days(u32),
    /// Seconds.
    Seconds(u64),
}

impl Validity {
    /// As a `time::Duration`.
    pub fn duration(self) -> Duration {
        match self {
            Validity::Days(d) => Duration::days(d as i64),
            Validity::Seconds(s) => Duration::seconds(s.min(i64::MAX as u64) as i64),
        }
    }
}

/// Everything that determines a certificate's content (except key, serial
/// and time). Serializable and comparable so callers can hash it into a lock
/// file and re-issue when it changes.
///
/// Construct with [`CertSpec::ca`] / [`CertSpec::leaf`], which canonicalise the
/// SAN lists (sorted, deduplicated); [`CertSpec::canonicalize`] does the same
/// for a spec built by hand or deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertSpec {
    /// Subject CN.
    pub common_name: String,
    /// Subject O values (Kubernetes groups for client certs). At most one is
    /// supported (rcgen limitation; every Kubernetes component cert needs ≤ 1).
    #[serde(default)]
    pub organizations: Vec<String>,
    /// Kind of certificate.
    pub kind: CertKind,
    /// DNS subjectAltNames.
    #[serde(default)]
    pub dns_sans: Vec<String>,
    /// IP subjectAltNames.
    #[serde(default)]
    pub ip_sans: Vec<IpAddr>,
    /// Lifetime, counted from `now` (never beyond the issuer's NotAfter).
    pub validity: Validity,
    /// Key algorithm of the subject key.
    #[serde(default)]
    pub key_algorithm: KeyAlgorithm,
}

impl CertSpec {
    /// A CA spec with kubeadm defaults (10 years).
    pub fn ca(common_name: impl Into<String>, key_algorithm: KeyAlgorithm) -> Self {
        CertSpec {
            common_name: common_name.into(),
            organizations: vec![],
            kind: CertKind::Ca,
            dns_sans: vec![],
            ip_sans: vec![],
            validity: Validity::Days(DEFAULT_CA_VALIDITY_DAYS),
            key_algorithm,
        }
    }

    /// A leaf spec with kubeadm defaults (1 year).
    pub fn leaf(
        common_name: impl Into<String>,
        organizations: Vec<String>,
        kind: CertKind,
        dns_sans: Vec<String>,
        ip_sans: Vec<IpAddr>,
        key_algorithm: KeyAlgorithm,
    ) -> Self {
        let mut s = CertSpec {
            common_name: common_name.into(),
            organizations,
            kind,
            dns_sans,
            ip_sans,
            validity: Validity::Days(DEFAULT_LEAF_VALIDITY_DAYS),
            key_algorithm,
        };
        s.canonicalize();
        s
    }

    /// Builder: set the validity.
    pub fn with_validity(mut self, v: Validity) -> Self {
        self.validity = v;
        self
    }

    /// Sort and deduplicate SANs (DNS names compared lowercase; IPv4-mapped
    /// IPv6 addresses folded to IPv4) and organizations.
    pub fn canonicalize(&mut self) {
        for d in &mut self.dns_sans {
            *d = d.trim().trim_end_matches('.').to_ascii_lowercase();
        }
        self.dns_sans.retain(|d| !d.is_empty());
        self.dns_sans.sort();
        self.dns_sans.dedup();
        for ip in &mut self.ip_sans {
            *ip = ip.to_canonical();
        }
        self.ip_sans.sort();
        self.ip_sans.dedup();
        self.organizations.sort();
        self.organizations.dedup();
    }

    fn validate(&self) -> Result<(), Error> {
        if self.common_name.is_empty() {
            return Err(Error::InvalidSpec("common name must not be empty".into()));
        }
        if self.organizations.len() > 1 {
            return Err(Error::InvalidSpec(format!(
                "{}: at most one organization is supported, got {}",
                self.common_name,
                self.organizations.len()
            )));
        }
        if self.validity.duration() <= Duration::ZERO {
            return Err(Error::InvalidSpec(format!("{}: validity must be positive", self.common_name)));
        }
        for d in &self.dns_sans {
            if !d.is_ascii() || d.contains(char::is_whitespace) {
                return Err(Error::InvalidSpec(format!("{}: invalid DNS SAN {d:?}", self.common_name)));
            }
        }
        Ok(())
    }
}

/// An issued certificate and its private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// PEM `CERTIFICATE`.
    pub cert_pem: String,
    /// The subject's private key.
    pub key: PrivateKey,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued").field("cert_pem", &self.cert_pem).field("key", &self.key).finish()
    }
}

impl Issued {
    /// Use this (CA) certificate as an issuer.
    pub fn to_issuer(&self) -> Result<Issuer, Error> {
        Issuer::new(&self.cert_pem, self.key.clone())
    }
}

/// A CA certificate plus its key, able to sign certificates.
///
/// Works for CAs issued by this crate and for imported ones (root or
/// intermediate from a corporate PKI, a DataStore CA, ...).
pub struct Issuer {
    cert_pem: String,
    info: CertInfo,
    key: PrivateKey,
    has_ski: bool,
    inner: rcgen::Issuer<'static, Signer>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("subject_cn", &self.info.subject_cn)
            .field("not_after", &self.info.not_after)
            .field("key", &self.key)
            .finish()
    }
}

impl Issuer {
    /// Build an issuer from a CA certificate PEM (first `CERTIFICATE` block)
    /// and its private key.
    ///
    /// Errors: [`Error::KeyMismatch`] if the key does not belong to the
    /// certificate; [`Error::NotACa`] if BasicConstraints is absent or
    /// CA:FALSE, or if a KeyUsage extension is present without keyCertSign
    /// (an absent KeyUsage allows all usages per RFC 5280 §4.2.1.3).
    pub fn new(ca_cert_pem: &str, key: PrivateKey) -> Result<Self, Error> {
        let block = crate::pem::decode_first(ca_cert_pem, &["CERTIFICATE"])?;
        let (_, x509) = x509_parser::parse_x509_certificate(&block.der).map_err(|e| Error::Certificate(e.to_string()))?;
        let info = CertInfo::from_x509(&x509, &block.der);
        if !crate::inspect::x509_key_matches(&x509, &key) {
            return Err(Error::KeyMismatch);
        }
        match x509.basic_constraints().map_err(|e| Error::Certificate(e.to_string()))? {
            Some(bc) if bc.value.ca => {}
            _ => return Err(Error::NotACa(format!("{:?} lacks BasicConstraints CA:TRUE", info.subject_cn))),
        }
        if let Some(ku) = x509.key_usage().map_err(|e| Error::Certificate(e.to_string()))?
            && !ku.value.key_cert_sign()
        {
            return Err(Error::NotACa(format!("{:?} KeyUsage lacks keyCertSign", info.subject_cn)));
        }
        let has_ski = x509
            .iter_extensions()
            .any(|e| matches!(e.parsed_extension(), x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(_)));
        let inner = rcgen::Issuer::from_ca_cert_der(&block.der.as_slice().into(), Signer::new(&key))
            .map_err(|e| Error::Certificate(format!("issuer subject not supported: {e}")))?;
        let cert_pem = crate::pem::encode("CERTIFICATE", &block.der).to_string();
        Ok(Issuer { cert_pem, info, key, has_ski, inner })
    }

    /// The CA certificate (normalised PEM, single block).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Parsed facts about the CA certificate.
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// The CA's private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }
}

fn serial(rng: &mut impl Rng) -> SerialNumber {
    // 16 random bytes, top bit cleared (positive), second bit set (no leading
    // zero byte, so always exactly 16 bytes; ≤ 20 as RFC 5280 requires): 126 bits of entropy.
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[0] = (b[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&b)
}

fn take_key(spec: &CertSpec, key: Option<PrivateKey>, rng: &mut impl Rng) -> Result<PrivateKey, Error> {
    match key {
        Some(k) if k.algorithm() != spec.key_algorithm => {
            Err(Error::KeyAlgorithmMismatch { expected: spec.key_algorithm, actual: k.algorithm() })
        }
        Some(k) => Ok(k),
        None => PrivateKey::generate(spec.key_algorithm, rng),
    }
}

fn base_params(spec: &CertSpec, key_alg: KeyAlgorithm, rng: &mut impl Rng) -> Result<CertificateParams, Error> {
    spec.validate()?;
    let mut p = CertificateParams::default();
    // Same RDN order as Go's pkix.Name (O before CN), as kubeadm produces.
    let mut dn = DistinguishedName::new();
    if let Some(o) = spec.organizations.first() {
        dn.push(DnType::OrganizationName, o.as_str());
    }
    dn.push(DnType::CommonName, spec.common_name.as_str());
    p.distinguished_name = dn;
    p.serial_number = Some(serial(rng));
    let mut sans = Vec::new();
    for d in &spec.dns_sans {
        sans.push(SanType::DnsName(d.clone().try_into().map_err(|_| Error::InvalidSpec(format!("invalid DNS SAN {d:?}")))?));
    }
    for ip in &spec.ip_sans {
        sans.push(SanType::IpAddress(*ip));
    }
    p.subject_alt_names = sans;
    match spec.kind {
        CertKind::Ca => {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            // kubeadm/client-go: digitalSignature | keyEncipherment | keyCertSign.
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::KeyCertSign];
        }
        kind => {
            // BasicConstraints CA:FALSE (kubeadm sets BasicConstraintsValid) + SKI.
            p.is_ca = IsCa::ExplicitNoCa;
            // kubeadm sets keyEncipherment on every leaf; it only has meaning
            // for RSA key transport, so ECDSA leaves get digitalSignature only
            // (RFC 5480 §3). Go, OpenSSL and kube components accept both.
            p.key_usages = if key_alg.is_rsa() {
                vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment]
            } else {
                vec![KeyUsagePurpose::DigitalSignature]
            };
            p.extended_key_usages = match kind {
                CertKind::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
                CertKind::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
                _ => vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
            };
        }
    }
    Ok(p)
}

fn second(now: OffsetDateTime) -> OffsetDateTime {
    now.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).expect("0 is a valid nanosecond")
}

/// The earliest and latest instants an X.509 time can hold (GeneralizedTime, years 0000–9999).
fn x509_range() -> (OffsetDateTime, OffsetDateTime) {
    let first = time::Date::from_calendar_date(0, time::Month::January, 1).expect("valid date");
    let last = time::Date::from_calendar_date(9999, time::Month::December, 31).expect("valid date");
    (first.midnight().assume_utc(), last.with_hms(23, 59, 59).expect("valid time").assume_utc())
}

/// NotBefore = `now` − backdate and NotAfter = `now` + validity, with checked arithmetic:
/// a time outside what X.509 can encode is an error, never a panic.
fn validity_window(spec: &CertSpec, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime), Error> {
    let (first, last) = x509_range();
    let out_of_range = |what: &str| {
        Error::InvalidSpec(format!("{}: {what} is outside the years 0000-9999 an X.509 certificate can hold", spec.common_name))
    };
    let not_before = now.checked_sub(CERTIFICATE_BACKDATE).filter(|t| *t >= first).ok_or_else(|| out_of_range("NotBefore"))?;
    let not_after = now.checked_add(spec.validity.duration()).filter(|t| *t <= last).ok_or_else(|| {
        out_of_range(&format!("NotAfter (issued at {now} plus {} days of validity)", spec.validity.duration().whole_days()))
    })?;
    Ok((not_before, not_after))
}

/// Issue a self-signed CA.
///
/// `key`: reuse an existing key (must match `spec.key_algorithm`), or `None`
/// to generate one from `rng`. NotBefore = now − [`CERTIFICATE_BACKDATE`],
/// NotAfter = now + validity (as kubeadm). `spec.kind` must be [`CertKind::Ca`].
pub fn self_signed_ca(spec: &CertSpec, key: Option<PrivateKey>, now: OffsetDateTime, rng: &mut impl Rng) -> Result<Issued, Error> {
    if spec.kind != CertKind::Ca {
        return Err(Error::InvalidSpec(format!("{}: self_signed_ca needs kind Ca", spec.common_name)));
    }
    let key = take_key(spec, key, rng)?;
    let now = second(now);
    let (not_before, not_after) = validity_window(spec, now)?;
    let mut p = base_params(spec, key.algorithm(), rng)?;
    p.not_before = not_before;
    p.not_after = not_after;
    let cert = p.self_signed(&Signer::new(&key))?;
    Ok(Issued { cert_pem: cert.pem(), key })
}

/// Issue a certificate signed by `ca` (a leaf, or an intermediate CA when
/// `spec.kind` is [`CertKind::Ca`]).
///
/// NotBefore = max(now − [`CERTIFICATE_BACKDATE`] (or a tenth of the validity when that is
/// shorter), CA NotBefore); NotAfter =
/// min(now + validity, CA NotAfter). (kubeadm copies the CA's NotBefore into
/// every leaf; we backdate from `now` instead so that the lifetime — and the
/// renewal arithmetic of [`crate::renewal_due`] — reflects the issuance time.)
pub fn issue(spec: &CertSpec, key: Option<PrivateKey>, ca: &Issuer, now: OffsetDateTime, rng: &mut impl Rng) -> Result<Issued, Error> {
    let now = second(now);
    if now < ca.info.not_before || now >= ca.info.not_after {
        return Err(Error::IssuerNotValid(format!(
            "{:?} is valid from {} to {}, now is {}",
            ca.info.subject_cn, ca.info.not_before, ca.info.not_after, now
        )));
    }
    // Capped by the CA's window (itself within X.509's years), so a validity running past year
    // 9999 only means "as long as the CA".
    let until = now.checked_add(spec.validity.duration()).unwrap_or(ca.info.not_after);
    let not_after = std::cmp::min(until, ca.info.not_after);
    // Short-lived leaves (minutes, issued in the cluster) are backdated a tenth of their
    // validity at most, so that most of their lifetime lies ahead.
    let backdate = std::cmp::min(CERTIFICATE_BACKDATE, spec.validity.duration() / 10);
    let not_before = std::cmp::max(now.checked_sub(backdate).unwrap_or(ca.info.not_before), ca.info.not_before);
    let key = take_key(spec, key, rng)?;
    let mut p = base_params(spec, key.algorithm(), rng)?;
    p.not_before = not_before;
    p.not_after = not_after;
    p.use_authority_key_identifier_extension = ca.has_ski;
    let cert = p.signed_by(&SubjectKey::new(&key), &ca.inner)?;
    Ok(Issued { cert_pem: cert.pem(), key })
}
