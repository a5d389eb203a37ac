//! `TenantControlPlane` (`kamaji.clastix.io/v1alpha1`), as users write it.
//!
//! Every Kamaji spec field is modelled. Nothing is defaulted here: an absent
//! field stays `None`, so re-serialising a parsed object reproduces the input
//! exactly. Kamaji's defaults live in [`crate::defaults`] and are applied by
//! the resolver. Per-field docs name the Kamaji default: **CRD** (OpenAPI
//! default, applied only when the parent object is present), **webhook**
//! (mutating webhook on create) or **controller** (reconcile-time fallback).

use k8s_openapi::api::apps::v1::DeploymentStrategy;
use k8s_openapi::api::core::v1::{
    Affinity, Container, PodSecurityContext, ResourceRequirements, SecurityContext, Toleration, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::meta::{AdditionalMetadata, ObjectMeta, StringMap};
use crate::pki::TcpPki;

/// A Kamaji TenantControlPlane: one tenant Kubernetes control plane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantControlPlane {
    /// Always `kamaji.clastix.io/v1alpha1`.
    #[schemars(extend("const" = crate::API_VERSION))]
    pub api_version: String,
    /// Always `TenantControlPlane`.
    #[schemars(extend("const" = TenantControlPlane::KIND))]
    pub kind: String,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: TenantControlPlaneSpec,
    /// Tolerated and ignored (objects copied from a cluster carry it); never
    /// read by tcpc.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

impl TenantControlPlane {
    /// The `kind` of this resource.
    pub const KIND: &'static str = "TenantControlPlane";
}

/// `spec` of a TenantControlPlane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantControlPlaneSpec {
    /// Write verbs the tenant API server rejects (puts the TCP in
    /// `WriteLimited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_permissions: Option<WritePermissions>,
    /// Name of the cluster-scoped DataStore. Default (webhook/controller): the
    /// Kamaji manager's `--datastore` flag, `default` with the Helm chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_store: Option<String>,
    /// Database name (SQL) or key prefix (etcd, `--etcd-prefix=/<schema>`).
    /// Immutable. Default (webhook): the TCP's `metadata.uid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_store_schema: Option<String>,
    /// Database user (SQL) or etcd user / client-certificate CN; ignored for
    /// NATS. Immutable. Default (webhook): the TCP's `metadata.uid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_store_username: Option<String>,
    /// Per-resource alternative etcd DataStores (`--etcd-servers-overrides`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_store_overrides: Option<Vec<DataStoreOverride>>,
    /// Objects in the management cluster that run and expose the control plane.
    pub control_plane: ControlPlane,
    /// Tenant Kubernetes settings.
    pub kubernetes: KubernetesSpec,
    /// Addressing and exposure. Note: Kamaji applies the child defaults
    /// (port, CIDRs, cluster domain) only if this object is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_profile: Option<NetworkProfile>,
    /// Tenant addons; a present sub-object enables the addon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addons: Option<Addons>,
    /// tcpc extension (from Kamaji's closed PR #928, not in released Kamaji):
    /// name of a ConfigMap in the TCP namespace holding internal CA bundles,
    /// mounted in place of the CA Secret at the three `ca-certificates`
    /// paths of kube-apiserver and kube-controller-manager.
    #[serde(rename = "internalCACertificatesConfigMap", skip_serializing_if = "Option::is_none")]
    pub internal_ca_certificates_config_map: Option<String>,
    /// tcpc extension: per-TCP PKI overrides of `tcpc.yaml` `pki`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pki: Option<TcpPki>,
}

/// Which write verbs the tenant API server rejects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WritePermissions {
    /// Reject CREATE requests in the tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_creation: Option<bool>,
    /// Reject UPDATE requests in the tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_update: Option<bool>,
    /// Reject DELETE requests in the tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_deletion: Option<bool>,
}

/// An alternative etcd DataStore for one API resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataStoreOverride {
    /// kube-apiserver `group/resource` key, e.g. `/events`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Name of an `etcd` DataStore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_store: Option<String>,
}

