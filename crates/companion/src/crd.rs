//! The `RenderedControlPlane` custom resource (`renderedcontrolplanes.tcpc.dev/v1alpha1`).
//!
//! The compiler writes `spec`; the companion writes `status` through the status subresource
//! only. Deserialisation of both is lenient: every field is optional, unknown fields are
//! ignored, and a field of an unexpected type reads as absent, so a newer compiler (or an
//! older status) never makes an object unreadable. The spec's schema keeps unknown fields
//! (`x-kubernetes-preserve-unknown-fields`), so a field a newer compiler adds is stored as
//! rendered, not pruned (which GitOps tools would show as drift).
//!
//! `crates/companion/crd.yaml` is the CRD generated from these types (canonical YAML);
//! `tcpc install companion` embeds it. A test keeps the two equal: `TCPC_BLESS=1 cargo test -p
//! tcpc-companion` rewrites the file.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// Reads a field as `None` when it is absent, `null`, or of a type this version does not know.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// Reads a list leniently: a non-list reads as empty, and items that do not parse are skipped.
fn lenient_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(match value {
        serde_json::Value::Array(items) => items.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect(),
        _ => Vec::new(),
    })
}

/// What the compiler rendered for one tenant (same namespace and name as its TenantControlPlane).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "tcpc.dev",
    version = "v1alpha1",
    kind = "RenderedControlPlane",
    plural = "renderedcontrolplanes",
    shortname = "rcp",
    namespaced,
    status = "RenderedControlPlaneStatus",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.version"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".spec.endpoint"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Nodes","type":"integer","jsonPath":".status.nodes.ready"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct RenderedControlPlaneSpec {
    /// The Kubernetes version rendered, e.g. `v1.35.4`.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The endpoint the tenant's kubeconfigs name.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Desired control-plane replicas (0 = sleeping).
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The control-plane Deployment's name (same namespace).
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// The Service in front of kube-apiserver (same namespace).
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// The Secret (same namespace) and key holding an admin kubeconfig for the tenant API.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub admin_kubeconfig: Option<SecretKeyRef>,
    /// The DataStore the tenant uses.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub data_store: Option<DataStoreRef>,
    /// How the API server is exposed, e.g. `LoadBalancer+Ingress`.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub exposure: Option<String>,
    /// A certificate is expiring once less than this fraction of its lifetime remains (default 0.33).
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub renew_before_fraction: Option<f64>,
    /// Each certificate tcpc rendered, with the Secret and key holding its PEM.
    #[serde(default, deserialize_with = "lenient_vec", skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateRef>,
    /// The step of a service-account key rotation under way (`tcpc rotate sa-key`): `add` (the
    /// new key verifies beside the signer) or `sign` (the new key signs, the old one verifies).
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub service_account_key_rotation: Option<String>,
    /// `companion` when the companion issues and renews the tenant's leaves (`rotation: companion`).
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub rotation: Option<String>,
    /// The Secrets the companion issues, owns and renews (`rotation: companion`): the compiler's
    /// own type (`tcpc_pki::issuance`). Kept out of the schema (the spec keeps unknown fields):
    /// one definition, in the crate that issues.
    #[serde(default, deserialize_with = "lenient_vec", skip_serializing_if = "Vec::is_empty")]
    #[schemars(skip)]
    pub issuance: Vec<tcpc_pki::issuance::IssuedSecret>,
    /// The tcpc version that rendered the object.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub tcpc_version: Option<String>,
    /// The tenant's input fingerprint.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl RenderedControlPlaneSpec {
    /// Every certificate to read in the cluster: those tcpc rendered, then those the companion
    /// issues (by artefact; the PEM key, or the first kubeconfig).
    pub fn all_certificates(&self) -> Vec<CertificateRef> {
        let mut out = self.certificates.clone();
        for owned in &self.issuance {
            for e in &owned.entries {
                let key = e.cert_key.clone().or_else(|| e.kubeconfigs.first().map(|k| k.key.clone()));
                out.push(CertificateRef { name: Some(e.artefact.clone()), secret: Some(owned.secret.clone()), key, ..Default::default() });
            }
        }
        out
    }

    /// Whether the companion issues this tenant's leaves.
    pub fn companion_rotation(&self) -> bool {
        self.rotation.as_deref() == Some("companion")
    }
}

/// A Service by name and port.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ServiceRef {
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

