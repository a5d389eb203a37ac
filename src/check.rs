//! Typed check: every rendered object is deserialised into its Kubernetes type and must
//! serialise back to exactly the same JSON.
//!
//! k8s-openapi's types ignore unknown fields, so "deserialises" alone would let a misspelt key
//! through; the round-trip comparison catches it (and wrong types, and values the type would
//! normalise). Kinds outside k8s-openapi (SealedSecret, TLSRoute, Kustomization, RenderedControlPlane) have strict
//! types of our own in [`crate::crd`].
//!
//! Invariant: a failure here is a bug in tcpc (templates or resolver), never a user error: user
//! input was validated before rendering. The message says so.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::api::{admissionregistration, apps, core, networking, policy, rbac};

#[derive(Debug, thiserror::Error)]
#[error("internal error: rendered {kind} `{name}` is not a valid {api_version} {kind}: {problem} (this is a tcpc bug)")]
pub struct CheckError {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub problem: String,
}

/// Checks one rendered object and returns its canonical JSON (the typed re-serialisation).
pub fn check(object: Value) -> Result<Value, CheckError> {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let fail = |problem: String| CheckError { api_version: api_version.clone(), kind: kind.clone(), name: name.clone(), problem };
    let result = match (api_version.as_str(), kind.as_str()) {
        ("v1", "ConfigMap") => round_trip::<core::v1::ConfigMap>(&object),
        ("v1", "Secret") => round_trip::<core::v1::Secret>(&object),
        ("v1", "Service") => round_trip::<core::v1::Service>(&object),
        ("v1", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(&object),
        ("v1", "Namespace") => round_trip::<core::v1::Namespace>(&object),
        ("apps/v1", "Deployment") => round_trip::<apps::v1::Deployment>(&object),
        ("batch/v1", "Job") => round_trip::<k8s_openapi::api::batch::v1::Job>(&object),
        ("apps/v1", "StatefulSet") => round_trip::<apps::v1::StatefulSet>(&object),
        ("apps/v1", "DaemonSet") => round_trip::<apps::v1::DaemonSet>(&object),
        ("policy/v1", "PodDisruptionBudget") => round_trip::<policy::v1::PodDisruptionBudget>(&object),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") => {
            round_trip::<admissionregistration::v1::ValidatingAdmissionPolicy>(&object)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding") => {
            round_trip::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>(&object)
        }
        ("networking.k8s.io/v1", "Ingress") => round_trip::<networking::v1::Ingress>(&object),
        ("networking.k8s.io/v1", "NetworkPolicy") => round_trip::<networking::v1::NetworkPolicy>(&object),
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<rbac::v1::Role>(&object),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<rbac::v1::RoleBinding>(&object),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<rbac::v1::ClusterRole>(&object),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => round_trip::<rbac::v1::ClusterRoleBinding>(&object),
        ("bitnami.com/v1alpha1", "SealedSecret") => round_trip::<crate::crd::SealedSecret>(&object),
        ("gateway.networking.k8s.io/v1", "TLSRoute") => round_trip::<crate::crd::TlsRoute>(&object),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization") => round_trip::<crate::crd::FluxKustomization>(&object),
        ("tcpc.dev/v1alpha1", "RenderedControlPlane") => round_trip::<crate::crd::RenderedControlPlane>(&object),
        ("kustomize.config.k8s.io/v1beta1", "Kustomization") => round_trip::<crate::crd::Kustomization>(&object),
        _ => Err(format!("no type is known for {api_version} {kind}")),
    };
    result.map_err(fail)?;
    Ok(object)
}

fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Result<(), String> {
    let typed: T = serde_path_to_error::deserialize(object).map_err(|e| format!("at `{}`: {}", e.path(), e.inner()))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    match crate::model::first_difference(object, &back, &mut String::new()) {
        None => Ok(()),
        Some(path) => Err(format!("field `{path}` does not survive a typed round trip (unknown field or wrong type)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_valid_objects() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "y"}, "data": {"a": "b"}});
        assert_eq!(check(cm.clone()).unwrap(), cm);
    }

    #[test]
    fn rejects_unknown_fields_anywhere() {
        let dep = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"name": "c", "imagePullPolice": "Always"}]}}}
        });
        let err = check(dep).unwrap_err().to_string();
        assert!(err.contains("spec.template.spec.containers[0].imagePullPolice"), "{err}");
    }

    #[test]
    fn rejects_wrong_types_and_unknown_kinds() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": "https"}]}});
        assert!(check(svc).unwrap_err().to_string().contains("spec.ports[0].port"));
        let odd = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}});
        assert!(check(odd).unwrap_err().to_string().contains("no type is known"));
    }
}
