//! Resolve: typed inputs → one fully-decided [`Tenant`] per TenantControlPlane.
//!
//! Applies Kamaji's defaults, derives values (service IPs, endpoint, SANs, flags for the tenant's
//! minor), validates everything a compiler can check offline, and refuses — with a diagnostic
//! naming the field — anything tcpc does not implement yet. Templates then only fill values in.
//!
//! Invariants: pure; every decision is visible in [`Tenant`] (templates contain no defaults);
//! maps are ordered.

pub mod args;
pub mod dedicated;
pub mod delivery;
pub mod guardrails;
pub mod hardening;
mod kine;
pub mod konnectivity;
pub mod net;
pub mod network_policy;
pub mod sanity;
mod setup;
pub mod teardown;
pub mod version;

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Value, json};
use tcpc_spec::defaults as d;
use tcpc_spec::{DataStore, TenantControlPlane};

use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::{ConfigMapDoc, Doc, Inputs};
use args::ArgSet;
use net::Cidr;
use version::{Component, KubeVersion};

/// Everything the templates and the PKI stage need for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// The file the TenantControlPlane was read from (for `tcpc.dev/source`).
    #[serde(skip)]
    pub file: crate::source::SourceId,
    pub name: String,
    pub namespace: String,
    pub version: String,
    pub minor: u32,
    pub cluster_domain: String,
    pub service_cidrs: Vec<String>,
    pub pod_cidrs: Vec<String>,
    pub dns_service_ips: Vec<String>,
    /// The first address of each service range (the tenant `kubernetes` Service).
    pub kubernetes_service_ips: Vec<String>,
    pub port: i32,
    pub advertise_address: Option<String>,
    /// How clients reach the API server: `https://host:port`.
    pub server_url: String,
    /// kubeadm's `controlPlaneEndpoint` (`host:port`).
    pub control_plane_endpoint: String,
    /// Extra SANs for the API server certificate, beyond the standard ones.
    pub cert_sans: Vec<String>,
    /// DNS names of the management-cluster Service.
    pub service_dns_names: Vec<String>,
    pub labels: Labels,
    pub secrets: SecretNames,
    pub deployment: DeploymentPlan,
    pub service: ServicePlan,
    pub ingress: Option<IngressPlan>,
    pub gateway: Option<GatewayPlan>,
    pub datastore: DataStorePlan,
    pub internal_ca: Option<InternalCa>,
    pub kubelet: KubeletPlan,
    pub addons: AddonsPlan,
    pub pki: PkiPlan,
    /// The admin Secret also carries `super-admin.conf` ([`hardening::SUPER_ADMIN_ANNOTATION`]).
    pub super_admin_in_cluster: bool,
    /// `spec.writePermissions` with at least one verb blocked (Kamaji's `WriteLimited`).
    pub write_limits: Option<WriteLimits>,
    /// `delivery.flux` of `tcpc.yaml`: the Flux Kustomization applying the tenant bundle.
    pub flux_delivery: Option<delivery::FluxPlan>,
    /// `delivery.argocd` of `tcpc.yaml`: the Argo CD cluster Secret registering the tenant.
    pub argocd_delivery: Option<delivery::ArgoCdPlan>,
    /// The NetworkPolicy of the control-plane pods (`networkPolicy` of tcpc.yaml).
    pub network_policy: Option<network_policy::NetworkPolicyPlan>,
    /// `spec.addons.konnectivity`: the server sidecar and the tenant's agent.
    pub konnectivity: Option<konnectivity::KonnectivityPlan>,
    /// `companion` of `tcpc.yaml`: the tenant's `RenderedControlPlane` record and the
    /// companion's read access (`crate::record`).
    pub companion: Option<CompanionPlan>,
}

/// What the companion needs rendered beside a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct CompanionPlan {
    /// The companion's namespace (its ServiceAccount is [`COMPANION_SERVICE_ACCOUNT`] there).
    pub namespace: String,
    /// `pki.renewBeforeFraction`: from when the companion reports a certificate as expiring.
    pub renew_before_fraction: f64,
}

/// The companion's ServiceAccount (`tcpc install companion`).
pub const COMPANION_SERVICE_ACCOUNT: &str = "tcpc-companion";

/// The write verbs the tenant API server refuses (`spec.writePermissions`), enforced in the
/// tenant by a ValidatingAdmissionPolicy (`templates/tenant/write-permissions.yaml.j2`).
#[derive(Debug, Clone, Serialize)]
pub struct WriteLimits {
    /// Admission operations, in Kamaji's order: CREATE, UPDATE, DELETE.
    pub operations: Vec<&'static str>,
}

