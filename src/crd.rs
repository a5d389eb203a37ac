//! Strict types for the rendered kinds that k8s-openapi does not cover.
//!
//! They model only what tcpc renders, and deny unknown fields so the typed check in
//! [`crate::check`] catches template typos in these kinds too.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// `bitnami.com/v1alpha1` SealedSecret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedSecret {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: SealedSecretSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedSecretSpec {
    pub encrypted_data: BTreeMap<String, String>,
    pub template: SealedSecretTemplate,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedSecretTemplate {
    pub metadata: ObjectMeta,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// `gateway.networking.k8s.io/v1` TLSRoute (the fields tcpc renders).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsRoute {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: TlsRouteSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsRouteSpec {
    pub parent_refs: Vec<ParentRef>,
    pub hostnames: Vec<String>,
    pub rules: Vec<TlsRouteRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsRouteRule {
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendRef {
    pub name: String,
    pub port: i32,
}

/// `kustomize.config.k8s.io/v1beta1` Kustomization (a plain resource list).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kustomization {
    pub api_version: String,
    pub kind: String,
    pub resources: Vec<String>,
}

/// `kustomize.toolkit.fluxcd.io/v1` Kustomization (the fields tcpc renders for `delivery.flux`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxKustomization {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: FluxKustomizationSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxKustomizationSpec {
    pub interval: String,
    pub retry_interval: String,
    pub timeout: String,
    pub path: String,
    pub prune: bool,
    pub source_ref: FluxSourceRef,
    pub kube_config: FluxKubeConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxSourceRef {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxKubeConfig {
    pub secret_ref: FluxSecretKeyRef,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxSecretKeyRef {
    pub name: String,
    pub key: String,
}

/// `tcpc.dev/v1alpha1` RenderedControlPlane (`src/record.rs`; its CRD is
/// `crates/companion/crd.yaml`). The status is the companion's and never rendered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderedControlPlane {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    /// The record itself: the type the compiler renders it from, read back strictly.
    pub spec: crate::record::Record,
}
