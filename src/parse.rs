//! Parse: YAML documents → typed inputs that remember where they came from.
//!
//! Each document goes through three gates, and every failure becomes a diagnostic pointing at
//! the exact key or value:
//! 1. YAML syntax (with spans, duplicate keys refused);
//! 2. the JSON Schema generated from the Rust types (unknown fields, enums, types);
//! 3. typed deserialisation, then a round trip back to JSON that must equal the input — this is
//!    what catches unknown fields inside embedded Kubernetes types, which do not deny them.
//!
//! Documents of other kinds are reported as warnings and skipped; v1 ConfigMaps are kept aside
//! because a TenantControlPlane may reference one (`internalCACertificatesConfigMap`).
//!
//! Invariant: pure; output order is the order of (kind, namespace, name), never file order.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tcpc_spec::{Config, DataStore, TenantControlPlane};
use tcpc_yaml::{Node, NodeKind, PathSeg, Span};

use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{SourceId, Sources};

/// A typed document and where it came from.
#[derive(Debug, Clone)]
pub struct Doc<T> {
    pub value: T,
    pub file: SourceId,
    pub node: Node,
}

impl<T> Doc<T> {
    /// The span of the value at a JSON pointer (`/spec/networkProfile/port`), or of its nearest
    /// existing parent.
    pub fn span(&self, pointer: &str) -> Span {
        self.node.span_at(&tcpc_yaml::path_from_pointer(pointer), false)
    }

    /// The span of the key at a JSON pointer (for "unknown/unsupported field" messages).
    pub fn key_span(&self, pointer: &str) -> Span {
        self.node.span_at(&tcpc_yaml::path_from_pointer(pointer), true)
    }
}

/// A ConfigMap found in the repository (only its identity and data matter to tcpc).
#[derive(Debug, Clone)]
pub struct ConfigMapDoc {
    pub namespace: String,
    pub name: String,
    pub data: BTreeMap<String, String>,
    pub file: SourceId,
    pub span: Span,
}

/// Everything the repository holds that tcpc understands.
#[derive(Debug, Clone)]
pub struct Inputs<'c> {
    /// `tcpc.yaml`, parsed once at the edge ([`ConfigFile`]).
    pub config: &'c Config,
    pub config_doc: Option<&'c Doc<()>>,
    pub tcps: Vec<Doc<TenantControlPlane>>,
    pub datastores: Vec<Doc<DataStore>>,
    pub configmaps: Vec<ConfigMapDoc>,
    /// Names of DataStores whose documents had errors (already reported).
    pub invalid_datastores: Vec<String>,
    /// `<namespace>/<name>` of every `tcpc.dev/v1alpha1` `Tombstone`: tenants whose removal is
    /// recorded in the repository (see `intent`).
    pub tombstones: Vec<String>,
    /// The files that hold TenantControlPlanes and nothing else (and parsed without a
    /// diagnostic): their tenants depend on no other file of theirs (`index`'s unchanged files).
    pub tcp_only: std::collections::BTreeSet<SourceId>,
}

impl<'c> Inputs<'c> {
    /// No document yet, under `tcpc.yaml`'s `config`.
    fn empty(config: &'c Config, config_doc: Option<&'c Doc<()>>) -> Inputs<'c> {
        Inputs {
            config,
            config_doc,
            tcps: Vec::new(),
            datastores: Vec::new(),
            configmaps: Vec::new(),
            invalid_datastores: Vec::new(),
            tombstones: Vec::new(),
            tcp_only: Default::default(),
        }
    }
}

/// One document kind's schema: the validator, and the generated schema itself for the "did
/// you mean" look-ups (always in the document's own schema, never another kind's).
struct Schema {
    validator: jsonschema::Validator,
    raw: Value,
}

struct Schemas {
    tcp: Schema,
    datastore: Schema,
    config: Schema,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut all = tcpc_spec::schemas();
        let mut compile = |name: &str| {
            let raw = all.remove(name).unwrap_or_else(|| panic!("no generated schema {name}"));
            let validator = jsonschema::validator_for(&raw).unwrap_or_else(|e| panic!("generated schema {name} is invalid: {e}"));
            Schema { validator, raw }
        };
        Schemas {
            tcp: compile("tenantcontrolplane.schema.json"),
            datastore: compile("datastore.schema.json"),
            config: compile("config.schema.json"),
        }
    })
}

