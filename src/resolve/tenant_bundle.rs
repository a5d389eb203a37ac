//! Values of the tenant-cluster bundle that the resolver computes as data, so that the
//! `templates/tenant/*` templates only place them ([`super::Derived`]).
//!
//! * [`kubelet_configuration`]: the `KubeletConfiguration` kubeadm uploads to
//!   `kube-system/kubelet-config`, as JSON, with the TCP's `configurationJSONPatches` applied;
//! * [`apply_patches`]: RFC 6902 JSON Patch (add, remove, replace, move, copy, test);
//! * [`api_server_cert_sans`]: the `apiServer.certSANs` Kamaji writes into `kubeadm-config`.
//!
//! Invariant: pure.

use serde_json::{Map, Value, json};
use tcpc_spec::tcp::{JsonPatch, JsonPatchOp};

use crate::resolve::Tenant;

/// kubeadm's default cgroup driver (since v1.22) when the TCP does not set `kubelet.cgroupfs`.
pub const DEFAULT_CGROUP_DRIVER: &str = "systemd";

/// The KubeletConfiguration (`kubelet.config.k8s.io/v1beta1`) kubeadm stores in the
/// `kubelet-config` ConfigMap: kubeadm's defaulted component config with zero durations spelt
/// out, `resolvConf` dropped (it is node-specific), and the tenant's values. `patches` are
/// applied last, as Kamaji does.
pub fn kubelet_configuration(t: &Tenant, patches: &[JsonPatch]) -> Result<Value, PatchError> {
    let cgroup_driver = t.kubelet.cgroup_driver.as_deref().unwrap_or(DEFAULT_CGROUP_DRIVER);
    let mut config = json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": false},
            "webhook": {"cacheTTL": "0s", "enabled": true},
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
        },
        "authorization": {
            "mode": "Webhook",
            "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"},
        },
        "cgroupDriver": cgroup_driver,
        "clusterDNS": t.dns_service_ips,
        "clusterDomain": t.cluster_domain,
        "containerRuntimeEndpoint": "",
        "cpuManagerReconcilePeriod": "0s",
        "evictionPressureTransitionPeriod": "0s",
        "fileCheckFrequency": "0s",
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "httpCheckFrequency": "0s",
        "imageMaximumGCAge": "0s",
        "imageMinimumGCAge": "0s",
        "logging": {
            "flushFrequency": 0,
            "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
            "verbosity": 0,
        },
        "memorySwap": {},
        "nodeStatusReportFrequency": "0s",
        "nodeStatusUpdateFrequency": "0s",
        "rotateCertificates": true,
        "runtimeRequestTimeout": "0s",
        "shutdownGracePeriod": "0s",
        "shutdownGracePeriodCriticalPods": "0s",
        "staticPodPath": "/etc/kubernetes/manifests",
        "streamingConnectionIdleTimeout": "0s",
        "syncFrequency": "0s",
        "volumeStatsAggPeriod": "0s",
    });
    // Fields kubelets of older minors do not have (kubeadm of that minor does not write them).
    if t.minor >= 32 {
        config["crashLoopBackOff"] = json!({});
    }
    apply_patches(&mut config, patches)?;
    Ok(config)
}

/// `apiServer.certSANs` as Kamaji stores them in `kubeadm-config`: loopback, the in-cluster
/// Service names, then the tenant's own SANs (endpoint host, address, `networkProfile.certSANs`).
/// First occurrence wins; order is otherwise kept.
pub fn api_server_cert_sans(t: &Tenant) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let base = [
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        t.name.clone(),
        format!("{}.{}.svc", t.name, t.namespace),
        format!("{}.{}.svc.cluster.local", t.name, t.namespace),
    ];
    for san in base.into_iter().chain(t.cert_sans.iter().cloned()) {
        if !out.contains(&san) {
            out.push(san);
        }
    }
    out
}

/// `days` as a Go duration string, as kubeadm writes a validity period (`365` → `8760h0m0s`).
pub fn go_duration_days(days: u32) -> String {
    format!("{}h0m0s", u64::from(days) * 24)
}

/// The IP families of a dual-stack pair of addresses (one IPv4, one IPv6) in their order; empty
/// for anything else (one address, or two of one family).
pub fn dual_stack_families(ips: &[String]) -> Vec<&'static str> {
    let family = |ip: &String| if ip.contains(':') { "IPv6" } else { "IPv4" };
    match ips {
        [a, b] if family(a) != family(b) => vec![family(a), family(b)],
        _ => Vec::new(),
    }
}

