//! The pure part of the companion: observations in, status out.
//!
//! [`compute`] takes the spec, what was seen of the Deployment, the results of probing the tenant
//! API and reading the certificates, the previous status and the time, and returns the new status.
//! It does no IO and reads no clock, so every rule below is unit-tested.
//!
//! Phase rules, in order:
//! 1. desired replicas 0 → `Sleeping`;
//! 2. the Deployment is missing → `Provisioning`;
//! 3. the tenant's `/readyz` answered 200 and the Deployment has a ready replica:
//!    running version ≠ rendered version → `Upgrading`; else a certificate is expiring or expired
//!    → `CertificatesExpiring`; else `Ready`;
//! 4. not ready, and never was (no previous phase, or the previous one is `Provisioning`) →
//!    `Provisioning`;
//! 5. otherwise `NotReady`.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::crd::{NodeCounts, ObservedCertificate, Phase, RenderedControlPlaneSpec, RenderedControlPlaneStatus};

/// The renewal window used when the spec names none (or an unusable one).
pub const DEFAULT_RENEW_BEFORE_FRACTION: f64 = 0.33;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const CERTIFICATES_VALID: &str = "CertificatesValid";
pub const DATASTORE_REACHABLE: &str = "DatastoreReachable";

/// The longest `status.message` written.
const MESSAGE_MAX: usize = 256;

/// What was seen of the control-plane Deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeploymentObservation {
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    /// `spec.replicas` of the Deployment.
    pub desired_replicas: Option<i32>,
    /// `status.replicas`.
    pub replicas: Option<i32>,
    pub ready_replicas: Option<i32>,
    pub updated_replicas: Option<i32>,
}

impl DeploymentObservation {
    pub fn from_deployment(deployment: &Deployment) -> Self {
        let status = deployment.status.as_ref();
        DeploymentObservation {
            generation: deployment.metadata.generation,
            observed_generation: status.and_then(|s| s.observed_generation),
            desired_replicas: deployment.spec.replicas,
            replicas: status.and_then(|s| s.replicas),
            ready_replicas: status.and_then(|s| s.ready_replicas),
            updated_replicas: status.and_then(|s| s.updated_replicas),
        }
    }

    fn ready(&self) -> i32 {
        self.ready_replicas.unwrap_or(0)
    }

    /// Like `kubectl rollout status`: the controller has not seen the latest spec, not every
    /// desired replica is updated, or old replicas are still around.
    pub fn rollout_in_progress(&self) -> bool {
        let stale = match (self.generation, self.observed_generation) {
            (Some(generation), Some(observed)) => observed < generation,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let updated = self.updated_replicas.unwrap_or(0);
        stale || updated < self.desired_replicas.unwrap_or(1) || self.replicas.unwrap_or(0) > updated
    }
}

/// Why something could not be observed: a PascalCase reason and a short message. Messages name
/// Secrets and keys, never their contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub reason: String,
    pub message: String,
}

impl Problem {
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Problem { reason: reason.into(), message: message.into() }
    }
}

/// The result of one HTTP probe of the tenant API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// HTTP 200.
    Ok,
    /// Any other HTTP status.
    Status(u16),
    /// The probe could not be made: no usable kubeconfig, connection refused, timeout, …
    Unavailable(Problem),
}

impl Probe {
    pub fn is_ok(&self) -> bool {
        matches!(self, Probe::Ok)
    }
}

/// A certificate read from the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub serial: String,
}

/// One certificate of the spec and what reading it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateProbe {
    pub name: String,
    pub result: Result<CertificateInfo, Problem>,
}

/// Everything learned by talking to the tenant API and reading Secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResults {
    /// `GET /readyz`.
    pub readyz: Probe,
    /// `GET /readyz/etcd`.
    pub etcd: Probe,
    /// `gitVersion` of `GET /version`.
    pub version: Option<String>,
    pub nodes: Option<NodeCounts>,
    /// Keys in `GET /openid/v1/jwks`: how many service-account keys the API server verifies with.
    pub service_account_keys: Option<u32>,
    pub certificates: Vec<CertificateProbe>,
}

impl ProbeResults {
    /// Results for a tenant that was not asked (sleeping, or no client could be built).
    pub fn unavailable(problem: Problem, certificates: Vec<CertificateProbe>) -> Self {
        ProbeResults {
            readyz: Probe::Unavailable(problem.clone()),
            etcd: Probe::Unavailable(problem),
            version: None,
            nodes: None,
            service_account_keys: None,
            certificates,
        }
    }
}

/// Where a certificate stands in its lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CertState {
    Valid,
    /// Less than the renewal fraction of its lifetime remains.
    Expiring,
    Expired,
}

/// The renewal fraction to use: the spec's when it is a number in [0, 1], else the default.
pub fn renew_before_fraction(spec: &RenderedControlPlaneSpec) -> f64 {
    match spec.renew_before_fraction {
        Some(f) if f.is_finite() && (0.0..=1.0).contains(&f) => f,
        _ => DEFAULT_RENEW_BEFORE_FRACTION,
    }
}

