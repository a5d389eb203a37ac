//! The tool's own key material, stored ASCII-armored age-encrypted in Git.
//!
//! Randomness: age draws its file key, payload nonce and ephemeral X25519 keys from the OS
//! RNG (the `age` crate takes no RNG parameter), so the armored output differs on every call.
//! Call [`encrypt_to_recipients`] only at the IO edge, and only when the state actually changed
//! (otherwise keep the existing file bytes), so that Git history stays quiet.

use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use zeroize::Zeroizing;

use crate::{Result, SealError};

/// Parse `age1…` X25519 recipient strings. Errors name the offending (public) string.
pub fn parse_recipients(recipients: &[String]) -> Result<Vec<age::x25519::Recipient>> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    recipients.iter().map(|r| age::x25519::Recipient::from_str(r.trim()).map_err(|_| SealError::InvalidRecipient(r.clone()))).collect()
}

/// Encrypt `plaintext` to all `recipients` (X25519, `age1…`), ASCII-armored
/// (`-----BEGIN AGE ENCRYPTED FILE-----`), as `age -a -r … -r …` writes it.
pub fn encrypt_to_recipients(plaintext: &[u8], recipients: &[String]) -> Result<String> {
    let parsed = parse_recipients(recipients)?;
    encrypt_to_parsed(plaintext, &parsed)
}

/// Same as [`encrypt_to_recipients`] with already-parsed recipients.
pub fn encrypt_to_parsed(plaintext: &[u8], recipients: &[age::x25519::Recipient]) -> Result<String> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    let age_err = |e: &dyn std::fmt::Display| SealError::Age(e.to_string());
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient)).map_err(|e| age_err(&e))?;
    let armored = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor).map_err(|e| age_err(&e))?;
    let mut writer = encryptor.wrap_output(armored).map_err(|e| age_err(&e))?;
    writer.write_all(plaintext).map_err(|e| age_err(&e))?;
    let armored = writer.finish().map_err(|e| age_err(&e))?;
    let bytes = armored.finish().map_err(|e| age_err(&e))?;
    String::from_utf8(bytes).map_err(|e| age_err(&e))
}

/// Parse an identity file as `age-keygen` writes it: `#` comment lines, blank lines, and
/// `AGE-SECRET-KEY-1…` lines (X25519 only). Errors give the line number, never its content.
pub fn parse_identity_file(text: &str) -> Result<Vec<age::x25519::Identity>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = age::x25519::Identity::from_str(line).map_err(|_| SealError::InvalidIdentity { line: i + 1 })?;
        out.push(id);
    }
    if out.is_empty() {
        return Err(SealError::NoIdentities);
    }
    Ok(out)
}

/// Decrypt armored (or binary) age ciphertext with any of `identities`.
pub fn decrypt_with_identities(armored: &str, identities: &[age::x25519::Identity]) -> Result<Zeroizing<Vec<u8>>> {
    decrypt_bytes(armored.as_bytes(), identities)
}

/// Decrypt with the identities of an `age-keygen` identity file's text.
pub fn decrypt_with_identity_file(armored: &str, identity_file: &str) -> Result<Zeroizing<Vec<u8>>> {
    decrypt_with_identities(armored, &parse_identity_file(identity_file)?)
}

pub(crate) fn decrypt_bytes(ciphertext: &[u8], identities: &[age::x25519::Identity]) -> Result<Zeroizing<Vec<u8>>> {
    if identities.is_empty() {
        return Err(SealError::NoIdentities);
    }
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(ciphertext)).map_err(|e| SealError::Age(e.to_string()))?;
    let mut reader = decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => SealError::DecryptionFailed,
        other => SealError::Age(other.to_string()),
    })?;
    let mut out = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut out).map_err(|_| SealError::DecryptionFailed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn round_trip_and_wrong_identity() {
        let a = age::x25519::Identity::generate();
        let b = age::x25519::Identity::generate();
        let stranger = age::x25519::Identity::generate();
        let recips = vec![a.to_public().to_string(), b.to_public().to_string()];
        let armored = encrypt_to_recipients(b"state-secret", &recips).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(armored.trim_end().ends_with("-----END AGE ENCRYPTED FILE-----"));
        assert_eq!(&*decrypt_with_identities(&armored, &[a]).unwrap(), b"state-secret");
        let file = format!("# created: 2024-01-01T00:00:00Z\n# public key: {}\n{}\n", b.to_public(), b.to_string().expose_secret());
        assert_eq!(&*decrypt_with_identity_file(&armored, &file).unwrap(), b"state-secret");
        assert!(matches!(decrypt_with_identities(&armored, &[stranger]), Err(SealError::DecryptionFailed)));
    }

    #[test]
    fn bad_inputs() {
        assert!(matches!(encrypt_to_recipients(b"x", &[]), Err(SealError::NoRecipients)));
        assert!(matches!(encrypt_to_recipients(b"x", &["age1nope".into()]), Err(SealError::InvalidRecipient(_))));
        let Err(err) = parse_identity_file("# c\nAGE-SECRET-KEY-1BOGUS\n") else { panic!() };
        assert!(matches!(err, SealError::InvalidIdentity { line: 2 }));
        assert!(!err.to_string().contains("BOGUS"));
        assert!(matches!(parse_identity_file("# only comments\n"), Err(SealError::NoIdentities)));
    }
}