/// Why a JSON Patch could not be applied. `index` is the operation's position in the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JSON patch operation {index} ({op} {path}): {problem}")]
pub struct PatchError {
    pub index: usize,
    pub op: String,
    pub path: String,
    pub problem: String,
}

/// Applies RFC 6902 operations in order. On error `doc` may be partly patched; callers that
/// need atomicity patch a clone.
pub fn apply_patches(doc: &mut Value, patches: &[JsonPatch]) -> Result<(), PatchError> {
    for (index, p) in patches.iter().enumerate() {
        let fail = |problem: String| PatchError { index, op: p.op.as_str().to_string(), path: p.path.clone(), problem };
        let value = || p.value.clone().ok_or_else(|| fail("`value` is required".to_string()));
        let from = || p.from.as_deref().ok_or_else(|| fail("`from` is required".to_string()));
        match p.op {
            JsonPatchOp::Add => add(doc, &p.path, value()?).map_err(fail)?,
            JsonPatchOp::Remove => {
                remove(doc, &p.path).map_err(fail)?;
            }
            JsonPatchOp::Replace => {
                let v = value()?;
                let target = pointer_mut(doc, &p.path).map_err(fail)?;
                *target = v;
            }
            JsonPatchOp::Move => {
                let from = from()?;
                if p.path != from && p.path.starts_with(&format!("{from}/")) {
                    return Err(fail(format!("cannot move `{from}` into its own child")));
                }
                let v = remove(doc, from).map_err(fail)?;
                add(doc, &p.path, v).map_err(fail)?;
            }
            JsonPatchOp::Copy => {
                let v = pointer_mut(doc, from()?).map_err(fail)?.clone();
                add(doc, &p.path, v).map_err(fail)?;
            }
            JsonPatchOp::Test => {
                let want = value()?;
                let got = pointer_mut(doc, &p.path).map_err(fail)?;
                if !json_equal(got, &want) {
                    return Err(fail(format!("test failed: found {got}, expected {want}")));
                }
            }
        }
    }
    Ok(())
}

/// RFC 6902 §4.6 equality: numbers compare by value, objects ignore key order.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w))),
        _ => a == b,
    }
}

/// Splits a JSON pointer (RFC 6901) into unescaped tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("`{pointer}` is not a JSON pointer (must start with `/`)"));
    };
    rest.split('/')
        .map(|t| {
            // `~1` first would turn `~01` into `/`; RFC 6901 decodes `~1` then `~0`.
            if t.contains('~') && t.split('~').skip(1).any(|s| !(s.starts_with('0') || s.starts_with('1'))) {
                return Err(format!("invalid escape in JSON pointer token `{t}`"));
            }
            Ok(t.replace("~1", "/").replace("~0", "~"))
        })
        .collect()
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if token == "-" && allow_end {
        return Ok(len);
    }
    let valid = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) && (token == "0" || !token.starts_with('0'));
    let i: usize = if valid {
        token.parse().map_err(|_| format!("array index `{token}` is too large"))?
    } else {
        return Err(format!("`{token}` is not an array index"));
    };
    let max = if allow_end { len } else { len.saturating_sub(1) };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("array index {i} is out of bounds (length {len})"));
    }
    Ok(i)
}

fn pointer_mut<'a>(doc: &'a mut Value, pointer: &str) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in tokens(pointer)? {
        cur = match cur {
            Value::Object(m) => m.get_mut(&t).ok_or_else(|| format!("`{pointer}` does not exist (no key `{t}`)"))?,
            Value::Array(a) => {
                let i = array_index(&t, a.len(), false)?;
                &mut a[i]
            }
            _ => return Err(format!("`{pointer}` does not exist (`{t}` is below a scalar)")),
        };
    }
    Ok(cur)
}

/// The parent container of `pointer` and the last token. The root has no parent.
fn parent_mut<'a>(doc: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), String> {
    let mut toks = tokens(pointer)?;
    let Some(last) = toks.pop() else {
        return Err("the document root has no parent".to_string());
    };
    let parent_pointer: String = toks.iter().map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1"))).collect();
    Ok((pointer_mut(doc, &parent_pointer)?, last))
}

fn add(doc: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    if pointer.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_mut(doc, pointer)?;
    match parent {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => {
            let i = array_index(&last, a.len(), true)?;
            a.insert(i, value);
        }
        _ => return Err(format!("cannot add `{pointer}`: its parent is not an object or array")),
    }
    Ok(())
}