/// Expired once `now ≥ notAfter`; expiring once less than `fraction × (notAfter − notBefore)`
/// remains. A certificate whose lifetime is empty or negative is expiring until it expires.
pub fn cert_state(not_before: Timestamp, not_after: Timestamp, now: Timestamp, fraction: f64) -> CertState {
    let remaining = not_after.as_second() as i128 - now.as_second() as i128;
    if remaining <= 0 {
        return CertState::Expired;
    }
    let lifetime = not_after.as_second() as i128 - not_before.as_second() as i128;
    if lifetime <= 0 || (remaining as f64) < fraction * lifetime as f64 { CertState::Expiring } else { CertState::Valid }
}

/// Compares Kubernetes versions as `/version` and the compiler write them: a leading `v` and
/// build metadata (`+…`) do not count.
pub fn same_version(running: &str, rendered: &str) -> bool {
    fn core(v: &str) -> &str {
        let v = v.trim();
        let v = v.strip_prefix('v').unwrap_or(v);
        v.split('+').next().unwrap_or(v)
    }
    core(running) == core(rendered)
}

/// The inputs of [`compute`].
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    pub spec: &'a RenderedControlPlaneSpec,
    /// `metadata.generation` of the object.
    pub generation: Option<i64>,
    /// `None`: the Deployment does not exist.
    pub deployment: Option<&'a DeploymentObservation>,
    pub probes: &'a ProbeResults,
    pub previous: Option<&'a RenderedControlPlaneStatus>,
    pub now: Timestamp,
}

