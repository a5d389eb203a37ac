//! SOPS-encrypted Kubernetes `Secret`s (age recipients), as `sops -d` and Flux's
//! kustomize-controller decrypt them.
//!
//! Format (SOPS v3, checked against the sops sources and the real `sops` binary):
//!
//! * Only values under a path with a key matching `encrypted_regex: ^(data|stringData)$` are
//!   encrypted. SOPS tests the regex against EVERY key of a value's path, so a key named
//!   `data` anywhere (even `metadata.labels.data`) turns encryption on below it; we mirror that.
//! * An encrypted value is `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`, standard
//!   base64, AES-256-GCM with a 32-byte IV and 16-byte tag, AAD = the path keys joined with
//!   `:` plus a trailing `:` (e.g. `data:ca.crt:`). `type` is `str`, `int`, `float` or `bool`
//!   (bools as `True`/`False`). Empty strings stay `""` (sops neither encrypts nor decrypts them).
//! * `null` values are skipped entirely (neither encrypted nor in the MAC).
//! * MAC: SHA-512 over the plaintext bytes of ALL leaf values (`mac_only_encrypted` is off by
//!   default, so unencrypted values such as `apiVersion` count too) in document order,
//!   sequences element by element, the top-level `sops` key excluded; rendered as uppercase
//!   hex and stored encrypted as a `str` with AAD = `sops.lastmodified`.
//! * The data key (32 random bytes) is age-encrypted, armored, to each recipient:
//!   `sops.age[] = {recipient, enc}`.
//!
//! **Document order**: we walk every mapping in byte-sorted key order, the order the
//! project's YAML emitter writes (and Go's `encoding/json` writes maps, which is what Flux
//! hands to sops). The emitted document MUST be written with sorted keys, and with strings
//! that YAML would re-read as another type (`"true"`, `"1"`, timestamps) quoted, or the MAC
//! will not verify.
//!
//! **Randomness**: the data key and IVs come from the handed `rng`; age's wrapping of the data
//! key draws from the OS RNG (the `age` crate takes no RNG), so output is never reproducible.
//! Reuse previously emitted documents via [`reuse_fingerprint`].

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::{CryptoRng, RngCore};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::canonical::{canonical_json, sorted_entries};
use crate::fingerprint::{FingerprintKey, fingerprint_fields};
use crate::{Result, SealError};

/// The `sops.version` we write. Any 3.x reads it; the metadata layout (no empty key-type
/// lists) is the one sops writes since 3.9.
pub const SOPS_VERSION: &str = "3.10.2";
/// The `sops.encrypted_regex` we write and honour.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

type Aes256Gcm32 = AesGcm<Aes256, U32>;

fn key_matches_regex(key: &str) -> bool {
    key == "data" || key == "stringData"
}

/// Check `lastmodified` is what Go's `time.Format(time.RFC3339)` would print for a UTC time:
/// `YYYY-MM-DDTHH:MM:SSZ`. sops re-formats the parsed time to build the MAC's AAD, so any
/// other spelling (fractional seconds, `+00:00`) would make the MAC fail to verify.
pub fn check_lastmodified(ts: &str) -> Result<()> {
    let b = ts.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let ok = b.len() == 20
        && digits.iter().all(|&i| b[i].is_ascii_digit())
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    let num = |r: std::ops::Range<usize>| ts[r].parse::<u32>().unwrap_or(99);
    if !ok || !(1..=12).contains(&num(5..7)) || !(1..=31).contains(&num(8..10)) || num(11..13) > 23 || num(14..16) > 59 || num(17..19) > 59
    {
        return Err(SealError::InvalidTimestamp(ts.to_owned()));
    }
    Ok(())
}

/// A leaf value as sops types it.
enum Leaf<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Leaf<'_> {
    /// sops' `ToBytes`: the bytes the MAC hashes (and the plaintext of an encrypted value).
    fn bytes(&self) -> Vec<u8> {
        match self {
            Leaf::Str(s) => s.as_bytes().to_vec(),
            Leaf::Int(i) => i.to_string().into_bytes(),
            // Rust's shortest round-trip decimal matches Go's FormatFloat(f, 'f', -1, 64)
            // for finite values.
            Leaf::Float(f) => format!("{f}").into_bytes(),
            Leaf::Bool(true) => b"True".to_vec(),
            Leaf::Bool(false) => b"False".to_vec(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Leaf::Str(_) => "str",
            Leaf::Int(_) => "int",
            Leaf::Float(_) => "float",
            Leaf::Bool(_) => "bool",
        }
    }
}

