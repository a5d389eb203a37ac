//! `DataStore` (`kamaji.clastix.io/v1alpha1`, cluster-scoped): the backing
//! store shared by TenantControlPlanes.
//!
//! Kamaji's cross-field rules (etcd needs `tlsConfig` with a CA key and a
//! client pair; other drivers need `tlsConfig` or `basicAuth`; every
//! [`ContentRef`] needs `content` or `secretReference`) are validated by the
//! resolver, not by deserialisation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::meta::ClusterObjectMeta;

/// A Kamaji DataStore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataStore {
    /// Always `kamaji.clastix.io/v1alpha1`.
    #[schemars(extend("const" = crate::API_VERSION))]
    pub api_version: String,
    /// Always `DataStore`.
    #[schemars(extend("const" = DataStore::KIND))]
    pub kind: String,
    /// Name, labels, annotations (cluster-scoped: no namespace).
    pub metadata: ClusterObjectMeta,
    /// Desired state.
    pub spec: DataStoreSpec,
    /// Tolerated and ignored; never read by tcpc.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

impl DataStore {
    /// The `kind` of this resource.
    pub const KIND: &'static str = "DataStore";
}

/// `spec` of a DataStore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataStoreSpec {
    /// Backend kind (required, immutable). Non-etcd drivers run a kine sidecar.
    pub driver: Driver,
    /// `host:port` endpoints without scheme (required, min 1). etcd uses all
    /// of them; kine drivers only the first.
    #[schemars(length(min = 1))]
    pub endpoints: Vec<String>,
    /// Username/password for SQL and NATS (not usable with etcd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// TLS towards the store; required for etcd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
}

string_enum! {
    /// DataStore backend.
    pub enum Driver {
        /// etcd, used directly by kube-apiserver.
        Etcd = "etcd",
        /// MySQL through kine.
        MySql = "MySQL",
        /// PostgreSQL through kine.
        PostgreSql = "PostgreSQL",
        /// NATS JetStream through kine.
        Nats = "NATS",
    }
}

impl Driver {
    /// Whether this driver runs behind a kine sidecar (everything but etcd).
    pub const fn uses_kine(self) -> bool {
        !matches!(self, Driver::Etcd)
    }
}

/// Credentials for SQL / NATS drivers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicAuth {
    /// Username (required).
    pub username: ContentRef,
    /// Password (required).
    pub password: ContentRef,
}

/// TLS material for connecting to the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// The store's CA (required). For etcd its private key is needed too:
    /// Kamaji signs a per-tenant client certificate with it.
    pub certificate_authority: CertKeyPair,
    /// Client certificate and key (required for etcd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<ClientCertificate>,
}

/// A certificate with an optional private key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertKeyPair {
    /// PEM certificate (required).
    pub certificate: ContentRef,
    /// PEM private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<ContentRef>,
}

/// A client certificate with its private key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientCertificate {
    /// PEM certificate (required).
    pub certificate: ContentRef,
    /// PEM private key (required).
    pub private_key: ContentRef,
}

/// A value given inline or by reference to a Secret key. Inline `content`
/// wins when non-empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentRef {
    /// Inline value, base64-encoded (kept encoded here).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("contentEncoding" = "base64"))]
    pub content: Option<String>,
    /// Reference to a key of a Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_reference: Option<SecretReference>,
}

/// A key of a Secret in the management cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretReference {
    /// Secret name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Secret namespace (no default; needed in practice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Data key inside the Secret (required, non-empty).
    #[schemars(length(min = 1))]
    pub key_path: String,
}