/// The new status: phase, conditions and the observed facts.
pub fn compute(o: &Observation<'_>) -> RenderedControlPlaneStatus {
    let spec = o.spec;
    let desired = spec.replicas.or_else(|| o.deployment.and_then(|d| d.desired_replicas)).unwrap_or(1);
    let sleeping = desired <= 0;
    let fraction = renew_before_fraction(spec);
    let readyz_ok = !sleeping && o.probes.readyz.is_ok();
    let ready_replicas = o.deployment.map(|d| d.ready()).unwrap_or(0);
    let running_version = if sleeping { None } else { o.probes.version.clone() };
    let version_mismatch = match (&running_version, &spec.version) {
        (Some(running), Some(rendered)) => !same_version(running, rendered),
        _ => false,
    };

    // Certificates, in spec order.
    let mut expired = Vec::new();
    let mut expiring = Vec::new();
    let mut unreadable: Vec<(&str, &Problem)> = Vec::new();
    let mut observed = Vec::new();
    for cert in &o.probes.certificates {
        match &cert.result {
            Ok(info) => {
                match cert_state(info.not_before, info.not_after, o.now, fraction) {
                    CertState::Expired => expired.push(cert.name.as_str()),
                    CertState::Expiring => expiring.push(cert.name.as_str()),
                    CertState::Valid => {}
                }
                observed.push(ObservedCertificate {
                    name: cert.name.clone(),
                    not_after: Some(Time(info.not_after)),
                    serial: Some(info.serial.clone()),
                });
            }
            Err(problem) => {
                unreadable.push((cert.name.as_str(), problem));
                observed.push(ObservedCertificate { name: cert.name.clone(), not_after: None, serial: None });
            }
        }
    }
    let certs_expiring = !expired.is_empty() || !expiring.is_empty();

    let previous_phase = o.previous.and_then(|p| p.phase);
    let phase = if sleeping {
        Phase::Sleeping
    } else if o.deployment.is_none() {
        Phase::Provisioning
    } else if readyz_ok && ready_replicas >= 1 {
        if version_mismatch {
            Phase::Upgrading
        } else if certs_expiring {
            Phase::CertificatesExpiring
        } else {
            Phase::Ready
        }
    } else if matches!(previous_phase, None | Some(Phase::Provisioning)) {
        Phase::Provisioning
    } else {
        Phase::NotReady
    };

    let deployment_name = spec.deployment.as_deref().unwrap_or("(unnamed)");
    let mut conditions = Conditions {
        previous: o.previous.map(|p| &p.conditions[..]).unwrap_or(&[]),
        now: o.now,
        generation: o.generation,
        out: Vec::new(),
    };

    // Available: the tenant API answers /readyz with 200.
    match (&o.probes.readyz, sleeping) {
        (_, true) => conditions.set(AVAILABLE, "False", "Sleeping", "the control plane is scaled to 0 replicas"),
        (Probe::Ok, false) => conditions.set(AVAILABLE, "True", "ReadyzOK", "GET /readyz returned 200"),
        (Probe::Status(code), false) => conditions.set(AVAILABLE, "False", "ReadyzFailed", &format!("GET /readyz returned {code}")),
        (Probe::Unavailable(p), false) => conditions.set(AVAILABLE, "False", &p.reason, &p.message),
    }

    // Progressing: a rollout of the Deployment, or the running version is not the rendered one.
    match o.deployment {
        _ if sleeping => conditions.set(PROGRESSING, "False", "Sleeping", "the control plane is scaled to 0 replicas"),
        None => conditions.set(PROGRESSING, "Unknown", "DeploymentNotFound", &format!("Deployment {deployment_name} not found")),
        Some(d) if d.rollout_in_progress() => conditions.set(
            PROGRESSING,
            "True",
            "RolloutInProgress",
            &format!(
                "Deployment {deployment_name}: {}/{} replicas updated",
                d.updated_replicas.unwrap_or(0),
                d.desired_replicas.unwrap_or(1)
            ),
        ),
        Some(_) if version_mismatch => conditions.set(
            PROGRESSING,
            "True",
            "VersionMismatch",
            &format!("running {}, rendered {}", running_version.as_deref().unwrap_or("?"), spec.version.as_deref().unwrap_or("?")),
        ),
        Some(_) => conditions.set(PROGRESSING, "False", "RolloutComplete", &format!("Deployment {deployment_name} is up to date")),
    }

    // Degraded: fewer ready replicas than desired.
    if sleeping {
        conditions.set(DEGRADED, "False", "Sleeping", "the control plane is scaled to 0 replicas");
    } else if o.deployment.is_none() {
        conditions.set(DEGRADED, "True", "DeploymentNotFound", &format!("Deployment {deployment_name} not found"));
    } else if ready_replicas < desired {
        conditions.set(DEGRADED, "True", "InsufficientReplicas", &format!("{ready_replicas}/{desired} replicas ready"));
    } else {
        conditions.set(DEGRADED, "False", "AllReplicasReady", &format!("{ready_replicas}/{desired} replicas ready"));
    }

    // CertificatesValid: every listed certificate read and outside its renewal window.
    if !expired.is_empty() {
        conditions.set(CERTIFICATES_VALID, "False", "CertificateExpired", &format!("expired: {}", expired.join(", ")));
    } else if let Some((name, problem)) = unreadable.first() {
        let more = if unreadable.len() > 1 { format!(" (and {} more)", unreadable.len() - 1) } else { String::new() };
        conditions.set(CERTIFICATES_VALID, "False", &problem.reason, &format!("{name}: {}{more}", problem.message));
    } else if !expiring.is_empty() {
        conditions.set(
            CERTIFICATES_VALID,
            "False",
            "CertificateExpiring",
            &format!("less than {:.0}% of the lifetime left: {}", fraction * 100.0, expiring.join(", ")),
        );
    } else if o.probes.certificates.is_empty() {
        conditions.set(CERTIFICATES_VALID, "True", "NoCertificates", "no certificate is listed");
    } else {
        conditions.set(CERTIFICATES_VALID, "True", "CertificatesValid", &format!("{} certificates valid", o.probes.certificates.len()));
    }

    // DatastoreReachable: /readyz/etcd (the check kube-apiserver has for any storage backend).
    match (&o.probes.etcd, sleeping) {
        (_, true) => conditions.set(DATASTORE_REACHABLE, "Unknown", "Sleeping", "the control plane is scaled to 0 replicas"),
        (Probe::Ok, false) => conditions.set(DATASTORE_REACHABLE, "True", "EtcdReady", "GET /readyz/etcd returned 200"),
        (Probe::Status(code), false) => {
            conditions.set(DATASTORE_REACHABLE, "False", "EtcdCheckFailed", &format!("GET /readyz/etcd returned {code}"))
        }
        (Probe::Unavailable(p), false) => conditions.set(DATASTORE_REACHABLE, "Unknown", &p.reason, &p.message),
    }

    let message = summary(phase, o, deployment_name, ready_replicas, desired, running_version.as_deref(), &expired, &expiring);

    RenderedControlPlaneStatus {
        observed_generation: o.generation,
        phase: Some(phase),
        conditions: conditions.out,
        version: running_version,
        endpoint: spec.endpoint.clone(),
        ready_replicas: o.deployment.and_then(|d| d.ready_replicas),
        replicas: o.deployment.and_then(|d| d.replicas),
        nodes: if sleeping { None } else { o.probes.nodes },
        service_account_keys: if sleeping { None } else { o.probes.service_account_keys },
        certificates: observed,
        last_probe_time: Some(Time(o.now)),
        message: Some(truncate(message, MESSAGE_MAX)),
    }
}