/// A key of a Secret in the object's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct SecretKeyRef {
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A DataStore by name and driver.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct DataStoreRef {
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

/// A certificate tcpc rendered and where its PEM lives in the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct CertificateRef {
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RFC 3339, as rendered.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The live state of a tenant as the companion last observed it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenderedControlPlaneStatus {
    /// `metadata.generation` of the object reconciled.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Available, Progressing, Degraded, CertificatesValid, DatastoreReachable.
    #[serde(default, deserialize_with = "lenient_vec", skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `gitVersion` of the tenant's `GET /version`.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Copied from the spec.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// From the Deployment's status.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// From the Deployment's status.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The tenant's Nodes.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeCounts>,
    /// The certificates as seen in the cluster.
    /// How many service-account keys the API server verifies tokens with (`/openid/v1/jwks`):
    /// two during a key rotation's overlap, one otherwise.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub service_account_keys: Option<u32>,
    #[serde(default, deserialize_with = "lenient_vec", skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<ObservedCertificate>,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// A short human summary.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The tenant's phase.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum Phase {
    Provisioning,
    Ready,
    NotReady,
    Upgrading,
    Sleeping,
    CertificatesExpiring,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Provisioning => "Provisioning",
            Phase::Ready => "Ready",
            Phase::NotReady => "NotReady",
            Phase::Upgrading => "Upgrading",
            Phase::Sleeping => "Sleeping",
            Phase::CertificatesExpiring => "CertificatesExpiring",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ready and total Nodes of the tenant.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct NodeCounts {
    pub ready: u32,
    pub total: u32,
}

/// A certificate as read from its Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedCertificate {
    pub name: String,
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    /// Upper-case hexadecimal, as `openssl x509 -serial` prints it.
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

/// The CustomResourceDefinition generated from these types.
pub fn crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    RenderedControlPlane::crd()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_names_group_kind_status_and_columns() {
        let crd = crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("renderedcontrolplanes.tcpc.dev"));
        assert_eq!(crd.spec.group, "tcpc.dev");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.kind, "RenderedControlPlane");
        assert_eq!(crd.spec.names.plural, "renderedcontrolplanes");
        assert_eq!(crd.spec.names.short_names.as_deref(), Some(&["rcp".to_string()][..]));
        assert_eq!(crd.spec.versions.len(), 1);
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.served && version.storage);
        assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
        let columns: Vec<(String, String)> = version
            .additional_printer_columns
            .as_ref()
            .expect("printer columns")
            .iter()
            .map(|c| (c.name.clone(), c.json_path.clone()))
            .collect();
        let expected = [
            ("Version", ".status.version"),
            ("Phase", ".status.phase"),
            ("Endpoint", ".spec.endpoint"),
            ("Ready", ".status.readyReplicas"),
            ("Nodes", ".status.nodes.ready"),
            ("Age", ".metadata.creationTimestamp"),
        ];
        assert_eq!(columns, expected.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect::<Vec<_>>());
        let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
        for field in ["version", "endpoint", "replicas", "adminKubeconfig", "certificates", "renewBeforeFraction"] {
            assert!(spec.get(field).is_some(), "spec.{field} in schema");
        }
        let status = &schema["openAPIV3Schema"]["properties"]["status"]["properties"];
        for field in ["observedGeneration", "phase", "conditions", "nodes", "certificates", "lastProbeTime"] {
            assert!(status.get(field).is_some(), "status.{field} in schema");
        }
    }

    /// `crd.yaml` is what the types generate; `TCPC_BLESS=1` rewrites it.
    #[test]
    fn crd_yaml_is_generated() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crd.yaml");
        let generated = tcpc_yaml::emit(&serde_json::to_value(crd()).unwrap());
        if std::env::var_os("TCPC_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(on_disk == generated, "{} is stale: run TCPC_BLESS=1 cargo test -p tcpc-companion", path.display());
        // The YAML reads back as the CRD.
        let docs = tcpc_yaml::parse_stream(&on_disk).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].root.to_json(), serde_json::to_value(crd()).unwrap());
    }

    #[test]
    fn spec_keeps_unknown_fields() {
        let schema = serde_json::to_value(crd().spec.versions[0].schema.as_ref().unwrap()).unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(spec["properties"]["service"]["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(spec["properties"]["certificates"]["items"]["x-kubernetes-preserve-unknown-fields"], true);
    }

    #[test]
    fn spec_reads_the_contract_example() {
        let spec: RenderedControlPlaneSpec = serde_json::from_value(serde_json::json!({
            "version": "v1.35.4",
            "endpoint": "https://10.0.0.10:6443",
            "replicas": 2,
            "deployment": "full",
            "service": {"name": "full", "port": 6443},
            "adminKubeconfig": {"secret": "full-admin-kubeconfig", "key": "admin.svc"},
            "dataStore": {"name": "default", "driver": "etcd"},
            "exposure": "LoadBalancer+Ingress",
            "renewBeforeFraction": 0.33,
            "certificates": [{"name": "apiserver", "notAfter": "2027-12-01T00:00:00Z",
                              "secret": "full-api-server-certificate", "key": "apiserver.crt"}],
            "tcpcVersion": "0.1.0",
            "fingerprint": "sha256:00"
        }))
        .unwrap();
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(spec.admin_kubeconfig.unwrap().secret.as_deref(), Some("full-admin-kubeconfig"));
        assert_eq!(spec.certificates[0].key.as_deref(), Some("apiserver.crt"));
        assert_eq!(spec.service.unwrap().port, Some(6443));
    }

    #[test]
    fn spec_is_lenient() {
        let spec: RenderedControlPlaneSpec = serde_json::from_value(serde_json::json!({
            "version": 135,
            "replicas": "two",
            "service": "full",
            "certificates": [{"name": "ok"}, 7, {"name": ["bad"]}],
            "somethingNew": {"a": 1},
            "endpoint": null
        }))
        .unwrap();
        assert_eq!(spec.version, None);
        assert_eq!(spec.replicas, None);
        assert_eq!(spec.service, None);
        assert_eq!(spec.endpoint, None);
        assert_eq!(spec.certificates.len(), 2);
        assert_eq!(spec.certificates[0].name.as_deref(), Some("ok"));
        assert_eq!(spec.certificates[1].name, None);
        let empty: RenderedControlPlaneSpec = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(empty, RenderedControlPlaneSpec::default());
    }

    #[test]
    fn status_with_unknown_phase_reads_as_none() {
        let status: RenderedControlPlaneStatus =
            serde_json::from_value(serde_json::json!({"phase": "Exploded", "observedGeneration": 3})).unwrap();
        assert_eq!(status.phase, None);
        assert_eq!(status.observed_generation, Some(3));
    }
}
