//! `tcpc join-command`: the `kubeadm join` line for a tenant, computed offline.
//!
//! A worker joining with a bootstrap token checks the tenant it talks to by pinning the
//! public key of the tenant CA (`--discovery-token-ca-cert-hash`). That pin is public: it comes
//! from the CA bundle the lock records for the tenant (the same bundle `cluster-info`
//! publishes), so no identity and no cluster access are needed.
//!
//! Invariant: pure (the resolved tenant and its lock entry are handed in); never handles a
//! token — a token the caller adds is only formatted into the line.

use crate::lock::TenantLock;
use crate::resolve::Tenant;

/// What a worker needs besides a bootstrap token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCommand {
    /// `host:port` of the tenant API server, as the tenant's kubeconfigs name it.
    pub endpoint: String,
    /// `sha256:<hex>` of the tenant CA's SubjectPublicKeyInfo.
    pub ca_cert_hash: String,
}

impl JoinCommand {
    /// The tenant `t`'s join command, from its lock entry (`None`: never rendered).
    pub fn for_tenant(t: &Tenant, lock: Option<&TenantLock>) -> Result<JoinCommand, String> {
        let who = t.key();
        let lock = lock
            .filter(|l| !l.ca_bundle.trim().is_empty())
            .ok_or_else(|| format!("{who} has no CA in the lock yet: run `tcpc render --identity …` first"))?;
        let pins = tcpc_pki::public_key_pins(&lock.ca_bundle).map_err(|e| format!("{who}: the CA bundle in the lock: {e}"))?;
        let endpoint = t.server_url.strip_prefix("https://").unwrap_or(&t.server_url).trim_end_matches('/').to_owned();
        Ok(JoinCommand { endpoint, ca_cert_hash: pins[0].clone() })
    }

    /// The command line; with `token`, complete (as `kubeadm token create --print-join-command`
    /// prints it), otherwise without `--token`.
    pub fn line(&self, token: Option<&str>) -> String {
        let token = token.map(|t| format!(" --token {t}")).unwrap_or_default();
        format!("kubeadm join {}{token} --discovery-token-ca-cert-hash {}", self.endpoint, self.ca_cert_hash)
    }
}

/// The group kubeadm's default node token authenticates as (beyond `system:bootstrappers`).
pub const DEFAULT_NODE_TOKEN_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

/// A bootstrap token, `<id>.<secret>` (`[a-z0-9]{6}.[a-z0-9]{16}`, as kubeadm makes them).
/// The secret half lives in a zeroizing buffer and is never shown by `Debug`.
pub struct BootstrapToken {
    pub id: String,
    secret: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BootstrapToken({}.<redacted>)", self.id)
    }
}

impl BootstrapToken {
    /// A fresh token from `rng` (handed in: the caller owns randomness). Each character is
    /// drawn uniformly from `[a-z0-9]` (bytes of 252 and above are rejected, 252 = 7 × 36).
    pub fn generate(rng: &mut impl rand_core::RngCore) -> BootstrapToken {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut draw = |n: usize| {
            let mut out = zeroize::Zeroizing::new(String::with_capacity(n));
            let mut byte = [0u8; 1];
            while out.len() < n {
                rng.fill_bytes(&mut byte);
                if byte[0] < 252 {
                    out.push(ALPHABET[usize::from(byte[0] % 36)] as char);
                }
            }
            zeroize::Zeroize::zeroize(&mut byte);
            out
        };
        let id = draw(6).to_string();
        BootstrapToken { id, secret: draw(16) }
    }

    /// The secret half, to scrub it from anything shown.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `<id>.<secret>`: what `kubeadm join --token` takes. Keep it off disk and out of logs.
    pub fn reveal(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(format!("{}.{}", self.id, self.secret.as_str()))
    }

