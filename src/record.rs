//! The `RenderedControlPlane` record of a tenant (`tcpc.dev/v1alpha1`, `companion` of
//! `tcpc.yaml`): what tcpc rendered, for the in-cluster companion to compare with what runs.
//!
//! The record's spec is written here, from the resolved tenant and its lock entry; its status is
//! written only by the companion through the status subresource, so Argo CD and Flux never see
//! drift. Invariant: pure, and public data only (names of Secrets and keys, never their
//! contents): the lock holds no secret.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tcpc_pki::kubeadm::Artefact;

use crate::lock::TenantLock;
use crate::resolve::Tenant;

/// The record's `spec`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    pub version: String,
    /// `https://host:port` as the tenant's kubeconfigs name it.
    pub endpoint: String,
    pub replicas: i32,
    /// The control-plane Deployment (same namespace).
    pub deployment: String,
    pub service: ServiceRef,
    /// The kubeconfig the companion reaches the tenant API with, by the Service's DNS name.
    pub admin_kubeconfig: SecretKey,
    pub data_store: DataStoreRef,
    /// The Service type, plus `+Ingress` / `+Gateway` when the spec adds one.
    pub exposure: String,
    /// From when a certificate counts as expiring: this fraction of its lifetime left.
    pub renew_before_fraction: f64,
    /// Every certificate the lock records, by artefact name.
    pub certificates: Vec<CertificateRecord>,
    /// The step of a service-account key rotation under way: `add` or `sign` (the API server
    /// then verifies with two keys; the companion reports how many it does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_key_rotation: Option<String>,
    /// `companion` when the companion issues and renews the leaves (`rotation: companion`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<String>,
    /// The Secrets the companion issues, owns and renews (`rotation: companion`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[serde(default)]
    pub issuance: Vec<tcpc_pki::issuance::IssuedSecret>,
    pub tcpc_version: String,
    /// `sha256:` of the resolved tenant: any change to what tcpc renders for it changes this.
    pub fingerprint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRef {
    pub name: String,
    pub port: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKey {
    pub secret: String,
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataStoreRef {
    pub name: String,
    pub driver: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateRecord {
    /// The artefact (`apiserver`, `admin`, …).
    pub name: String,
    /// RFC 3339, as the lock records it.
    pub not_after: String,
    /// Where the certificate is in the cluster: a PEM (`*.crt`) or a kubeconfig (`*.conf`)
    /// key of a Secret in the tenant's namespace. Absent for certificates not in the cluster
    /// (`super-admin` by default, `etcd-ca`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The Service's exposure, as `tcpc status` shows it.
pub fn exposure(t: &Tenant) -> String {
    let mut exposure = t.service.type_.clone();
    if t.ingress.is_some() {
        exposure.push_str("+Ingress");
    }
    if t.gateway.is_some() {
        exposure.push_str("+Gateway");
    }
    exposure
}

/// `sha256:` of the resolved tenant (its canonical JSON: ordered maps only).
pub fn fingerprint(t: &Tenant) -> String {
    let json = serde_json::to_vec(t).expect("a resolved tenant serialises");
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(json)))
}

/// The Secret and key holding `artefact`'s certificate in the cluster (see `pki::secret_data`).
fn location(t: &Tenant, artefact: Artefact) -> Option<(String, String)> {
    let s = &t.secrets;
    let pem = |secret: &str, key: &str| Some((secret.to_string(), key.to_string()));
    match artefact {
        Artefact::Ca => pem(&s.ca, "ca.crt"),
        Artefact::FrontProxyCa => pem(&s.front_proxy_ca, "front-proxy-ca.crt"),
        Artefact::Apiserver => pem(&s.apiserver, "apiserver.crt"),
        Artefact::ApiserverKubeletClient => pem(&s.apiserver_kubelet_client, "apiserver-kubelet-client.crt"),
        Artefact::FrontProxyClient => pem(&s.front_proxy_client, "front-proxy-client.crt"),
        Artefact::DatastoreClient if t.datastore.kine.is_none() => pem(&s.datastore, "server.crt"),
        Artefact::Admin => pem(&s.admin_kubeconfig, "admin.conf"),
        Artefact::SuperAdmin if t.super_admin_in_cluster => pem(&s.admin_kubeconfig, "super-admin.conf"),
        Artefact::ControllerManager => pem(&s.controller_manager_kubeconfig, "controller-manager.conf"),
        Artefact::Scheduler => pem(&s.scheduler_kubeconfig, "scheduler.conf"),
        Artefact::Konnectivity if t.konnectivity.is_some() => pem(&s.konnectivity_kubeconfig, "konnectivity-server.conf"),
        Artefact::EtcdServer => t.datastore.dedicated.as_ref().map(|e| (e.secret.clone(), "server.crt".to_string())),
        Artefact::EtcdPeer => t.datastore.dedicated.as_ref().map(|e| (e.secret.clone(), "peer.crt".to_string())),
        _ => None,
    }
}

/// The record of `t`, with the certificates of its lock entry (none before its first render
/// with an identity).
pub fn record(t: &Tenant, lock: Option<&TenantLock>, renew_before_fraction: f64) -> Record {
    let mut certificates = Vec::new();
    for (name, a) in lock.map(|l| &l.artefacts).into_iter().flatten() {
        let Some(not_after) = a.not_after.clone() else { continue };
        let (secret, key) = match Artefact::try_from(name.clone()) {
            Ok(artefact) => location(t, artefact).unzip(),
            Err(_) => (None, None),
        };
        certificates.push(CertificateRecord { name: name.clone(), not_after, secret, key });
    }
    Record {
        version: t.version.clone(),
        endpoint: t.server_url.clone(),
        replicas: t.deployment.replicas,
        deployment: t.name.clone(),
        service: ServiceRef { name: t.name.clone(), port: t.port },
        admin_kubeconfig: SecretKey { secret: t.secrets.admin_kubeconfig.clone(), key: "admin.svc".to_string() },
        data_store: DataStoreRef { name: t.datastore.name.clone(), driver: t.datastore.driver.clone() },
        exposure: exposure(t),
        renew_before_fraction,
        certificates,
        service_account_key_rotation: lock
            .and_then(crate::pki::sa_rotation::extra_record)
            .map(|(name, _)| if name == crate::pki::sa_rotation::NEXT { "add" } else { "sign" }.to_string()),
        rotation: t.pki.companion_rotation.then(|| "companion".to_string()),
        // Only under `rotation: companion` (every render builds every record, cache hits too).
        // The PKI stage computed the specs already and fails on what fails here.
        issuance: if t.pki.companion_rotation {
            crate::pki::cert_specs(t).map(|specs| crate::pki::companion_issuance(t, &specs)).unwrap_or_default()
        } else {
            Vec::new()
        },
        tcpc_version: env!("CARGO_PKG_VERSION").to_string(),
        fingerprint: fingerprint(t),
    }
}

/// The Secrets of `record` the companion may read (its Role's `resourceNames`), sorted: the
/// admin kubeconfig, the certificates, and under `rotation: companion` the signers (the CA
/// Secrets, private keys included: the companion issues from them).
pub fn readable_secrets(record: &Record) -> Vec<String> {
    let mut names = BTreeSet::from([record.admin_kubeconfig.secret.as_str()]);
    names.extend(record.certificates.iter().filter_map(|c| c.secret.as_deref()));
    for owned in &record.issuance {
        names.insert(&owned.secret);
        names.extend(owned.entries.iter().map(|e| e.signer.secret.as_str()));
    }
    names.into_iter().map(str::to_string).collect()
}

/// The Secrets the companion creates and updates (`rotation: companion`), sorted.
pub fn owned_secrets(record: &Record) -> Vec<String> {
    let names: BTreeSet<&str> = record.issuance.iter().map(|o| o.secret.as_str()).collect();
    names.into_iter().map(str::to_string).collect()
}