fn leaf_of(v: &Value) -> Result<Option<Leaf<'_>>> {
    Ok(match v {
        Value::String(s) => Some(Leaf::Str(s)),
        Value::Bool(b) => Some(Leaf::Bool(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Leaf::Int(i))
            } else if n.is_u64() {
                return Err(SealError::InvalidDocument("integer above i64::MAX (sops cannot represent it)".into()));
            } else {
                Some(Leaf::Float(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        _ => None,
    })
}

fn iv_arr(iv: &[u8]) -> Result<[u8; 32]> {
    iv.try_into().map_err(|_| SealError::InvalidCiphertext("sops IV must be 32 bytes".into()))
}

fn aad_of(path: &[&str]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

/// sops' AES-GCM value encryption with a 32-byte IV from `rng`.
fn encrypt_value(key: &[u8; 32], plaintext: &[u8], type_name: &str, aad: &str, rng: &mut (impl CryptoRng + RngCore)) -> Result<String> {
    let mut iv = [0u8; 32];
    rng.fill_bytes(&mut iv);
    let cipher = Aes256Gcm32::new_from_slice(key).expect("32-byte key");
    let out = cipher
        .encrypt(&Nonce::<U32>::from(iv_arr(&iv)?), Payload { msg: plaintext, aad: aad.as_bytes() })
        .map_err(|_| SealError::Age("AES-GCM encryption failed".into()))?;
    let (data, tag) = out.split_at(out.len() - 16);
    Ok(format!("ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]", B64.encode(data), B64.encode(iv), B64.encode(tag), type_name))
}

/// Parse and decrypt one `ENC[…]` value; returns (plaintext bytes, type).
fn decrypt_value(key: &[u8; 32], enc: &str, aad: &str) -> Result<(Zeroizing<Vec<u8>>, String)> {
    let bad = || SealError::InvalidCiphertext("not a sops ENC[AES256_GCM,…] value".into());
    let body = enc.strip_prefix("ENC[AES256_GCM,data:").and_then(|s| s.strip_suffix(']')).ok_or_else(bad)?;
    let (data, rest) = body.split_once(",iv:").ok_or_else(bad)?;
    let (iv, rest) = rest.split_once(",tag:").ok_or_else(bad)?;
    let (tag, ty) = rest.split_once(",type:").ok_or_else(bad)?;
    let dec = |s: &str| B64.decode(s).map_err(|_| bad());
    let (mut data, iv, tag) = (dec(data)?, dec(iv)?, dec(tag)?);
    if iv.len() != 32 || tag.len() != 16 {
        return Err(SealError::InvalidCiphertext("sops IV must be 32 and tag 16 bytes".into()));
    }
    data.extend_from_slice(&tag);
    let cipher = Aes256Gcm32::new_from_slice(key).expect("32-byte key");
    let pt = cipher
        .decrypt(&Nonce::<U32>::from(iv_arr(&iv)?), Payload { msg: &data, aad: aad.as_bytes() })
        .map_err(|_| SealError::DecryptionFailed)?;
    Ok((Zeroizing::new(pt), ty.to_owned()))
}

struct Encryptor<'k, R> {
    key: &'k [u8; 32],
    mac: Sha512,
    rng: R,
}

impl<R: CryptoRng + RngCore> Encryptor<'_, R> {
    fn walk(&mut self, v: &Value, path: &mut Vec<String>, encrypt: bool) -> Result<Value> {
        match v {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, child) in sorted_entries(map) {
                    path.push(k.clone());
                    let e = self.walk(child, path, encrypt || key_matches_regex(k))?;
                    path.pop();
                    out.insert(k.clone(), e);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items.iter().map(|item| self.walk(item, path, encrypt)).collect::<Result<_>>().map(Value::Array),
            Value::Null => Ok(Value::Null),
            leaf => {
                let leaf = leaf_of(leaf)?.expect("scalar");
                let bytes = Zeroizing::new(leaf.bytes());
                self.mac.update(&*bytes);
                if !encrypt {
                    return Ok(v.clone());
                }
                if bytes.is_empty() {
                    // sops leaves empty strings as they are.
                    return Ok(Value::String(String::new()));
                }
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                Ok(Value::String(encrypt_value(self.key, &bytes, leaf.type_name(), &aad_of(&p), &mut self.rng)?))
            }
        }
    }
}

/// Encrypt a `v1` `Secret` (any JSON object, really) for SOPS with age recipients.
///
/// `lastmodified` is handed in (no clock here) and must be `YYYY-MM-DDTHH:MM:SSZ`.
/// Returns the document with `data`/`stringData` values encrypted and a top-level `sops`
/// mapping: `age[{enc, recipient}]`, `encrypted_regex`, `lastmodified`, `mac`, `version`.
pub fn encrypt_secret(
    secret: &Value,
    recipients: &[age::x25519::Recipient],
    lastmodified: &str,
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Value> {
    let Value::Object(top) = secret else {
        return Err(SealError::InvalidDocument("top level must be a mapping".into()));
    };
    if top.contains_key("sops") {
        return Err(SealError::InvalidDocument("already has a top-level `sops` key".into()));
    }
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    check_lastmodified(lastmodified)?;

    let mut data_key = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(data_key.as_mut());

    let mut enc = Encryptor { key: &data_key, mac: Sha512::new(), rng: &mut *rng };
    let Value::Object(mut out) = enc.walk(secret, &mut Vec::new(), false)? else { unreachable!("object in, object out") };
    let mac_hex = Zeroizing::new(hex::encode_upper(enc.mac.finalize()));
    let mac = encrypt_value(&data_key, mac_hex.as_bytes(), "str", lastmodified, rng)?;

    let mut age_entries = Vec::with_capacity(recipients.len());
    for r in recipients {
        let armored = crate::state::encrypt_to_parsed(data_key.as_ref(), std::slice::from_ref(r))?;
        age_entries.push(json!({ "enc": armored, "recipient": r.to_string() }));
    }
    out.insert(
        "sops".into(),
        json!({
            "age": age_entries,
            "encrypted_regex": ENCRYPTED_REGEX,
            "lastmodified": lastmodified,
            "mac": mac,
            "version": SOPS_VERSION,
        }),
    );
    Ok(Value::Object(out))
}

struct Decryptor<'k> {
    key: &'k [u8; 32],
    mac: Sha512,
    regex: fn(&str) -> bool,
}

impl Decryptor<'_> {
    fn walk(&mut self, v: &Value, path: &mut Vec<String>, encrypt: bool) -> Result<Value> {
        match v {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, child) in sorted_entries(map) {
                    path.push(k.clone());
                    let d = self.walk(child, path, encrypt || (self.regex)(k))?;
                    path.pop();
                    out.insert(k.clone(), d);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items.iter().map(|item| self.walk(item, path, encrypt)).collect::<Result<_>>().map(Value::Array),
            Value::Null => Ok(Value::Null),
            leaf if !encrypt => {
                let leaf = leaf_of(leaf)?.expect("scalar");
                self.mac.update(leaf.bytes());
                Ok(v.clone())
            }
            Value::String(s) if s.is_empty() => Ok(v.clone()),
            Value::String(s) => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let (pt, ty) = decrypt_value(self.key, s, &aad_of(&p))?;
                self.mac.update(&*pt);
                let text = std::str::from_utf8(&pt).map_err(|_| SealError::InvalidCiphertext("plaintext is not UTF-8".into()))?;
                let bad = || SealError::InvalidCiphertext(format!("bad {ty} value"));
                Ok(match ty.as_str() {
                    "str" => Value::String(text.to_owned()),
                    "int" => json!(text.parse::<i64>().map_err(|_| bad())?),
                    "float" => json!(text.parse::<f64>().map_err(|_| bad())?),
                    "bool" => json!(match text {
                        "True" | "true" => true,
                        "False" | "false" => false,
                        _ => return Err(bad()),
                    }),
                    _ => return Err(SealError::InvalidCiphertext(format!("unsupported type {ty:?}"))),
                })
            }
            _ => Err(SealError::InvalidDocument("encrypted value is not a string".into())),
        }
    }
}

