//! Input types of tcpc: Kamaji-compatible `TenantControlPlane` and
//! `DataStore` (`kamaji.clastix.io/v1alpha1`) and the repository-wide
//! `tcpc.yaml` [`Config`].
//!
//! Invariants of this crate:
//! - It never does IO and never applies defaults. Absent fields stay `None`;
//!   Kamaji's defaults are values in [`defaults`], tcpc's config defaults are
//!   accessor methods on [`Config`].
//! - Every struct of ours denies unknown fields, and every value re-serialises
//!   to exactly the JSON it was read from. Embedded k8s-openapi types do not
//!   deny unknown fields; callers detect those by comparing the re-serialised
//!   value with the input (see [`round_trip_mismatch`]).
//! - Enums serialise exactly as Kamaji spells them.

#[macro_use]
mod macros;

pub mod config;
pub mod datastore;
pub mod defaults;
pub mod meta;
pub mod pki;
pub mod tcp;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

pub use config::{
    ArgoCdDelivery, Check, Config, ConfigDefaults, Delivery, FluxDelivery, FluxSourceRef, Images, NetworkPolicyConfig, PkiConfig,
    SealedSecretsConfig, SealedSecretsScope, Sealing, SealingMode, SopsConfig,
};
pub use datastore::{BasicAuth, CertKeyPair, ClientCertificate, ContentRef, DataStore, DataStoreSpec, Driver, SecretReference, TlsConfig};
pub use macros::UnknownVariant;
pub use meta::{AdditionalMetadata, ClusterObjectMeta, ObjectMeta, StringMap};
pub use pki::{KeyAlgorithm, TcpPki};
pub use tcp::{
    AdditionalPort, AdditionalVolumeMounts, Addons, AdmissionController, CgroupDriver, ComponentExtraArgs, ComponentProbes,
    ComponentResources, ComponentSecurityContexts, ControlPlane, ControlPlaneProbes, DataStoreOverride, DeploymentSpec, GatewaySpec,
    ImageOverride, IngressSpec, JsonPatch, JsonPatchOp, KonnectivityAgentMode, KonnectivityAgentSpec, KonnectivityServerSpec,
    KubeletAddressType, KubeletSpec, KubernetesSpec, NetworkProfile, ParentReference, ProbeSpec, Protocol, RegistrySettings, ServiceSpec,
    ServiceType, TenantControlPlane, TenantControlPlaneSpec, WritePermissions,
};

/// `apiVersion` of TenantControlPlane and DataStore.
pub const API_VERSION: &str = "kamaji.clastix.io/v1alpha1";
/// `apiVersion` of tcpc's own kinds: `tcpc.yaml`, the lock, `Tombstone`.
pub const TCPC_API_VERSION: &str = "tcpc.dev/v1alpha1";
/// `apiVersion` of `tcpc.yaml`.
pub const CONFIG_API_VERSION: &str = TCPC_API_VERSION;

/// File name of the TenantControlPlane schema in [`schemas`].
pub const TCP_SCHEMA_FILE: &str = "tenantcontrolplane.schema.json";
/// File name of the DataStore schema in [`schemas`].
pub const DATASTORE_SCHEMA_FILE: &str = "datastore.schema.json";
/// File name of the `tcpc.yaml` schema in [`schemas`].
pub const CONFIG_SCHEMA_FILE: &str = "config.schema.json";

/// JSON Schemas (draft 2020-12, self-contained with `$defs`) of the three
/// input kinds, keyed by file name: [`TCP_SCHEMA_FILE`],
/// [`DATASTORE_SCHEMA_FILE`], [`CONFIG_SCHEMA_FILE`]. Our structs carry
/// `additionalProperties: false`.
pub fn schemas() -> BTreeMap<&'static str, serde_json::Value> {
    BTreeMap::from([
        (TCP_SCHEMA_FILE, schema_of::<TenantControlPlane>()),
        (DATASTORE_SCHEMA_FILE, schema_of::<DataStore>()),
        (CONFIG_SCHEMA_FILE, schema_of::<Config>()),
    ])
}

fn schema_of<T: JsonSchema>() -> serde_json::Value {
    let schema = SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    drop_null_alternatives(&mut value);
    value
}

/// Removes the `null` alternative schemars adds for `Option<T>` fields
/// (`"type": [T, "null"]` and `anyOf: [X, {"type": "null"}]`). An explicit
/// `null` never round-trips (it reads as `None` and is then omitted), so the
/// schema rejects it, and validators report the real type instead of an
/// `anyOf` failure.
fn drop_null_alternatives(schema: &mut serde_json::Value) {
    use serde_json::Value;
    let null = serde_json::json!({"type": "null"});
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".to_owned(), only);
                }
            }
            let single = match map.get("anyOf") {
                Some(Value::Array(alts)) if alts.len() == 2 && alts.contains(&null) => alts.iter().find(|a| **a != null).cloned(),
                _ => None,
            };
            if let Some(Value::Object(inner)) = single {
                map.remove("anyOf");
                for (k, v) in inner {
                    map.entry(k).or_insert(v);
                }
            }
            map.values_mut().for_each(drop_null_alternatives);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_alternatives),
        _ => {}
    }
}

/// Deserialises `input` as `T`, re-serialises it and returns the first JSON
/// pointer where the two differ (`None` when they are identical). A
/// difference means a field was dropped or rewritten, typically an unknown
/// field inside an embedded Kubernetes type. Deserialisation errors are
/// returned as `Err`.
pub fn round_trip_mismatch<T>(input: &serde_json::Value) -> Result<Option<String>, serde_json::Error>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T = serde_json::from_value(input.clone())?;
    let output = serde_json::to_value(&typed)?;
    Ok(first_difference(input, &output, String::new()))
}

fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}/{}", escape_pointer(k));
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, p) {
                            return Some(d);
                        }
                    }
                    None => return Some(p),
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| format!("{path}/{}", escape_pointer(k)))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(va, vb, format!("{path}/{i}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}/{}", x.len().min(y.len())))
        }
        _ => (a != b).then_some(path),
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