// ---------------------------------------------------------------------------
// spec.controlPlane
// ---------------------------------------------------------------------------

/// `spec.controlPlane`. `ingress` and `gateway` are mutually exclusive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlane {
    /// The control-plane Deployment. Send it (even `{}`) so Kamaji's CRD
    /// defaults of its children apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentSpec>,
    /// The Service exposing the API server.
    pub service: ServiceSpec,
    /// Optional Ingress exposure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// Optional Gateway API (TLSRoute) exposure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewaySpec>,
}

/// `spec.controlPlane.deployment`: the Deployment named after the TCP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentSpec {
    /// Control-plane image coordinates. Default (CRD): see
    /// [`crate::defaults::DEFAULT_REGISTRY`] and the `DEFAULT_*_IMAGE` consts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_settings: Option<RegistrySettings>,
    /// Pod replicas; also konnectivity `--server-count`. `0` puts the TCP to
    /// sleep. Default (CRD, webhook): 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Pod node selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<StringMap>,
    /// Pod runtime class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// Rollout strategy. Default (CRD): RollingUpdate with maxUnavailable 0,
    /// maxSurge 100%.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<DeploymentStrategy>,
    /// Pod tolerations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Pod affinity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Pod topology spread; entries without `labelSelector` get the
    /// Deployment selector `kamaji.clastix.io/name: <tcp>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    /// Per-container resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ComponentResources>,
    /// Extra command-line flags per container. Its presence also enables the
    /// `kube-apiserver.kamaji.clastix.io/args` annotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<ComponentExtraArgs>,
    /// Labels/annotations merged onto the Deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_metadata: Option<AdditionalMetadata>,
    /// Labels/annotations merged onto the pod template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_additional_metadata: Option<AdditionalMetadata>,
    /// Init containers placed before Kamaji's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_init_containers: Option<Vec<Container>>,
    /// Containers placed before `kube-apiserver`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_containers: Option<Vec<Container>>,
    /// Volumes placed before Kamaji's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_volumes: Option<Vec<Volume>>,
    /// Volume mounts prepended to each component container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_volume_mounts: Option<AdditionalVolumeMounts>,
    /// Probe tuning (handlers and paths are fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<ControlPlaneProbes>,
    /// Pod service account. Default (CRD, controller): `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Pod `automountServiceAccountToken` (unset stays unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    /// Container security contexts per component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_security_contexts: Option<ComponentSecurityContexts>,
    /// Pod security context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,
}

/// Image coordinates: `<registry>/<image>:<kubernetes.version><tagSuffix>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrySettings {
    /// Registry prefix. Default (CRD): `registry.k8s.io`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Appended verbatim after the tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_suffix: Option<String>,
    /// Default (CRD): `kube-apiserver`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server_image: Option<String>,
    /// Default (CRD): `kube-controller-manager`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager_image: Option<String>,
    /// Default (CRD): `kube-scheduler`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler_image: Option<String>,
}

/// Resource requirements per control-plane container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentResources {
    /// kube-apiserver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ResourceRequirements>,
    /// kube-controller-manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<ResourceRequirements>,
    /// kube-scheduler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<ResourceRequirements>,
    /// kine sidecar (non-etcd DataStores only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kine: Option<ResourceRequirements>,
}

/// Extra flags per container: `--flag=value` or bare `--flag`. Precedence
/// against Kamaji's own flags differs per component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentExtraArgs {
    /// kube-apiserver (appended; managed flags cannot be overridden).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<Vec<String>>,
    /// kube-controller-manager (user wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<Vec<String>>,
    /// kube-scheduler (Kamaji wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Vec<String>>,
    /// kine (user wins except `--endpoint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kine: Option<Vec<String>>,
}

/// Extra volume mounts per container, placed before Kamaji's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdditionalVolumeMounts {
    /// kube-apiserver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<Vec<VolumeMount>>,
    /// kube-controller-manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<Vec<VolumeMount>>,
    /// kube-scheduler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Vec<VolumeMount>>,
}

