//! The lock is data, never trusted output.
//!
//! Every sealed object re-emitted from `tcpc.lock` is rebuilt from what the tenant's spec must
//! produce — apiVersion and kind, name, namespace, labels, annotations, type, the exact set of
//! keys of that Secret — and only the ciphertexts (and, for SOPS, the per-file metadata that is
//! ciphertext or a timestamp) are taken from the lock. Any other difference is an error that
//! names the lock entry and the field; nothing from a tampered lock reaches the output.
//! The same validation runs on freshly sealed objects, so the expected shape and the sealing
//! code cannot drift apart.
//!
//! Invariant: pure; the error names the lock entry and the field, never a secret value.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::pki::Sealer;
use crate::resolve::{Tenant, kamaji_labels};

/// The keys of each control-plane Secret, by its Kamaji component label (the admin kubeconfig
/// carries `super-admin.*` only when the tenant asks for it in the cluster).
pub fn secret_keys(t: &Tenant, component: &str) -> Option<&'static [&'static str]> {
    let (super_admin_in_cluster, kine) = (t.super_admin_in_cluster, t.datastore.kine.as_ref());
    Some(match component {
        // Argo CD's cluster Secret (`delivery.argocd`).
        "argocd-cluster" if t.argocd_delivery.as_ref().is_some_and(|a| a.project.is_some()) => &["config", "name", "project", "server"],
        "argocd-cluster" => &["config", "name", "server"],
        // kine: the CA that verifies the database server, and the client pair it presents.
        "datastore-certificate" if kine.is_some_and(|k| k.client_certificate) => &["ca.crt", "server.crt", "server.key"],
        "datastore-certificate" if kine.is_some() => &["ca.crt"],
        "datastore-config" if kine.is_some() => &["DB_CONNECTION_STRING", "DB_PASSWORD", "DB_SCHEMA", "DB_USER"],
        "datastore-setup" if kine.is_some_and(|k| k.tls) => &["DB_HOST", "DB_PASSWORD", "DB_PORT", "DB_SCHEMA", "DB_USER", "ca.crt"],
        "datastore-setup" if kine.is_some() => &["DB_HOST", "DB_PASSWORD", "DB_PORT", "DB_SCHEMA", "DB_USER"],
        "ca" => &["ca.crt", "ca.key"],
        "front-proxy-ca-certificate" => &["front-proxy-ca.crt", "front-proxy-ca.key"],
        "sa-certificate" => &["sa.key", "sa.pub"],
        "api-server-certificate" => &["apiserver.crt", "apiserver.key"],
        "api-server-kubelet-client-certificate" => &["apiserver-kubelet-client.crt", "apiserver-kubelet-client.key"],
        "front-proxy-client-certificate" => &["front-proxy-client.crt", "front-proxy-client.key"],
        "datastore-certificate" => &["ca.crt", "server.crt", "server.key"],
        // A dedicated etcd's members: its CA certificate, serving and peer pairs.
        "etcd-certificates" => &["ca.crt", "peer.crt", "peer.key", "server.crt", "server.key"],
        "admin-kubeconfig" if super_admin_in_cluster => &["admin.conf", "admin.svc", "super-admin.conf", "super-admin.svc"],
        "admin-kubeconfig" => &["admin.conf", "admin.svc"],
        "controller-manager-kubeconfig" => &["controller-manager.conf"],
        "scheduler-kubeconfig" => &["scheduler.conf"],
        "konnectivity-kubeconfig" => &["konnectivity-server.conf"],
        _ => return None,
    })
}

/// The namespace of a tenant's Secret: the tenant's, except the setup Secret of a SQL DataStore,
/// which lives beside the DataStore's admin credentials (the setup Job's namespace).
pub fn secret_namespace<'a>(t: &'a Tenant, component: &str) -> &'a str {
    match (component, t.datastore.setup(), &t.argocd_delivery) {
        ("datastore-setup", Some(setup), _) => &setup.namespace,
        ("argocd-cluster", _, Some(argo)) => &argo.namespace,
        _ => &t.namespace,
    }
}

