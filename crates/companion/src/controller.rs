//! The controller: one reconcile per RenderedControlPlane every resync period, and whenever the
//! object or its Deployment changes.
//!
//! A reconcile reads the Deployment and the Secrets the spec names (by name), probes the tenant
//! API, computes the status with [`crate::status::compute`], writes it through the status
//! subresource (server-side apply, field manager `tcpc-companion`) when it changed or its last
//! write is older than [`REFRESH`], records an Event when the phase moved, and updates metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller, Error as ControllerError};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};

use crate::crd::{Phase, RenderedControlPlane, RenderedControlPlaneStatus};
use crate::issuer;
use crate::metrics::{Metrics, TenantSeries};
use crate::probe::{self, TenantClients};
use crate::status::{self, DeploymentObservation, Observation, ProbeResults, Problem};

/// On the control plane's pod template: the service-account key rotation step the companion
/// rolled it for, because its pods had started on the keys of the step before.
pub const KEYS_ROLLED_FOR: &str = "tcpc.dev/service-account-keys-rolled-for";
/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "tcpc-companion";
/// An unchanged status is rewritten (for `lastProbeTime`) at least this often.
pub const REFRESH: Duration = Duration::from_secs(60);
/// Reconciles running at once.
const CONCURRENCY: u16 = 16;

pub struct Context {
    pub client: Client,
    pub clients: TenantClients,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub resync: Duration,
    /// The clock (tests fix it).
    clock: fn() -> Timestamp,
    /// The last status written per tenant: fresher than the watch cache right after a write.
    written: Mutex<BTreeMap<(String, String), RenderedControlPlaneStatus>>,
}

impl Context {
    pub fn new(client: Client, metrics: Arc<Metrics>, resync: Duration, instance: Option<String>) -> Self {
        let reporter = Reporter { controller: FIELD_MANAGER.to_string(), instance };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            clients: TenantClients::default(),
            metrics,
            resync,
            clock: Timestamp::now,
            written: Mutex::new(BTreeMap::new()),
        }
    }

    fn written(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), RenderedControlPlaneStatus>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything about one tenant (its object is being deleted).
    fn forget(&self, key: &(String, String)) {
        self.metrics.remove_tenant(&key.0, &key.1);
        self.clients.forget(key);
        self.written().remove(key);
    }

    /// Forgets everything about tenants not in `keep` (their objects were deleted).
    fn retain(&self, keep: &BTreeSet<(String, String)>) {
        self.metrics.retain_tenants(keep);
        self.clients.retain(keep);
        self.written().retain(|k, _| keep.contains(k));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("RenderedControlPlane {0} has no namespace")]
    NoNamespace(String),
    #[error("Deployment {0}/{1}: {2}")]
    Deployment(String, String, String),
    #[error("patching the status of RenderedControlPlane {0}/{1}: {2}")]
    Status(String, String, String),
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

async fn reconcile(rcp: Arc<RenderedControlPlane>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_one(&rcp, &ctx).await;
    let outcome = if result.is_ok() { "success" } else { "error" };
    ctx.metrics.observe_reconcile(outcome, started.elapsed());
    result
}