/// `tcpc.yaml`: parsed once, by the IO edge, before anything else is read (it decides what is
/// walked), then handed to [`parse`] and every later stage.
#[derive(Debug)]
pub struct ConfigFile {
    pub config: Config,
    /// The document, for diagnostics that point into tcpc.yaml; `None` without one.
    pub doc: Option<Doc<()>>,
    /// The source holding tcpc.yaml, if there is one (possibly empty).
    pub id: Option<SourceId>,
}

impl ConfigFile {
    /// Refuses the settings meant for tests only (`pki.testOnlyLeafValiditySeconds`). The
    /// caller decides when they are allowed (the CLI: `TCPC_ALLOW_TEST_ONLY=1`).
    pub fn refuse_test_only(&self, diags: &mut Diagnostics) {
        if self.config.pki.as_ref().is_some_and(|p| p.test_only_leaf_validity_seconds.is_some())
            && let Some(doc) = &self.doc
        {
            diags.push(
                Diagnostic::error("`pki.testOnlyLeafValiditySeconds` is for tests only")
                    .at(doc.file, doc.key_span("/pki/testOnlyLeafValiditySeconds"), "leaves of minutes are refused in normal use")
                    .help("remove it (leaves live `pki.leafValidityDays`); tests set TCPC_ALLOW_TEST_ONLY=1"),
            );
        }
    }

    /// Parses `tcpc.yaml` (source `id`); without one, the empty configuration (every default).
    pub fn parse(sources: &Sources, id: Option<SourceId>, diags: &mut Diagnostics) -> ConfigFile {
        let (config, doc) = match id {
            Some(id) => parse_config(sources, id, diags),
            None => (Config::empty(), None),
        };
        ConfigFile { config, doc, id }
    }
}

/// Parses every input document but tcpc.yaml, which `config` holds already.
pub fn parse<'c>(sources: &Sources, config_file: &'c ConfigFile, diags: &mut Diagnostics) -> Inputs<'c> {
    parse_except(sources, config_file, &Default::default(), diags)
}

/// [`parse`], leaving out the files of `skip` (unchanged files whose tenants are known: `Stub`).
pub fn parse_except<'c>(
    sources: &Sources,
    config_file: &'c ConfigFile,
    skip: &std::collections::BTreeSet<SourceId>,
    diags: &mut Diagnostics,
) -> Inputs<'c> {
    let mut inputs = Inputs::empty(&config_file.config, config_file.doc.as_ref());
    let limits = inputs.config.yaml_limits();
    // The files within the total size limit, then each parsed on its own (on every core), the
    // results taken in file order.
    let mut total: u64 = 0;
    let mut files = Vec::new();
    let mut exceeded = None;
    for (id, file) in sources.iter() {
        if Some(id) == config_file.id {
            continue;
        }
        total = total.saturating_add(file.text.len() as u64);
        if total > inputs.config.max_total_bytes() {
            exceeded = Some(crate::limits::total_exceeded(id, total, inputs.config.max_total_bytes()));
            break;
        }
        if !skip.contains(&id) {
            files.push((id, file));
        }
    }
    let parsed = crate::par::map(&files, |(id, file)| {
        let mut part = Inputs::empty(inputs.config, inputs.config_doc);
        let mut part_diags = Diagnostics::default();
        match tcpc_yaml::parse_stream_limited(&file.text, &limits) {
            Ok(docs) => {
                for doc in docs {
                    classify(*id, doc.root, &mut part, &mut part_diags);
                }
            }
            Err(e) => part_diags.push(yaml_error(*id, &e)),
        }
        let only = !part.tcps.is_empty()
            && part_diags.is_empty()
            && part.datastores.is_empty()
            && part.configmaps.is_empty()
            && part.invalid_datastores.is_empty()
            && part.tombstones.is_empty();
        if only {
            part.tcp_only.insert(*id);
        }
        (part, part_diags)
    });
    for (part, part_diags) in parsed {
        inputs.tcps.extend(part.tcps);
        inputs.datastores.extend(part.datastores);
        inputs.configmaps.extend(part.configmaps);
        inputs.invalid_datastores.extend(part.invalid_datastores);
        inputs.tombstones.extend(part.tombstones);
        inputs.tcp_only.extend(part.tcp_only);
        diags.extend(part_diags);
    }
    if let Some(d) = exceeded {
        diags.push(d);
    }
    let ns = inputs.config.default_namespace().to_string();
    inputs.tcps.sort_by(|a, b| {
        let key =
            |d: &Doc<TenantControlPlane>| (d.value.metadata.namespace.clone().unwrap_or_else(|| ns.clone()), d.value.metadata.name.clone());
        key(a).cmp(&key(b))
    });
    inputs.datastores.sort_by(|a, b| a.value.metadata.name.cmp(&b.value.metadata.name));
    inputs.configmaps.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    inputs
}

