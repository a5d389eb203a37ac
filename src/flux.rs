//! Output that Flux's `postBuild.substitute` leaves alone.
//!
//! Flux's kustomize-controller runs envsubst over every object of a Kustomization that has
//! `postBuild` set, replacing `${VAR}` (and, as envsubst does, `$VAR`) — in any string,
//! including values tcpc copied verbatim from a spec (an extra argument, an annotation, a
//! label). tcpc marks each object whose text holds a `$` that envsubst would take as a
//! variable with `kustomize.toolkit.fluxcd.io/substitute: disabled`, which makes Flux skip
//! the object. Escaping (`$${VAR}`) was not chosen: it changes the object for every other
//! consumer (Argo CD, `kubectl apply`, the apiserver dry-run), which would then apply the
//! escaped text; the annotation is inert everywhere but Flux. Objects without such a `$` are
//! untouched, so other users of substitution keep it. SOPS documents are left alone (their MAC
//! covers the metadata; their encrypted values hold no `$`).

use serde_json::Value;

/// The annotation that turns Flux's post-build substitution off for one object.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Whether `text` holds something envsubst would substitute: `${` or `$` before a name.
pub fn substitutable(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(2).any(|w| w[0] == b'$' && (w[1] == b'{' || w[1] == b'_' || w[1].is_ascii_alphabetic()))
}

/// Marks `object` for Flux when any of its strings (keys included) is substitutable.
pub fn guard(object: &mut Value) {
    if object.get("sops").is_some() || !any_string(object, &substitutable) {
        return;
    }
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| serde_json::json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(SUBSTITUTE_ANNOTATION.into(), "disabled".into());
        }
    }
}

fn any_string(v: &Value, f: &impl Fn(&str) -> bool) -> bool {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().any(|x| any_string(x, f)),
        Value::Object(m) => m.iter().any(|(k, x)| f(k) || any_string(x, f)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_only_objects_with_variables() {
        assert!(substitutable("a ${HOME} b") && substitutable("$HOME") && substitutable("$_x"));
        assert!(!substitutable("costs 5$") && !substitutable("$1") && !substitutable("$$") && !substitutable("plain"));
        let mut o = json!({"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "--flag=${VAR}"}});
        guard(&mut o);
        assert_eq!(o["metadata"]["annotations"][SUBSTITUTE_ANNOTATION], "disabled");
        let mut clean = json!({"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}});
        guard(&mut clean);
        assert!(clean["metadata"].get("annotations").is_none());
        let mut sops = json!({"kind": "Secret", "metadata": {"name": "x"}, "sops": {"mac": "${x}"}});
        guard(&mut sops);
        assert!(sops["metadata"].get("annotations").is_none());
    }
}
