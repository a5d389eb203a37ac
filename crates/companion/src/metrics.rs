//! Prometheus metrics, rendered by hand in the text exposition format (0.0.4).
//!
//! Series are kept in `BTreeMap`s, so the output is sorted and stable. A tenant's series go away
//! when its RenderedControlPlane does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the reconcile duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// What is exported about one tenant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantSeries {
    /// The control plane serves: phase Ready, Upgrading or CertificatesExpiring.
    pub ready: bool,
    /// The tenant's `/readyz` answered 200.
    pub apiserver_up: bool,
    /// notAfter (Unix seconds) of each certificate read from the cluster, by name.
    pub certificate_expiry: BTreeMap<String, i64>,
}

#[derive(Default)]
struct Inner {
    tenants: BTreeMap<(String, String), TenantSeries>,
    reconcile_total: BTreeMap<&'static str, u64>,
    bucket_counts: [u64; BUCKETS.len()],
    duration_sum: f64,
    duration_count: u64,
    leader: bool,
    /// Secrets issued by the companion (`rotation: companion`), per tenant that had any.
    issued_total: BTreeMap<(String, String), u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_tenant(&self, namespace: &str, tenant: &str, series: TenantSeries) {
        self.lock().tenants.insert((namespace.to_string(), tenant.to_string()), series);
    }

    pub fn remove_tenant(&self, namespace: &str, tenant: &str) {
        let key = (namespace.to_string(), tenant.to_string());
        let mut inner = self.lock();
        inner.tenants.remove(&key);
        inner.issued_total.remove(&key);
    }

    /// Drops the series of every tenant not in `keep`.
    pub fn retain_tenants(&self, keep: &BTreeSet<(String, String)>) {
        let mut inner = self.lock();
        inner.tenants.retain(|k, _| keep.contains(k));
        inner.issued_total.retain(|k, _| keep.contains(k));
    }

