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
        let who = format!("{}/{}", t.namespace, t.name);
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