fn remove(doc: &mut Value, pointer: &str) -> Result<Value, String> {
    if pointer.is_empty() {
        return Ok(std::mem::replace(doc, Value::Object(Map::new())));
    }
    let (parent, last) = parent_mut(doc, pointer)?;
    match parent {
        Value::Object(m) => m.remove(&last).ok_or_else(|| format!("`{pointer}` does not exist")),
        Value::Array(a) => {
            let i = array_index(&last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err(format!("`{pointer}` does not exist (its parent is a scalar)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_periods_are_go_durations() {
        assert_eq!(go_duration_days(365), "8760h0m0s");
        assert_eq!(go_duration_days(36500), "876000h0m0s");
    }

    #[test]
    fn only_a_dual_stack_pair_has_families() {
        let ips = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(dual_stack_families(&ips(&["10.96.0.10", "fd00::a"])), ["IPv4", "IPv6"]);
        assert_eq!(dual_stack_families(&ips(&["fd00::a", "10.96.0.10"])), ["IPv6", "IPv4"]);
        assert!(dual_stack_families(&ips(&["10.96.0.10", "10.96.0.11"])).is_empty());
        assert!(dual_stack_families(&ips(&["10.96.0.10"])).is_empty());
    }

    fn patches(v: Value) -> Vec<JsonPatch> {
        serde_json::from_value(v).expect("valid patch list")
    }

    fn apply(doc: Value, p: Value) -> Result<Value, PatchError> {
        let mut doc = doc;
        apply_patches(&mut doc, &patches(p))?;
        Ok(doc)
    }

    #[test]
    fn add_replace_remove() {
        let doc = json!({"a": 1, "list": [1, 2]});
        let out = apply(
            doc,
            json!([
                {"op": "add", "path": "/b", "value": {"c": true}},
                {"op": "add", "path": "/list/1", "value": 9},
                {"op": "add", "path": "/list/-", "value": 3},
                {"op": "replace", "path": "/a", "value": "x"},
                {"op": "remove", "path": "/list/0"},
                {"op": "add", "path": "/b/c", "value": null},
            ]),
        )
        .unwrap();
        assert_eq!(out, json!({"a": "x", "b": {"c": null}, "list": [9, 2, 3]}));
    }

    #[test]
    fn move_copy_test() {
        let doc = json!({"a": {"x": 1}, "b": []});
        let out = apply(
            doc,
            json!([
                {"op": "copy", "from": "/a/x", "path": "/b/0"},
                {"op": "move", "from": "/a", "path": "/c"},
                {"op": "test", "path": "/c", "value": {"x": 1.0}},
                {"op": "test", "path": "/b", "value": [1]},
            ]),
        )
        .unwrap();
        assert_eq!(out, json!({"b": [1], "c": {"x": 1}}));
    }

    #[test]
    fn escaped_pointers() {
        let out =
            apply(json!({"a/b": 1, "m~n": 2}), json!([{"op": "replace", "path": "/a~1b", "value": 3}, {"op": "remove", "path": "/m~0n"}]))
                .unwrap();
        assert_eq!(out, json!({"a/b": 3}));
    }

    #[test]
    fn errors_name_the_operation() {
        let doc = json!({"a": [1]});
        let e = apply(doc.clone(), json!([{"op": "test", "path": "/a/0", "value": 1}, {"op": "test", "path": "/a/0", "value": 2}]))
            .unwrap_err();
        assert_eq!((e.index, e.op.as_str()), (1, "test"));
        assert!(
            apply(doc.clone(), json!([{"op": "replace", "path": "/missing", "value": 1}])).is_err(),
            "replace needs an existing target"
        );
        assert!(apply(doc.clone(), json!([{"op": "remove", "path": "/a/1"}])).is_err(), "out of bounds");
        assert!(apply(doc.clone(), json!([{"op": "add", "path": "/a/2", "value": 1}])).is_err(), "add past the end");
        assert!(apply(doc.clone(), json!([{"op": "add", "path": "/a/01", "value": 1}])).is_err(), "leading zero");
        assert!(apply(doc.clone(), json!([{"op": "add", "path": "/x/y", "value": 1}])).is_err(), "missing parent");
        assert!(apply(doc.clone(), json!([{"op": "move", "from": "/a", "path": "/a/0"}])).is_err(), "move into own child");
        assert!(apply(doc, json!([{"op": "add", "path": "a", "value": 1}])).is_err(), "not a pointer");
    }
}