impl WriteLimits {
    fn of(wp: Option<&tcpc_spec::WritePermissions>) -> Option<WriteLimits> {
        let wp = wp?;
        let operations: Vec<&'static str> = [(wp.block_creation, "CREATE"), (wp.block_update, "UPDATE"), (wp.block_deletion, "DELETE")]
            .into_iter()
            .filter_map(|(on, op)| (on == Some(true)).then_some(op))
            .collect();
        (!operations.is_empty()).then_some(WriteLimits { operations })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Labels {
    /// `kamaji.clastix.io/name` selector shared by the Deployment, Service and PDB.
    pub selector: BTreeMap<String, String>,
}

/// Names of the Secrets the control plane mounts (Kamaji's names, so tooling that knows Kamaji
/// finds them).
#[derive(Debug, Clone, Serialize)]
pub struct SecretNames {
    pub ca: String,
    pub apiserver: String,
    pub apiserver_kubelet_client: String,
    pub front_proxy_ca: String,
    pub front_proxy_client: String,
    pub sa: String,
    pub datastore: String,
    pub admin_kubeconfig: String,
    pub controller_manager_kubeconfig: String,
    pub scheduler_kubeconfig: String,
    /// The konnectivity server's kubeconfig (rendered with konnectivity only).
    pub konnectivity_kubeconfig: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeploymentPlan {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub replicas: i32,
    pub strategy: Value,
    pub pod_labels: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    /// Optional pod-spec fields copied from the spec (nodeSelector, tolerations, …), by name.
    pub pod: BTreeMap<String, Value>,
    pub service_account_name: String,
    pub init_containers: Vec<Value>,
    pub extra_containers: Vec<Value>,
    pub extra_volumes: Vec<Value>,
    pub apiserver: ContainerPlan,
    pub controller_manager: ContainerPlan,
    pub scheduler: ContainerPlan,
    /// `maxUnavailable` of the PodDisruptionBudget, rendered only with more than one replica.
    pub pdb: bool,
    /// `defaultMode` of the Secret volumes (see [`hardening::SECRET_FILE_MODE`]).
    pub secret_mode: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerPlan {
    pub image: String,
    pub args: Vec<String>,
    pub resources: Option<Value>,
    pub security_context: Option<Value>,
    pub extra_mounts: Vec<Value>,
    pub liveness: Value,
    pub readiness: Value,
    pub startup: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServicePlan {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "type")]
    pub type_: String,
    pub ports: Vec<Value>,
    pub external_ips: Vec<String>,
    pub load_balancer_class: Option<String>,
    pub load_balancer_source_ranges: Vec<String>,
    pub allocate_load_balancer_node_ports: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngressPlan {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub class_name: Option<String>,
    pub host: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GatewayPlan {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub parent_refs: Vec<Value>,
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataStorePlan {
    pub name: String,
    pub driver: String,
    pub servers: Vec<String>,
    pub schema: String,
    pub user: String,
    /// `spec.dataStoreOverrides` as kube-apiserver's `--etcd-servers-overrides` items:
    /// `group/resource#https://a:2379;https://b:2379`, in spec order.
    pub overrides: Vec<String>,
    /// MySQL, PostgreSQL and NATS: the kine sidecar kube-apiserver talks to over a socket.
    pub kine: Option<KinePlan>,
    /// etcd with `tlsConfig.clientCertificate`: the Job creating the tenant's etcd role and user.
    pub etcd_setup: Option<SetupPlan>,
    /// `tcpc.dev/dedicated-etcd`: the tenant's own etcd (`resolve/dedicated.rs`).
    pub dedicated: Option<dedicated::DedicatedEtcdPlan>,
}

impl DataStorePlan {
    /// The setup Job of this tenant, if its DataStore has one.
    pub fn setup(&self) -> Option<&SetupPlan> {
        self.kine.as_ref().and_then(|k| k.setup.as_ref()).or(self.etcd_setup.as_ref())
    }
}

/// The kine sidecar of a MySQL, PostgreSQL or NATS DataStore (`resolve/kine.rs`).
#[derive(Debug, Clone, Serialize)]
pub struct KinePlan {
    pub image: String,
    /// Every flag, `--endpoint` last (its `$(DB_…)` references expand from the
    /// `<tcp>-datastore-config` Secret, which the container reads through `envFrom`).
    pub args: Vec<String>,
    pub resources: Value,
    pub security_context: Value,
    /// The first endpoint, `host:port` (kine uses only the first).
    pub connection_string: String,
    /// The DataStore's CA certificate (PEM) when it is given inline; `None` with `tls` means it
    /// comes from the imported DataStore state.
    pub ca_pem: Option<String>,
    /// `tlsConfig` is set: `ca.crt` is mounted and kine verifies the server with it.
    pub tls: bool,
    /// `tlsConfig.clientCertificate` is set: kine presents `server.crt`/`server.key` (imported
    /// with `tcpc import datastore-client-certificate`, sealed into the datastore-certificate
    /// Secret), and the setup Job presents the DataStore's own Secrets. Serialised only when
    /// set: the plan's JSON is part of the DataStore fingerprint, which must not move for
    /// DataStores without one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_certificate: bool,
    /// SQL drivers: the Job that creates the tenant's database and user.
    pub setup: Option<SetupPlan>,
    /// The `<tcp>-datastore-config` Secret (`DB_CONNECTION_STRING`, `DB_SCHEMA`, `DB_USER`, `DB_PASSWORD`).
    pub config_secret: String,
    /// NATS: the tenant connects with the DataStore's own credentials (a bucket per tenant, no
    /// per-tenant user); SQL: with its own user, created by the setup Job.
    pub shared_credentials: bool,
}

/// An environment variable of the setup Job: inline, or a key of a Secret in its namespace.
#[derive(Debug, Clone, Serialize)]
pub struct EnvSource {
    pub name: &'static str,
    pub value: Option<String>,
    pub secret: Option<String>,
    pub key: Option<String>,
}

/// A file of the setup Job under `/tls`: a key of a Secret in its namespace.
#[derive(Debug, Clone, Serialize)]
pub struct FileRef {
    pub secret: String,
    pub key: String,
    pub path: &'static str,
}

/// The per-tenant setup Job of a DataStore (Kamaji does this at runtime, in the operator): the
/// SQL database and user, or the etcd role and user. It runs in the namespace of the DataStore's
/// admin Secret (`basicAuth`, or etcd's `tlsConfig.clientCertificate`) and reads the admin
/// credentials from it as they are: they are never copied, not even sealed.
#[derive(Debug, Clone, Serialize)]
pub struct SetupPlan {
    /// `<tcp>-datastore-setup-<hash>`: a new name whenever what it sets up changes, so the
    /// (immutable) Job runs again and the previous one is pruned.
    pub job_name: String,
    /// The namespace of the DataStore's admin Secret, where the Job (and its Secret) live.
    pub namespace: String,
    /// SQL: the tenant's database, user and password (sealed), mounted only into the Job.
    pub secret: Option<String>,
    /// Admin credentials from their Secret; for etcd also the public values the script needs.
    pub env: Vec<EnvSource>,
    /// CA certificate and (etcd) the admin client certificate and key, under `/tls`.
    pub files: Vec<FileRef>,
    pub image: String,
    /// `postgresql`, `mysql` or `etcd`.
    pub dialect: &'static str,
    /// SQL: the server (kine's first endpoint).
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct InternalCa {
    /// The ConfigMap the pods mount: the tenant's own copy `<tcp>-<name>` when the ConfigMap is
    /// in the repository (so tenants sharing it never collide in a kustomization, and deleting
    /// one tenant removes only its copy), else the named ConfigMap as it is in the cluster.
    pub config_map: String,
    /// SHA-256 of the ConfigMap's data when the ConfigMap is in the repository.
    pub checksum: Option<String>,
    /// The data to emit for the tenant's copy.
    pub data: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KubeletPlan {
    pub cgroup_driver: Option<String>,
    pub preferred_address_types: Vec<String>,
    /// RFC 6902 patches applied to the KubeletConfiguration (checked while resolving).
    pub configuration_json_patches: Vec<tcpc_spec::tcp::JsonPatch>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddonsPlan {
    pub core_dns: Option<AddonImage>,
    pub kube_proxy: Option<AddonImage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddonImage {
    pub image: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PkiPlan {
    pub key_algorithm: String,
    pub leaf_validity_days: u32,
    pub ca_validity_days: u32,
}

/// Trust directories every control-plane container reads, in order: the image's own, then
/// the three internal-CA mounts. Go reads every file of every `SSL_CERT_DIR` entry and still
/// loads its default bundle file, so the public roots stay trusted.
pub const SSL_CERT_DIR: &str =
    "/etc/ssl/certs:/etc/pki/tls/certs:/etc/ca-certificates:/usr/share/ca-certificates:/usr/local/share/ca-certificates";

/// `companion.namespace` must be a namespace name.
fn check_companion(inputs: &Inputs, diags: &mut Diagnostics) {
    let (Some(ns), Some(doc)) = (inputs.config.companion.as_ref().and_then(|c| c.namespace.as_deref()), &inputs.config_doc) else {
        return;
    };
    if !is_dns1123_label(ns) {
        diags.push(
            Diagnostic::error(format!("`{ns}` is not a namespace name"))
                .at(doc.file, doc.span("/companion/namespace"), "expected a DNS-1123 label")
                .help("lower-case letters, digits and `-`, at most 63 characters, e.g. `tcpc-system`"),
        );
    }
}

/// Resolves every TCP. Errors are pushed to `diags`; a TCP with errors yields no [`Tenant`].
pub fn resolve(inputs: &Inputs, diags: &mut Diagnostics) -> Vec<Tenant> {
    check_duplicates(inputs, diags);
    sanity::check_config(inputs, diags);
    delivery::check_config(inputs, diags);
    network_policy::check_config(inputs, diags);
    check_companion(inputs, diags);
    let datastores: BTreeMap<&str, &Doc<DataStore>> = inputs.datastores.iter().map(|d| (d.value.metadata.name.as_str(), d)).collect();
    // Every DataStore is checked, used or not: one committed ahead of its first tenant is
    // refused when it is written, not when a tenant first needs it.
    for ds in &inputs.datastores {
        check_datastore(ds, diags);
    }
    let mut out = Vec::new();
    for doc in &inputs.tcps {
        let mut r = Resolver { doc, inputs, diags: Diagnostics::default() };
        let tenant = r.tenant(&datastores);
        if let Some(t) = tenant.as_ref().filter(|_| !r.diags.has_errors()) {
            sanity::check(doc, t, &mut r.diags);
            sanity::check_tenant_pki(doc, &inputs.config, &mut r.diags);
        }
        let failed = r.diags.has_errors();
        diags.extend(r.diags);
        if let (Some(t), false) = (tenant, failed) {
            out.push(t);
        }
    }
    warn_unused_configmaps(inputs, diags);
    out
}

/// A ConfigMap in the repository is compiled only as a tenant's internal CA bundle; any other is
/// left out of the output, which is said rather than done in silence (a ConfigMap that
/// `additionalVolumes` mounts must reach the cluster some other way).
fn warn_unused_configmaps(inputs: &Inputs, diags: &mut Diagnostics) {
    let default_ns = inputs.config.default_namespace();
    for cm in &inputs.configmaps {
        let used = inputs.tcps.iter().any(|t| {
            t.value.spec.internal_ca_certificates_config_map.as_deref() == Some(cm.name.as_str())
                && t.value.metadata.namespace.as_deref().unwrap_or(default_ns) == cm.namespace
        });
        if !used {
            diags.push(
                Diagnostic::warning(format!("skipping ConfigMap {}/{}: no TenantControlPlane uses it as `internalCACertificatesConfigMap`", cm.namespace, cm.name))
                    .at(cm.file, cm.span, "not in the output")
                    .note("tcpc copies a ConfigMap of the repository only as a tenant's internal CA bundle; one that `additionalVolumes` mount must be applied to the management cluster with its other objects"),
            );
        }
    }
}

fn check_duplicates(inputs: &Inputs, diags: &mut Diagnostics) {
    let ns = inputs.config.default_namespace();
    let mut seen: BTreeMap<(String, String), &Doc<TenantControlPlane>> = BTreeMap::new();
    for doc in &inputs.tcps {
        let m = &doc.value.metadata;
        let key = (m.namespace.clone().unwrap_or_else(|| ns.to_string()), m.name.clone());
        if let Some(first) = seen.get(&key) {
            diags.push(
                Diagnostic::error(format!("duplicate TenantControlPlane `{}/{}`", key.0, key.1))
                    .at(doc.file, doc.span("/metadata/name"), "defined again here")
                    .also(first.file, first.span("/metadata/name"), "first defined here")
                    .help("names must be unique within a namespace"),
            );
        } else {
            seen.insert(key, doc);
        }
    }
    let mut seen_ds: BTreeMap<&str, &Doc<DataStore>> = BTreeMap::new();
    for doc in &inputs.datastores {
        if let Some(first) = seen_ds.insert(&doc.value.metadata.name, doc) {
            diags.push(
                Diagnostic::error(format!("duplicate DataStore `{}`", doc.value.metadata.name))
                    .at(doc.file, doc.span("/metadata/name"), "defined again here")
                    .also(first.file, first.span("/metadata/name"), "first defined here"),
            );
        }
    }
}

/// The client URLs of an etcd DataStore.
fn etcd_urls(ds: &Doc<DataStore>) -> Vec<String> {
    ds.value.spec.endpoints.iter().map(|e| format!("https://{e}")).collect()
}

fn check_datastore(ds: &Doc<DataStore>, diags: &mut Diagnostics) {
    use tcpc_spec::datastore::Driver;
    let spec = &ds.value.spec;
    if spec.driver.uses_kine() {
        kine::check_datastore(ds, diags);
    }
    if spec.endpoints.is_empty() {
        diags.push(Diagnostic::error("a DataStore needs at least one endpoint").at(ds.file, ds.span("/spec/endpoints"), "empty"));
    }
    for (i, ep) in spec.endpoints.iter().enumerate() {
        // kine drivers: resolve/kine.rs checks their endpoints.
        if !spec.driver.uses_kine() && (ep.contains("://") || !ep.contains(':')) {
            diags.push(
                Diagnostic::error(format!("invalid DataStore endpoint `{ep}`"))
                    .at(ds.file, ds.span(&format!("/spec/endpoints/{i}")), "expected `host:port` without a scheme")
                    .help("write `etcd-0.etcd.kamaji-system.svc:2379`; tcpc adds `https://` for etcd"),
            );
        }
    }
    if spec.driver == Driver::Etcd && spec.tls_config.is_none() {
        diags.push(
            Diagnostic::error("an etcd DataStore needs `tlsConfig`")
                .at(ds.file, ds.key_span("/spec"), "tlsConfig missing")
                .help("set spec.tlsConfig.certificateAuthority.certificate; its key is imported with `tcpc import datastore-ca`"),
        );
    }
    // Private keys never live in specs: they are imported into the encrypted state.
    let tls = spec.tls_config.as_ref();
    let inline_keys = [
        (
            "/spec/tlsConfig/certificateAuthority/privateKey/content",
            tls.and_then(|t| t.certificate_authority.private_key.as_ref()).and_then(|k| k.content.as_ref()),
        ),
        (
            "/spec/tlsConfig/clientCertificate/privateKey/content",
            tls.and_then(|t| t.client_certificate.as_ref()).and_then(|c| c.private_key.content.as_ref()),
        ),
        ("/spec/basicAuth/password/content", spec.basic_auth.as_ref().and_then(|b| b.password.content.as_ref())),
    ];
    for (pointer, content) in inline_keys {
        if content.is_some() && pointer.starts_with("/spec/basicAuth") {
            diags.push(
                Diagnostic::error("a DataStore in Git must not carry a password in plaintext")
                    .at(ds.file, ds.span(pointer), "password inline")
                    .help(format!("use `secretReference`, and run `tcpc import datastore-credentials {} --username USER --password-file FILE`; the password is stored age-encrypted", ds.value.metadata.name)),
            );
        } else if content.is_some() {
            diags.push(
                Diagnostic::error("a DataStore in Git must not carry a private key or password in plaintext")
                    .at(ds.file, ds.span(pointer), "secret material inline")
                    .help(format!("remove `content` and run `tcpc import datastore-ca {} --cert CA.crt --key CA.key`; the key is stored age-encrypted", ds.value.metadata.name)),
            );
        }
    }
    if spec.driver == Driver::Etcd && spec.basic_auth.is_some() {
        diags.push(Diagnostic::error("`basicAuth` cannot be used with etcd").at(ds.file, ds.key_span("/spec/basicAuth"), "not for etcd"));
    }
}

struct Resolver<'a> {
    doc: &'a Doc<TenantControlPlane>,
    inputs: &'a Inputs,
    diags: Diagnostics,
}

impl Resolver<'_> {
    fn error(&mut self, pointer: &str, message: impl Into<String>, label: impl Into<String>) -> Diagnostic {
        Diagnostic::error(message).at(self.doc.file, self.doc.span(pointer), label)
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn tenant(&mut self, datastores: &BTreeMap<&str, &Doc<DataStore>>) -> Option<Tenant> {
        let tcp = &self.doc.value;
        let spec = &tcp.spec;
        let name = tcp.metadata.name.clone();
        let namespace = tcp.metadata.namespace.clone().unwrap_or_else(|| self.inputs.config.default_namespace().to_string());

        if !is_dns1035_label(&name) {
            let d = self
                .error("/metadata/name", format!("invalid TenantControlPlane name `{name}`"), "not a DNS-1035 label")
                .help("use at most 63 lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit");
            self.push(d);
        }
        if !is_dns1123_label(&namespace) {
            let d = self.error("/metadata/namespace", format!("invalid namespace `{namespace}`"), "not a DNS-1123 label");
            self.push(d);
        }
        if tcp.status.is_some() {
            self.push(Diagnostic::warning("`status` is ignored: tcpc compiles desired state only").at(
                self.doc.file,
                self.doc.key_span("/status"),
                "ignored",
            ));
        }
        let version = match KubeVersion::parse_supported(&spec.kubernetes.version) {
            Ok(v) => Some(v),
            Err(e) => {
                let title = match e {
                    version::VersionError::Unsupported { .. } => "unsupported",
                    _ => "invalid",
                };
                let d = self.error(
                    "/spec/kubernetes/version",
                    format!("{title} Kubernetes version `{}`", spec.kubernetes.version),
                    e.to_string(),
                );
                let d = match (&e, e.hint()) {
                    (version::VersionError::MissingV, _) => d.help(format!("write `v{}`", spec.kubernetes.version)),
                    (_, Some(hint)) => d.help(hint),
                    _ => d,
                };
                self.push(d);
                None
            }
        };

        let np = spec.network_profile.clone().unwrap_or_default();
        let cluster_domain = np.cluster_domain.clone().unwrap_or_else(|| d::DEFAULT_CLUSTER_DOMAIN.to_string());
        if !cluster_domain.contains('.') || !cluster_domain.split('.').all(is_dns1123_label) {
            let d = self.error(
                "/spec/networkProfile/clusterDomain",
                format!("invalid clusterDomain `{cluster_domain}`"),
                "expected a DNS domain such as `cluster.local`",
            );
            self.push(d);
        }
        let port = np.port.unwrap_or(d::DEFAULT_PORT);
        if !(1..=65535).contains(&port) {
            let d = self.error("/spec/networkProfile/port", format!("invalid port {port}"), "expected 1 to 65535");
            self.push(d);
        }

        let service_cidrs =
            self.cidrs("serviceCidrs", "serviceCidr", np.service_cidrs.as_deref(), np.service_cidr.as_deref(), d::DEFAULT_SERVICE_CIDR);
        let pod_cidrs = self.cidrs("podCidrs", "podCidr", np.pod_cidrs.as_deref(), np.pod_cidr.as_deref(), d::DEFAULT_POD_CIDR);
        let dns_service_ips = self.dns_ips(np.dns_service_ips.as_deref(), &service_cidrs);
        let kubernetes_service_ips: Vec<String> =
            sorted_cidrs(&service_cidrs).iter().filter_map(|c| c.nth(1)).map(|ip| ip.to_string()).collect();

        let advertise_address = self.advertise_address(np.advertise_address.as_deref(), np.address.as_deref());
        let service_type = spec.control_plane.service.service_type;
        let service_dns_names = vec![
            name.clone(),
            format!("{name}.{namespace}"),
            format!("{name}.{namespace}.svc"),
            format!("{name}.{namespace}.svc.cluster.local"),
        ];
        let endpoint_host = match (&np.address, &advertise_address) {
            (Some(a), _) if !a.is_empty() => a.clone(),
            (_, Some(a)) => a.clone(),
            _ => {
                use tcpc_spec::tcp::ServiceType;
                match service_type {
                    ServiceType::NodePort => {
                        let d = self
                            .error(
                                "/spec/controlPlane/service/serviceType",
                                "a NodePort control plane needs `networkProfile.address`",
                                "NodePort",
                            )
                            .help("set networkProfile.address to a node address the tenant's workers can reach");
                        self.push(d);
                    }
                    ServiceType::LoadBalancer => self.push(
                        Diagnostic::warning(
                            "the load balancer address is unknown offline: kubeconfigs will use the in-cluster Service name",
                        )
                        .at(
                            self.doc.file,
                            self.doc.span("/spec/controlPlane/service/serviceType"),
                            "LoadBalancer without networkProfile.address",
                        )
                        .help("set networkProfile.address to the load balancer's address so external clients and workers can connect"),
                    ),
                    ServiceType::ClusterIp => {}
                }
                format!("{name}.{namespace}.svc")
            }
        };
        let mut endpoint = format!("{}:{port}", bracket(&endpoint_host));
        let mut control_plane_endpoint = format!("{}:{port}", bracket(advertise_address.as_deref().unwrap_or(&endpoint_host)));
        if let Some(host) = spec.control_plane.gateway.as_ref().and_then(|g| g.hostname.clone()) {
            control_plane_endpoint = with_port(&host, port);
            endpoint = control_plane_endpoint.clone();
        }
        if let Some(host) = spec.control_plane.ingress.as_ref().and_then(|i| i.hostname.clone()) {
            control_plane_endpoint = with_port(&host, port);
            endpoint = control_plane_endpoint.clone();
        }
        let mut cert_sans = self.cert_sans(np.cert_sans.as_deref(), &endpoint_host, np.address.as_deref());
        // Behind an Ingress or a TLSRoute (TLS passthrough) clients dial that hostname.
        let exposed = [
            spec.control_plane.ingress.as_ref().and_then(|i| i.hostname.clone()),
            spec.control_plane.gateway.as_ref().and_then(|g| g.hostname.clone()),
        ];
        for host in exposed.into_iter().flatten() {
            let host = host.split(':').next().unwrap_or_default().to_string();
            if !host.is_empty() && !cert_sans.contains(&host) {
                cert_sans.push(host);
            }
        }
        cert_sans.sort();

        let datastore = self.datastore(datastores, &name, &namespace);
        let internal_ca = spec.internal_ca_certificates_config_map.as_ref().map(|cm| self.internal_ca(cm, &namespace));
        let deployment = self.deployment(
            &name,
            version.as_ref(),
            port,
            &service_cidrs,
            &pod_cidrs,
            advertise_address.as_deref(),
            &datastore,
            &cluster_domain,
            spec.addons.as_ref().is_some_and(|a| a.konnectivity.is_some()),
        );
        let konnectivity = match &version {
            Some(v) => {
                let agent_host = spec
                    .control_plane
                    .gateway
                    .as_ref()
                    .and_then(|g| g.hostname.clone())
                    .map(|h| h.split(':').next().unwrap_or_default().to_string())
                    .or_else(|| advertise_address.clone())
                    .unwrap_or_else(|| endpoint_host.clone());
                let taken = spec
                    .control_plane
                    .service
                    .additional_ports
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, p)| (p.port, format!("/spec/controlPlane/service/additionalPorts/{i}/port")))
                    .collect();
                self.konnectivity(&konnectivity::Context {
                    tcp: &name,
                    version: &v.to_string(),
                    apiserver_port: port,
                    replicas: deployment.as_ref().map_or(1, |d| d.replicas),
                    agent_host: &agent_host,
                    taken,
                })
            }
            None => None,
        };
        let service = self.service(
            &name,
            port,
            konnectivity.as_ref().map(|k| k.port),
            np.address.as_deref(),
            np.allow_address_as_external_ip.unwrap_or(false),
            np.load_balancer_class.clone(),
            np.load_balancer_source_ranges.clone(),
        );
        let ingress = self.ingress(&name);
        let gateway = self.gateway(&name);
        let mut konnectivity = konnectivity;
        if let (Some(k), Some(g)) = (konnectivity.as_mut(), gateway.as_ref()) {
            k.route_through(g);
        }
        let network_policy = match (&datastore, &deployment) {
            (Some(ds), Some(dep)) => {
                let mut endpoints = ds.kine.as_ref().map_or_else(|| ds.servers.clone(), |k| vec![k.connection_string.clone()]);
                endpoints.extend(ds.overrides.iter().filter_map(|o| o.split_once('#')).flat_map(|(_, s)| s.split(';').map(str::to_string)));
                let selector = BTreeMap::from([
                    ("kamaji.clastix.io/component".to_string(), "deployment".to_string()),
                    ("kamaji.clastix.io/name".to_string(), name.clone()),
                ]);
                self.network_policy(&name, &service.ports, selector, &endpoints, &dep.apiserver.args)
            }
            _ => None,
        };
        let kubelet = KubeletPlan {
            cgroup_driver: spec.kubernetes.kubelet.cgroupfs.map(|c| c.as_str().to_string()),
            preferred_address_types: spec
                .kubernetes
                .kubelet
                .preferred_address_types
                .clone()
                .map(|v| v.iter().map(|t| t.as_str().to_string()).collect())
                .unwrap_or_else(|| d::DEFAULT_PREFERRED_ADDRESS_TYPES.iter().map(|t| t.as_str().to_string()).collect()),
            configuration_json_patches: spec.kubernetes.kubelet.configuration_json_patches.clone().unwrap_or_default(),
        };
        let addons = self.addons(version.as_ref());
        let pki = self.pki();
        let flux_delivery = delivery::flux_plan(self.inputs, &namespace, &name);
        let super_admin_in_cluster = self.super_admin_in_cluster(flux_delivery.is_some());

        let version = version?;
        let argocd_delivery = delivery::argocd_plan(
            self.inputs,
            &namespace,
            &name,
            &format!("https://{name}.{namespace}.svc:{port}"),
            &format!("https://{endpoint}"),
        );
        let tenant = Tenant {
            file: self.doc.file,
            secrets: secret_names(&name),
            labels: Labels { selector: BTreeMap::from([("kamaji.clastix.io/name".to_string(), name.clone())]) },
            name,
            namespace,
            version: version.to_string(),
            minor: version.minor,
            cluster_domain,
            service_cidrs: sorted_cidrs(&service_cidrs).iter().map(ToString::to_string).collect(),
            pod_cidrs: sorted_cidrs(&pod_cidrs).iter().map(ToString::to_string).collect(),
            dns_service_ips,
            kubernetes_service_ips,
            port,
            advertise_address,
            server_url: format!("https://{endpoint}"),
            control_plane_endpoint,
            cert_sans,
            service_dns_names,
            deployment: deployment?,
            service,
            ingress,
            gateway,
            datastore: datastore?,
            internal_ca,
            kubelet,
            addons,
            pki,
            super_admin_in_cluster,
            write_limits: WriteLimits::of(spec.write_permissions.as_ref()),
            flux_delivery,
            argocd_delivery,
            network_policy,
            konnectivity,
            companion: self.inputs.config.companion_namespace().map(|namespace| CompanionPlan {
                namespace: namespace.to_string(),
                renew_before_fraction: self.inputs.config.renew_before_fraction(),
            }),
        };
        if let Err(e) = crate::render::tenant::kubelet_configuration(&tenant, &tenant.kubelet.configuration_json_patches) {
            let d = self
                .error("/spec/kubernetes/kubelet/configurationJSONPatches", "a kubelet configuration patch does not apply", e.to_string())
                .help("patches apply to the KubeletConfiguration tcpc generates (kubelet.config.k8s.io/v1beta1)");
            self.push(d);
            return None;
        }
        Some(tenant)
    }

    fn cidrs(&mut self, list_key: &str, legacy_key: &str, list: Option<&[String]>, legacy: Option<&str>, default: &str) -> Vec<Cidr> {
        let (values, pointer_of): (Vec<String>, Box<dyn Fn(usize) -> String>) = match (list, legacy) {
            (Some(l), _) if !l.is_empty() => (l.to_vec(), Box::new(move |i| format!("/spec/networkProfile/{list_key}/{i}"))),
            (_, Some(s)) if !s.is_empty() => (vec![s.to_string()], Box::new(move |_| format!("/spec/networkProfile/{legacy_key}"))),
            _ => (vec![default.to_string()], Box::new(|_| "/spec/networkProfile".to_string())),
        };
        let mut out: Vec<Cidr> = Vec::new();
        for (i, v) in values.iter().enumerate() {
            match Cidr::parse(v) {
                Ok(c) if !out.contains(&c) => out.push(c),
                Ok(_) => {}
                Err(e) => {
                    let d = self.error(&pointer_of(i), format!("invalid CIDR `{v}` in {list_key}"), e.to_string());
                    self.push(d);
                }
            }
        }
        if out.len() > 2 || (out.len() == 2 && out[0].network.is_ipv4() == out[1].network.is_ipv4()) {
            let d = self.error(
                &format!("/spec/networkProfile/{list_key}"),
                format!("`{list_key}` must hold one range, or one IPv4 and one IPv6 range"),
                "not a valid dual-stack pair",
            );
            self.push(d);
        }
        out
    }

    fn dns_ips(&mut self, given: Option<&[String]>, service: &[Cidr]) -> Vec<String> {
        match given {
            Some(ips) if !ips.is_empty() => {
                if ips.len() > 8 {
                    let d = self.error("/spec/networkProfile/dnsServiceIPs", "at most 8 dnsServiceIPs are allowed", "too many");
                    self.push(d);
                }
                for (i, ip) in ips.iter().enumerate() {
                    let pointer = format!("/spec/networkProfile/dnsServiceIPs/{i}");
                    match ip.parse::<IpAddr>() {
                        Ok(addr) if service.iter().any(|c| c.contains(addr)) => {}
                        Ok(_) => {
                            let ranges = service.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                            let d = self
                                .error(&pointer, format!("DNS service IP {ip} is outside the service CIDR"), format!("not in {ranges}"))
                                .help(
                                    service
                                        .first()
                                        .and_then(|c| c.nth(10))
                                        .map(|ip| format!("the conventional choice is {ip}"))
                                        .unwrap_or_default(),
                                );
                            self.push(d);
                        }
                        Err(_) => {
                            let d = self.error(&pointer, format!("invalid IP `{ip}` in dnsServiceIPs"), "expected an IP address");
                            self.push(d);
                        }
                    }
                }
                ips.to_vec()
            }
            // Kamaji's webhook default: one per service range, in the user's order.
            _ => service
                .iter()
                .filter_map(|c| {
                    c.nth(if c.network.is_ipv4() {
                        u128::from(d::DNS_SERVICE_IP_OFFSET_V4)
                    } else {
                        u128::from(d::DNS_SERVICE_IP_OFFSET_V6)
                    })
                })
                .map(|ip| ip.to_string())
                .collect(),
        }
    }

    fn advertise_address(&mut self, advertise: Option<&str>, address: Option<&str>) -> Option<String> {
        match advertise.filter(|a| !a.is_empty()) {
            Some(a) => match a.parse::<IpAddr>() {
                Ok(ip) => Some(ip.to_string()),
                Err(_) => {
                    let d = self.error(
                        "/spec/networkProfile/advertiseAddress",
                        format!("invalid advertiseAddress `{a}`"),
                        "expected an IP address",
                    );
                    self.push(d);
                    None
                }
            },
            None => address.and_then(|a| a.parse::<IpAddr>().ok()).map(|ip| ip.to_string()),
        }
    }

    fn cert_sans(&mut self, given: Option<&[String]>, endpoint_host: &str, address: Option<&str>) -> Vec<String> {
        let mut sans: Vec<String> = Vec::new();
        for (i, san) in given.unwrap_or_default().iter().enumerate() {
            let ok = san.parse::<IpAddr>().is_ok() || is_dns1123_subdomain(san.strip_prefix("*.").unwrap_or(san));
            if ok {
                sans.push(san.clone());
            } else {
                let d = self.error(
                    &format!("/spec/networkProfile/certSANs/{i}"),
                    format!("invalid certificate SAN `{san}`"),
                    "expected an IP address or a DNS name (a leading `*.` is allowed)",
                );
                self.push(d);
            }
        }
        sans.push(endpoint_host.to_string());
        if let Some(a) = address.filter(|a| !a.is_empty()) {
            if a.parse::<IpAddr>().is_ok() || is_dns1123_subdomain(a) {
                sans.push(a.to_string());
            } else {
                let d =
                    self.error("/spec/networkProfile/address", format!("invalid address `{a}`"), "expected an IP address or a DNS name");
                self.push(d);
            }
        }
        sans.sort();
        sans.dedup();
        sans
    }

    fn datastore(&mut self, datastores: &BTreeMap<&str, &Doc<DataStore>>, name: &str, namespace: &str) -> Option<DataStorePlan> {
        let spec = &self.doc.value.spec;
        if let Some(value) = dedicated::requested(self.doc.value.metadata.annotations.as_ref()) {
            let default_id = format!("{namespace}_{name}");
            let schema = spec.data_store_schema.clone().unwrap_or_else(|| default_id.clone());
            let user = spec.data_store_username.clone().unwrap_or(default_id);
            let value = value.to_string();
            return self.dedicated_etcd(&value, name, namespace, schema, user);
        }
        let ds_name = spec.data_store.clone().unwrap_or_else(|| d::DEFAULT_DATASTORE.to_string());
        let Some(ds) = datastores.get(ds_name.as_str()) else {
            if self.inputs.invalid_datastores.contains(&ds_name) {
                // Its own errors were reported; one more per tenant would only add noise.
                return None;
            }
            let pointer = if spec.data_store.is_some() { "/spec/dataStore" } else { "/spec" };
            let known = datastores.keys().copied().collect::<Vec<_>>().join(", ");
            let d = self.error(pointer, format!("DataStore `{ds_name}` is not defined in this repository"), "unknown DataStore").help(
                if known.is_empty() {
                    "add a kamaji.clastix.io/v1alpha1 DataStore document".to_string()
                } else {
                    format!("defined DataStores: {known}")
                },
            );
            self.push(d);
            return None;
        };
        let default_id = format!("{namespace}_{name}");
        let schema = spec.data_store_schema.clone().unwrap_or_else(|| default_id.clone());
        let user = spec.data_store_username.clone().unwrap_or(default_id);
        if schema.is_empty() || schema.contains(['/', ' ']) {
            let d = self.error(
                "/spec/dataStoreSchema",
                format!("invalid dataStoreSchema `{schema}`"),
                "must be non-empty, without `/` or spaces",
            );
            self.push(d);
        }
        let overrides = if ds.value.spec.driver.uses_kine() { Vec::new() } else { self.datastore_overrides(datastores, ds) };
        let kine = if ds.value.spec.driver.uses_kine() { self.kine(ds, name, &schema, &user) } else { None };
        let etcd_setup = if ds.value.spec.driver.uses_kine() { None } else { self.etcd_setup(ds, name, namespace, &schema, &user) };
        Some(DataStorePlan {
            name: ds_name,
            driver: ds.value.spec.driver.as_str().to_string(),
            servers: if kine.is_some() { vec![kine::SOCKET.to_string()] } else { etcd_urls(ds) },
            schema,
            user,
            overrides,
            kine,
            etcd_setup,
            dedicated: None,
        })
    }

    /// `spec.dataStoreOverrides`: per-resource etcd servers. kube-apiserver dials every override
    /// with the one etcd TLS configuration it has (`--etcd-cafile`, `--etcd-certfile`: Kubernetes
    /// `staging/src/k8s.io/apiserver/pkg/server/options/etcd.go` copies the storage config and
    /// replaces only the server list), so an override DataStore must be an etcd that trusts the
    /// tenant DataStore's CA: tcpc requires the same CA certificate and refuses anything else.
    fn datastore_overrides(&mut self, datastores: &BTreeMap<&str, &Doc<DataStore>>, main: &Doc<DataStore>) -> Vec<String> {
        let spec = &self.doc.value.spec;
        let mut out = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, o) in spec.data_store_overrides.iter().flatten().enumerate() {
            let at = format!("/spec/dataStoreOverrides/{i}");
            let resource = o.resource.clone().unwrap_or_default();
            match resource.split_once('/') {
                Some((group, res))
                    if !res.is_empty()
                        && !res.contains('/')
                        && (group.is_empty() || is_dns1123_subdomain(group))
                        && res.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') => {}
                _ => {
                    let pointer = if o.resource.is_some() { format!("{at}/resource") } else { at.clone() };
                    let d = self
                        .error(&pointer, format!("invalid dataStoreOverrides resource `{resource}`"), "expected `group/resource`")
                        .help("kube-apiserver keys overrides by `group/resource`: `/events` for core events, `coordination.k8s.io/leases`");
                    self.push(d);
                    continue;
                }
            }
            if let Some(first) = seen.insert(resource.clone(), i) {
                let d = self
                    .error(&format!("{at}/resource"), format!("`{resource}` is overridden twice"), "again here")
                    .also(self.doc.file, self.doc.span(&format!("/spec/dataStoreOverrides/{first}/resource")), "first here")
                    .help("a resource is stored in one place: keep one override per resource");
                self.push(d);
                continue;
            }
            let Some(ds_name) = o.data_store.as_deref().filter(|n| !n.is_empty()) else {
                let d = self.error(&at, "a dataStoreOverrides entry needs `dataStore`", "dataStore missing");
                self.push(d);
                continue;
            };
            let Some(ds) = datastores.get(ds_name) else {
                if !self.inputs.invalid_datastores.iter().any(|n| n == ds_name) {
                    let known = datastores.keys().copied().collect::<Vec<_>>().join(", ");
                    let d = self
                        .error(
                            &format!("{at}/dataStore"),
                            format!("DataStore `{ds_name}` is not defined in this repository"),
                            "unknown DataStore",
                        )
                        .help(format!("defined DataStores: {known}"));
                    self.push(d);
                }
                continue;
            };
            use tcpc_spec::datastore::Driver;
            if ds.value.spec.driver != Driver::Etcd {
                let d = self
                    .error(&format!("{at}/dataStore"), format!("override DataStore `{ds_name}` is not etcd"), "driver must be etcd")
                    .also(ds.file, ds.span("/spec/driver"), format!("`{}`", ds.value.spec.driver.as_str()))
                    .note("kube-apiserver's --etcd-servers-overrides only speaks etcd (Kamaji refuses other drivers too)");
                self.push(d);
                continue;
            }
            let ca = |d: &Doc<DataStore>| d.value.spec.tls_config.as_ref().map(|t| t.certificate_authority.certificate.clone());
            if ca(ds) != ca(main) {
                let d = self
                    .error(&format!("{at}/dataStore"), format!("override DataStore `{ds_name}` has another CA than `{}`", main.value.metadata.name), "different CA")
                    .also(ds.file, ds.key_span("/spec/tlsConfig"), "this CA")
                    .also(main.file, main.key_span("/spec/tlsConfig"), "the tenant DataStore's CA")
                    .note("kube-apiserver dials every etcd override with the same --etcd-cafile and client certificate as --etcd-servers")
                    .help("serve the override etcd with a certificate of the same CA and point `tlsConfig.certificateAuthority.certificate` at the same certificate");
                self.push(d);
                continue;
            }
            out.push(format!("{resource}#{}", etcd_urls(ds).join(";")));
        }
        out
    }

    fn internal_ca(&mut self, cm: &str, namespace: &str) -> InternalCa {
        if !is_dns1123_subdomain(cm) {
            let d =
                self.error("/spec/internalCACertificatesConfigMap", format!("invalid ConfigMap name `{cm}`"), "not a DNS-1123 subdomain");
            self.push(d);
        }
        let found: Option<&ConfigMapDoc> = self.inputs.configmaps.iter().find(|c| c.name == cm && c.namespace == namespace);
        match found {
            Some(c) => InternalCa {
                config_map: format!("{}-{cm}", self.doc.value.metadata.name),
                checksum: Some(data_checksum(&c.data)),
                data: Some(c.data.clone()),
            },
            None => InternalCa { config_map: cm.to_string(), checksum: None, data: None },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn deployment(
        &mut self,
        name: &str,
        version: Option<&KubeVersion>,
        port: i32,
        service_cidrs: &[Cidr],
        pod_cidrs: &[Cidr],
        advertise: Option<&str>,
        datastore: &Option<DataStorePlan>,
        cluster_domain: &str,
        konnectivity: bool,
    ) -> Option<DeploymentPlan> {
        let spec = &self.doc.value.spec;
        let dep = spec.control_plane.deployment.clone().unwrap_or_default();
        let minor = version.map_or(version::MAX_MINOR, |v| v.minor);
        let tag = version.map(|v| format!("{v}{}", dep.registry_settings.as_ref().and_then(|r| r.tag_suffix.clone()).unwrap_or_default()));
        let reg = dep.registry_settings.clone().unwrap_or_default();
        let registry = reg
            .registry
            .clone()
            .or_else(|| self.inputs.config.image_registry().map(str::to_string))
            .unwrap_or_else(|| d::DEFAULT_REGISTRY.to_string());
        let image = |img: Option<&String>, default: &str| {
            format!("{registry}/{}:{}", img.map_or(default, String::as_str), tag.clone().unwrap_or_default())
        };

        let replicas = dep.replicas.unwrap_or(d::DEFAULT_REPLICAS);
        if replicas < 0 {
            let d = self.error("/spec/controlPlane/deployment/replicas", format!("invalid replicas {replicas}"), "must be 0 or more");
            self.push(d);
        }
        let strategy = match dep.strategy.clone() {
            None => serde_json::to_value(d::default_deployment_strategy()).expect("strategy serialises"),
            Some(mut s) => {
                if s.type_.as_deref() != Some("Recreate") && s.rolling_update.is_none() {
                    s.rolling_update = Some(d::default_rolling_update());
                }
                serde_json::to_value(s).expect("strategy serialises")
            }
        };

        let selector = BTreeMap::from([("kamaji.clastix.io/name".to_string(), name.to_string())]);
        let mut labels = kamaji_labels(name, "deployment");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &dep.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        let mut pod_labels = selector.clone();
        pod_labels.insert("kamaji.clastix.io/component".into(), "deployment".into());
        let mut pod_annotations = BTreeMap::new();
        if let Some(m) = &dep.pod_additional_metadata {
            pod_labels.extend(m.labels.clone().unwrap_or_default());
            pod_annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        if pod_labels.get("kamaji.clastix.io/name").map(String::as_str) != Some(name) {
            let d = self.error(
                "/spec/controlPlane/deployment/podAdditionalMetadata/labels",
                "`kamaji.clastix.io/name` cannot be overridden",
                "the Deployment and Service select pods by it",
            );
            self.push(d);
        }
        if let Some(ca) = self.doc.value.spec.internal_ca_certificates_config_map.as_ref() {
            let ns = self.doc.value.metadata.namespace.clone().unwrap_or_else(|| self.inputs.config.default_namespace().to_string());
            if let Some(cm) = self.inputs.configmaps.iter().find(|c| &c.name == ca && c.namespace == ns) {
                pod_annotations.insert("tcpc.dev/internal-ca-checksum".into(), data_checksum(&cm.data));
            }
        }

        let mut pod = BTreeMap::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                pod.insert(k.to_string(), v);
            }
        };
        put("nodeSelector", dep.node_selector.as_ref().map(|v| json!(v)));
        put("runtimeClassName", dep.runtime_class_name.as_ref().filter(|s| !s.is_empty()).map(|v| json!(v)));
        put("tolerations", dep.tolerations.as_ref().map(|v| json!(v)));
        put("affinity", dep.affinity.as_ref().map(|v| json!(v)));
        put(
            "securityContext",
            Some(hardening::merge(hardening::default_pod_security_context(), dep.pod_security_context.as_ref().map(|v| json!(v)))),
        );
        put("automountServiceAccountToken", Some(json!(dep.automount_service_account_token.unwrap_or(false))));
        put(
            "topologySpreadConstraints",
            dep.topology_spread_constraints.as_ref().map(|tscs| {
                let filled: Vec<Value> = tscs
                    .iter()
                    .map(|t| {
                        let mut v = json!(t);
                        if t.label_selector.is_none() {
                            v["labelSelector"] = json!({ "matchLabels": selector });
                        }
                        v
                    })
                    .collect();
                json!(filled)
            }),
        );

        // Flags.
        let extra = dep.extra_args.clone().unwrap_or_default();
        let apiserver_args = {
            let mut a = ArgSet::default();
            let (managed, defaults) = args::apiserver(&args::ApiServerInputs {
                port,
                advertise_address: advertise,
                service_cidrs: &join(sorted_cidrs(service_cidrs)),
                admission: &self.admission_plugins(),
                preferred_address_types: &self.preferred_address_types(),
                etcd_servers: datastore.as_ref().map(|d| d.servers.join(",")).unwrap_or_default(),
                etcd_servers_overrides: datastore.as_ref().map(|d| d.overrides.join(",")).unwrap_or_default(),
                etcd_prefix: datastore.as_ref().map(|d| format!("/{}", d.schema)).unwrap_or_default(),
                kine: datastore.as_ref().is_some_and(|d| d.kine.is_some()),
                cluster_domain,
            });
            a.managed = managed;
            a.defaults = defaults;
            if konnectivity {
                let (k, v) = konnectivity::egress_selector_flag();
                a.managed.insert(k, v);
            }
            self.apply_user_args(&mut a, extra.api_server.as_deref(), Component::ApiServer, minor, "apiServer");
            a.render_apiserver()
        };
        let cm_args = {
            let mut a = ArgSet {
                defaults: args::controller_manager(name, &join(sorted_cidrs(service_cidrs)), &join(sorted_cidrs(pod_cidrs))),
                ..ArgSet::default()
            };
            self.apply_user_args(&mut a, extra.controller_manager.as_deref(), Component::ControllerManager, minor, "controllerManager");
            a.render_sorted()
        };
        let scheduler_args = {
            let mut a = ArgSet { managed: args::scheduler(), defaults: args::scheduler_defaults(), ..ArgSet::default() };
            self.apply_user_args(&mut a, extra.scheduler.as_deref(), Component::Scheduler, minor, "scheduler");
            a.render_sorted()
        };

        self.guard_insecure_flags(&extra);
        let resources = dep.resources.clone().unwrap_or_default();
        let sc = dep.container_security_contexts.clone().unwrap_or_default();
        let mounts = dep.additional_volume_mounts.clone().unwrap_or_default();
        let probes = dep.probes.clone().unwrap_or_default();
        let probe = |kind: ProbeKind, path: &str, port: i32, comp: Option<&tcpc_spec::tcp::ComponentProbes>| {
            build_probe(&probes, kind, comp, path, port)
        };
        let container = |which: hardening::Container,
                         img: String,
                         args: Vec<String>,
                         res: Option<&k8s_openapi::api::core::v1::ResourceRequirements>,
                         sc: Option<&k8s_openapi::api::core::v1::SecurityContext>,
                         mounts: Option<&Vec<k8s_openapi::api::core::v1::VolumeMount>>,
                         live: Value,
                         ready: Value,
                         start: Value| ContainerPlan {
            image: img,
            args,
            resources: Some(res.map_or_else(|| hardening::default_resources(which), |r| json!(r))),
            security_context: Some(hardening::merge(hardening::default_container_security_context(), sc.map(|s| json!(s)))),
            extra_mounts: mounts.map(|m| m.iter().map(|x| json!(x)).collect()).unwrap_or_default(),
            liveness: live,
            readiness: ready,
            startup: start,
        };
        let apiserver = container(
            hardening::Container::ApiServer,
            image(reg.api_server_image.as_ref(), d::DEFAULT_API_SERVER_IMAGE),
            apiserver_args,
            resources.api_server.as_ref(),
            sc.api_server.as_ref(),
            mounts.api_server.as_ref(),
            probe(ProbeKind::Liveness, "/livez", port, probes.api_server.as_ref()),
            probe(ProbeKind::Readiness, "/readyz", port, probes.api_server.as_ref()),
            probe(ProbeKind::Startup, "/livez", port, probes.api_server.as_ref()),
        );
        let controller_manager = container(
            hardening::Container::ControllerManager,
            image(reg.controller_manager_image.as_ref(), d::DEFAULT_CONTROLLER_MANAGER_IMAGE),
            cm_args,
            resources.controller_manager.as_ref(),
            sc.controller_manager.as_ref(),
            mounts.controller_manager.as_ref(),
            probe(ProbeKind::Liveness, "/healthz", d::CONTROLLER_MANAGER_PORT, probes.controller_manager.as_ref()),
            probe(ProbeKind::Readiness, "/healthz", d::CONTROLLER_MANAGER_PORT, probes.controller_manager.as_ref()),
            probe(ProbeKind::Startup, "/healthz", d::CONTROLLER_MANAGER_PORT, probes.controller_manager.as_ref()),
        );
        let scheduler = container(
            hardening::Container::Scheduler,
            image(reg.scheduler_image.as_ref(), d::DEFAULT_SCHEDULER_IMAGE),
            scheduler_args,
            resources.scheduler.as_ref(),
            sc.scheduler.as_ref(),
            mounts.scheduler.as_ref(),
            probe(ProbeKind::Liveness, "/healthz", d::SCHEDULER_PORT, probes.scheduler.as_ref()),
            probe(ProbeKind::Readiness, "/healthz", d::SCHEDULER_PORT, probes.scheduler.as_ref()),
            probe(ProbeKind::Startup, "/healthz", d::SCHEDULER_PORT, probes.scheduler.as_ref()),
        );

        self.check_root_contradiction(pod.get("securityContext"), [&apiserver, &controller_manager, &scheduler]);

        Some(DeploymentPlan {
            labels,
            annotations,
            replicas,
            strategy,
            pod_labels,
            pod_annotations,
            pod,
            service_account_name: dep
                .service_account_name
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| d::DEFAULT_SERVICE_ACCOUNT_NAME.to_string()),
            init_containers: to_values(&dep.additional_init_containers),
            extra_containers: to_values(&dep.additional_containers),
            extra_volumes: to_values(&dep.additional_volumes),
            apiserver,
            controller_manager,
            scheduler,
            pdb: replicas > 1,
            secret_mode: hardening::SECRET_FILE_MODE,
        })
    }

    fn admission_plugins(&self) -> String {
        match &self.doc.value.spec.kubernetes.admission_controllers {
            Some(list) => list.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
            None => d::DEFAULT_ADMISSION_CONTROLLERS.join(","),
        }
    }

    fn preferred_address_types(&self) -> String {
        match &self.doc.value.spec.kubernetes.kubelet.preferred_address_types {
            Some(list) => list.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
            None => d::DEFAULT_PREFERRED_ADDRESS_TYPES.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","),
        }
    }

    fn apply_user_args(&mut self, set: &mut ArgSet, user: Option<&[String]>, component: Component, minor: u32, key: &str) {
        for (i, raw) in user.unwrap_or_default().iter().enumerate() {
            let pointer = format!("/spec/controlPlane/deployment/extraArgs/{key}/{i}");
            match set.add_user(raw) {
                Ok(flag) => {
                    if let Some(removed) = version::removed_in(component, &flag, minor) {
                        let d = self
                            .error(&pointer, format!("`--{flag}` does not exist in v1.{minor}"), format!("removed in v1.{removed}"))
                            .help("remove the flag; check the upstream release notes for its replacement");
                        self.push(d);
                    }
                }
                Err(args::ArgError::Managed { flag, hint }) => {
                    let d = self.error(&pointer, format!("`--{flag}` is managed by tcpc"), "cannot be overridden").help(hint);
                    self.push(d);
                }
                Err(args::ArgError::Syntax) => {
                    let d = self.error(&pointer, format!("invalid extra argument `{raw}`"), "expected `--flag=value` or `--flag`");
                    self.push(d);
                }
            }
        }
    }

    fn service(
        &mut self,
        name: &str,
        port: i32,
        konnectivity_port: Option<i32>,
        address: Option<&str>,
        address_as_external: bool,
        lb_class: Option<String>,
        lb_ranges: Option<Vec<String>>,
    ) -> ServicePlan {
        use tcpc_spec::tcp::ServiceType;
        let svc = &self.doc.value.spec.control_plane.service;
        let is_lb = svc.service_type == ServiceType::LoadBalancer;
        let is_np = svc.service_type == ServiceType::NodePort;
        let mut labels = kamaji_labels(name, "service");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &svc.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        let mut api = json!({"name": "kube-apiserver", "port": port, "protocol": "TCP", "targetPort": port});
        if is_np {
            // The node port range is checked in `sanity`.
            api["nodePort"] = json!(port);
        }
        let mut ports = vec![api];
        let mut names = vec!["kube-apiserver".to_string()];
        if let Some(kp) = konnectivity_port {
            // Kamaji's order: the API server, konnectivity, then additionalPorts.
            let mut k = json!({"name": "konnectivity-server", "port": kp, "protocol": "TCP", "targetPort": kp});
            if is_np {
                k["nodePort"] = json!(kp);
            }
            ports.push(k);
            names.push("konnectivity-server".to_string());
        }
        for (i, p) in svc.additional_ports.clone().unwrap_or_default().iter().enumerate() {
            if names.contains(&p.name) {
                let d = self.error(
                    &format!("/spec/controlPlane/service/additionalPorts/{i}/name"),
                    format!("duplicate Service port name `{}`", p.name),
                    "already used",
                );
                self.push(d);
            }
            names.push(p.name.clone());
            let mut v =
                json!({"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": p.protocol.map_or("TCP", |x| x.as_str())});
            if let Some(ap) = &p.app_protocol {
                v["appProtocol"] = json!(ap);
            }
            ports.push(v);
        }
        let ranges = lb_ranges.unwrap_or_default();
        for (i, r) in ranges.iter().enumerate() {
            if let Err(e) = Cidr::parse(r) {
                let d = self
                    .error(&format!("/spec/networkProfile/loadBalancerSourceRanges/{i}"), format!("invalid CIDR `{r}`"), e.to_string())
                    .help("loadBalancerSourceRanges lists client networks allowed to connect, e.g. `203.0.113.0/24`; a single address is `/32`");
                self.push(d);
            }
        }
        if !is_lb && !ranges.is_empty() {
            let d = self.error(
                "/spec/networkProfile/loadBalancerSourceRanges",
                "loadBalancerSourceRanges requires serviceType LoadBalancer",
                "only for LoadBalancer",
            );
            self.push(d);
        }
        if !is_lb && lb_class.is_some() {
            let d = self.error(
                "/spec/networkProfile/loadBalancerClass",
                "loadBalancerClass requires serviceType LoadBalancer",
                "only for LoadBalancer",
            );
            self.push(d);
        }
        if !is_lb && svc.allocate_load_balancer_node_ports.is_some() {
            let d = self.error(
                "/spec/controlPlane/service/allocateLoadBalancerNodePorts",
                "allocateLoadBalancerNodePorts requires serviceType LoadBalancer",
                "only for LoadBalancer",
            );
            self.push(d);
        }
        let external_ips = match address.filter(|a| !a.is_empty()) {
            Some(a) if address_as_external && !is_lb => {
                if a.parse::<IpAddr>().is_err() {
                    let d = self.error(
                        "/spec/networkProfile/address",
                        format!("`{a}` is not an IP address"),
                        "allowAddressAsExternalIP needs an IP",
                    );
                    self.push(d);
                }
                vec![a.to_string()]
            }
            _ => vec![],
        };
        ServicePlan {
            labels,
            annotations,
            type_: svc.service_type.as_str().to_string(),
            ports,
            external_ips,
            load_balancer_class: lb_class.filter(|_| is_lb),
            load_balancer_source_ranges: if is_lb { ranges } else { vec![] },
            allocate_load_balancer_node_ports: is_lb
                .then(|| svc.allocate_load_balancer_node_ports.unwrap_or(d::DEFAULT_ALLOCATE_LOAD_BALANCER_NODE_PORTS)),
        }
    }

    fn ingress(&mut self, name: &str) -> Option<IngressPlan> {
        let cp = &self.doc.value.spec.control_plane;
        let ing = cp.ingress.as_ref()?;
        if cp.gateway.is_some() {
            let d = self.error("/spec/controlPlane/gateway", "`ingress` and `gateway` cannot both be set", "choose one exposure");
            self.push(d);
        }
        let Some(hostname) = ing.hostname.clone().filter(|h| !h.is_empty()) else {
            let d = self
                .error("/spec/controlPlane/ingress", "an Ingress needs `hostname`", "hostname missing")
                .help("set ingress.hostname, e.g. `tenant-a.k8s.example.com`");
            self.push(d);
            return None;
        };
        let host = hostname.split(':').next().unwrap_or_default().to_string();
        if !is_dns1123_subdomain(&host) {
            let d = self.error(
                "/spec/controlPlane/ingress/hostname",
                format!("invalid hostname `{hostname}`"),
                "expected a DNS name, optionally with `:port`",
            );
            self.push(d);
        }
        let mut labels = kamaji_labels(name, "ingress");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &ing.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        Some(IngressPlan { labels, annotations, class_name: ing.ingress_class_name.clone().filter(|c| !c.is_empty()), host })
    }

    fn gateway(&mut self, name: &str) -> Option<GatewayPlan> {
        let gw = self.doc.value.spec.control_plane.gateway.as_ref()?;
        let Some(hostname) = gw.hostname.clone().filter(|h| !h.is_empty()) else {
            let d = self.error("/spec/controlPlane/gateway", "a gateway exposure needs `hostname`", "hostname missing");
            self.push(d);
            return None;
        };
        let refs = gw.parent_refs.clone().unwrap_or_default();
        if refs.is_empty() {
            let d =
                self.error("/spec/controlPlane/gateway", "a gateway exposure needs at least one `parentRefs` entry", "parentRefs missing");
            self.push(d);
        }
        let mut labels = kamaji_labels(name, "gateway_routes");
        let mut annotations = BTreeMap::new();
        if let Some(m) = &gw.additional_metadata {
            labels.extend(m.labels.clone().unwrap_or_default());
            annotations.extend(m.annotations.clone().unwrap_or_default());
        }
        let parent_refs = refs
            .iter()
            .map(|r| {
                let mut v = json!(r);
                v["group"] = json!(r.group.clone().unwrap_or_else(|| d::DEFAULT_PARENT_REF_GROUP.into()));
                v["kind"] = json!(r.kind.clone().unwrap_or_else(|| d::DEFAULT_PARENT_REF_KIND.into()));
                v
            })
            .collect();
        Some(GatewayPlan { labels, annotations, parent_refs, hostname })
    }

    fn addons(&mut self, version: Option<&KubeVersion>) -> AddonsPlan {
        let Some(addons) = self.doc.value.spec.addons.clone() else {
            return AddonsPlan { core_dns: None, kube_proxy: None };
        };
        let tag = version.map(ToString::to_string).unwrap_or_default();
        let coredns = version::coredns_version(version.map_or(version::MAX_MINOR, |v| v.minor));
        AddonsPlan {
            core_dns: addons.core_dns.map(|c| {
                // Kamaji honours imageTag only together with imageRepository.
                let (repo, tag) = match (&c.image_repository, &c.image_tag) {
                    (Some(r), Some(t)) => (r.clone(), t.clone()),
                    (Some(r), None) => (r.clone(), coredns.to_string()),
                    (None, _) => (d::DEFAULT_COREDNS_IMAGE_REPOSITORY.to_string(), coredns.to_string()),
                };
                AddonImage { image: format!("{repo}/coredns:{tag}") }
            }),
            kube_proxy: addons.kube_proxy.map(|k| AddonImage {
                image: format!(
                    "{}/kube-proxy:{}",
                    k.image_repository.unwrap_or_else(|| d::DEFAULT_KUBE_PROXY_IMAGE_REPOSITORY.to_string()),
                    k.image_tag.unwrap_or(tag)
                ),
            }),
        }
    }

    fn pki(&mut self) -> PkiPlan {
        let cfg = &self.inputs.config;
        let tcp_pki = self.doc.value.spec.pki.clone().unwrap_or_default();
        let leaf = tcp_pki.leaf_validity_days.unwrap_or_else(|| cfg.leaf_validity_days());
        if leaf == 0 {
            let d = self.error("/spec/pki/leafValidityDays", "leafValidityDays must be at least 1", "zero");
            self.push(d);
        }
        PkiPlan {
            key_algorithm: tcp_pki.key_algorithm.unwrap_or_else(|| cfg.key_algorithm()).as_str().to_string(),
            leaf_validity_days: leaf,
            ca_validity_days: cfg.ca_validity_days(),
        }
    }
}

fn to_values<T: Serialize>(v: &Option<Vec<T>>) -> Vec<Value> {
    v.as_ref().map(|x| x.iter().map(|c| json!(c)).collect()).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn build_probe(
    all: &tcpc_spec::tcp::ControlPlaneProbes,
    kind: ProbeKind,
    comp: Option<&tcpc_spec::tcp::ComponentProbes>,
    path: &str,
    port: i32,
) -> Value {
    let pick = |p: Option<&tcpc_spec::tcp::ComponentProbes>| -> Option<tcpc_spec::tcp::ProbeSpec> {
        p.and_then(|c| match kind {
            ProbeKind::Liveness => c.liveness.clone(),
            ProbeKind::Readiness => c.readiness.clone(),
            ProbeKind::Startup => c.startup.clone(),
        })
    };
    let global = match kind {
        ProbeKind::Liveness => all.liveness.clone(),
        ProbeKind::Readiness => all.readiness.clone(),
        ProbeKind::Startup => all.startup.clone(),
    };
    // Kamaji probes every 10 s. tcpc detects startup every second (for up to 60 s) so a new
    // API server receives traffic within a second or two of being ready, which keeps rollouts
    // and first applies fast; liveness and readiness keep Kamaji's values.
    let base = match kind {
        ProbeKind::Startup => tcpc_spec::tcp::ProbeSpec { period_seconds: Some(1), failure_threshold: Some(60), ..d::PROBE_BASE },
        ProbeKind::Liveness | ProbeKind::Readiness => d::PROBE_BASE,
    };
    let layers = [global, pick(comp)];
    let field = |f: fn(&tcpc_spec::tcp::ProbeSpec) -> Option<i32>| layers.iter().flatten().filter_map(f).next_back().or(f(&base));
    json!({
        "httpGet": {"path": path, "port": port, "scheme": "HTTPS"},
        "initialDelaySeconds": field(|p| p.initial_delay_seconds),
        "timeoutSeconds": field(|p| p.timeout_seconds),
        "periodSeconds": field(|p| p.period_seconds),
        "successThreshold": field(|p| p.success_threshold),
        "failureThreshold": field(|p| p.failure_threshold),
    })
}

fn secret_names(tcp: &str) -> SecretNames {
    SecretNames {
        ca: format!("{tcp}-ca"),
        apiserver: format!("{tcp}-api-server-certificate"),
        apiserver_kubelet_client: format!("{tcp}-api-server-kubelet-client-certificate"),
        front_proxy_ca: format!("{tcp}-front-proxy-ca-certificate"),
        front_proxy_client: format!("{tcp}-front-proxy-client-certificate"),
        sa: format!("{tcp}-sa-certificate"),
        datastore: format!("{tcp}-datastore-certificate"),
        admin_kubeconfig: format!("{tcp}-admin-kubeconfig"),
        controller_manager_kubeconfig: format!("{tcp}-controller-manager-kubeconfig"),
        scheduler_kubeconfig: format!("{tcp}-scheduler-kubeconfig"),
        konnectivity_kubeconfig: format!("{tcp}-konnectivity-kubeconfig"),
    }
}

pub fn kamaji_labels(tcp: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("kamaji.clastix.io/component".to_string(), component.to_string()),
        ("kamaji.clastix.io/name".to_string(), tcp.to_string()),
        ("kamaji.clastix.io/project".to_string(), "kamaji".to_string()),
    ])
}

/// SHA-256 over `key NUL value NUL` in key order: changes whenever any key or value does.
pub fn data_checksum(data: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in data {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Kamaji sorts and deduplicates ranges (by string) before they reach flags.
fn sorted_cidrs(c: &[Cidr]) -> Vec<Cidr> {
    let mut v = c.to_vec();
    v.sort_by_key(|c| c.to_string());
    v.dedup();
    v
}

fn join(c: Vec<Cidr>) -> String {
    c.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn bracket(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]"),
        _ => host.to_string(),
    }
}

fn with_port(host: &str, port: i32) -> String {
    if host.contains(':') { host.to_string() } else { format!("{host}:{port}") }
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Test helper: the one TenantControlPlane of `tcp`, resolved against the DataStore document `ds`;
/// panics on any error diagnostic.
#[cfg(test)]
pub(crate) fn resolve_one(ds: &str, tcp: String) -> Tenant {
    let mut sources = crate::source::Sources::default();
    sources.add("ds.yaml".into(), ds.into());
    sources.add("tcp.yaml".into(), tcp);
    let mut diags = crate::diag::Diagnostics::default();
    let inputs = crate::parse::parse(&sources, None, &mut diags);
    let mut tenants = resolve(&inputs, &mut diags);
    assert!(!diags.has_errors(), "{diags:?}");
    tenants.remove(0)
}