fn yaml_error(id: SourceId, e: &tcpc_yaml::YamlError) -> Diagnostic {
    if let Some(name) = e.limit {
        return crate::limits::yaml_limit_exceeded(id, e, name);
    }
    let mut d = Diagnostic::error(format!("invalid YAML: {}", e.message)).at(id, e.span, "here");
    if let Some((label, span)) = &e.related {
        d = d.also(id, *span, label.clone());
    }
    d
}

fn parse_config(sources: &Sources, id: SourceId, diags: &mut Diagnostics) -> (Config, Option<Doc<()>>) {
    let docs = match tcpc_yaml::parse_stream(&sources.get(id).text) {
        Ok(d) => d,
        Err(e) => {
            diags.push(yaml_error(id, &e));
            return (Config::empty(), None);
        }
    };
    let Some(doc) = docs.into_iter().next() else {
        return (Config::empty(), None);
    };
    let node = doc.root;
    let config = typed::<Config>(&schemas().config, id, &node, "tcpc.yaml", diags).unwrap_or_else(Config::empty);
    (config, Some(Doc { value: (), file: id, node }))
}

fn classify(id: SourceId, node: Node, inputs: &mut Inputs, diags: &mut Diagnostics) {
    let api_version = node.get("apiVersion").and_then(Node::as_str).unwrap_or_default().to_string();
    let kind = node.get("kind").and_then(Node::as_str).unwrap_or_default().to_string();
    match (api_version.as_str(), kind.as_str()) {
        (tcpc_spec::API_VERSION, "TenantControlPlane") => {
            if let Some(value) = typed::<TenantControlPlane>(&schemas().tcp, id, &node, "TenantControlPlane", diags) {
                inputs.tcps.push(Doc { value, file: id, node });
            }
        }
        (tcpc_spec::API_VERSION, "DataStore") => match typed::<DataStore>(&schemas().datastore, id, &node, "DataStore", diags) {
            Some(value) => inputs.datastores.push(Doc { value, file: id, node }),
            None => {
                if let Some(name) = node.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str) {
                    inputs.invalid_datastores.push(name.to_string());
                }
            }
        },
        (tcpc_spec::TCPC_API_VERSION, "Tombstone") => {
            let json = node.to_json();
            let name = json.pointer("/metadata/name").and_then(Value::as_str);
            let namespace = json.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(inputs.config.default_namespace());
            let only_identity =
                json.as_object().is_some_and(|o| o.keys().all(|k| ["apiVersion", "kind", "metadata"].contains(&k.as_str())))
                    && json["metadata"].as_object().is_some_and(|m| m.keys().all(|k| k == "name" || k == "namespace"));
            match name {
                Some(name) if only_identity => inputs.tombstones.push(crate::model::tenant_key(namespace, name)),
                _ => diags.push(
                    Diagnostic::error("a Tombstone holds only `metadata.name` and `metadata.namespace`")
                        .at(id, node.span, "this document")
                        .help("it names the TenantControlPlane whose removal is intended"),
                ),
            }
        }
        ("v1", "ConfigMap") => {
            let json = node.to_json();
            let name = json.pointer("/metadata/name").and_then(Value::as_str);
            let data = json.get("data").and_then(|d| serde_json::from_value::<BTreeMap<String, String>>(d.clone()).ok());
            match (name, data) {
                (Some(name), data) => inputs.configmaps.push(ConfigMapDoc {
                    namespace: json
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(inputs.config.default_namespace())
                        .to_string(),
                    name: name.to_string(),
                    data: data.unwrap_or_default(),
                    file: id,
                    span: node.span,
                }),
                (None, _) => {
                    diags.push(Diagnostic::warning("ConfigMap without metadata.name is ignored").at(id, node.span, "this document"))
                }
            }
        }
        // Near misses of an input kind are errors, not skipped documents: a skipped tenant
        // would vanish from the output.
        (av, k) if input_kind_near_miss(av, k).is_some() => {
            let (field, msg, help) = input_kind_near_miss(av, k).expect("checked");
            diags.push(Diagnostic::error(msg).at(id, node.get(field).map_or(node.span, |n| n.span), "here").help(help));
        }
        (_, "") | ("", _) => diags.push(
            Diagnostic::warning("document without apiVersion/kind is ignored")
                .at(id, node.span, "this document")
                .help("tcpc reads kamaji.clastix.io/v1alpha1 TenantControlPlane and DataStore documents"),
        ),
        (av, k) if av.starts_with("kamaji.clastix.io/") && (k == "TenantControlPlane" || k == "DataStore") => diags.push(
            Diagnostic::error(format!("unsupported apiVersion `{av}` for {k}"))
                .at(id, node.get("apiVersion").map_or(node.span, |n| n.span), "unsupported version")
                .help(format!("use `apiVersion: {}`", tcpc_spec::API_VERSION)),
        ),
        (av, k) => diags.push(Diagnostic::warning(format!("skipping {k} ({av}): tcpc only compiles TenantControlPlane and DataStore")).at(
            id,
            node.get("kind").map_or(node.span, |n| n.span),
            "not an input kind",
        )),
    }
}