/// Container security contexts per component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentSecurityContexts {
    /// kube-apiserver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<SecurityContext>,
    /// kube-controller-manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<SecurityContext>,
    /// kube-scheduler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SecurityContext>,
}

/// Probe tuning: the global settings apply to all three components, then the
/// per-component ones override field by field. Base values:
/// [`crate::defaults::PROBE_BASE`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneProbes {
    /// Liveness, all components.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<ProbeSpec>,
    /// Readiness, all components.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ProbeSpec>,
    /// Startup, all components.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup: Option<ProbeSpec>,
    /// kube-apiserver overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ComponentProbes>,
    /// kube-controller-manager overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<ComponentProbes>,
    /// kube-scheduler overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<ComponentProbes>,
}

/// Probe tuning of one component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentProbes {
    /// Liveness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<ProbeSpec>,
    /// Readiness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ProbeSpec>,
    /// Startup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup: Option<ProbeSpec>,
}

/// Timing of one probe; unset fields keep the base value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeSpec {
    /// Minimum 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub initial_delay_seconds: Option<i32>,
    /// Minimum 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<i32>,
    /// Minimum 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub period_seconds: Option<i32>,
    /// Minimum 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub success_threshold: Option<i32>,
    /// Minimum 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<i32>,
}

/// `spec.controlPlane.service`: the Service named after the TCP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// Labels/annotations merged onto the Service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_metadata: Option<AdditionalMetadata>,
    /// Service type (required).
    pub service_type: ServiceType,
    /// Only with `LoadBalancer`. Default (controller): `true`; `false` also
    /// zeroes every nodePort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocate_load_balancer_node_ports: Option<bool>,
    /// Extra Service ports after `kube-apiserver` and `konnectivity-server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_ports: Option<Vec<AdditionalPort>>,
}

string_enum! {
    /// Kubernetes Service type of the control-plane Service.
    pub enum ServiceType {
        /// Cluster-internal virtual IP.
        ClusterIp = "ClusterIP",
        /// Node port (needs `networkProfile.address` for an endpoint).
        NodePort = "NodePort",
        /// Cloud load balancer.
        LoadBalancer = "LoadBalancer",
    }
}

/// An extra port on the control-plane Service (nodePort is always 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdditionalPort {
    /// Port name; `kube-apiserver` and `konnectivity-server` are reserved.
    pub name: String,
    /// Default (CRD): `TCP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Service `appProtocol`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// Service port, 1–65535.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Pod port (number or named port).
    pub target_port: IntOrString,
}

string_enum! {
    /// Transport protocol of a Service port.
    pub enum Protocol {
        /// TCP.
        Tcp = "TCP",
        /// UDP.
        Udp = "UDP",
        /// SCTP.
        Sctp = "SCTP",
    }
}

/// `spec.controlPlane.ingress`: an Ingress routing `hostname` to the Service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressSpec {
    /// Labels/annotations merged onto the Ingress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_metadata: Option<AdditionalMetadata>,
    /// Ingress class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
    /// `host[:port]`; required in practice (Kamaji errors when empty). The
    /// host is the rule host; `host:port` becomes the kubeadm
    /// controlPlaneEndpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// `spec.controlPlane.gateway`: TLSRoutes attached to existing Gateways.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySpec {
    /// Labels/annotations merged onto the TLSRoutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_metadata: Option<AdditionalMetadata>,
    /// Gateways the routes attach to, copied verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_refs: Option<Vec<ParentReference>>,
    /// Route hostname; required in practice. Also the kubeadm
    /// controlPlaneEndpoint host and the konnectivity agent's target host.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"))]
    pub hostname: Option<String>,
}

/// Gateway API `ParentReference` (gateway.networking.k8s.io/v1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentReference {
    /// Default (CRD): `gateway.networking.k8s.io`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Default (CRD): `Gateway`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the parent (required).
    pub name: String,
    /// Namespace of the parent; default: the route's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener port, 1–65535 (overwritten for the konnectivity route).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Listener name (overwritten to `konnectivity-server` for the
    /// konnectivity route).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