async fn reconcile_one(rcp: &RenderedControlPlane, ctx: &Context) -> Result<Action, Error> {
    let name = rcp.name_any();
    let namespace = rcp.namespace().ok_or_else(|| Error::NoNamespace(name.clone()))?;
    let key = (namespace.clone(), name.clone());
    if rcp.metadata.deletion_timestamp.is_some() {
        ctx.forget(&key);
        return Ok(Action::await_change());
    }
    let spec = &rcp.spec;

    let deployment_name = spec.deployment.clone().unwrap_or_else(|| name.clone());
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let deployment = tokio::time::timeout(probe::PROBE_TIMEOUT * 2, deployments.get_opt(&deployment_name))
        .await
        .map_err(|_| Error::Deployment(namespace.clone(), deployment_name.clone(), "timed out".into()))?
        .map_err(|e| Error::Deployment(namespace.clone(), deployment_name.clone(), describe(&e)))?;
    // The step of a service-account key rotation the pods were last rolled for by us (see below).
    let keys_rolled_for =
        deployment.as_ref().and_then(|d| d.spec.template.metadata.as_ref()?.annotations.as_ref()?.get(KEYS_ROLLED_FOR).cloned());
    let deployment = deployment.as_ref().map(DeploymentObservation::from_deployment);

    // `rotation: companion`: the leaves first (the probe below reads the tenant with one).
    let issued = issuer::reconcile(&ctx.client, &namespace, &name, &deployment_name, spec, (ctx.clock)()).await;
    report_issuance(rcp, &namespace, &name, &issued, ctx).await;

    let certificates = probe::read_certificates(&ctx.client, &namespace, spec).await;
    let desired = spec.replicas.or_else(|| deployment.as_ref().and_then(|d| d.desired_replicas)).unwrap_or(1);
    let probes = if desired <= 0 {
        ProbeResults::unavailable(Problem::new("Sleeping", "the control plane is scaled to 0 replicas"), certificates)
    } else {
        match ctx.clients.client_for(&ctx.client, &namespace, &name, spec).await {
            Ok(client) => probe::probe_tenant(&client, certificates).await,
            Err(problem) => ProbeResults::unavailable(problem, certificates),
        }
    };

    let remembered = ctx.written().get(&key).cloned();
    let previous = remembered.as_ref().or(rcp.status.as_ref());
    let now = (ctx.clock)();
    let new = status::compute(&Observation {
        spec,
        generation: rcp.metadata.generation,
        deployment: deployment.as_ref(),
        probes: &probes,
        previous,
        now,
    });

    let refresh_due = previous
        .and_then(|p| p.last_probe_time.as_ref())
        .is_none_or(|t| now.duration_since(t.0) >= jiff::SignedDuration::try_from(REFRESH).unwrap_or_default());
    if status::changed(previous, &new) || refresh_due {
        let api: Api<RenderedControlPlane> = Api::namespaced(ctx.client.clone(), &namespace);
        let patch = serde_json::json!({
            "apiVersion": "tcpc.dev/v1alpha1",
            "kind": "RenderedControlPlane",
            "status": new,
        });
        api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
            .await
            .map_err(|e| Error::Status(namespace.clone(), name.clone(), describe(&e)))?;
        ctx.written().insert(key.clone(), new.clone());
    }

    if let Some((before, after)) = status::phase_change(previous, &new) {
        let note = status::phase_note(before, after);
        tracing::info!(namespace = %namespace, tenant = %name, phase = %after, message = new.message.as_deref().unwrap_or(""), "{note}");
        let event = Event {
            type_: if status::phase_is_normal(after) { EventType::Normal } else { EventType::Warning },
            reason: after.as_str().to_string(),
            note: Some(note),
            action: "ProbeStatus".to_string(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &rcp.object_ref(&())).await {
            tracing::warn!(namespace = %namespace, tenant = %name, error = %describe(&e), "recording the phase Event");
        }
    }

    // A service-account key rotation, as the API server sees it: how many keys verify tokens.
    if let (Some(before), Some(after)) = (previous.and_then(|p| p.service_account_keys), new.service_account_keys)
        && before != after
    {
        let step = spec.service_account_key_rotation.as_deref().map_or(String::new(), |s| format!(" (rotation step {s})"));
        let note = format!("the API server verifies service-account tokens with {after} keys, {before} before{step}");
        tracing::info!(namespace = %namespace, tenant = %name, keys = after, "{note}");
        record_event(ctx, rcp, EventType::Normal, "ServiceAccountKeys", "ProbeStatus", note).await;
    }

    // kube-apiserver reads its service-account keys once. A rotation step rolls the control plane
    // together with the Secret holding them, and pods started before that Secret was updated (a
    // GitOps tool applies the Deployment before the sealed-secrets controller has unsealed the new
    // keys) keep the old ones: the API server then verifies with one key where the step needs two,
    // and the next step would break every token of the new key. Seen here, once the rollout is
    // over, the control plane is rolled once more (once per step), now reading the updated Secret.
    if let (Some(step), Some(1)) = (spec.service_account_key_rotation.as_deref(), new.service_account_keys)
        && deployment.as_ref().is_some_and(|d| !d.rollout_in_progress())
        && keys_rolled_for.as_deref() != Some(step)
    {
        let note = format!(
            "service-account key rotation step {step}: the API server verifies with 1 key, the step needs 2 (its pods started before the Secret was updated): rolled"
        );
        match issuer::roll_deployment(&ctx.client, &namespace, &deployment_name, KEYS_ROLLED_FOR, step).await {
            Ok(()) => {
                tracing::info!(namespace = %namespace, tenant = %name, step, "{note}");
                record_event(ctx, rcp, EventType::Warning, "ControlPlaneRolled", "RollForKeys", note).await;
            }
            Err(e) => tracing::warn!(namespace = %namespace, tenant = %name, error = %e, "rolling for the service-account keys"),
        }
    }

    let phase = new.phase.unwrap_or(Phase::Provisioning);
    ctx.metrics.set_tenant(
        &namespace,
        &name,
        TenantSeries {
            ready: matches!(phase, Phase::Ready | Phase::Upgrading | Phase::CertificatesExpiring),
            apiserver_up: probes.readyz.is_ok(),
            certificate_expiry: probes
                .certificates
                .iter()
                .filter_map(|c| c.result.as_ref().ok().map(|info| (c.name.clone(), info.not_after.as_second())))
                .collect(),
        },
    );
    // The next renewal may come before the next resync (short-lived leaves).
    // One second after the renewal moment (whole seconds; at the moment itself the certificate
    // may not be due yet, and the status would show it expiring until the next pass).
    let until_renewal =
        issued.next_renewal.map(|at| Duration::from_secs(u64::try_from(at.as_second() - (ctx.clock)().as_second()).unwrap_or(0) + 1));
    Ok(Action::requeue(until_renewal.map_or(ctx.resync, |d| d.min(ctx.resync))))
}

/// Logs, counts and records as Events what an issuance pass did. Messages name Secrets and
/// reasons only, never their content.
async fn report_issuance(rcp: &RenderedControlPlane, namespace: &str, name: &str, issued: &issuer::Outcome, ctx: &Context) {
    let mut events = Vec::new();
    for (secret, reason) in &issued.issued {
        tracing::info!(namespace = %namespace, tenant = %name, secret = %secret, reason = %reason, "issued");
        // One reason per kind: Events of one reason are merged into a series.
        events.push((EventType::Normal, reason.event_reason(), format!("Secret {secret}: {reason}")));
    }
    for secret in &issued.rolled {
        tracing::info!(namespace = %namespace, tenant = %name, secret = %secret, "rolled the control plane for a renewed certificate it reads once");
        events.push((EventType::Normal, "ControlPlaneRolled", format!("renewed certificate in Secret {secret} is read once: rolled")));
    }
    for refused in &issued.refused {
        tracing::warn!(namespace = %namespace, tenant = %name, "{refused}");
        events.push((EventType::Warning, "SecretNotOwned", refused.clone()));
    }
    for error in &issued.errors {
        tracing::warn!(namespace = %namespace, tenant = %name, error = %error, "issuance");
    }
    ctx.metrics.count_issued(namespace, name, issued.issued.len() as u64);
    for (type_, reason, note) in events {
        record_event(ctx, rcp, type_, reason, "IssueCertificates", note).await;
    }
}

/// Records an Event on the record; a failure to record is logged, never fatal.
async fn record_event(ctx: &Context, rcp: &RenderedControlPlane, type_: EventType, reason: &str, action: &str, note: String) {
    let event = Event { type_, reason: reason.to_string(), note: Some(note), action: action.to_string(), secondary: None };
    if let Err(e) = ctx.recorder.publish(&event, &rcp.object_ref(&())).await {
        tracing::warn!(namespace = %rcp.namespace().unwrap_or_default(), tenant = %rcp.name_any(), error = %describe(&e), reason, "recording an Event");
    }
}

fn error_policy(rcp: Arc<RenderedControlPlane>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(namespace = %rcp.namespace().unwrap_or_default(), tenant = %rcp.name_any(), error = %error, "reconcile failed");
    Action::requeue(ctx.resync)
}

/// Drops the series, clients and memory of deleted tenants every resync period (started once
/// the watch has synced).
async fn prune(store: Store<RenderedControlPlane>, ctx: Arc<Context>) {
    loop {
        let keep: BTreeSet<(String, String)> = store
            .state()
            .iter()
            .filter(|o| o.metadata.deletion_timestamp.is_none())
            .filter_map(|o| Some((o.namespace()?, o.name_any())))
            .collect();
        ctx.retain(&keep);
        tokio::time::sleep(ctx.resync).await;
    }
}

/// Runs the controller until the process ends. `on_synced` runs once the watch has listed
/// every RenderedControlPlane.
///
/// The sync is seen on the watch stream itself (its first `InitDone`), not through
/// `Store::wait_until_ready`: kube-runtime's readiness signal wakes only the last task that
/// polled it, and the controller's own runner is one of those tasks, so a second waiter may
/// never wake. Driving the reflector here takes `Controller::for_stream`
/// (kube's `unstable-runtime-stream-control` feature).
pub async fn run(client: Client, namespace: Option<String>, ctx: Arc<Context>, on_synced: impl FnOnce() + Send + 'static) {
    let (rcps, deployments): (Api<RenderedControlPlane>, Api<Deployment>) = match &namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let (store, writer) = reflector::store();
    let mut on_synced = Some({
        let (store, ctx) = (store.clone(), ctx.clone());
        move || {
            tracing::info!("watch synced");
            on_synced();
            tokio::spawn(prune(store, ctx));
        }
    });
    let trigger = reflector(writer, watcher(rcps, watcher::Config::default().any_semantic()))
        .inspect(move |event| {
            if matches!(event, Ok(watcher::Event::InitDone))
                && let Some(synced) = on_synced.take()
            {
                synced();
            }
        })
        .applied_objects();
    let controller = Controller::for_stream(trigger, store)
        .with_config(ControllerConfig::default().concurrency(CONCURRENCY))
        // A Deployment triggers the RenderedControlPlane of the same namespace and name.
        .watches(deployments, watcher::Config::default().any_semantic(), |d: Deployment| {
            d.namespace().map(|ns| ObjectRef::<RenderedControlPlane>::new(&d.name_any()).within(&ns))
        });
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                // Already logged by error_policy, or the object is gone.
                Ok(_) | Err(ControllerError::ReconcilerFailed(..)) | Err(ControllerError::ObjectNotFound(_)) => {}
                Err(e) => tracing::warn!(error = %e, "controller"),
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    //! The reconcile against a fake management API (a tower service) and a fake tenant API (a
    //! local HTTP server the kubeconfig in the fake Secret points to).

    use super::*;
    use base64::Engine as _;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use kube::client::Body;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, Ordering};

    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIEAKsSzTAKBggqhkjOPQQDAjAZMRcwFQYDVQQDDA5rdWJl
LWFwaXNlcnZlcjAeFw0yNjEyMDQwNzI1NTdaFw0yNzAxMDMwNzI1NTdaMBkxFzAV
BgNVBAMMDmt1YmUtYXBpc2VydmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
zKM0vwpDG38dh95Lsc6iOIFKOl0vIPd9bS2s1iclX2LQwBI989tuQC84ufxvG08U
m2iFSH6nIC/fPFL5Wk7wc6NTMFEwHQYDVR0OBBYEFOz9jVk4iztv+HtKDX+R0SE3
ww6FMB8GA1UdIwQYMBaAFOz9jVk4iztv+HtKDX+R0SE3ww6FMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhALIKm5nzokrYiBs4tJt2zBIy79HxPwJ9
DM+gXAW0OeK0AiAgFKhnzelXdgFWxgI9GqQPqmoe4FrEvWY44Vie6qdYmQ==
-----END CERTIFICATE-----
";

    #[derive(Default)]
    struct Fake {
        tenant_url: Mutex<String>,
        deployment_gone: AtomicBool,
        requests: Mutex<Vec<(String, String, String)>>,
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn json(status: u16, value: serde_json::Value) -> http::Response<Full<Bytes>> {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(value.to_string())))
            .unwrap()
    }

    fn request_query_has(query: &str, pair: &str) -> bool {
        query.split('&').any(|p| p == pair)
    }

    fn not_found() -> http::Response<Full<Bytes>> {
        json(
            404,
            serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "not found", "reason": "NotFound", "code": 404}),
        )
    }

    async fn management(fake: Arc<Fake>, request: http::Request<Body>) -> Result<http::Response<Full<Bytes>>, Infallible> {
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        let body = String::from_utf8(request.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        let watch = request_query_has(&query, "watch=true");
        fake.requests.lock().unwrap().push((method.clone(), path.clone(), body.clone()));
        if watch {
            // A watch that never sends an event (the test ends first).
            std::future::pending::<()>().await;
        }
        let response = match (method.as_str(), path.as_str()) {
            ("GET", "/apis/tcpc.dev/v1alpha1/renderedcontrolplanes") => json(
                200,
                serde_json::json!({"apiVersion": "tcpc.dev/v1alpha1", "kind": "RenderedControlPlaneList",
                    "metadata": {"resourceVersion": "20"}, "items": [serde_json::to_value(rcp()).unwrap()]}),
            ),
            ("GET", "/apis/apps/v1/deployments") => json(
                200,
                serde_json::json!({"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {"resourceVersion": "20"}, "items": []}),
            ),
            ("GET", "/apis/apps/v1/namespaces/t/deployments/full") if !fake.deployment_gone.load(Ordering::SeqCst) => json(
                200,
                serde_json::json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "full", "namespace": "t", "generation": 2},
                    "spec": {"replicas": 2, "selector": {}, "template": {}},
                    "status": {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2}
                }),
            ),
            ("GET", "/api/v1/namespaces/t/secrets/full-admin-kubeconfig") => {
                let kubeconfig = format!(
                    "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {{server: '{}'}}\nusers:\n- name: a\n  user: {{token: fake-token}}\ncontexts:\n- name: t\n  context: {{cluster: t, user: a}}\ncurrent-context: t\n",
                    fake.tenant_url.lock().unwrap()
                );
                json(
                    200,
                    serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "full-admin-kubeconfig", "namespace": "t", "resourceVersion": "11"},
                    "data": {"admin.svc": b64(&kubeconfig)}}),
                )
            }
            ("GET", "/api/v1/namespaces/t/secrets/full-api-server-certificate") => json(
                200,
                serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "full-api-server-certificate", "namespace": "t", "resourceVersion": "12"},
                    "data": {"apiserver.crt": b64(CERT)}}),
            ),
            ("PATCH", "/apis/tcpc.dev/v1alpha1/namespaces/t/renderedcontrolplanes/full/status") => {
                let mut object: serde_json::Value = serde_json::from_str(&body).unwrap();
                object["metadata"] = serde_json::json!({"name": "full", "namespace": "t", "generation": 3});
                object["spec"] = serde_json::json!({});
                json(200, object)
            }
            ("POST", "/apis/events.k8s.io/v1/namespaces/t/events") => json(201, serde_json::from_str(&body).unwrap()),
            _ => not_found(),
        };
        Ok(response)
    }

    /// The tenant API: healthy, v1.35.4, two Nodes of which one is Ready.
    async fn tenant_api() -> String {
        use hyper::server::conn::http1;
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let service = service_fn(|request: http::Request<hyper::body::Incoming>| async move {
                        assert_eq!(request.headers().get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer fake-token"));
                        let response = match request.uri().path() {
                            "/readyz" | "/readyz/etcd" => http::Response::new(Full::new(Bytes::from("ok"))),
                            "/version" => json(
                                200,
                                serde_json::json!({"major": "1", "minor": "35", "gitVersion": "v1.35.4",
                                "gitCommit": "x", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                                "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64"}),
                            ),
                            "/api/v1/nodes" => json(
                                200,
                                serde_json::json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {},
                                "items": [
                                    {"metadata": {"name": "a"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                                    {"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
                                ]}),
                            ),
                            _ => not_found(),
                        };
                        Ok::<_, Infallible>(response)
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        url
    }

    fn rcp() -> RenderedControlPlane {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tcpc.dev/v1alpha1", "kind": "RenderedControlPlane",
            "metadata": {"name": "full", "namespace": "t", "generation": 3, "uid": "u-1"},
            "spec": {
                "version": "v1.35.4", "endpoint": "https://10.0.0.10:6443", "replicas": 2, "deployment": "full",
                "service": {"name": "full", "port": 6443},
                "adminKubeconfig": {"secret": "full-admin-kubeconfig", "key": "admin.svc"},
                "renewBeforeFraction": 0.01,
                "certificates": [{"name": "apiserver", "notAfter": "2027-01-03T07:25:57Z",
                                  "secret": "full-api-server-certificate", "key": "apiserver.crt"},
                                 {"name": "super-admin", "notAfter": "2027-01-03T07:25:57Z"}]
            }
        }))
        .unwrap()
    }

    /// The fake management API (a client of it) and the fake tenant API its Secret points to.
    async fn fakes() -> (Arc<Fake>, Client) {
        let fake = Arc::new(Fake::default());
        *fake.tenant_url.lock().unwrap() = tenant_api().await;
        let service = {
            let fake = fake.clone();
            tower::service_fn(move |request| management(fake.clone(), request))
        };
        (fake, Client::new(service, "default"))
    }

    fn take(fake: &Fake) -> Vec<(String, String, String)> {
        std::mem::take(&mut *fake.requests.lock().unwrap())
    }

    #[tokio::test]
    async fn reconcile_against_fakes() {
        let (fake, client) = fakes().await;
        let metrics = Arc::new(Metrics::default());
        let mut ctx = Context::new(client, metrics.clone(), Duration::from_secs(5), Some("pod-0".into()));
        // Inside the test certificate's validity (2026-12-04 .. 2027-01-03), outside its 1 % window.
        ctx.clock = || "2026-12-10T00:00:00Z".parse().unwrap();
        let object = rcp();

        let action = reconcile_one(&object, &ctx).await.unwrap();
        assert_eq!(action, Action::requeue(Duration::from_secs(5)));
        let requests = take(&fake);
        // Secrets: only GETs by name.
        for (method, path, _) in &requests {
            if path.contains("/secrets") {
                assert_eq!(method, "GET");
                assert!(path.ends_with("/full-admin-kubeconfig") || path.ends_with("/full-api-server-certificate"), "{path}");
            }
        }
        let (_, _, patch) = requests.iter().find(|(m, p, _)| m == "PATCH" && p.ends_with("/status")).expect("status patch");
        let patch: serde_json::Value = serde_json::from_str(patch).unwrap();
        assert_eq!(patch["apiVersion"], "tcpc.dev/v1alpha1");
        assert_eq!(patch["kind"], "RenderedControlPlane");
        assert!(patch.get("spec").is_none());
        let status = &patch["status"];
        assert_eq!(status["phase"], "Ready", "{status}");
        assert_eq!(status["observedGeneration"], 3);
        assert_eq!(status["version"], "v1.35.4");
        assert_eq!(status["nodes"], serde_json::json!({"ready": 1, "total": 2}));
        assert_eq!(status["readyReplicas"], 2);
        assert_eq!(status["certificates"][0]["serial"], "AB12CD");
        // super-admin is kept in Git only: nothing to read, nothing wrong
        assert_eq!(status["certificates"].as_array().unwrap().len(), 1, "{status}");
        let valid = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "CertificatesValid").unwrap();
        assert_eq!(valid["status"], "True", "{valid}");
        assert_eq!(status["endpoint"], "https://10.0.0.10:6443");
        let (_, _, event) = requests.iter().find(|(m, p, _)| m == "POST" && p.ends_with("/events")).expect("event");
        let event: serde_json::Value = serde_json::from_str(event).unwrap();
        assert_eq!(event["type"], "Normal");
        assert_eq!(event["reason"], "Ready");
        assert_eq!(event["note"], "phase (none) → Ready");
        assert_eq!(event["reportingController"], "tcpc-companion");
        assert_eq!(event["regarding"]["kind"], "RenderedControlPlane");
        let text = metrics.render();
        assert!(text.contains("tcpc_tenant_ready{namespace=\"t\",tenant=\"full\"} 1"), "{text}");
        assert!(text.contains("tcpc_tenant_apiserver_up{namespace=\"t\",tenant=\"full\"} 1"));
        assert!(text.contains("certificate=\"apiserver\"} 1798961157"), "{text}");

        // Nothing changed: no write, no Event.
        reconcile_one(&object, &ctx).await.unwrap();
        let requests = take(&fake);
        assert!(requests.iter().all(|(m, _, _)| m == "GET"), "{requests:?}");

        // The Deployment disappears: Provisioning, a Warning Event.
        fake.deployment_gone.store(true, Ordering::SeqCst);
        reconcile_one(&object, &ctx).await.unwrap();
        let requests = take(&fake);
        let (_, _, patch) = requests.iter().find(|(m, _, _)| m == "PATCH").expect("status patch");
        let patch: serde_json::Value = serde_json::from_str(patch).unwrap();
        assert_eq!(patch["status"]["phase"], "Provisioning");
        let (_, _, event) = requests.iter().find(|(m, _, _)| m == "POST").expect("event");
        let event: serde_json::Value = serde_json::from_str(event).unwrap();
        assert_eq!(event["type"], "Warning");
        assert_eq!(event["note"], "phase Ready → Provisioning");

        // Deleted: the tenant's series go.
        let mut deleted = object.clone();
        deleted.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()));
        assert_eq!(reconcile_one(&deleted, &ctx).await.unwrap(), Action::await_change());
        assert!(!metrics.render().contains("tenant=\"full\""));
    }

    /// `run` reports the sync (the leader's `/readyz` depends on it) once the watch has listed
    /// the RenderedControlPlanes, and reconciles what it listed.
    #[tokio::test]
    async fn run_reports_synced() {
        let (fake, client) = fakes().await;
        let ctx = Arc::new(Context::new(client.clone(), Arc::new(Metrics::default()), Duration::from_secs(5), None));
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let controller = tokio::spawn(run(client, None, ctx, move || {
            let _ = synced_tx.send(());
        }));
        let synced = tokio::time::timeout(Duration::from_secs(20), synced_rx).await;
        let reconciled = async {
            loop {
                if take(&fake).iter().any(|(m, p, _)| m == "PATCH" && p.ends_with("/renderedcontrolplanes/full/status")) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let reconciled = tokio::time::timeout(Duration::from_secs(20), reconciled).await;
        controller.abort();
        assert!(matches!(synced, Ok(Ok(()))), "on_synced never ran");
        assert!(reconciled.is_ok(), "the listed RenderedControlPlane was not reconciled");
    }
}