/// A document that is almost a TenantControlPlane or DataStore: (field, message, help).
fn input_kind_near_miss(av: &str, kind: &str) -> Option<(&'static str, String, String)> {
    const KINDS: [&str; 2] = ["TenantControlPlane", "DataStore"];
    let api = tcpc_spec::API_VERSION;
    let kamaji_group = av.split('/').next().is_some_and(|g| edit_distance(&g.to_lowercase(), "kamaji.clastix.io") <= 3);
    if KINDS.contains(&kind) {
        if av.is_empty() {
            return Some(("kind", format!("{kind} without apiVersion"), format!("add `apiVersion: {api}`")));
        }
        if !av.starts_with("kamaji.clastix.io/") && (kamaji_group || edit_distance(&av.to_lowercase(), api) <= 3) {
            return Some(("apiVersion", format!("unknown apiVersion `{av}` for {kind}"), format!("did you mean `{api}`?")));
        }
        return None;
    }
    if let Some(best) = KINDS.iter().find(|k| edit_distance(&kind.to_lowercase(), &k.to_lowercase()) <= 3) {
        return Some(("kind", format!("unknown kind `{kind}`"), format!("did you mean `{best}`?")));
    }
    if kind.is_empty() && (av == api || kamaji_group) {
        return Some(("apiVersion", format!("{av} document without kind"), "add `kind: TenantControlPlane` (or `kind: DataStore`)".into()));
    }
    None
}

