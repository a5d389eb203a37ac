//! The resolved tenant ([`Tenant`]) and its plans: every decision made, for the PKI stage and
//! the templates. Data only; the resolver (`super`) fills it in.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{dedicated, delivery, konnectivity, network_policy};

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
    pub kubernetes_service_ips: Vec<std::net::IpAddr>,
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
    /// What the templates need that derives from the fields above. Left out of the tenant's
    /// serialisation (its fingerprint, the render cache key): a function of the rest.
    #[serde(skip)]
    pub derived: Derived,
}

/// Values computed from the rest of a [`Tenant`] for the templates, which only place them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Derived {
    /// The kubelet-config ConfigMap's `kubelet` value: canonical YAML of the KubeletConfiguration
    /// with the spec's `configurationJSONPatches` applied ([`tenant_bundle::kubelet_configuration`]).
    pub kubelet_config: String,
    /// `apiServer.certSANs` of kubeadm-config ([`tenant_bundle::api_server_cert_sans`]).
    pub api_server_cert_sans: Vec<String>,
    /// apiVersion of the ClusterConfiguration in kubeadm-config (v1beta3 before v1.31).
    pub kubeadm_api: &'static str,
    /// kubeadm-config's `caCertificateValidityPeriod` and `certificateValidityPeriod`, as Go
    /// durations (`8760h0m0s`).
    pub ca_validity_period: String,
    pub leaf_validity_period: String,
    /// kube-dns's `ipFamilies` when `dnsServiceIPs` is a dual-stack pair (Kamaji makes the
    /// Service dual-stack then); empty otherwise.
    pub dns_ip_families: Vec<&'static str>,
}

impl Tenant {
    /// `namespace/name` ([`crate::model::tenant_key`]).
    pub fn key(&self) -> String {
        crate::model::tenant_key(&self.namespace, &self.name)
    }
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
    pub(super) fn of(wp: Option<&tcpc_spec::WritePermissions>) -> Option<WriteLimits> {
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
    pub key_algorithm: tcpc_spec::pki::KeyAlgorithm,
    pub leaf_validity_days: u32,
    pub ca_validity_days: u32,
    /// `rotation: companion`: the companion issues and renews the leaves in the cluster (see
    /// [`crate::pki::COMPANION_ISSUED`]); absent from the fingerprint otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub companion_rotation: bool,
    /// Test only (`pki.testOnlyLeafValiditySeconds`): the companion's leaves live this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub companion_leaf_validity_seconds: Option<u64>,
}

/// Trust directories every control-plane container reads, in order: the image's own, then
/// the three internal-CA mounts. Go reads every file of every `SSL_CERT_DIR` entry and still
/// loads its default bundle file, so the public roots stay trusted.
pub const SSL_CERT_DIR: &str =
    "/etc/ssl/certs:/etc/pki/tls/certs:/etc/ca-certificates:/usr/share/ca-certificates:/usr/local/share/ca-certificates";