/// Decrypt a document produced by [`encrypt_secret`] (or by sops with age and
/// `encrypted_regex: ^(data|stringData)$`) and verify its MAC. For tests and recovery.
/// Keys are walked in sorted order, so this verifies exactly the order we emit.
pub fn decrypt_document(doc: &Value, identity: &age::x25519::Identity) -> Result<Value> {
    let Value::Object(top) = doc else {
        return Err(SealError::InvalidDocument("top level must be a mapping".into()));
    };
    let sops = top.get("sops").and_then(Value::as_object).ok_or_else(|| SealError::InvalidDocument("no `sops` mapping".into()))?;
    let field = |k: &str| sops.get(k).and_then(Value::as_str).ok_or_else(|| SealError::InvalidDocument(format!("missing sops.{k}")));
    let lastmodified = field("lastmodified")?;
    if field("encrypted_regex")? != ENCRYPTED_REGEX {
        return Err(SealError::InvalidDocument("unsupported sops.encrypted_regex".into()));
    }
    if sops.get("mac_only_encrypted").and_then(Value::as_bool) == Some(true) {
        return Err(SealError::InvalidDocument("mac_only_encrypted is not supported".into()));
    }
    let mac_enc = field("mac")?;
    let entries = sops.get("age").and_then(Value::as_array).ok_or_else(|| SealError::InvalidDocument("missing sops.age".into()))?;

    let mut data_key = None;
    for e in entries {
        let Some(enc) = e.get("enc").and_then(Value::as_str) else { continue };
        if let Ok(k) = crate::state::decrypt_bytes(enc.as_bytes(), std::slice::from_ref(identity)) {
            data_key = Some(k);
            break;
        }
    }
    let dk = data_key.ok_or(SealError::DecryptionFailed)?;
    let key: Zeroizing<[u8; 32]> =
        Zeroizing::new(dk.as_slice().try_into().map_err(|_| SealError::InvalidCiphertext("data key is not 32 bytes".into()))?);

    let mut body = top.clone();
    body.remove("sops");
    let mut dec = Decryptor { key: &key, mac: Sha512::new(), regex: key_matches_regex };
    let out = dec.walk(&Value::Object(body), &mut Vec::new(), false)?;
    let computed = hex::encode_upper(dec.mac.finalize());
    let (stored, _) = decrypt_value(&key, mac_enc, lastmodified).map_err(|_| SealError::MacMismatch)?;
    if !crate::fingerprint::fingerprints_equal(&computed, &String::from_utf8_lossy(&stored)) {
        return Err(SealError::MacMismatch);
    }
    Ok(out)
}