#[allow(clippy::too_many_arguments)]
fn summary(
    phase: Phase,
    o: &Observation<'_>,
    deployment_name: &str,
    ready: i32,
    desired: i32,
    running: Option<&str>,
    expired: &[&str],
    expiring: &[&str],
) -> String {
    let readyz = match &o.probes.readyz {
        Probe::Ok => "readyz ok".to_string(),
        Probe::Status(code) => format!("readyz returned {code}"),
        Probe::Unavailable(p) => p.message.clone(),
    };
    match phase {
        Phase::Sleeping => "sleeping: scaled to 0 replicas".to_string(),
        Phase::Provisioning if o.deployment.is_none() => format!("waiting for Deployment {deployment_name}"),
        Phase::Provisioning => format!("provisioning: {ready}/{desired} replicas ready, {readyz}"),
        Phase::NotReady => format!("not ready: {ready}/{desired} replicas ready, {readyz}"),
        Phase::Upgrading => format!("upgrading: running {}, rendered {}", running.unwrap_or("?"), o.spec.version.as_deref().unwrap_or("?")),
        Phase::CertificatesExpiring => {
            let mut parts = Vec::new();
            if !expired.is_empty() {
                parts.push(format!("expired: {}", expired.join(", ")));
            }
            if !expiring.is_empty() {
                parts.push(format!("expiring: {}", expiring.join(", ")));
            }
            format!("certificates {}", parts.join("; "))
        }
        Phase::Ready => {
            let mut s = format!("ready: {ready}/{desired} replicas");
            if let Some(v) = running {
                s.push_str(&format!(", {v}"));
            }
            if let Some(n) = o.probes.nodes {
                s.push_str(&format!(", {}/{} nodes ready", n.ready, n.total));
            }
            s
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(1);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

struct Conditions<'a> {
    previous: &'a [Condition],
    now: Timestamp,
    generation: Option<i64>,
    out: Vec<Condition>,
}

impl Conditions<'_> {
    /// Adds a condition, keeping the previous `lastTransitionTime` when its status did not change.
    fn set(&mut self, type_: &str, status: &str, reason: &str, message: &str) {
        let last_transition_time = self
            .previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(self.now));
        self.out.push(Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason_token(reason),
            message: truncate(message.to_string(), MESSAGE_MAX),
            last_transition_time,
            observed_generation: self.generation,
        });
    }
}

/// metav1.Condition reasons must match `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`.
fn reason_token(reason: &str) -> String {
    let token: String = reason.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    match token.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => token,
        _ => "Unknown".to_string(),
    }
}

/// Whether `new` says something `old` does not, `lastProbeTime` aside: the companion writes the
/// status when it changed, and refreshes an unchanged one only now and then.
pub fn changed(old: Option<&RenderedControlPlaneStatus>, new: &RenderedControlPlaneStatus) -> bool {
    match old {
        None => true,
        Some(old) => {
            let mut a = old.clone();
            let mut b = new.clone();
            a.last_probe_time = None;
            b.last_probe_time = None;
            a != b
        }
    }
}

/// Whether a status change is worth an Event: the phase moved. Returns (previous, new).
pub fn phase_change(old: Option<&RenderedControlPlaneStatus>, new: &RenderedControlPlaneStatus) -> Option<(Option<Phase>, Phase)> {
    let before = old.and_then(|s| s.phase);
    match new.phase {
        Some(after) if before != Some(after) => Some((before, after)),
        _ => None,
    }
}

/// The note of a phase-change Event, e.g. `phase Provisioning → Ready`.
pub fn phase_note(before: Option<Phase>, after: Phase) -> String {
    match before {
        Some(before) => format!("phase {before} → {after}"),
        None => format!("phase (none) → {after}"),
    }
}

