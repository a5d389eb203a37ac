//! `tcpc status`: what each tenant is, offline — version, endpoint, exposure, DataStore,
//! replicas, and the certificate expiry timeline the lock records.
//!
//! Invariant: pure (resolved tenants, the lock, the clock and the thresholds are handed in);
//! only public data (the lock holds no secret), so it needs no identity.

use serde::Serialize;

use crate::filter::Filter;
use crate::lock::Lock;
use crate::resolve::Tenant;
use crate::review::{self, Certificate};

/// One tenant, as `tcpc status` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// `namespace/name`.
    pub tenant: String,
    /// The spec file (repository-relative).
    pub source: String,
    pub version: String,
    /// `https://host:port` as the tenant's kubeconfigs name it.
    pub endpoint: String,
    /// The Service type, plus `+Ingress` / `+Gateway` when the spec adds one.
    pub exposure: String,
    pub replicas: i32,
    pub datastore: String,
    pub driver: String,
    /// Whether the lock records the tenant (it has been rendered with its key material).
    pub rendered: bool,
    /// Every certificate, soonest expiry first.
    pub certificates: Vec<Certificate>,
}

impl TenantStatus {
    /// The certificate that expires first.
    pub fn next_expiry(&self) -> Option<&Certificate> {
        self.certificates.first()
    }
}

/// The status of every selected tenant, ordered by `namespace/name`.
pub fn status(
    tenants: &[Tenant],
    source_of: impl Fn(&Tenant) -> String,
    lock: &Lock,
    filter: &Filter,
    now: time::OffsetDateTime,
    warn_days: i64,
    fail_days: i64,
) -> Vec<TenantStatus> {
    let mut certificates = review::certificates(lock, filter, now, warn_days, fail_days);
    certificates.sort_by(|a, b| (&a.tenant, a.days_left, &a.certificate).cmp(&(&b.tenant, b.days_left, &b.certificate)));
    let mut out: Vec<TenantStatus> = tenants
        .iter()
        .map(|t| (t.key(), t))
        .filter(|(key, _)| filter.tenant(key))
        .map(|(key, t)| TenantStatus {
            rendered: lock.tenants.contains_key(&key),
            certificates: certificates.iter().filter(|c| c.tenant == key).cloned().collect(),
            tenant: key,
            source: source_of(t),
            version: t.version.clone(),
            endpoint: t.server_url.clone(),
            exposure: crate::record::exposure(t),
            replicas: t.deployment.replicas,
            datastore: t.datastore.name.clone(),
            driver: t.datastore.driver.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    out
}

/// A plain-text table, one tenant per line (columns padded to their widest cell).
pub fn table(rows: &[TenantStatus]) -> String {
    let header = ["TENANT", "VERSION", "ENDPOINT", "EXPOSURE", "REPLICAS", "DATASTORE", "NEXT EXPIRY"];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        let next = match (r.rendered, r.next_expiry()) {
            (false, _) => "not rendered yet".to_string(),
            (true, None) => "-".to_string(),
            (true, Some(c)) => format!("{} in {}d ({})", c.certificate, c.days_left, c.not_after.get(..10).unwrap_or(&c.not_after)),
        };
        lines.push(vec![
            r.tenant.clone(),
            r.version.clone(),
            r.endpoint.clone(),
            r.exposure.clone(),
            r.replicas.to_string(),
            format!("{} ({})", r.datastore, r.driver),
            next,
        ]);
    }
    let widths: Vec<usize> = (0..header.len()).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One tenant's certificate timeline, soonest expiry first.
pub fn timeline(r: &TenantStatus) -> String {
    let mut out = format!("{}  ({}, {})\n", r.tenant, r.version, r.source);
    if !r.rendered {
        out.push_str("  not rendered yet: run `tcpc render --identity …`\n");
    }
    let width = r.certificates.iter().map(|c| c.certificate.len()).max().unwrap_or(0);
    for c in &r.certificates {
        let mark = match c.status {
            review::ExpiryStatus::Ok => "",
            review::ExpiryStatus::Warn => "  (warn: renew soon)",
            review::ExpiryStatus::Fail => "  (FAIL: within check.failDays)",
        };
        out.push_str(&format!("  {:<width$}  {}  {:>5}d{mark}\n", c.certificate, c.not_after, c.days_left));
    }
    out
}