    /// The `kube-system/bootstrap-token-<id>` Secret, as `kubeadm token create` writes it:
    /// usable for authentication (joining) and signing (`cluster-info`), in kubeadm's node
    /// group, expiring at `expiration` (`None`: never).
    pub fn secret_object(&self, expiration: Option<time::OffsetDateTime>, description: &str) -> zeroize::Zeroizing<String> {
        let mut data = serde_json::Map::new();
        let mut put = |k: &str, v: &str| {
            data.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        };
        put("auth-extra-groups", DEFAULT_NODE_TOKEN_GROUP);
        put("description", description);
        if let Some(at) = expiration {
            let at = at.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(at);
            put("expiration", &at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default());
        }
        put("token-id", &self.id);
        put("token-secret", &self.secret);
        put("usage-bootstrap-authentication", "true");
        put("usage-bootstrap-signing", "true");
        let object = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": format!("bootstrap-token-{}", self.id), "namespace": "kube-system"},
            "type": "bootstrap.kubernetes.io/token",
            "stringData": data,
        });
        zeroize::Zeroizing::new(object.to_string())
    }
}

/// Parses a token lifetime as kubeadm's `--ttl` takes it: `24h`, `90m`, `3600s`, `1h30m`, or
/// `0` for a token that never expires. Returns seconds (`0`: never).
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    if text == "0" {
        return Ok(0);
    }
    parse_duration("--ttl", text, false).map_err(|e| format!("{e} or `0` (never expires)"))
}

/// A duration flag's value (`24h`, `90m`, `1h30m`, `45s`; at most 366 days) in seconds; `0s` only
/// when `zero_ok`.
pub fn parse_duration(flag: &str, text: &str, zero_ok: bool) -> Result<u64, String> {
    let bad = || format!("invalid {flag} `{text}`: expected a duration such as `24h`, `90m`, `1h30m`");
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' if !number.is_empty() => {
                let n: u64 = number.parse().map_err(|_| bad())?;
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total = n.checked_mul(unit).and_then(|s| total.checked_add(s)).ok_or_else(bad)?;
                number.clear();
            }
            _ => return Err(bad()),
        }
    }
    if text.is_empty() || !number.is_empty() || (total == 0 && !zero_ok) || total > 366 * 24 * 3600 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod token_tests {
    use super::*;
    use rand_core::SeedableRng as _;

    #[test]
    fn tokens_have_kubeadms_shape_and_differ() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let a = BootstrapToken::generate(&mut rng);
        let b = BootstrapToken::generate(&mut rng);
        for t in [&a, &b] {
            let full = t.reveal();
            let (id, secret) = full.split_once('.').unwrap();
            assert_eq!((id.len(), secret.len()), (6, 16), "{full:?}");
            assert!(full.bytes().all(|c| c == b'.' || c.is_ascii_lowercase() || c.is_ascii_digit()), "{full:?}");
        }
        assert_ne!(a.reveal(), b.reveal());
        assert!(!format!("{a:?}").contains(a.reveal().split_once('.').unwrap().1), "Debug must not show the secret");
    }

    #[test]
    fn the_secret_is_what_kubeadm_writes() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let t = BootstrapToken::generate(&mut rng);
        let at = time::OffsetDateTime::from_unix_timestamp(1_796_378_400).unwrap() + time::Duration::milliseconds(500);
        let v: serde_json::Value = serde_json::from_str(&t.secret_object(Some(at), "for tests")).unwrap();
        assert_eq!(v["type"], "bootstrap.kubernetes.io/token");
        assert_eq!(v["metadata"]["name"], format!("bootstrap-token-{}", t.id));
        assert_eq!(v["metadata"]["namespace"], "kube-system");
        let d = &v["stringData"];
        assert_eq!(d["expiration"], "2026-12-04T10:00:00Z");
        assert_eq!(d["auth-extra-groups"], DEFAULT_NODE_TOKEN_GROUP);
        assert_eq!((d["usage-bootstrap-authentication"].as_str(), d["usage-bootstrap-signing"].as_str()), (Some("true"), Some("true")));
        assert_eq!(format!("{}.{}", d["token-id"].as_str().unwrap(), d["token-secret"].as_str().unwrap()), *t.reveal());
        let never: serde_json::Value = serde_json::from_str(&t.secret_object(None, "x")).unwrap();
        assert!(never["stringData"].get("expiration").is_none());
    }

    #[test]
    fn ttls_parse_like_kubeadms() {
        assert_eq!(parse_ttl("24h"), Ok(86400));
        assert_eq!(parse_ttl("1h30m"), Ok(5400));
        assert_eq!(parse_ttl("45s"), Ok(45));
        assert_eq!(parse_ttl("0"), Ok(0));
        for bad in ["", "h", "10", "1d", "-1h", "0h", "99999h", "1h 2m"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
