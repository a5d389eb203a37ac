//! `tcpc kubeconfig`: a tenant's admin or super-admin kubeconfig, built offline from the
//! encrypted state for whoever holds the age identity.
//!
//! The super-admin kubeconfig (`O=system:masters`, beyond RBAC) is not put into the cluster by
//! default (see `resolve::hardening::SUPER_ADMIN_ANNOTATION`); this is how one gets it: the same
//! certificate `tcpc render` issued and keeps in the state, the tenant's CA bundle, and the
//! server of the rendered `admin.conf`.
//!
//! Invariant: pure (the state text, identities and "now" are handed in); the kubeconfig only
//! exists in a zeroizing buffer.

use tcpc_pki::{Artefact, CertInfo};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::diag::Diagnostics;
use crate::pki::TenantState;
use crate::resolve::Tenant;
use crate::source::Sources;

/// Which kubeconfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// `kubernetes-admin`, group `kubeadm:cluster-admins` (RBAC-bound by the tenant bundle).
    Admin,
    /// `kubernetes-super-admin`, group `system:masters`.
    SuperAdmin,
}

impl User {
    fn artefact(self) -> Artefact {
        match self {
            User::Admin => Artefact::Admin,
            User::SuperAdmin => Artefact::SuperAdmin,
        }
    }
}

/// Parses and resolves the repository: every tenant (for the commands that read, not render).
pub fn resolve_all(sources: &Sources, config: &crate::parse::ConfigFile) -> Result<Vec<Tenant>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let inputs = crate::parse::parse(sources, config, &mut diags);
    let tenants = crate::resolve::resolve(&inputs, &mut diags);
    if diags.has_errors() {
        diags.sort();
        return Err(diags);
    }
    Ok(tenants)
}

/// The kubeconfig of `user` for tenant `t`, from its encrypted state.
pub fn kubeconfig(
    t: &Tenant,
    state: &str,
    identities: &[age::x25519::Identity],
    user: User,
    now: OffsetDateTime,
) -> Result<Zeroizing<String>, String> {
    let who = t.key();
    if t.pki.companion_rotation && crate::pki::COMPANION_ISSUED.contains(&user.artefact()) {
        return Err(format!(
            "{who}: under `rotation: companion` the {} certificate is the companion's, issued in the cluster, not in Git\nhelp: kubectl -n {} get secret {} -o jsonpath='{{.data.admin\\.conf}}' | base64 -d",
            user.artefact(),
            t.namespace,
            t.secrets.admin_kubeconfig
        ));
    }
    let plain = tcpc_seal::state::decrypt_with_identities(state, identities).map_err(|e| format!("{who}: cannot open the state: {e}"))?;
    let state: TenantState = serde_json::from_slice(&plain).map_err(|_| format!("{who}: the decrypted state is not valid"))?;
    let a = user.artefact();
    let missing = |what: &str| format!("{who}: the state holds no {what}; run `tcpc render --identity …` first");
    let pair = state.artefacts.get(a.as_str()).ok_or_else(|| missing(a.as_str()))?;
    let cert = pair.cert.as_deref().ok_or_else(|| missing(a.as_str()))?;
    let ca = state.artefacts.get(Artefact::Ca.as_str()).and_then(|p| p.cert.as_deref()).ok_or_else(|| missing("CA"))?;
    let info = CertInfo::parse(cert).map_err(|e| format!("{who}: {a}: {e}"))?;
    if info.not_after <= now {
        return Err(format!("{who}: the {a} certificate expired at {}; run `tcpc render --identity …` to renew it", info.not_after));
    }
    let (user_name, _) = a.kubeconfig().expect("admin and super-admin have kubeconfigs");
    let ca_bundle = format!("{ca}{}", state.ca_chain.as_deref().unwrap_or_default());
    Ok(tcpc_pki::kubeconfig_with_key_pem(&t.name, &t.server_url, &ca_bundle, user_name, cert, &pair.key))
}