// ---------------------------------------------------------------------------
// spec.kubernetes
// ---------------------------------------------------------------------------

/// `spec.kubernetes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesSpec {
    /// Tenant version, e.g. `v1.35.7`; used verbatim as the image tag
    /// (required).
    pub version: String,
    /// Kubelet configuration uploaded to the tenant (required, may be `{}`).
    pub kubelet: KubeletSpec,
    /// `--enable-admission-plugins`, order preserved. Default (CRD):
    /// [`crate::defaults::DEFAULT_ADMISSION_CONTROLLERS`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission_controllers: Option<Vec<AdmissionController>>,
}

/// `spec.kubernetes.kubelet`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeletSpec {
    /// RFC 6902 patches applied to the generated KubeletConfiguration.
    #[serde(rename = "configurationJSONPatches", skip_serializing_if = "Option::is_none")]
    pub configuration_json_patches: Option<Vec<JsonPatch>>,
    /// `--kubelet-preferred-address-types`, a set (min 1 item). Default
    /// (CRD): `InternalIP, ExternalIP, Hostname`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub preferred_address_types: Option<Vec<KubeletAddressType>>,
    /// Kubelet cgroup driver (deprecated in Kamaji, still honoured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroupfs: Option<CgroupDriver>,
}

/// One RFC 6902 JSON Patch operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsonPatch {
    /// Operation.
    pub op: JsonPatchOp,
    /// Target JSON pointer.
    pub path: String,
    /// Source JSON pointer for `move` / `copy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Value for `add` / `replace` / `test`; an explicit `null` is kept as
    /// `Some(Value::Null)`.
    #[serde(default, deserialize_with = "present_value", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Value")]
    pub value: Option<Value>,
}

/// Keeps an explicit JSON `null` as `Some(Value::Null)`; absence is `None`
/// through `#[serde(default)]`.
fn present_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

string_enum! {
    /// RFC 6902 operation.
    pub enum JsonPatchOp {
        /// Add.
        Add = "add",
        /// Remove.
        Remove = "remove",
        /// Replace.
        Replace = "replace",
        /// Move.
        Move = "move",
        /// Copy.
        Copy = "copy",
        /// Test.
        Test = "test",
    }
}

string_enum! {
    /// Node address type for `--kubelet-preferred-address-types`.
    pub enum KubeletAddressType {
        /// Node hostname.
        Hostname = "Hostname",
        /// Internal IP.
        InternalIp = "InternalIP",
        /// External IP.
        ExternalIp = "ExternalIP",
        /// Internal DNS name.
        InternalDns = "InternalDNS",
        /// External DNS name.
        ExternalDns = "ExternalDNS",
    }
}

string_enum! {
    /// Kubelet cgroup driver.
    pub enum CgroupDriver {
        /// systemd.
        Systemd = "systemd",
        /// cgroupfs.
        Cgroupfs = "cgroupfs",
    }
}