/// Keyed fingerprint of everything an emitted SOPS document depends on (the Secret, in
/// canonical sorted-key JSON, and the recipients). Record it next to the emitted document and
/// re-emit the recorded document while it matches (see
/// [`crate::sealedsecrets::may_reuse`]); `lastmodified` is deliberately not part of it.
pub fn reuse_fingerprint(fkey: &FingerprintKey, secret: &Value, recipients: &[age::x25519::Recipient]) -> String {
    let mut canon = Zeroizing::new(Vec::new());
    canonical_json(secret, &mut canon);
    let mut rs: Vec<String> = recipients.iter().map(ToString::to_string).collect();
    rs.sort();
    let rs = rs.join("\n");
    fingerprint_fields(fkey, &[b"tcpc/sops/v1", rs.as_bytes(), &canon])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn secret() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "admin-kubeconfig", "namespace": "tenant-a",
                         "labels": {"app": "x", "data": "looks-like-data"},
                         "creationTimestamp": null},
            "type": "Opaque",
            "data": {"ca.crt": "Y2E=", "admin.conf": "a2NmZw==", "empty": ""},
            "stringData": {"token": "abc", "n": 5, "flag": true},
        })
    }

    #[test]
    fn round_trip_and_shape() {
        let id = age::x25519::Identity::generate();
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let enc = encrypt_secret(&secret(), &[id.to_public()], "2024-05-01T12:00:00Z", &mut rng).unwrap();
        assert_eq!(enc["apiVersion"], "v1");
        assert_eq!(enc["metadata"]["name"], "admin-kubeconfig");
        let ca = enc["data"]["ca.crt"].as_str().unwrap();
        assert!(ca.starts_with("ENC[AES256_GCM,data:") && ca.ends_with(",type:str]"), "{ca}");
        assert_eq!(enc["data"]["empty"], "");
        assert!(enc["stringData"]["n"].as_str().unwrap().ends_with("type:int]"));
        assert!(enc["stringData"]["flag"].as_str().unwrap().ends_with("type:bool]"));
        // sops' regex applies to every path component.
        assert!(enc["metadata"]["labels"]["data"].as_str().unwrap().starts_with("ENC["));
        assert_eq!(enc["metadata"]["labels"]["app"], "x");
        let s = &enc["sops"];
        assert_eq!(s["encrypted_regex"], ENCRYPTED_REGEX);
        assert_eq!(s["lastmodified"], "2024-05-01T12:00:00Z");
        assert_eq!(s["version"], SOPS_VERSION);
        assert_eq!(s["age"][0]["recipient"], id.to_public().to_string());
        assert!(s["age"][0]["enc"].as_str().unwrap().starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(s["mac"].as_str().unwrap().starts_with("ENC[AES256_GCM,data:"));

        let dec = decrypt_document(&enc, &id).unwrap();
        assert_eq!(dec, secret());
        // Wrong identity.
        let other = age::x25519::Identity::generate();
        assert!(matches!(decrypt_document(&enc, &other), Err(SealError::DecryptionFailed)));
    }

    #[test]
    fn mac_covers_unencrypted_values_and_aad_binds_path() {
        let id = age::x25519::Identity::generate();
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let enc = encrypt_secret(&secret(), &[id.to_public()], "2024-05-01T12:00:00Z", &mut rng).unwrap();
        let mut t = enc.clone();
        t["metadata"]["name"] = json!("other");
        assert!(matches!(decrypt_document(&t, &id), Err(SealError::MacMismatch)));
        let mut t = enc.clone();
        t["sops"]["lastmodified"] = json!("2024-05-01T12:00:01Z");
        assert!(matches!(decrypt_document(&t, &id), Err(SealError::MacMismatch)));
        // Moving a ciphertext to another key breaks its AAD.
        let mut t = enc.clone();
        t["data"]["admin.conf"] = enc["data"]["ca.crt"].clone();
        assert!(matches!(decrypt_document(&t, &id), Err(SealError::DecryptionFailed)));
    }

    #[test]
    fn mac_known_answer() {
        // MAC over values in sorted-key order: apiVersion, data.a, kind, list items.
        let doc = json!({"kind": "Secret", "apiVersion": "v1", "data": {"a": "x"}, "l": [1, false]});
        let id = age::x25519::Identity::generate();
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let enc = encrypt_secret(&doc, &[id.to_public()], "2024-05-01T12:00:00Z", &mut rng).unwrap();
        let key = {
            let enc_key = enc["sops"]["age"][0]["enc"].as_str().unwrap();
            crate::state::decrypt_bytes(enc_key.as_bytes(), &[id]).unwrap()
        };
        let key: [u8; 32] = key.as_slice().try_into().unwrap();
        let (mac, _) = decrypt_value(&key, enc["sops"]["mac"].as_str().unwrap(), "2024-05-01T12:00:00Z").unwrap();
        let expect = hex::encode_upper(Sha512::digest(b"v1xSecret1False"));
        assert_eq!(std::str::from_utf8(&mac).unwrap(), expect);
    }

    #[test]
    fn timestamps() {
        assert!(check_lastmodified("2024-05-01T12:00:00Z").is_ok());
        for bad in ["2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00+00:00", "2024-13-01T12:00:00Z", ""] {
            assert!(check_lastmodified(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reuse_fp() {
        let fk = FingerprintKey::derive(&[1; 32], "lock/sops");
        let id = age::x25519::Identity::generate();
        let a = reuse_fingerprint(&fk, &secret(), &[id.to_public()]);
        assert_eq!(a, reuse_fingerprint(&fk, &secret(), &[id.to_public()]));
        let mut s2 = secret();
        s2["data"]["ca.crt"] = json!("Y2I=");
        assert_ne!(a, reuse_fingerprint(&fk, &s2, &[id.to_public()]));
    }
}
