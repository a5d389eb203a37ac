//! `tcpc-companion`: the small in-cluster process that reports the live status of the tenants
//! tcpc rendered.
//!
//! tcpc renders, for each TenantControlPlane, a `RenderedControlPlane` object
//! (`renderedcontrolplanes.tcpc.dev`) saying what it rendered: version, endpoint, replicas, the
//! Deployment and Service, the Secret holding the admin kubeconfig, the certificates and the
//! Secrets holding them. The companion watches these objects and, every few seconds, asks each
//! tenant's API (`/readyz`, `/readyz/etcd`, `/version`, Nodes), looks at the Deployment and reads
//! the certificates, and writes what it saw into the object's `status`: a phase
//! (Provisioning, Ready, NotReady, Upgrading, Sleeping, CertificatesExpiring), standard
//! conditions, and the facts behind them. It also exports Prometheus metrics and records an
//! Event on every phase change.
//!
//! # Why a second binary
//!
//! The compiler (`tcpc`) is a pure function from files to files: no async runtime, no TLS
//! client, no Kubernetes client, no clock inside `compile`. Reporting live status needs all of
//! those. Keeping them in a separate crate and binary keeps the compiler small, pure and
//! auditable, and keeps its dependency tree free of kube, tokio and hyper; the companion's image
//! holds only the companion. The two meet only through the `RenderedControlPlane` contract: the
//! compiler writes `spec`, the companion writes `status`.
//!
//! # Invariants
//!
//! - **Status only through the status subresource**: the companion never writes `spec` or
//!   metadata; every write is a server-side apply of `status` on `/status` with field manager
//!   `tcpc-companion`.
//! - **Secrets are read by name only**: `get` of the Secrets a spec names, in the object's
//!   namespace. The companion never lists or watches Secrets, and writes only those a spec asks
//!   it to issue (`rotation: companion`, [`issuer`]), each carrying its label, in one call.
//! - **No key material in logs, errors, statuses or Events**: problems name a Secret and key,
//!   never their contents; kubeconfig and PEM parser messages (which may quote their input) are
//!   not passed on; a kubeconfig that would make the companion run a program (exec, auth
//!   providers), read its own files or use a proxy is refused.
//! - **No panics on bad input**: a missing Secret, a malformed kubeconfig or PEM becomes a
//!   condition with status False (or Unknown) and a reason.
//! - **Deterministic output**: ordered maps (`BTreeMap`) only; conditions in a fixed order;
//!   metrics sorted by labels.
//! - **One active replica**: a Lease (`tcpc-companion`) elects the leader; a replica that loses
//!   it exits and is restarted by its Deployment.
//!
//! The phase and condition rules live in [`status`], a pure function of the observations.

pub mod controller;
pub mod crd;
pub mod http;
pub mod issuer;
pub mod lease;
pub mod metrics;
pub mod probe;
pub mod settings;
pub mod status;

use std::sync::Arc;

use kube::Client;
use tokio::sync::oneshot;

pub use settings::Settings;

/// Runs the companion until SIGTERM/SIGINT (`Ok`) or until it cannot go on (`Err`, e.g. the
/// leader lease was lost: the process exits and its Deployment restarts it).
pub async fn run(settings: Settings) -> Result<(), String> {
    let metrics = Arc::new(metrics::Metrics::default());
    let state = Arc::new(http::State::new(metrics.clone()));
    let listener = tokio::net::TcpListener::bind(settings.listen).await.map_err(|e| format!("binding {}: {e}", settings.listen))?;
    tokio::spawn(http::serve(listener, state.clone()));

    let client = Client::try_default().await.map_err(|e| format!("no Kubernetes client: {e}"))?;

    let mut lease_stop = None;
    let mut lease_lost = None;
    if settings.leader_election {
        let namespace = settings.pod_namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
        let identity = settings.pod_name.clone().ok_or("leader election needs POD_NAME (or TCPC_COMPANION_LEADER_ELECTION=false)")?;
        let mut elector = lease::Elector::new(client.clone(), lease::LeaseConfig::new(namespace, identity));
        // A follower is ready: it is doing what it should, waiting.
        state.set_ready(true);
        tracing::info!(identity = %elector.identity(), "waiting for the leader lease");
        tokio::select! {
            _ = elector.acquire() => {}
            _ = shutdown_signal() => return Ok(()),
        }
        metrics.set_leader(true);
        state.set_ready(false);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (lost_tx, lost_rx) = oneshot::channel::<String>();
        let task = tokio::spawn(async move {
            tokio::select! {
                reason = elector.hold() => { let _ = lost_tx.send(reason); }
                _ = stop_rx => elector.release().await,
            }
        });
        lease_stop = Some((stop_tx, task));
        lease_lost = Some(lost_rx);
    } else {
        metrics.set_leader(true);
    }

    let ctx = Arc::new(controller::Context::new(client.clone(), metrics.clone(), settings.resync, settings.pod_name.clone()));
    let synced = state.clone();
    let controller = controller::run(client, settings.watch_namespace.clone(), ctx, move || synced.set_ready(true));
    let lost = async {
        match lease_lost {
            Some(rx) => rx.await.unwrap_or_else(|_| "lease task ended".to_string()),
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        _ = controller => Err("the controller stopped".to_string()),
        reason = lost => Err(format!("lost the leader lease: {reason}")),
        _ = shutdown_signal() => Ok(()),
    };
    if let Some((stop, task)) = lease_stop {
        let _ = stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
    }
    result
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}