string_enum! {
    /// kube-apiserver admission plugin accepted by Kamaji.
    pub enum AdmissionController {
        /// AlwaysAdmit.
        AlwaysAdmit = "AlwaysAdmit",
        /// AlwaysDeny.
        AlwaysDeny = "AlwaysDeny",
        /// AlwaysPullImages.
        AlwaysPullImages = "AlwaysPullImages",
        /// CertificateApproval.
        CertificateApproval = "CertificateApproval",
        /// CertificateSigning.
        CertificateSigning = "CertificateSigning",
        /// CertificateSubjectRestriction.
        CertificateSubjectRestriction = "CertificateSubjectRestriction",
        /// DefaultIngressClass.
        DefaultIngressClass = "DefaultIngressClass",
        /// DefaultStorageClass.
        DefaultStorageClass = "DefaultStorageClass",
        /// DefaultTolerationSeconds.
        DefaultTolerationSeconds = "DefaultTolerationSeconds",
        /// DenyEscalatingExec (removed upstream; still in Kamaji's enum).
        DenyEscalatingExec = "DenyEscalatingExec",
        /// DenyExecOnPrivileged (removed upstream; still in Kamaji's enum).
        DenyExecOnPrivileged = "DenyExecOnPrivileged",
        /// DenyServiceExternalIPs.
        DenyServiceExternalIps = "DenyServiceExternalIPs",
        /// EventRateLimit.
        EventRateLimit = "EventRateLimit",
        /// ExtendedResourceToleration.
        ExtendedResourceToleration = "ExtendedResourceToleration",
        /// ImagePolicyWebhook.
        ImagePolicyWebhook = "ImagePolicyWebhook",
        /// LimitPodHardAntiAffinityTopology.
        LimitPodHardAntiAffinityTopology = "LimitPodHardAntiAffinityTopology",
        /// LimitRanger.
        LimitRanger = "LimitRanger",
        /// MutatingAdmissionWebhook.
        MutatingAdmissionWebhook = "MutatingAdmissionWebhook",
        /// NamespaceAutoProvision.
        NamespaceAutoProvision = "NamespaceAutoProvision",
        /// NamespaceExists.
        NamespaceExists = "NamespaceExists",
        /// NamespaceLifecycle.
        NamespaceLifecycle = "NamespaceLifecycle",
        /// NodeRestriction (not in Kamaji's default list).
        NodeRestriction = "NodeRestriction",
        /// OwnerReferencesPermissionEnforcement.
        OwnerReferencesPermissionEnforcement = "OwnerReferencesPermissionEnforcement",
        /// PersistentVolumeClaimResize.
        PersistentVolumeClaimResize = "PersistentVolumeClaimResize",
        /// PersistentVolumeLabel.
        PersistentVolumeLabel = "PersistentVolumeLabel",
        /// PodNodeSelector.
        PodNodeSelector = "PodNodeSelector",
        /// PodSecurity.
        PodSecurity = "PodSecurity",
        /// PodSecurityPolicy (removed upstream; still in Kamaji's enum).
        PodSecurityPolicy = "PodSecurityPolicy",
        /// PodTolerationRestriction.
        PodTolerationRestriction = "PodTolerationRestriction",
        /// Priority.
        Priority = "Priority",
        /// ResourceQuota.
        ResourceQuota = "ResourceQuota",
        /// RuntimeClass.
        RuntimeClass = "RuntimeClass",
        /// SecurityContextDeny (removed upstream; still in Kamaji's enum).
        SecurityContextDeny = "SecurityContextDeny",
        /// ServiceAccount.
        ServiceAccount = "ServiceAccount",
        /// StorageObjectInUseProtection.
        StorageObjectInUseProtection = "StorageObjectInUseProtection",
        /// TaintNodesByCondition.
        TaintNodesByCondition = "TaintNodesByCondition",
        /// ValidatingAdmissionWebhook.
        ValidatingAdmissionWebhook = "ValidatingAdmissionWebhook",
    }
}

// ---------------------------------------------------------------------------
// spec.networkProfile
// ---------------------------------------------------------------------------

