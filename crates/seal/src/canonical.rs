//! Helpers that fix map order independent of `serde_json`'s `preserve_order` feature.

use serde_json::{Map, Value};

/// The entries of `map` sorted by the bytes of their keys (the order the project's YAML
/// emitter writes, and the order Go's `encoding/json` writes maps).
pub(crate) fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

/// Compact JSON with keys sorted by bytes at every level: a stable byte string for hashing.
pub(crate) fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in sorted_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Serializing a &str cannot fail.
                out.extend_from_slice(serde_json::to_string(k).unwrap_or_default().as_bytes());
                out.push(b':');
                canonical_json(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(v, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(serde_json::to_string(other).unwrap_or_default().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys() {
        let v = serde_json::json!({"b": 1, "a": {"d": [1, "x"], "c": null}});
        let mut out = Vec::new();
        canonical_json(&v, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#);
    }
}