/// Schema validation, typed deserialisation and the strict round trip.
fn typed<T: DeserializeOwned + Serialize>(schema: &Schema, id: SourceId, node: &Node, what: &str, diags: &mut Diagnostics) -> Option<T> {
    // Kubernetes (and Kamaji) read an explicit null as an absent field: `basicAuth: null`,
    // an empty `labels:`. Normalised here, before the schema, so the typed round trip below
    // compares like with like; the rendered output never holds such a null.
    let json = json_without_null_fields(node);
    let mut failed = false;
    // A hostile document can hold hundreds of thousands of errors; the first ones are enough,
    // and reporting each costs a look-up in the document.
    let mut errors: Vec<_> = schema.validator.iter_errors(&json).take(crate::limits::MAX_ERRORS_PER_DOCUMENT + 1).collect();
    if errors.len() > crate::limits::MAX_ERRORS_PER_DOCUMENT {
        errors.truncate(crate::limits::MAX_ERRORS_PER_DOCUMENT);
        diags.push(
            Diagnostic::error(format!(
                "{what}: more than {} errors, only the first ones are shown",
                crate::limits::MAX_ERRORS_PER_DOCUMENT
            ))
            .at(id, node.span, "in this document"),
        );
    }
    // Known field names at each place an unknown field was found, and the (pointer, field)
    // pairs a "did you mean" already explains (so a misspelt required field is one error).
    let mut known_at: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    let mut suggested: Vec<(String, String)> = Vec::new();
    for err in &errors {
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } = &err.kind {
            let pointer = err.instance_path.to_string();
            let known = known_at.entry(pointer.clone()).or_insert_with(|| known_fields(&schema.raw, &pointer));
            for key in unexpected.iter().take(crate::limits::MAX_ERRORS_PER_DOCUMENT) {
                if let Some(best) = closest(key, known) {
                    suggested.push((pointer.clone(), best));
                }
            }
        }
    }
    for err in errors {
        failed = true;
        let pointer = err.instance_path.to_string();
        let path = tcpc_yaml::path_from_pointer(&pointer);
        let shown = display_or_root(&path, what);
        match &err.kind {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected.iter().take(crate::limits::MAX_ERRORS_PER_DOCUMENT) {
                    let mut key_path = path.clone();
                    key_path.push(PathSeg::Key(key.clone()));
                    let known = &known_at[&pointer];
                    let mut d = Diagnostic::error(format!("unknown field `{key}` in {shown}")).at(
                        id,
                        node.span_at(&key_path, true),
                        "unknown field",
                    );
                    if let Some(best) = closest(key, known) {
                        d = d.help(format!("did you mean `{best}`?"));
                    } else if !known.is_empty() {
                        d = d.note(format!("expected one of: {}", known.join(", ")));
                    }
                    diags.push(d);
                }
            }
            jsonschema::error::ValidationErrorKind::Required { property } => {
                let field = property.as_str().unwrap_or_default();
                if suggested.iter().any(|(p, f)| *p == pointer && f == field) {
                    continue;
                }
                diags.push(Diagnostic::error(format!("missing required field `{field}` in {shown}")).at(
                    id,
                    node.span_at(&path, !path.is_empty()),
                    format!("`{field}` is required here"),
                ));
            }
            _ => {
                let mut d = Diagnostic::error(format!("invalid value for `{shown}`")).at(
                    id,
                    node.span_at(&path, false),
                    schema_message(&err.to_string()),
                );
                // YAML reads an unquoted `1.30`, `true` or `010` as a number or boolean.
                if let jsonschema::error::ValidationErrorKind::Type { kind: jsonschema::error::TypeKind::Single(expected) } = &err.kind
                    && *expected == jsonschema::JsonType::String
                    && matches!(*err.instance, Value::Number(_) | Value::Bool(_))
                {
                    d = d.help("YAML reads this unquoted value as a number or boolean: quote it to keep it text (`\"…\"`)");
                }
                diags.push(d);
            }
        }
    }
    // A null is an absent field, but an unknown key stays unknown whatever its value (as in
    // Kubernetes' strict decoding): `spec.bogus:` is reported, not dropped in silence.
    let mut nulls = Vec::new();
    null_fields(node, &mut Vec::new(), &mut nulls);
    for (parent, key) in nulls {
        let Some(known) = closed_object_fields(&schema.raw, &parent) else { continue };
        if known.contains(&key) {
            continue;
        }
        failed = true;
        let mut key_path = parent.clone();
        key_path.push(PathSeg::Key(key.clone()));
        let mut d = Diagnostic::error(format!("unknown field `{key}` in {}", display_or_root(&parent, what))).at(
            id,
            node.span_at(&key_path, true),
            "unknown field (with no value)",
        );
        if let Some(best) = closest(&key, &known) {
            d = d.help(format!("did you mean `{best}`?"));
        }
        diags.push(d);
    }
    if failed {
        return None;
    }
    let value: T = match serde_path_to_error::deserialize(&json) {
        Ok(v) => v,
        Err(e) => {
            let path = serde_path(&e.path().to_string());
            diags.push(Diagnostic::error(format!("invalid value for `{}`", display_or_root(&path, what))).at(
                id,
                node.span_at(&path, false),
                e.inner().to_string(),
            ));
            return None;
        }
    };
    let back = serde_json::to_value(&value).expect("spec types serialise");
    if let Some(diff) = crate::model::first_difference(&json, &back, &mut String::new()) {
        let path = serde_path(diff.trim_start_matches('.'));
        let in_back = back.pointer(&to_pointer(&path)).is_some();
        let msg = if in_back { "value is not understood as written" } else { "unknown field" };
        diags.push(
            Diagnostic::error(format!("{msg}: `{}`", display_or_root(&path, what)))
                .at(id, node.span_at(&path, !in_back), msg)
                .help("check the spelling against the Kubernetes API reference for this type"),
        );
        return None;
    }
    Some(value)
}

