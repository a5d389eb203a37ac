//! A dedicated etcd: a tenant annotated `tcpc.dev/dedicated-etcd: "true"` shares no DataStore.
//! It gets a small etcd StatefulSet `<tcp>-etcd` (and its headless Service) in its own
//! namespace, with its own CA and server, peer and client certificates from the offline PKI
//! (`etcd-ca`, `etcd-server`, `etcd-peer`, and `datastore-client` signed by `etcd-ca`). Only the
//! tenant's kube-apiserver holds a client certificate that CA signed, so nothing else can read
//! or write its keys; etcd auth is not needed on top.
//!
//! Invariants:
//! - the pods carry no `kamaji.clastix.io/name` label: the control plane's Service selects on it;
//! - members are addressed by their stable StatefulSet names, so the certificates, the member
//!   list and kube-apiserver's `--etcd-servers` are all known offline;
//! - `tcpc.yaml` `dedicatedEtcd` sizes the StatefulSet (members, claim size and class),
//!   `images.etcd` picks the image.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tcpc_spec::defaults as d;

use super::{DataStorePlan, Resolver, hardening};

/// The management cluster's DNS domain, as in the control plane's own Service names.
const MANAGEMENT_DOMAIN: &str = "cluster.local";
/// etcd's client and peer ports.
pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;
/// etcd's plain-HTTP metrics and health listener, on every interface for the kubelet's probes.
pub const METRICS_PORT: u16 = 2381;

/// The StatefulSet, Service and certificates of a tenant's dedicated etcd.
#[derive(Debug, Clone, Serialize)]
pub struct DedicatedEtcdPlan {
    /// `<tcp>-etcd`: the StatefulSet and its headless Service.
    pub name: String,
    /// `<tcp>-etcd-certs`: CA certificate, server and peer pairs.
    pub secret: String,
    pub image: String,
    pub replicas: u8,
    pub storage: String,
    pub storage_class_name: Option<String>,
    /// etcd's command line: members advertise `$(POD_NAME).<tcp>-etcd.<ns>.svc.<domain>`, the
    /// initial cluster lists every member, the cluster token is `<ns>/<tcp>` (two tenants'
    /// members never join each other).
    pub command: Vec<String>,
    /// Names in the server and peer certificates (the Service's, and a wildcard for members).
    pub dns_names: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub pod_security_context: Value,
    pub security_context: Value,
    pub resources: Value,
}

/// Whether the TenantControlPlane asks for a dedicated etcd.
pub fn requested(annotations: Option<&BTreeMap<String, String>>) -> Option<&str> {
    annotations.and_then(|a| a.get(d::DEDICATED_ETCD_ANNOTATION)).map(String::as_str)
}

impl Resolver<'_> {
    /// The DataStore of a tenant with `tcpc.dev/dedicated-etcd`: errors when the spec also
    /// names a shared one, or the annotation is not `"true"`.
    pub(super) fn dedicated_etcd(&mut self, value: &str, tcp: &str, ns: &str, schema: String, user: String) -> Option<DataStorePlan> {
        let pointer = format!("/metadata/annotations/{}", d::DEDICATED_ETCD_ANNOTATION.replace('/', "~1"));
        if value != "true" {
            let d = self
                .error(&pointer, format!("invalid `{}` value `{value}`", d::DEDICATED_ETCD_ANNOTATION), "expected \"true\"")
                .help("remove the annotation to use the spec's DataStore");
            self.push(d);
            return None;
        }
        let spec = &self.doc.value.spec;
        for (field, set) in [("dataStore", spec.data_store.is_some()), ("dataStoreOverrides", spec.data_store_overrides.is_some())] {
            if set {
                let d = self
                    .error(
                        &format!("/spec/{field}"),
                        format!("`{field}` names a shared DataStore, and the tenant has a dedicated etcd"),
                        "shared DataStore",
                    )
                    .also(self.doc.file, self.doc.key_span(&pointer), "dedicated etcd requested here")
                    .help(format!("remove `spec.{field}`, or the `{}` annotation", d::DEDICATED_ETCD_ANNOTATION));
                self.push(d);
                return None;
            }
        }
        let cfg = self.inputs.config.dedicated_etcd.clone().unwrap_or_default();
        let name = format!("{tcp}-etcd");
        let domain = format!("{name}.{ns}.svc.{MANAGEMENT_DOMAIN}");
        let replicas = cfg.replicas.unwrap_or(1);
        let members: Vec<String> = (0..replicas).map(|i| format!("{name}-{i}")).collect();
        let initial_cluster = members.iter().map(|m| format!("{m}=https://{m}.{domain}:{PEER_PORT}")).collect::<Vec<_>>().join(",");
        let servers = members.iter().map(|m| format!("https://{m}.{domain}:{CLIENT_PORT}")).collect();
        let dns_names = vec![
            name.clone(),
            format!("{name}.{ns}"),
            format!("{name}.{ns}.svc"),
            domain.clone(),
            format!("*.{name}.{ns}.svc"),
            format!("*.{domain}"),
        ];
        let labels = BTreeMap::from([
            ("app.kubernetes.io/component".to_string(), "etcd".to_string()),
            ("app.kubernetes.io/instance".to_string(), name.clone()),
            ("app.kubernetes.io/managed-by".to_string(), "tcpc".to_string()),
            ("app.kubernetes.io/part-of".to_string(), tcp.to_string()),
        ]);
        let pki = "/etc/etcd/pki";
        let command = [
            "etcd".to_string(),
            "--name=$(POD_NAME)".into(),
            "--data-dir=/var/lib/etcd/data".into(),
            format!("--listen-client-urls=https://0.0.0.0:{CLIENT_PORT}"),
            format!("--advertise-client-urls=https://$(POD_NAME).{domain}:{CLIENT_PORT}"),
            format!("--listen-peer-urls=https://0.0.0.0:{PEER_PORT}"),
            format!("--initial-advertise-peer-urls=https://$(POD_NAME).{domain}:{PEER_PORT}"),
            format!("--initial-cluster={initial_cluster}"),
            "--initial-cluster-state=new".into(),
            format!("--initial-cluster-token={ns}/{tcp}"),
            format!("--listen-metrics-urls=http://0.0.0.0:{METRICS_PORT}"),
            "--auto-compaction-mode=periodic".into(),
            "--auto-compaction-retention=5m".into(),
            "--client-cert-auth=true".into(),
            format!("--trusted-ca-file={pki}/ca.crt"),
            format!("--cert-file={pki}/server.crt"),
            format!("--key-file={pki}/server.key"),
            "--peer-client-cert-auth=true".into(),
            format!("--peer-trusted-ca-file={pki}/ca.crt"),
            format!("--peer-cert-file={pki}/peer.crt"),
            format!("--peer-key-file={pki}/peer.key"),
        ]
        .to_vec();
        let plan = DedicatedEtcdPlan {
            secret: format!("{name}-certs"),
            image: self.inputs.config.etcd_image().to_string(),
            replicas,
            storage: cfg.storage.unwrap_or_else(|| d::DEFAULT_DEDICATED_ETCD_STORAGE.to_string()),
            storage_class_name: cfg.storage_class_name,
            command,
            dns_names,
            labels,
            pod_security_context: hardening::default_pod_security_context(),
            security_context: hardening::default_container_security_context(),
            resources: hardening::default_resources(hardening::Container::Etcd),
            name: name.clone(),
        };
        Some(DataStorePlan {
            name,
            driver: "etcd".to_string(),
            servers,
            schema,
            user,
            overrides: Vec::new(),
            kine: None,
            etcd_setup: None,
            dedicated: Some(plan),
        })
    }
}
