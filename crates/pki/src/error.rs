/// Errors of this crate. No variant ever carries private key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input text is not the PEM we expected (wrong label, bad base64, encrypted, ...).
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A private key could not be decoded, or its algorithm/size is unsupported.
    #[error("unsupported or malformed private key: {0}")]
    Key(String),
    /// A certificate could not be parsed.
    #[error("malformed certificate: {0}")]
    Certificate(String),
    /// The issuer certificate is not usable as a CA.
    #[error("issuer certificate cannot sign certificates: {0}")]
    NotACa(String),
    /// The private key handed with a certificate does not belong to it.
    #[error("private key does not match the certificate's public key")]
    KeyMismatch,
    /// The key handed for issuance does not have the algorithm the spec asks for.
    #[error("key algorithm mismatch: spec asks for {expected}, key is {actual}")]
    KeyAlgorithmMismatch {
        /// Algorithm named by the spec.
        expected: crate::KeyAlgorithm,
        /// Algorithm of the provided key.
        actual: crate::KeyAlgorithm,
    },
    /// The issuer is expired (or not yet valid) at `now`.
    #[error("issuer certificate is not valid at the requested time: {0}")]
    IssuerNotValid(String),
    /// The certificate spec is inconsistent.
    #[error("invalid certificate spec: {0}")]
    InvalidSpec(String),
    /// Certificate encoding failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
}

impl From<rcgen::Error> for Error {
    fn from(e: rcgen::Error) -> Self {
        Error::Generate(e.to_string())
    }
}
