//! The pipeline's shared vocabulary: what every stage hands to the next. A leaf module: it
//! imports no other module of the crate, so no stage needs to reach into a later one for
//! these names.
//!
//! - [`Bundle`], [`Rendered`], [`EmittedFile`], [`Tree`]: objects and files on their way out;
//! - [`tenant_key`]: how a tenant is named in the lock, the cache marker and reports;
//! - [`first_difference`]: where two JSON values part (parse's round trip, check's).

use std::collections::BTreeMap;

use serde_json::Value;

/// `namespace/name`: the key of a tenant in the lock, the cache marker, filters and reports.
pub fn tenant_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Which cluster a bundle is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bundle {
    Management,
    Tenant,
}

impl Bundle {
    pub fn dir(self) -> &'static str {
        match self {
            Bundle::Management => "management",
            Bundle::Tenant => "tenant",
        }
    }
}

/// One checked object, tagged with the tenant and bundle it belongs to.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub namespace: String,
    pub tcp: String,
    pub bundle: Bundle,
    pub object: Value,
}

/// One emitted file: an object already written as canonical YAML.
#[derive(Debug, Clone)]
pub struct EmittedFile {
    pub namespace: String,
    pub tcp: String,
    pub bundle: Bundle,
    /// `<kind>-<name>.yaml`.
    pub file: String,
    pub text: String,
}

impl Rendered {
    /// Emits the object as canonical YAML (done in the worker threads, so only text is kept).
    pub fn emit(self) -> EmittedFile {
        EmittedFile {
            file: file_name(&self.object),
            text: tcpc_yaml::emit(&self.object),
            namespace: self.namespace,
            tcp: self.tcp,
            bundle: self.bundle,
        }
    }
}

/// Relative path → file content, sorted. The whole output of a run.
pub type Tree = BTreeMap<String, String>;

/// `<kind>-<name>.yaml`, lower case, every character outside `[a-z0-9.-]` as `-`.
fn file_name(object: &Value) -> String {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("object").to_ascii_lowercase();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("unnamed");
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("{kind}-{safe}.yaml")
}

/// The path of the first place where `a` and `b` differ, if any.
pub fn first_difference(a: &Value, b: &Value, path: &mut String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                let found = match y.get(k) {
                    Some(vb) => first_difference(va, vb, path),
                    None => Some(path.clone()),
                };
                if found.is_some() {
                    return found;
                }
                path.truncate(len);
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| format!("{path}.{k}"))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(path.clone());
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                if let Some(p) = first_difference(va, vb, path) {
                    return Some(p);
                }
                path.truncate(len);
            }
            None
        }
        (Value::Number(x), Value::Number(y)) => (x.as_f64() != y.as_f64()).then(|| path.clone()),
        // Quantities and int-or-string fields read a YAML number and give back its text
        // (`cpu: 1` → "1"): the same value, not a difference.
        (Value::Number(x), Value::String(y)) => (x.to_string() != *y).then(|| path.clone()),
        _ => (a != b).then(|| path.clone()),
    }
}