/// Normal for Ready and Sleeping, Warning otherwise.
pub fn phase_is_normal(phase: Phase) -> bool {
    matches!(phase, Phase::Ready | Phase::Sleeping)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::CertificateRef;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn now() -> Timestamp {
        ts("2026-06-01T00:00:00Z")
    }

    fn spec() -> RenderedControlPlaneSpec {
        RenderedControlPlaneSpec {
            version: Some("v1.35.4".into()),
            endpoint: Some("https://10.0.0.10:6443".into()),
            replicas: Some(2),
            deployment: Some("full".into()),
            certificates: vec![CertificateRef {
                name: Some("apiserver".into()),
                not_after: Some("2027-06-01T00:00:00Z".into()),
                secret: Some("full-api-server-certificate".into()),
                key: Some("apiserver.crt".into()),
            }],
            ..Default::default()
        }
    }

    fn deployment(ready: i32) -> DeploymentObservation {
        DeploymentObservation {
            generation: Some(4),
            observed_generation: Some(4),
            desired_replicas: Some(2),
            replicas: Some(2),
            ready_replicas: Some(ready),
            updated_replicas: Some(2),
        }
    }

    fn good_cert() -> CertificateProbe {
        CertificateProbe {
            name: "apiserver".into(),
            result: Ok(CertificateInfo {
                not_before: ts("2026-01-01T00:00:00Z"),
                not_after: ts("2027-06-01T00:00:00Z"),
                serial: "0A1B".into(),
            }),
        }
    }

    fn healthy() -> ProbeResults {
        ProbeResults {
            readyz: Probe::Ok,
            etcd: Probe::Ok,
            version: Some("v1.35.4".into()),
            nodes: Some(NodeCounts { ready: 3, total: 3 }),
            service_account_keys: Some(1),
            certificates: vec![good_cert()],
        }
    }

    fn unreachable() -> ProbeResults {
        ProbeResults::unavailable(Problem::new("ApiServerUnreachable", "GET /readyz: connection refused"), vec![good_cert()])
    }

    fn run(
        spec: &RenderedControlPlaneSpec,
        d: Option<&DeploymentObservation>,
        p: &ProbeResults,
        prev: Option<&RenderedControlPlaneStatus>,
        now: Timestamp,
    ) -> RenderedControlPlaneStatus {
        compute(&Observation { spec, generation: Some(7), deployment: d, probes: p, previous: prev, now })
    }

    fn cond<'a>(s: &'a RenderedControlPlaneStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap_or_else(|| panic!("condition {t}"))
    }

    fn with_phase(phase: Phase) -> RenderedControlPlaneStatus {
        RenderedControlPlaneStatus { phase: Some(phase), ..Default::default() }
    }

    #[test]
    fn ready() {
        let s = run(&spec(), Some(&deployment(2)), &healthy(), None, now());
        assert_eq!(s.phase, Some(Phase::Ready));
        assert_eq!(s.observed_generation, Some(7));
        assert_eq!(s.version.as_deref(), Some("v1.35.4"));
        assert_eq!(s.endpoint.as_deref(), Some("https://10.0.0.10:6443"));
        assert_eq!((s.ready_replicas, s.replicas), (Some(2), Some(2)));
        assert_eq!(s.nodes, Some(NodeCounts { ready: 3, total: 3 }));
        assert_eq!(s.last_probe_time, Some(Time(now())));
        assert_eq!(s.certificates.len(), 1);
        assert_eq!(s.certificates[0].serial.as_deref(), Some("0A1B"));
        assert_eq!(s.certificates[0].not_after, Some(Time(ts("2027-06-01T00:00:00Z"))));
        assert_eq!(s.message.as_deref(), Some("ready: 2/2 replicas, v1.35.4, 3/3 nodes ready"));
        let types: Vec<&str> = s.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [AVAILABLE, PROGRESSING, DEGRADED, CERTIFICATES_VALID, DATASTORE_REACHABLE]);
        let statuses: Vec<&str> = s.conditions.iter().map(|c| c.status.as_str()).collect();
        assert_eq!(statuses, ["True", "False", "False", "True", "True"]);
        for c in &s.conditions {
            assert_eq!(c.observed_generation, Some(7));
            assert_eq!(c.last_transition_time, Time(now()));
        }
    }

    #[test]
    fn sleeping_when_zero_replicas() {
        let mut sp = spec();
        sp.replicas = Some(0);
        let d = DeploymentObservation {
            desired_replicas: Some(0),
            replicas: None,
            ready_replicas: None,
            updated_replicas: None,
            ..deployment(0)
        };
        let s = run(&sp, Some(&d), &unreachable(), Some(&with_phase(Phase::Ready)), now());
        assert_eq!(s.phase, Some(Phase::Sleeping));
        assert_eq!(cond(&s, AVAILABLE).reason, "Sleeping");
        assert_eq!(cond(&s, DEGRADED).status, "False");
        assert_eq!(cond(&s, PROGRESSING).status, "False");
        assert_eq!(cond(&s, DATASTORE_REACHABLE).status, "Unknown");
        assert_eq!(cond(&s, CERTIFICATES_VALID).status, "True");
        assert_eq!(s.version, None);
        assert_eq!(s.nodes, None);
        // Sleeping wins even when the Deployment is missing.
        let s = run(&sp, None, &unreachable(), None, now());
        assert_eq!(s.phase, Some(Phase::Sleeping));
    }

    #[test]
    fn provisioning_when_deployment_missing() {
        for prev in [None, Some(with_phase(Phase::Ready)), Some(with_phase(Phase::NotReady))] {
            let s = run(&spec(), None, &unreachable(), prev.as_ref(), now());
            assert_eq!(s.phase, Some(Phase::Provisioning));
            assert_eq!(cond(&s, PROGRESSING).status, "Unknown");
            assert_eq!(cond(&s, DEGRADED).reason, "DeploymentNotFound");
            assert_eq!(s.message.as_deref(), Some("waiting for Deployment full"));
            assert_eq!((s.ready_replicas, s.replicas), (None, None));
        }
    }

    #[test]
    fn provisioning_until_first_ready_then_not_ready() {
        let d = deployment(0);
        let s1 = run(&spec(), Some(&d), &unreachable(), None, now());
        assert_eq!(s1.phase, Some(Phase::Provisioning));
        let s2 = run(&spec(), Some(&d), &unreachable(), Some(&s1), now());
        assert_eq!(s2.phase, Some(Phase::Provisioning));
        let s3 = run(&spec(), Some(&deployment(2)), &healthy(), Some(&s2), now());
        assert_eq!(s3.phase, Some(Phase::Ready));
        let s4 = run(&spec(), Some(&d), &unreachable(), Some(&s3), now());
        assert_eq!(s4.phase, Some(Phase::NotReady));
        assert_eq!(cond(&s4, AVAILABLE).status, "False");
        assert_eq!(cond(&s4, AVAILABLE).reason, "ApiServerUnreachable");
        assert_eq!(cond(&s4, DATASTORE_REACHABLE).status, "Unknown");
        assert!(s4.message.as_deref().unwrap().starts_with("not ready: 0/2 replicas ready"));
    }

    #[test]
    fn readyz_ok_but_no_ready_replica_is_not_ready() {
        let s = run(&spec(), Some(&deployment(0)), &healthy(), Some(&with_phase(Phase::Ready)), now());
        assert_eq!(s.phase, Some(Phase::NotReady));
        assert_eq!(cond(&s, AVAILABLE).status, "True");
        assert_eq!(cond(&s, DEGRADED).status, "True");
    }

    #[test]
    fn readyz_failing_is_not_ready() {
        let mut p = healthy();
        p.readyz = Probe::Status(500);
        p.etcd = Probe::Status(500);
        let s = run(&spec(), Some(&deployment(2)), &p, Some(&with_phase(Phase::Ready)), now());
        assert_eq!(s.phase, Some(Phase::NotReady));
        assert_eq!(cond(&s, AVAILABLE).reason, "ReadyzFailed");
        assert_eq!(cond(&s, AVAILABLE).message, "GET /readyz returned 500");
        assert_eq!(cond(&s, DATASTORE_REACHABLE).status, "False");
        assert_eq!(cond(&s, DATASTORE_REACHABLE).reason, "EtcdCheckFailed");
        // Degraded is about replicas only.
        assert_eq!(cond(&s, DEGRADED).status, "False");
    }

    #[test]
    fn upgrading_on_version_mismatch() {
        let mut p = healthy();
        p.version = Some("v1.35.3".into());
        let s = run(&spec(), Some(&deployment(2)), &p, Some(&with_phase(Phase::Ready)), now());
        assert_eq!(s.phase, Some(Phase::Upgrading));
        assert_eq!(cond(&s, PROGRESSING).status, "True");
        assert_eq!(cond(&s, PROGRESSING).reason, "VersionMismatch");
        assert_eq!(s.message.as_deref(), Some("upgrading: running v1.35.3, rendered v1.35.4"));
        // Upgrading outranks expiring certificates.
        p.certificates = vec![CertificateProbe {
            name: "apiserver".into(),
            result: Ok(CertificateInfo {
                not_before: ts("2025-01-01T00:00:00Z"),
                not_after: ts("2026-06-02T00:00:00Z"),
                serial: "1".into(),
            }),
        }];
        let s = run(&spec(), Some(&deployment(2)), &p, None, now());
        assert_eq!(s.phase, Some(Phase::Upgrading));
    }

    #[test]
    fn versions_compare_without_v_and_build_metadata() {
        assert!(same_version("v1.35.4", "v1.35.4"));
        assert!(same_version("1.35.4", "v1.35.4"));
        assert!(same_version("v1.35.4+k3s1", "v1.35.4"));
        assert!(!same_version("v1.35.4", "v1.35.40"));
        assert!(!same_version("v1.34.4", "v1.35.4"));
        // Unknown running version or no rendered version: no mismatch.
        let mut p = healthy();
        p.version = None;
        assert_eq!(run(&spec(), Some(&deployment(2)), &p, None, now()).phase, Some(Phase::Ready));
        let mut sp = spec();
        sp.version = None;
        assert_eq!(run(&sp, Some(&deployment(2)), &healthy(), None, now()).phase, Some(Phase::Ready));
    }

    #[test]
    fn certificates_expiring_phase_and_condition() {
        let mut p = healthy();
        // 100-day lifetime, 20 days left: < 33 %.
        p.certificates = vec![CertificateProbe {
            name: "apiserver".into(),
            result: Ok(CertificateInfo {
                not_before: ts("2026-03-13T00:00:00Z"),
                not_after: ts("2026-06-21T00:00:00Z"),
                serial: "1".into(),
            }),
        }];
        let s = run(&spec(), Some(&deployment(2)), &p, None, now());
        assert_eq!(s.phase, Some(Phase::CertificatesExpiring));
        let c = cond(&s, CERTIFICATES_VALID);
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "CertificateExpiring"));
        assert_eq!(c.message, "less than 33% of the lifetime left: apiserver");
        assert_eq!(s.message.as_deref(), Some("certificates expiring: apiserver"));

        // Expired outranks expiring in the condition.
        p.certificates.push(CertificateProbe {
            name: "front-proxy-client".into(),
            result: Ok(CertificateInfo {
                not_before: ts("2025-01-01T00:00:00Z"),
                not_after: ts("2026-05-01T00:00:00Z"),
                serial: "2".into(),
            }),
        });
        let s = run(&spec(), Some(&deployment(2)), &p, None, now());
        assert_eq!(s.phase, Some(Phase::CertificatesExpiring));
        let c = cond(&s, CERTIFICATES_VALID);
        assert_eq!((c.reason.as_str(), c.message.as_str()), ("CertificateExpired", "expired: front-proxy-client"));
        assert_eq!(s.message.as_deref(), Some("certificates expired: front-proxy-client; expiring: apiserver"));
    }

    #[test]
    fn missing_certificate_fails_the_condition_not_the_phase() {
        let mut p = healthy();
        p.certificates = vec![
            CertificateProbe {
                name: "apiserver".into(),
                result: Err(Problem::new("SecretNotFound", "Secret full-api-server-certificate not found")),
            },
            CertificateProbe { name: "other".into(), result: Err(Problem::new("CertificateUnreadable", "bad PEM")) },
        ];
        let s = run(&spec(), Some(&deployment(2)), &p, None, now());
        assert_eq!(s.phase, Some(Phase::Ready));
        let c = cond(&s, CERTIFICATES_VALID);
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "SecretNotFound"));
        assert_eq!(c.message, "apiserver: Secret full-api-server-certificate not found (and 1 more)");
        assert_eq!(s.certificates[0], ObservedCertificate { name: "apiserver".into(), not_after: None, serial: None });
    }

    #[test]
    fn no_certificates_is_valid() {
        let mut p = healthy();
        p.certificates.clear();
        let s = run(&spec(), Some(&deployment(2)), &p, None, now());
        assert_eq!(cond(&s, CERTIFICATES_VALID).reason, "NoCertificates");
        assert_eq!(cond(&s, CERTIFICATES_VALID).status, "True");
    }

    #[test]
    fn expiry_window_maths() {
        let nb = ts("2026-01-01T00:00:00Z");
        let na = ts("2026-01-01T00:00:00Z").checked_add(jiff::SignedDuration::from_secs(1000)).unwrap();
        let at = |s: i64| nb.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
        // 33 % of 1000 s = 330 s: expiring once fewer than 330 s remain (after 670 s).
        assert_eq!(cert_state(nb, na, at(0), 0.33), CertState::Valid);
        assert_eq!(cert_state(nb, na, at(670), 0.33), CertState::Valid);
        assert_eq!(cert_state(nb, na, at(671), 0.33), CertState::Expiring);
        assert_eq!(cert_state(nb, na, at(999), 0.33), CertState::Expiring);
        assert_eq!(cert_state(nb, na, at(1000), 0.33), CertState::Expired);
        assert_eq!(cert_state(nb, na, at(5000), 0.33), CertState::Expired);
        // Before notBefore the whole lifetime remains.
        assert_eq!(cert_state(nb, na, at(-10), 0.33), CertState::Valid);
        // Fraction 0: valid until it expires; fraction 1: expiring from the start.
        assert_eq!(cert_state(nb, na, at(999), 0.0), CertState::Valid);
        assert_eq!(cert_state(nb, na, at(1), 1.0), CertState::Expiring);
        // Empty or inverted lifetime.
        assert_eq!(cert_state(na, na, at(0), 0.33), CertState::Expiring);
        assert_eq!(cert_state(na, nb, at(-5), 0.33), CertState::Expiring);
        // Extremes do not overflow.
        assert_eq!(cert_state(Timestamp::MIN, Timestamp::MAX, Timestamp::MIN, 0.33), CertState::Valid);
        assert_eq!(cert_state(Timestamp::MAX, Timestamp::MIN, Timestamp::MAX, 0.33), CertState::Expired);
    }

    #[test]
    fn renew_fraction_defaults() {
        let mut sp = spec();
        assert_eq!(renew_before_fraction(&sp), 0.33);
        sp.renew_before_fraction = Some(0.5);
        assert_eq!(renew_before_fraction(&sp), 0.5);
        for bad in [f64::NAN, f64::INFINITY, -0.1, 1.5] {
            sp.renew_before_fraction = Some(bad);
            assert_eq!(renew_before_fraction(&sp), DEFAULT_RENEW_BEFORE_FRACTION);
        }
        // A 0.5 window makes the 20-of-100-days certificate expiring, a 0.1 one does not.
        let mut p = healthy();
        p.certificates = vec![CertificateProbe {
            name: "apiserver".into(),
            result: Ok(CertificateInfo {
                not_before: ts("2026-03-13T00:00:00Z"),
                not_after: ts("2026-06-21T00:00:00Z"),
                serial: "1".into(),
            }),
        }];
        sp.renew_before_fraction = Some(0.1);
        assert_eq!(run(&sp, Some(&deployment(2)), &p, None, now()).phase, Some(Phase::Ready));
        sp.renew_before_fraction = Some(0.5);
        assert_eq!(run(&sp, Some(&deployment(2)), &p, None, now()).phase, Some(Phase::CertificatesExpiring));
    }

    #[test]
    fn degraded_when_fewer_ready_than_desired() {
        let s = run(&spec(), Some(&deployment(1)), &healthy(), None, now());
        assert_eq!(s.phase, Some(Phase::Ready));
        let c = cond(&s, DEGRADED);
        assert_eq!((c.status.as_str(), c.reason.as_str(), c.message.as_str()), ("True", "InsufficientReplicas", "1/2 replicas ready"));
        // Desired comes from the spec, then from the Deployment, then 1.
        let mut sp = spec();
        sp.replicas = None;
        let d = DeploymentObservation { desired_replicas: Some(3), ..deployment(2) };
        assert_eq!(cond(&run(&sp, Some(&d), &healthy(), None, now()), DEGRADED).message, "2/3 replicas ready");
        let d = DeploymentObservation { desired_replicas: None, ..deployment(1) };
        assert_eq!(cond(&run(&sp, Some(&d), &healthy(), None, now()), DEGRADED).status, "False");
    }

    #[test]
    fn progressing_during_rollout() {
        let stale = DeploymentObservation { observed_generation: Some(3), ..deployment(2) };
        let s = run(&spec(), Some(&stale), &healthy(), None, now());
        assert_eq!(cond(&s, PROGRESSING).reason, "RolloutInProgress");
        let partial = DeploymentObservation { updated_replicas: Some(1), ..deployment(2) };
        assert_eq!(cond(&run(&spec(), Some(&partial), &healthy(), None, now()), PROGRESSING).status, "True");
        let surge = DeploymentObservation { replicas: Some(3), ..deployment(2) };
        assert_eq!(cond(&run(&spec(), Some(&surge), &healthy(), None, now()), PROGRESSING).status, "True");
        let unobserved = DeploymentObservation { observed_generation: None, ..deployment(2) };
        assert_eq!(cond(&run(&spec(), Some(&unobserved), &healthy(), None, now()), PROGRESSING).status, "True");
        // A rollout does not change the phase by itself.
        assert_eq!(run(&spec(), Some(&stale), &healthy(), None, now()).phase, Some(Phase::Ready));
        assert_eq!(cond(&run(&spec(), Some(&deployment(2)), &healthy(), None, now()), PROGRESSING).reason, "RolloutComplete");
    }

    #[test]
    fn transitions_keep_last_transition_time() {
        let t0 = now();
        let t1 = ts("2026-06-01T00:00:05Z");
        let t2 = ts("2026-06-01T00:00:10Z");
        let s0 = run(&spec(), Some(&deployment(2)), &healthy(), None, t0);
        // Nothing changes: every lastTransitionTime stays at t0, lastProbeTime moves.
        let s1 = run(&spec(), Some(&deployment(2)), &healthy(), Some(&s0), t1);
        for c in &s1.conditions {
            assert_eq!(c.last_transition_time, Time(t0), "{}", c.type_);
        }
        assert_eq!(s1.last_probe_time, Some(Time(t1)));
        assert!(!changed(Some(&s0), &s1));
        // The API goes down: Available and DatastoreReachable move, the others keep t0.
        let s2 = run(&spec(), Some(&deployment(2)), &unreachable(), Some(&s1), t2);
        assert_eq!(cond(&s2, AVAILABLE).last_transition_time, Time(t2));
        assert_eq!(cond(&s2, DATASTORE_REACHABLE).last_transition_time, Time(t2));
        assert_eq!(cond(&s2, DEGRADED).last_transition_time, Time(t0));
        assert_eq!(cond(&s2, PROGRESSING).last_transition_time, Time(t0));
        assert_eq!(cond(&s2, CERTIFICATES_VALID).last_transition_time, Time(t0));
        assert!(changed(Some(&s1), &s2));
        // A new reason or message under the same status keeps the time too.
        let mut p = unreachable();
        p.readyz = Probe::Unavailable(Problem::new("ProbeTimeout", "GET /readyz timed out after 2s"));
        let s3 = run(&spec(), Some(&deployment(2)), &p, Some(&s2), ts("2026-06-01T00:00:15Z"));
        assert_eq!(cond(&s3, AVAILABLE).last_transition_time, Time(t2));
        assert_eq!(cond(&s3, AVAILABLE).reason, "ProbeTimeout");
    }

    #[test]
    fn phase_changes_and_events() {
        let ready = with_phase(Phase::Ready);
        let not_ready = with_phase(Phase::NotReady);
        assert_eq!(phase_change(Some(&ready), &not_ready), Some((Some(Phase::Ready), Phase::NotReady)));
        assert_eq!(phase_change(Some(&ready), &ready), None);
        assert_eq!(phase_change(None, &ready), Some((None, Phase::Ready)));
        assert_eq!(phase_note(Some(Phase::Provisioning), Phase::Ready), "phase Provisioning → Ready");
        assert_eq!(phase_note(None, Phase::Provisioning), "phase (none) → Provisioning");
        assert!(phase_is_normal(Phase::Ready) && phase_is_normal(Phase::Sleeping));
        for p in [Phase::Provisioning, Phase::NotReady, Phase::Upgrading, Phase::CertificatesExpiring] {
            assert!(!phase_is_normal(p));
        }
    }

    #[test]
    fn reasons_are_valid_condition_reasons() {
        assert_eq!(reason_token("ReadyzFailed"), "ReadyzFailed");
        assert_eq!(reason_token("bad reason!"), "badreason");
        assert_eq!(reason_token("9lives"), "Unknown");
        assert_eq!(reason_token(""), "Unknown");
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        let s = truncate("é".repeat(300), MESSAGE_MAX);
        assert!(s.len() <= MESSAGE_MAX + '…'.len_utf8());
        assert!(s.ends_with('…'));
    }

    #[test]
    fn status_round_trips_through_json() {
        let s = run(&spec(), Some(&deployment(2)), &healthy(), None, now());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["phase"], "Ready");
        assert_eq!(json["nodes"], serde_json::json!({"ready": 3, "total": 3}));
        assert_eq!(json["certificates"][0]["notAfter"], "2027-06-01T00:00:00Z");
        assert_eq!(json["conditions"][0]["lastTransitionTime"], "2026-06-01T00:00:00Z");
        let back: RenderedControlPlaneStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }
}
