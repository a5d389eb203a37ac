//! Leader election on a `coordination.k8s.io/v1` Lease, like client-go's, kept small.
//!
//! - The Lease is taken when it does not exist, has no holder, is ours, or has not changed for
//!   its duration *as measured by this process's monotonic clock* (so clock skew between nodes
//!   cannot steal a live lease).
//! - Every write carries the resourceVersion that was read: of two candidates, one wins and the
//!   other gets a conflict.
//! - The leader renews every `renew_period`; if it has not renewed for `renew_deadline` (shorter
//!   than the lease) or finds someone else holding the Lease, it has lost, and the process exits.
//! - On shutdown the leader releases the Lease (empties the holder) so the other replica takes
//!   over at once.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};

/// The Lease's name.
pub const LEASE_NAME: &str = "tcpc-companion";

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub renew_period: Duration,
}

impl LeaseConfig {
    pub fn new(namespace: String, identity: String) -> Self {
        LeaseConfig {
            namespace,
            name: LEASE_NAME.to_string(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            renew_period: Duration::from_secs(5),
        }
    }
}

/// What a candidate saw last of the Lease, and when (monotonic).
#[derive(Clone, Debug, PartialEq)]
struct Record {
    holder: Option<String>,
    renew_time: Option<Timestamp>,
    acquire_time: Option<Timestamp>,
    transitions: Option<i32>,
}

/// The decision for one look at the Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Someone else holds a live lease.
    Wait,
    /// Write ourselves in (renew when `ours`, take over otherwise).
    Take { ours: bool },
}

/// Pure: whether to take the Lease, given its holder, whether its record changed since the last
/// look, and how long (monotonic) it has been unchanged.
pub fn decide(holder: Option<&str>, identity: &str, unchanged_for: Duration, lease_duration: Duration) -> Decision {
    match holder {
        Some(h) if h == identity => Decision::Take { ours: true },
        None => Decision::Take { ours: false },
        Some(_) if unchanged_for >= lease_duration => Decision::Take { ours: false },
        Some(_) => Decision::Wait,
    }
}

pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<(Record, Instant)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lease {0}: {1}")]
    Api(String, String),
    #[error("lease {0}: request timed out")]
    Timeout(String),
}

impl Elector {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        let api = Api::namespaced(client, &config.namespace);
        Elector { api, config, observed: None }
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// One look at the Lease: `Ok(true)` when we hold it afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaseError> {
        let timeout = self.config.renew_period;
        let name = self.config.name.clone();
        let lease = self.call(tokio::time::timeout(timeout, self.api.get_opt(&name)).await)?;
        let now = Timestamp::now();
        let duration_secs = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(15);
        let Some(lease) = lease else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(self.config.namespace.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match tokio::time::timeout(timeout, self.api.create(&PostParams::default(), &lease)).await {
                Ok(Ok(created)) => {
                    self.observe(&created);
                    Ok(true)
                }
                Ok(Err(kube::Error::Api(s))) if s.code == 409 => Ok(false),
                other => self.call(other).map(|_| false),
            };
        };
        let record = self.observe(&lease);
        let unchanged_for = self.observed.as_ref().map(|(_, at)| at.elapsed()).unwrap_or_default();
        let spec = lease.spec.clone().unwrap_or_default();
        let lease_duration =
            spec.lease_duration_seconds.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs).unwrap_or(self.config.lease_duration);
        match decide(record.holder.as_deref(), &self.config.identity, unchanged_for, lease_duration) {
            Decision::Wait => Ok(false),
            Decision::Take { ours } => {
                let mut updated = lease.clone();
                updated.spec = Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: if ours { spec.acquire_time.clone() } else { Some(MicroTime(now)) },
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: if ours {
                        spec.lease_transitions
                    } else {
                        Some(spec.lease_transitions.unwrap_or(0).saturating_add(1))
                    },
                    ..spec
                });
                // `updated` keeps the resourceVersion that was read: a concurrent writer makes this
                // a 409 Conflict.
                match tokio::time::timeout(timeout, self.api.replace(&name, &PostParams::default(), &updated)).await {
                    Ok(Ok(written)) => {
                        self.observe(&written);
                        Ok(true)
                    }
                    Ok(Err(kube::Error::Api(s))) if s.code == 409 => Ok(false),
                    other => self.call(other).map(|_| false),
                }
            }
        }
    }

    /// Blocks until this process holds the Lease.
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(identity = %self.config.identity, lease = %self.config.name, "acquired the leader lease");
                    return;
                }
                Ok(false) => tracing::debug!(lease = %self.config.name, "another replica leads; waiting"),
                Err(e) => tracing::warn!(error = %e, "leader election"),
            }
            tokio::time::sleep(self.config.renew_period).await;
        }
    }

    /// Renews until the Lease is lost; returns why.
    pub async fn hold(&mut self) -> String {
        let mut last_renew = Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renew = Instant::now(),
                Ok(false) => {
                    let holder = self.observed.as_ref().and_then(|(r, _)| r.holder.clone()).unwrap_or_default();
                    return format!("lease taken by {holder:?}");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "renewing the leader lease");
                    if last_renew.elapsed() >= self.config.renew_deadline {
                        return format!("lease not renewed for {}s", last_renew.elapsed().as_secs());
                    }
                }
            }
        }
    }

    /// Gives the Lease up (best effort, on shutdown) so the other replica need not wait.
    pub async fn release(&mut self) {
        let name = self.config.name.clone();
        let Ok(Ok(Some(mut lease))) = tokio::time::timeout(self.config.renew_period, self.api.get_opt(&name)).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match tokio::time::timeout(self.config.renew_period, self.api.replace(&name, &PostParams::default(), &lease)).await {
            Ok(Ok(_)) => tracing::info!(lease = %name, "released the leader lease"),
            _ => tracing::warn!(lease = %name, "could not release the leader lease"),
        }
    }

    /// Remembers the Lease's record and since when (monotonic) it has been unchanged.
    fn observe(&mut self, lease: &Lease) -> Record {
        let spec = lease.spec.as_ref();
        let record = Record {
            holder: spec.and_then(|s| s.holder_identity.clone()).filter(|h| !h.is_empty()),
            renew_time: spec.and_then(|s| s.renew_time.as_ref()).map(|t| t.0),
            acquire_time: spec.and_then(|s| s.acquire_time.as_ref()).map(|t| t.0),
            transitions: spec.and_then(|s| s.lease_transitions),
        };
        match &self.observed {
            Some((seen, _)) if *seen == record => {}
            _ => self.observed = Some((record.clone(), Instant::now())),
        }
        record
    }

    fn call<T>(&self, result: Result<Result<T, kube::Error>, tokio::time::error::Elapsed>) -> Result<T, LeaseError> {
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(kube::Error::Api(s))) => Err(LeaseError::Api(self.config.name.clone(), format!("{} ({})", s.message, s.code))),
            Ok(Err(e)) => Err(LeaseError::Api(self.config.name.clone(), e.to_string())),
            Err(_) => Err(LeaseError::Timeout(self.config.name.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let d = Duration::from_secs(15);
        assert_eq!(decide(None, "me", Duration::ZERO, d), Decision::Take { ours: false });
        assert_eq!(decide(Some("me"), "me", Duration::ZERO, d), Decision::Take { ours: true });
        assert_eq!(decide(Some("me"), "me", Duration::from_secs(60), d), Decision::Take { ours: true });
        assert_eq!(decide(Some("other"), "me", Duration::from_secs(14), d), Decision::Wait);
        assert_eq!(decide(Some("other"), "me", Duration::from_secs(15), d), Decision::Take { ours: false });
    }
}