fn display_or_root(path: &[PathSeg], what: &str) -> String {
    if path.is_empty() { what.to_string() } else { tcpc_yaml::display_path(path) }
}

/// The JSON of `node` without the mapping entries whose value is a YAML null, at any depth.
/// Only a written null is dropped: a number JSON cannot hold (`.inf`, `1e400`) stays an
/// invalid value, and a null item of a list stays an error.
fn json_without_null_fields(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Seq(items) => Value::Array(items.iter().map(json_without_null_fields).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .filter(|(_, v)| !matches!(v.kind, NodeKind::Null))
                .filter_map(|(k, v)| match &k.kind {
                    NodeKind::String(key) => Some((key.clone(), json_without_null_fields(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => node.to_json(),
    }
}

/// Every mapping entry whose value is a YAML null: (the mapping's path, the key).
fn null_fields(node: &Node, path: &mut Vec<PathSeg>, out: &mut Vec<(Vec<PathSeg>, String)>) {
    match &node.kind {
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                null_fields(item, path, out);
                path.pop();
            }
        }
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                let NodeKind::String(key) = &k.kind else { continue };
                if matches!(v.kind, NodeKind::Null) {
                    out.push((path.clone(), key.clone()));
                } else {
                    path.push(PathSeg::Key(key.clone()));
                    null_fields(v, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// The field names of the object `schema` describes at `path`, when it allows no others.
fn closed_object_fields(root: &Value, path: &[PathSeg]) -> Option<Vec<String>> {
    fn at<'a>(root: &'a Value, schema: &'a Value, path: &[PathSeg]) -> Option<&'a Value> {
        let schema = deref(root, schema);
        if let Some(options) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            return options.iter().find_map(|s| at(root, s, path).filter(|s| s.get("properties").is_some()));
        }
        match path.split_first() {
            None => Some(schema),
            Some((PathSeg::Key(k), rest)) => at(root, schema.get("properties")?.get(k)?, rest),
            Some((PathSeg::Index(_), rest)) => at(root, schema.get("items")?, rest),
        }
    }
    let object = at(root, root, path)?;
    (object.get("additionalProperties") == Some(&Value::Bool(false)))
        .then(|| object.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default())
}

/// Field names `schema` allows at `pointer` (for "did you mean").
fn known_fields(schema: &Value, pointer: &str) -> Vec<String> {
    let path = tcpc_yaml::path_from_pointer(pointer);
    resolve_properties(schema, schema, &path).unwrap_or_default()
}

fn resolve_properties(root: &Value, schema: &Value, path: &[PathSeg]) -> Option<Vec<String>> {
    let schema = deref(root, schema);
    if let Some(options) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
        return options.iter().find_map(|s| resolve_properties(root, s, path));
    }
    match path.split_first() {
        None => schema.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()),
        Some((PathSeg::Key(k), rest)) => resolve_properties(root, schema.get("properties")?.get(k)?, rest),
        Some((PathSeg::Index(_), rest)) => resolve_properties(root, schema.get("items")?, rest),
    }
}

fn deref<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r.strip_prefix('#').and_then(|p| root.pointer(p)).map_or(schema, |s| deref(root, s)),
        None => schema,
    }
}

/// The known name within edit distance 2 (or a case-insensitive match), if unique enough.
fn closest(key: &str, known: &[String]) -> Option<String> {
    known.iter().map(|k| (edit_distance(&key.to_lowercase(), &k.to_lowercase()), k)).filter(|(d, _)| *d <= 2).min().map(|(_, k)| k.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// jsonschema messages quote whole values; keep them short.
fn schema_message(msg: &str) -> String {
    if msg.len() > 160 { format!("{}…", &msg[..msg.char_indices().nth(157).map_or(msg.len(), |(i, _)| i)]) } else { msg.to_string() }
}

/// serde_path_to_error paths look like `spec.controlPlane.service.additionalPorts[0].port`.
fn serde_path(s: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    for part in s.split('.').filter(|p| !p.is_empty() && *p != "?") {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            out.push(PathSeg::Key(rest[..i].to_string()));
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                if let Ok(n) = rest[1..end].parse() {
                    out.push(PathSeg::Index(n));
                }
                rest = &rest[end + 1..];
            }
        } else {
            out.push(PathSeg::Key(rest.to_string()));
        }
    }
    out
}

fn to_pointer(path: &[PathSeg]) -> String {
    path.iter()
        .map(|s| match s {
            PathSeg::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            PathSeg::Index(i) => format!("/{i}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Inputs<'static>, Diagnostics, Sources) {
        let mut sources = Sources::default();
        sources.add("t.yaml".into(), text.into());
        let mut diags = Diagnostics::default();
        // No tcpc.yaml: every default (leaked: the inputs borrow it for the rest of the test).
        let config = Box::leak(Box::new(ConfigFile::parse(&sources, None, &mut diags)));
        let inputs = parse(&sources, config, &mut diags);
        (inputs, diags, sources)
    }

    const MINIMAL: &str = "apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: alpha
  namespace: tenants
spec:
  controlPlane:
    service:
      serviceType: ClusterIP
  kubernetes:
    version: v1.36.3
    kubelet:
      cgroupfs: systemd
";

    #[test]
    fn parses_a_minimal_tcp() {
        let (inputs, diags, sources) = run(MINIMAL);
        assert!(!diags.has_errors(), "{}", diags.render(&sources));
        assert_eq!(inputs.tcps.len(), 1);
        assert_eq!(inputs.tcps[0].value.metadata.name, "alpha");
    }

    #[test]
    fn unknown_fields_point_at_the_key_with_a_suggestion() {
        let text = MINIMAL.replace("      serviceType: ClusterIP", "      serviceTyp: ClusterIP");
        let (_, diags, sources) = run(&text);
        let out = diags.render(&sources);
        assert!(out.contains("unknown field `serviceTyp` in spec.controlPlane.service"), "{out}");
        assert!(out.contains("t.yaml:9:7"), "{out}");
        assert!(out.contains("did you mean `serviceType`?"), "{out}");
    }

    #[test]
    fn unknown_fields_inside_kubernetes_types_are_caught_by_the_round_trip() {
        let text = MINIMAL
            .replace("    service:\n", "    deployment:\n      tolerations:\n      - key: a\n        operater: Exists\n    service:\n");
        let (_, diags, sources) = run(&text);
        let out = diags.render(&sources);
        assert!(diags.has_errors(), "{out}");
        assert!(out.contains("operater"), "{out}");
    }

    #[test]
    fn bad_enum_values_and_other_kinds() {
        let text = format!("{}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", MINIMAL.replace("ClusterIP", "Internal"));
        let (_, diags, sources) = run(&text);
        let out = diags.render(&sources);
        assert!(out.contains("invalid value for `spec.controlPlane.service.serviceType`"), "{out}");
        assert!(out.contains("warning: skipping Pod (v1)"), "{out}");
    }

    #[test]
    fn misspelt_kinds_and_api_versions_are_errors() {
        for (doc, expect) in [
            ("apiVersion: kamaji.clastix.io/v1alpha1\nkind: TenantControlPlan\n", "did you mean `TenantControlPlane`?"),
            ("apiVersion: kamaji.clastix.io/v1alpha1\nkind: tenantcontrolplane\n", "did you mean `TenantControlPlane`?"),
            ("apiVersion: kamaji.clastic.io/v1alpha1\nkind: TenantControlPlane\n", "did you mean `kamaji.clastix.io/v1alpha1`?"),
            ("kind: TenantControlPlane\nmetadata: {name: x}\n", "add `apiVersion: kamaji.clastix.io/v1alpha1`"),
            ("apiVersion: kamaji.clastix.io/v1alpha1\nmetadata: {name: x}\n", "add `kind: TenantControlPlane`"),
        ] {
            let (_, diags, sources) = run(doc);
            assert!(diags.has_errors(), "{doc}");
            let out = diags.render(&sources);
            assert!(out.contains(expect), "{doc}\n{out}");
        }
        // Unrelated kinds stay warnings.
        let (_, diags, _) = run("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n");
        assert!(!diags.has_errors());
    }

    #[test]
    fn an_unknown_field_is_reported_even_with_no_value() {
        let text = MINIMAL.replace("  kubernetes:\n", "  bogus:\n  kubernetes:\n    admissionControlers: null\n");
        let (_, diags, _) = run(&text);
        let all = format!("{diags:?}");
        assert!(all.contains("unknown field `bogus` in spec"), "{all}");
        assert!(all.contains("unknown field `admissionControlers` in spec.kubernetes"), "{all}");
        assert!(all.contains("did you mean `admissionControllers`?"), "{all}");
        // Known fields and free-form maps take a null as before.
        let text =
            MINIMAL.replace("  kubernetes:\n", "  dataStore:\n  kubernetes:\n").replace("metadata:\n", "metadata:\n  labels:\n    team:\n");
        let (inputs, diags, _) = run(&text);
        assert!(!diags.has_errors(), "{diags:?}");
        assert_eq!(inputs.tcps.len(), 1);
    }

    #[test]
    fn explicit_nulls_are_absent_fields() {
        let text = MINIMAL
            .replace("  namespace: tenants\n", "  namespace: tenants\n  labels:\n  annotations: ~\n")
            .replace("    service:\n", "    deployment: null\n    service:\n      additionalMetadata:\n        labels:\n");
        let (inputs, diags, sources) = run(&text);
        assert!(!diags.has_errors(), "{}", diags.render(&sources));
        let tcp = &inputs.tcps[0].value;
        assert!(tcp.metadata.labels.is_none() && tcp.metadata.annotations.is_none());
        // A null item of a list is not an absent field: still an error.
        let text = MINIMAL.replace("  kubernetes:\n", "  kubernetes:\n    admissionControllers: [null]\n");
        let (_, diags, _) = run(&text);
        assert!(diags.has_errors());
        // A number JSON cannot hold is not a null.
        let text = MINIMAL.replace("  controlPlane:\n", "  controlPlane:\n    deployment:\n      replicas: .inf\n");
        let (_, diags, _) = run(&text);
        assert!(diags.has_errors());
    }

    #[test]
    fn suggestions_come_from_the_documents_own_schema() {
        // Under a TenantControlPlane's spec: the TCP's fields, not the DataStore's.
        let text = MINIMAL.replace("  controlPlane:\n", "  controlPlan:\n");
        let (_, diags, sources) = run(&text);
        let out = diags.render(&sources);
        assert!(out.contains("unknown field `controlPlan` in spec"), "{out}");
        assert!(out.contains("did you mean `controlPlane`?"), "{out}");
        let text = MINIMAL.replace("  controlPlane:\n", "  zzz: 1\n  controlPlane:\n");
        let (_, diags, sources) = run(&text);
        let out = diags.render(&sources);
        assert!(out.contains("expected one of:") && out.contains("controlPlane") && !out.contains("driver"), "{out}");
        // At the top level: the TCP's top-level fields, not tcpc.yaml's.
        let text = format!("{MINIMAL}stauts: {{}}\n");
        let (_, diags, sources) = run(&text);
        let out = diags.render(&sources);
        assert!(out.contains("unknown field `stauts`"), "{out}");
        assert!(out.contains("did you mean `status`?") || out.contains("expected one of: apiVersion, kind, metadata, spec"), "{out}");
        // A DataStore's misspelt field is suggested from the DataStore's schema.
        let ds =
            "apiVersion: kamaji.clastix.io/v1alpha1\nkind: DataStore\nmetadata:\n  name: d\nspec:\n  drvier: etcd\n  endpoints: [a:2379]\n";
        let (_, diags, sources) = run(ds);
        let out = diags.render(&sources);
        assert!(out.contains("did you mean `driver`?"), "{out}");
    }

    #[test]
    fn edit_distance_suggestions() {
        assert_eq!(closest("serviceCIDR", &["serviceCidr".into(), "podCidr".into()]), Some("serviceCidr".into()));
        assert_eq!(closest("zzz", &["serviceCidr".into()]), None);
    }
}