/// `spec.networkProfile`: addressing and exposure of the control plane.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkProfile {
    /// Fixed endpoint address; when set it is the control-plane address
    /// whatever the Service type (needed for `NodePort`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Tenant-facing IP (`--advertise-address`, kubeadm endpoint, agent
    /// target); added to the certificate SANs. Must be `''` or an IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_address: Option<String>,
    /// Tenant DNS domain. Immutable. Default (CRD): `cluster.local`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_domain: Option<String>,
    /// Put `address` into the Service's `externalIPs` (ClusterIP/NodePort).
    #[serde(rename = "allowAddressAsExternalIP", skip_serializing_if = "Option::is_none")]
    pub allow_address_as_external_ip: Option<bool>,
    /// API server secure port (also Service port and NodePort). Default
    /// (CRD): 6443.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Extra API-server certificate SANs (DNS names, wildcards or IPs).
    #[serde(rename = "certSANs", skip_serializing_if = "Option::is_none")]
    pub cert_sans: Option<Vec<String>>,
    /// Deprecated single service CIDR. Default (CRD): `10.96.0.0/16`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<String>,
    /// Service CIDRs (1–2); win over `serviceCidr`. Default (webhook):
    /// `[serviceCidr]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2))]
    pub service_cidrs: Option<Vec<String>>,
    /// Deprecated single pod CIDR. Default (CRD): `10.244.0.0/16`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// Pod CIDRs (1–2); win over `podCidr`. Default (webhook): `[podCidr]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2))]
    pub pod_cidrs: Option<Vec<String>>,
    /// Cluster DNS IPs (max 8), each inside a service CIDR. Default
    /// (webhook): one per service CIDR, network address + 10 (IPv4) or
    /// + 0x10 (IPv6).
    #[serde(rename = "dnsServiceIPs", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8))]
    pub dns_service_ips: Option<Vec<String>>,
    /// Service `loadBalancerSourceRanges` (max 16 CIDRs; `LoadBalancer` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub load_balancer_source_ranges: Option<Vec<String>>,
    /// Service `loadBalancerClass` (`LoadBalancer` only). Immutable.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub load_balancer_class: Option<String>,
}

// ---------------------------------------------------------------------------
// spec.addons
// ---------------------------------------------------------------------------

/// `spec.addons`: a present sub-object enables that addon in the tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Addons {
    /// CoreDNS (kubeadm manifests).
    #[serde(rename = "coreDNS", skip_serializing_if = "Option::is_none")]
    pub core_dns: Option<ImageOverride>,
    /// kube-proxy DaemonSet (kubeadm manifests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_proxy: Option<ImageOverride>,
    /// Konnectivity server sidecar plus in-tenant agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub konnectivity: Option<KonnectivitySpec>,
}

/// Image override of a kubeadm-managed addon.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageOverride {
    /// Repository prefix (image name is fixed). Default: `registry.k8s.io`
    /// for kube-proxy, kubeadm's `registry.k8s.io/coredns` for CoreDNS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Image tag. Default: `kubernetes.version` (kube-proxy), kubeadm's
    /// CoreDNS version (CoreDNS; honoured only with `imageRepository`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
}

/// `spec.addons.konnectivity`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KonnectivitySpec {
    /// Server sidecar. Default (CRD, only when absent): image
    /// `registry.k8s.io/kas-network-proxy/proxy-server`, port 8132.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<KonnectivityServerSpec>,
    /// In-tenant agent. Default (CRD, only when absent): image
    /// `registry.k8s.io/kas-network-proxy/proxy-agent`, mode `DaemonSet`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<KonnectivityAgentSpec>,
}

/// Konnectivity server sidecar in the control-plane pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KonnectivityServerSpec {
    /// Agent port, also on the Service and TLSRoute (required once `server`
    /// is written; Kamaji's object default is 8132).
    pub port: i32,
    /// Image tag. Default (controller): `v0.<kubernetes minor>.0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Image. Default (CRD): `registry.k8s.io/kas-network-proxy/proxy-server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Container resources (limits/requests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Extra flags; Kamaji's flags win.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<String>>,
    /// Container security context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
}

/// Konnectivity agent workload in the tenant's `kube-system`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KonnectivityAgentSpec {
    /// Image. Default (CRD): `registry.k8s.io/kas-network-proxy/proxy-agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Image tag. Default (controller): `v0.<kubernetes minor>.0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Pod tolerations. Default (CRD): `CriticalAddonsOnly` `Exists`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Extra flags; these win over Kamaji's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<String>>,
    /// Run on the host network. Default (CRD): `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
    /// Workload kind. Default (CRD): `DaemonSet`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<KonnectivityAgentMode>,
    /// Replicas, `Deployment` mode only (must be unset/0 for `DaemonSet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

string_enum! {
    /// Workload kind of the konnectivity agent.
    pub enum KonnectivityAgentMode {
        /// One agent per node.
        DaemonSet = "DaemonSet",
        /// `replicas` agents.
        Deployment = "Deployment",
    }
}