    /// Counts one reconcile (`result` = `success` or `error`) and its duration.
    pub fn observe_reconcile(&self, result: &'static str, duration: Duration) {
        let mut inner = self.lock();
        *inner.reconcile_total.entry(result).or_insert(0) += 1;
        let seconds = duration.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                inner.bucket_counts[i] += 1;
            }
        }
        inner.duration_sum += seconds;
        inner.duration_count += 1;
    }

    /// Counts Secrets issued for a tenant.
    pub fn count_issued(&self, namespace: &str, tenant: &str, n: u64) {
        if n == 0 {
            return;
        }
        *self.lock().issued_total.entry((namespace.to_string(), tenant.to_string())).or_insert(0) += n;
    }

    pub fn set_leader(&self, leader: bool) {
        self.lock().leader = leader;
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        let tenant_labels = |ns: &str, t: &str| format!("namespace=\"{}\",tenant=\"{}\"", escape(ns), escape(t));

        out.push_str(
            "# HELP tcpc_tenant_ready 1 when the tenant's control plane serves (phase Ready, Upgrading or CertificatesExpiring).\n",
        );
        out.push_str("# TYPE tcpc_tenant_ready gauge\n");
        for ((ns, t), s) in &inner.tenants {
            let _ = writeln!(out, "tcpc_tenant_ready{{{}}} {}", tenant_labels(ns, t), u8::from(s.ready));
        }
        out.push_str("# HELP tcpc_tenant_apiserver_up 1 when the tenant's GET /readyz answered 200.\n");
        out.push_str("# TYPE tcpc_tenant_apiserver_up gauge\n");
        for ((ns, t), s) in &inner.tenants {
            let _ = writeln!(out, "tcpc_tenant_apiserver_up{{{}}} {}", tenant_labels(ns, t), u8::from(s.apiserver_up));
        }
        out.push_str("# HELP tcpc_certificate_expiry_timestamp_seconds notAfter of each tenant certificate as read from the cluster.\n");
        out.push_str("# TYPE tcpc_certificate_expiry_timestamp_seconds gauge\n");
        for ((ns, t), s) in &inner.tenants {
            for (cert, not_after) in &s.certificate_expiry {
                let _ = writeln!(
                    out,
                    "tcpc_certificate_expiry_timestamp_seconds{{{},certificate=\"{}\"}} {}",
                    tenant_labels(ns, t),
                    escape(cert),
                    not_after
                );
            }
        }
        out.push_str("# HELP tcpc_certificates_issued_total Secrets the companion issued or renewed (rotation: companion).\n");
        out.push_str("# TYPE tcpc_certificates_issued_total counter\n");
        for ((ns, t), n) in &inner.issued_total {
            let _ = writeln!(out, "tcpc_certificates_issued_total{{{}}} {n}", tenant_labels(ns, t));
        }
        out.push_str("# HELP tcpc_reconcile_total Reconciles of RenderedControlPlanes by result.\n");
        out.push_str("# TYPE tcpc_reconcile_total counter\n");
        for result in ["success", "error"] {
            let n = inner.reconcile_total.get(result).copied().unwrap_or(0);
            let _ = writeln!(out, "tcpc_reconcile_total{{result=\"{result}\"}} {n}");
        }
        out.push_str("# HELP tcpc_reconcile_duration_seconds Time one reconcile took.\n");
        out.push_str("# TYPE tcpc_reconcile_duration_seconds histogram\n");
        for (bound, count) in BUCKETS.iter().zip(inner.bucket_counts.iter()) {
            let _ = writeln!(out, "tcpc_reconcile_duration_seconds_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "tcpc_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {}", inner.duration_count);
        let _ = writeln!(out, "tcpc_reconcile_duration_seconds_sum {}", inner.duration_sum);
        let _ = writeln!(out, "tcpc_reconcile_duration_seconds_count {}", inner.duration_count);
        out.push_str("# HELP tcpc_companion_leader 1 when this replica holds the leader lease.\n");
        out.push_str("# TYPE tcpc_companion_leader gauge\n");
        let _ = writeln!(out, "tcpc_companion_leader {}", u8::from(inner.leader));
        out
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_series_and_removes_deleted_tenants() {
        let m = Metrics::default();
        let mut certs = BTreeMap::new();
        certs.insert("apiserver".to_string(), 1_800_000_000);
        certs.insert("a\"b".to_string(), 1);
        m.set_tenant("ns-b", "t", TenantSeries { ready: true, apiserver_up: true, certificate_expiry: certs });
        m.set_tenant("ns-a", "t", TenantSeries { ready: false, apiserver_up: false, certificate_expiry: BTreeMap::new() });
        m.observe_reconcile("success", Duration::from_millis(30));
        m.observe_reconcile("error", Duration::from_secs(3));
        let text = m.render();
        let a = text.find("tcpc_tenant_ready{namespace=\"ns-a\",tenant=\"t\"} 0").unwrap();
        let b = text.find("tcpc_tenant_ready{namespace=\"ns-b\",tenant=\"t\"} 1").unwrap();
        assert!(a < b);
        assert!(text.contains("tcpc_tenant_apiserver_up{namespace=\"ns-b\",tenant=\"t\"} 1\n"));
        assert!(
            text.contains(
                "tcpc_certificate_expiry_timestamp_seconds{namespace=\"ns-b\",tenant=\"t\",certificate=\"apiserver\"} 1800000000\n"
            )
        );
        assert!(text.contains("certificate=\"a\\\"b\"} 1\n"));
        assert!(text.contains("tcpc_reconcile_total{result=\"success\"} 1\n"));
        assert!(text.contains("tcpc_reconcile_total{result=\"error\"} 1\n"));
        assert!(text.contains("tcpc_reconcile_duration_seconds_bucket{le=\"0.01\"} 0\n"));
        assert!(text.contains("tcpc_reconcile_duration_seconds_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("tcpc_reconcile_duration_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("tcpc_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("tcpc_reconcile_duration_seconds_count 2\n"));
        // Same state, same bytes.
        assert_eq!(text, m.render());

        m.remove_tenant("ns-b", "t");
        let text = m.render();
        assert!(!text.contains("ns-b"));
        let keep: BTreeSet<_> = [("ns-x".to_string(), "t".to_string())].into_iter().collect();
        m.retain_tenants(&keep);
        assert!(!m.render().contains("ns-a"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in m.render().lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