/// The labels of a tenant's Secret: Kamaji's, and on Argo CD's cluster Secret the label Argo CD
/// finds it by and the tenant's namespace.
pub fn secret_labels(t: &Tenant, component: &str) -> BTreeMap<String, String> {
    let mut labels = kamaji_labels(&t.name, component);
    if component == "argocd-cluster" {
        labels.extend(crate::resolve::delivery::argocd_labels(&t.namespace).map(|(k, v)| (k.to_string(), v)));
    }
    labels
}

/// Checks a sealed object (from the lock, or just sealed) against what `t` must produce for
/// the Secret `name` of `component`. `entry` names where the object came from.
pub fn check_sealed(t: &Tenant, name: &str, component: &str, sealer: &Sealer, object: &Value, entry: &str) -> Result<(), String> {
    let err = |path: &str, what: &str| {
        format!("{entry}: {path}: {what}; refusing to emit it (restore the lock from Git, or re-render with the identity)")
    };
    let keys = secret_keys(t, component).ok_or_else(|| err("", &format!("unknown Secret component `{component}` (this is a tcpc bug)")))?;
    let labels = secret_labels(t, component);
    let expected = match sealer {
        Sealer::SealedSecrets { cert, scope, .. } => {
            use rand_core::SeedableRng as _;
            // No data: the skeleton carries every field but the ciphertexts (nothing is encrypted).
            let mut rng = rand_chacha::ChaCha20Rng::from_seed([0; 32]);
            let mut skeleton = tcpc_seal::sealedsecrets::sealed_secret(
                cert,
                *scope,
                name,
                secret_namespace(t, component),
                "Opaque",
                &labels,
                &BTreeMap::new(),
                &BTreeMap::new(),
                &mut rng,
            )
            .map_err(|e| err("", &e.to_string()))?;
            let data =
                object.pointer("/spec/encryptedData").and_then(Value::as_object).ok_or_else(|| err("spec.encryptedData", "missing"))?;
            let mut enc = Map::new();
            for k in keys {
                let v = data.get(*k).and_then(Value::as_str).ok_or_else(|| err(&format!("spec.encryptedData.{k}"), "missing"))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|_| err(&format!("spec.encryptedData.{k}"), "not base64 ciphertext"))?;
                // 2-byte length, an RSA-OAEP-wrapped session key (≥ 2048 bits), AES-GCM output.
                if bytes.len() < 2 + 256 + 16 {
                    return Err(err(&format!("spec.encryptedData.{k}"), "too short to be a sealed value"));
                }
                enc.insert((*k).to_string(), Value::String(v.to_string()));
            }
            skeleton["spec"]["encryptedData"] = Value::Object(enc);
            skeleton
        }
        Sealer::Sops { recipient_strings, .. } => {
            let enc_value = |path: &str, v: Option<&Value>| -> Result<Value, String> {
                let s = v.and_then(Value::as_str).ok_or_else(|| err(path, "missing"))?;
                let ok = s.starts_with("ENC[AES256_GCM,data:") && s.ends_with(",type:str]") && s.contains(",iv:") && s.contains(",tag:");
                if !ok {
                    return Err(err(path, "not a SOPS ciphertext"));
                }
                Ok(Value::String(s.to_string()))
            };
            let data = object.get("data").and_then(Value::as_object).ok_or_else(|| err("data", "missing"))?;
            let mut enc = Map::new();
            for k in keys {
                enc.insert((*k).to_string(), enc_value(&format!("data.{k}"), data.get(*k))?);
            }
            let sops = object.get("sops").ok_or_else(|| err("sops", "missing"))?;
            let age_in = sops.get("age").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut age = Vec::new();
            for (i, r) in recipient_strings.iter().enumerate() {
                let e = age_in
                    .get(i)
                    .and_then(|a| a.get("enc"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(&format!("sops.age[{i}].enc"), "missing"))?;
                if !e.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") {
                    return Err(err(&format!("sops.age[{i}].enc"), "not an age ciphertext"));
                }
                age.push(json!({"enc": e, "recipient": r}));
            }
            let lastmodified = sops.get("lastmodified").and_then(Value::as_str).unwrap_or_default();
            let b = lastmodified.as_bytes();
            let ts_ok = b.len() == 20
                && b.iter().enumerate().all(|(i, c)| match i {
                    4 | 7 => *c == b'-',
                    10 => *c == b'T',
                    13 | 16 => *c == b':',
                    19 => *c == b'Z',
                    _ => c.is_ascii_digit(),
                });
            if !ts_ok {
                return Err(err("sops.lastmodified", "not a YYYY-MM-DDTHH:MM:SSZ timestamp"));
            }
            let mac = sops.get("mac").and_then(Value::as_str).ok_or_else(|| err("sops.mac", "missing"))?;
            if !(mac.starts_with("ENC[AES256_GCM,data:") && mac.ends_with(",type:str]")) {
                return Err(err("sops.mac", "not a SOPS ciphertext"));
            }
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name, "namespace": secret_namespace(t, component), "labels": labels},
                "data": Value::Object(enc),
                "sops": {
                    "age": age,
                    "encrypted_regex": tcpc_seal::sops::ENCRYPTED_REGEX,
                    "lastmodified": lastmodified,
                    "mac": mac,
                    "version": tcpc_seal::sops::SOPS_VERSION,
                },
            })
        }
    };
    match first_difference(&expected, object, String::new()) {
        None => Ok(()),
        Some((path, what)) => Err(err(if path.is_empty() { "(document)" } else { &path }, &what)),
    }
}

