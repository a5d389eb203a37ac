//! Object metadata accepted in input files.
//!
//! tcpc reads specs from Git, not from a cluster, so only the metadata a user
//! writes by hand is accepted. Server-populated fields (`uid`,
//! `resourceVersion`, `managedFields`, `creationTimestamp`, …) are unknown
//! fields and rejected: they usually mean an object was copied out of a live
//! cluster with `kubectl get -o yaml`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// String-to-string map used for labels, annotations and node selectors.
pub type StringMap = BTreeMap<String, String>;

/// Metadata of a namespaced input object (TenantControlPlane).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    /// Object name. For a TenantControlPlane it must be a DNS-1035 label
    /// (Kamaji's validating webhook enforces this on create).
    pub name: String,
    /// Namespace. When absent, tcpc uses `defaults.namespace` from `tcpc.yaml`
    /// (itself defaulting to `default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<StringMap>,
    /// Object annotations (e.g. `kamaji.clastix.io/kubeconfig-secret-key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// Metadata of a cluster-scoped input object (DataStore): no namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterObjectMeta {
    /// Object name, referenced by `TenantControlPlane.spec.dataStore`.
    pub name: String,
    /// Object labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<StringMap>,
    /// Object annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// Extra labels and annotations merged onto an object Kamaji generates
/// (Kamaji's `additionalMetadata` / `podAdditionalMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdditionalMetadata {
    /// Labels merged onto the generated object (user value wins on key clash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<StringMap>,
    /// Annotations merged onto the generated object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}
