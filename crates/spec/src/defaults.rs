//! Kamaji's defaults, as values for the resolver. Nothing in this crate
//! applies them: deserialisation keeps absent fields absent.
//!
//! Each item notes where Kamaji sets it: **CRD** (OpenAPI default, applied
//! only when the parent object is present — e.g. `networkProfile: {}` gets
//! `port`, CIDRs and `clusterDomain`, an absent `networkProfile` gets
//! nothing), **webhook** (mutating webhook on create, persisted), or
//! **controller** (reconcile-time fallback, not persisted).

use k8s_openapi::api::apps::v1::{DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::Toleration;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::tcp::{AdmissionController, KonnectivityAgentMode, KubeletAddressType, ProbeSpec, Protocol};

// --- spec ---------------------------------------------------------------------

/// `spec.dataStore` when empty (webhook/controller): the manager's
/// `--datastore` flag, `default` with Kamaji's Helm chart.
pub const DEFAULT_DATASTORE: &str = "default";

/// Highest tenant Kubernetes version Kamaji accepts (its kubeadm library
/// version); the webhook rejects a greater minor.
pub const MAX_KUBERNETES_VERSION: &str = "v1.36.0";

// --- spec.controlPlane.deployment --------------------------------------------

/// `registrySettings.registry` (CRD).
pub const DEFAULT_REGISTRY: &str = "registry.k8s.io";
/// `registrySettings.apiServerImage` (CRD).
pub const DEFAULT_API_SERVER_IMAGE: &str = "kube-apiserver";
/// `registrySettings.controllerManagerImage` (CRD).
pub const DEFAULT_CONTROLLER_MANAGER_IMAGE: &str = "kube-controller-manager";
/// `registrySettings.schedulerImage` (CRD).
pub const DEFAULT_SCHEDULER_IMAGE: &str = "kube-scheduler";

/// `deployment.replicas` (CRD and webhook).
pub const DEFAULT_REPLICAS: i32 = 2;

/// `deployment.serviceAccountName` (CRD and controller).
pub const DEFAULT_SERVICE_ACCOUNT_NAME: &str = "default";

/// `deployment.strategy` (CRD): RollingUpdate, maxUnavailable 0, maxSurge
/// `100%`. The controller also fills this `rollingUpdate` when the type is
/// not `Recreate` and `rollingUpdate` is unset.
pub fn default_deployment_strategy() -> DeploymentStrategy {
    DeploymentStrategy { type_: Some("RollingUpdate".to_owned()), rolling_update: Some(default_rolling_update()) }
}

/// The `rollingUpdate` part of [`default_deployment_strategy`].
pub fn default_rolling_update() -> RollingUpdateDeployment {
    RollingUpdateDeployment { max_unavailable: Some(IntOrString::Int(0)), max_surge: Some(IntOrString::String("100%".to_owned())) }
}

/// Kine sidecar image: the manager's `--kine-image` flag default.
pub const DEFAULT_KINE_IMAGE: &str = "rancher/kine:v0.11.10-amd64";
/// A dedicated etcd: kubeadm's etcd image for Kubernetes v1.33+.
pub const DEFAULT_ETCD_IMAGE: &str = "registry.k8s.io/etcd:3.5.21-0";
/// A dedicated etcd's PersistentVolumeClaim size.
pub const DEFAULT_DEDICATED_ETCD_STORAGE: &str = "1Gi";
/// The annotation that gives a TenantControlPlane its own etcd instead of a DataStore.
pub const DEDICATED_ETCD_ANNOTATION: &str = "tcpc.dev/dedicated-etcd";
/// tcpc's datastore setup Job for PostgreSQL DataStores: an image with `psql`.
pub const DEFAULT_POSTGRESQL_SETUP_IMAGE: &str = "docker.io/library/postgres:17-alpine";
/// tcpc's datastore setup Job for MySQL DataStores: an image with the `mariadb` client.
pub const DEFAULT_MYSQL_SETUP_IMAGE: &str = "docker.io/library/mariadb:11";
/// tcpc's datastore setup Job for etcd DataStores: an image with `etcdctl` and a shell.
pub const DEFAULT_ETCD_SETUP_IMAGE: &str = "docker.io/bitnami/etcd:3.5";

// --- probes -------------------------------------------------------------------

/// Base timing of every control-plane probe before `probes.*` overrides
/// (all HTTPS GET): initialDelay 0, timeout 1, period 10, success 1,
/// failure 3.
pub const PROBE_BASE: ProbeSpec = ProbeSpec {
    initial_delay_seconds: Some(0),
    timeout_seconds: Some(1),
    period_seconds: Some(10),
    success_threshold: Some(1),
    failure_threshold: Some(3),
};

/// kube-scheduler secure port (probes).
pub const SCHEDULER_PORT: i32 = 10259;
/// kube-controller-manager secure port (probes).
pub const CONTROLLER_MANAGER_PORT: i32 = 10257;

// --- spec.controlPlane.service ------------------------------------------------

/// `additionalPorts[].protocol` (CRD).
pub const DEFAULT_ADDITIONAL_PORT_PROTOCOL: Protocol = Protocol::Tcp;

/// `service.allocateLoadBalancerNodePorts` for `LoadBalancer` (controller).
pub const DEFAULT_ALLOCATE_LOAD_BALANCER_NODE_PORTS: bool = true;

/// `gateway.parentRefs[].group` (CRD).
pub const DEFAULT_PARENT_REF_GROUP: &str = "gateway.networking.k8s.io";
/// `gateway.parentRefs[].kind` (CRD).
pub const DEFAULT_PARENT_REF_KIND: &str = "Gateway";

// --- spec.kubernetes ----------------------------------------------------------

/// `kubernetes.admissionControllers` (CRD), in Kamaji's order. Note that
/// `NodeRestriction` is not included.
pub const DEFAULT_ADMISSION_CONTROLLERS: [&str; 17] = [
    "CertificateApproval",
    "CertificateSigning",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DefaultStorageClass",
    "DefaultTolerationSeconds",
    "LimitRanger",
    "MutatingAdmissionWebhook",
    "NamespaceLifecycle",
    "PersistentVolumeClaimResize",
    "Priority",
    "ResourceQuota",
    "RuntimeClass",
    "ServiceAccount",
    "StorageObjectInUseProtection",
    "TaintNodesByCondition",
    "ValidatingAdmissionWebhook",
];

/// [`DEFAULT_ADMISSION_CONTROLLERS`] as typed values.
pub const DEFAULT_ADMISSION_CONTROLLER_VALUES: [AdmissionController; 17] = [
    AdmissionController::CertificateApproval,
    AdmissionController::CertificateSigning,
    AdmissionController::CertificateSubjectRestriction,
    AdmissionController::DefaultIngressClass,
    AdmissionController::DefaultStorageClass,
    AdmissionController::DefaultTolerationSeconds,
    AdmissionController::LimitRanger,
    AdmissionController::MutatingAdmissionWebhook,
    AdmissionController::NamespaceLifecycle,
    AdmissionController::PersistentVolumeClaimResize,
    AdmissionController::Priority,
    AdmissionController::ResourceQuota,
    AdmissionController::RuntimeClass,
    AdmissionController::ServiceAccount,
    AdmissionController::StorageObjectInUseProtection,
    AdmissionController::TaintNodesByCondition,
    AdmissionController::ValidatingAdmissionWebhook,
];

/// `kubelet.preferredAddressTypes` (CRD).
pub const DEFAULT_PREFERRED_ADDRESS_TYPES: [KubeletAddressType; 3] =
    [KubeletAddressType::InternalIp, KubeletAddressType::ExternalIp, KubeletAddressType::Hostname];

// --- spec.networkProfile ------------------------------------------------------

/// `networkProfile.port` (CRD).
pub const DEFAULT_PORT: i32 = 6443;
/// `networkProfile.clusterDomain` (CRD).
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// `networkProfile.serviceCidr` (CRD); `serviceCidrs` defaults (webhook) to
/// `[serviceCidr]`.
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/16";
/// `networkProfile.podCidr` (CRD); `podCidrs` defaults (webhook) to
/// `[podCidr]`.
pub const DEFAULT_POD_CIDR: &str = "10.244.0.0/16";
/// `networkProfile.dnsServiceIPs` (webhook) for the default service CIDR.
/// In general: one per service CIDR, the network address as written with
/// [`DNS_SERVICE_IP_OFFSET_V4`] / [`DNS_SERVICE_IP_OFFSET_V6`] added to its
/// last byte.
pub const DEFAULT_DNS_SERVICE_IP: &str = "10.96.0.10";
/// Offset added to the last byte of an IPv4 service network address.
pub const DNS_SERVICE_IP_OFFSET_V4: u8 = 10;
/// Offset added to the last byte of an IPv6 service network address.
pub const DNS_SERVICE_IP_OFFSET_V6: u8 = 0x10;
/// kube-apiserver `--service-account-issuer` default (hard-coded by Kamaji,
/// independent of `clusterDomain`).
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

// --- spec.addons --------------------------------------------------------------

/// `addons.kubeProxy.imageRepository` (controller); the tag defaults to
/// `spec.kubernetes.version`.
pub const DEFAULT_KUBE_PROXY_IMAGE_REPOSITORY: &str = "registry.k8s.io";
/// CoreDNS image repository used by kubeadm when `addons.coreDNS` sets none.
pub const DEFAULT_COREDNS_IMAGE_REPOSITORY: &str = "registry.k8s.io/coredns";

/// `konnectivity.server.image` (CRD).
pub const DEFAULT_KONNECTIVITY_SERVER_IMAGE: &str = "registry.k8s.io/kas-network-proxy/proxy-server";
/// `konnectivity.server.port` (CRD, through the `server` object default).
pub const DEFAULT_KONNECTIVITY_SERVER_PORT: i32 = 8132;
/// konnectivity-server `--admin-port` / agent `--admin-server-port`.
pub const KONNECTIVITY_ADMIN_PORT: i32 = 8133;
/// konnectivity-server `--health-port` / agent `--health-server-port`.
pub const KONNECTIVITY_HEALTH_PORT: i32 = 8134;
/// `konnectivity.agent.image` (CRD).
pub const DEFAULT_KONNECTIVITY_AGENT_IMAGE: &str = "registry.k8s.io/kas-network-proxy/proxy-agent";
/// `konnectivity.agent.mode` (CRD).
pub const DEFAULT_KONNECTIVITY_AGENT_MODE: KonnectivityAgentMode = KonnectivityAgentMode::DaemonSet;
/// `konnectivity.agent.hostNetwork` (CRD).
pub const DEFAULT_KONNECTIVITY_AGENT_HOST_NETWORK: bool = false;

/// `konnectivity.agent.tolerations` (CRD): `CriticalAddonsOnly` / `Exists`.
pub fn default_konnectivity_agent_tolerations() -> Vec<Toleration> {
    vec![Toleration { key: Some("CriticalAddonsOnly".to_owned()), operator: Some("Exists".to_owned()), ..Toleration::default() }]
}

/// Konnectivity server/agent image tag when `version` is unset (controller):
/// `v0.<minor>.0` of the tenant Kubernetes version. Accepts a leading `v`;
/// returns `None` when no minor version can be read.
pub fn konnectivity_version_for(kubernetes_version: &str) -> Option<String> {
    let v = kubernetes_version.strip_prefix('v').unwrap_or(kubernetes_version);
    let mut parts = v.split('.');
    parts.next()?.parse::<u64>().ok()?;
    let minor: u64 = parts.next()?.parse().ok()?;
    Some(format!("v0.{minor}.0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_lists_agree() {
        let names: Vec<&str> = DEFAULT_ADMISSION_CONTROLLER_VALUES.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, DEFAULT_ADMISSION_CONTROLLERS);
    }

    #[test]
    fn konnectivity_version() {
        assert_eq!(konnectivity_version_for("v1.35.7").as_deref(), Some("v0.35.0"));
        assert_eq!(konnectivity_version_for("1.36.0").as_deref(), Some("v0.36.0"));
        assert_eq!(konnectivity_version_for("latest"), None);
    }

    #[test]
    fn admission_enum_has_37_values() {
        assert_eq!(AdmissionController::ALL.len(), 37);
    }
}