/// The first path where `actual` differs from `expected`, and how.
fn first_difference(expected: &Value, actual: &Value, path: String) -> Option<(String, String)> {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => {
                        if let Some(d) = first_difference(ev, av, join(k)) {
                            return Some(d);
                        }
                    }
                    None => return Some((join(k), "missing".into())),
                }
            }
            a.keys().find(|k| !e.contains_key(*k)).map(|k| (join(k), "not produced by this tenant's spec (extra field)".into()))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some((path, format!("{} item(s) where the spec produces {}", a.len(), e.len())));
            }
            e.iter().zip(a).enumerate().find_map(|(i, (ev, av))| first_difference(ev, av, format!("{path}[{i}]")))
        }
        (e, a) if e == a => None,
        (e, _) => Some((path, format!("differs from what the spec produces ({})", short(e)))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}…", &s[..s.char_indices().take_while(|(i, _)| *i < 80).last().map_or(0, |(i, c)| i + c.len_utf8())])
    } else {
        s
    }
}

/// Checks the CA bundle recorded in the lock (published in `cluster-info`): PEM certificates
/// only, the first being the CA the lock records.
pub fn check_ca_bundle(bundle: &str, ca_fingerprint: Option<&str>, entry: &str) -> Result<(), String> {
    let err = |what: &str| format!("{entry}: {what}; refusing to publish it (restore the lock from Git)");
    let mut inside = false;
    let mut certs = 0;
    for line in bundle.lines() {
        match line {
            "-----BEGIN CERTIFICATE-----" if !inside => inside = true,
            "-----END CERTIFICATE-----" if inside => {
                inside = false;
                certs += 1;
            }
            l if inside && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=') => {}
            "" if !inside => {}
            _ => return Err(err("not a PEM certificate bundle")),
        }
    }
    if inside || certs == 0 {
        return Err(err("not a PEM certificate bundle"));
    }
    let info = tcpc_pki::CertInfo::parse(bundle).map_err(|_| err("its first certificate does not parse"))?;
    if ca_fingerprint.is_some_and(|fp| fp != format!("sha256:{}", info.sha256_fingerprint_hex)) {
        return Err(err("its first certificate is not the CA the lock records"));
    }
    Ok(())
}
