//! Event stream → spanned node tree.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as RawSpan, Tag};
use serde_json::{Map, Number, Value};

use crate::PathSeg;

/// A position in the source: 1-based line and column (in characters), and the character offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    pub char_offset: usize,
}

/// A half-open range of source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    fn from_raw(raw: &RawSpan) -> Span {
        let conv = |m: &saphyr_parser::Marker| Pos { line: m.line(), col: m.col() + 1, char_offset: m.index() };
        Span { start: conv(&raw.start), end: conv(&raw.end) }
    }

    /// Byte range of this span in `src` (the text it was parsed from).
    pub fn byte_range(&self, src: &str) -> std::ops::Range<usize> {
        let start = char_to_byte(src, self.start.char_offset);
        let end = char_to_byte(src, self.end.char_offset).max(start);
        start..end
    }
}

fn char_to_byte(src: &str, char_offset: usize) -> usize {
    if src.is_ascii() {
        return char_offset.min(src.len());
    }
    src.char_indices().nth(char_offset).map_or(src.len(), |(b, _)| b)
}

/// A YAML node with the span it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in source order; keys are string scalars (their spans point at the key).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The JSON value of this node (mapping keys sorted, as serde_json's map does).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::Number((*i).into()),
            NodeKind::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            NodeKind::String(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    if let NodeKind::String(key) = &k.kind {
                        map.insert(key.clone(), v.to_json());
                    }
                }
                Value::Object(map)
            }
        }
    }

    /// Looks up a mapping entry by key: `(key node, value node)`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| matches!(&k.kind, NodeKind::String(s) if s == key)).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The best span for a path: the value at the path if it exists; when the last segment is a
    /// key, `key_span` asks for the key itself (where "unknown field" errors should point).
    /// Falls back to the deepest existing ancestor.
    pub fn span_at(&self, path: &[PathSeg], key_span: bool) -> Span {
        let mut node = self;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            match (seg, &node.kind) {
                (PathSeg::Key(k), NodeKind::Map(_)) => match node.entry(k) {
                    Some((key, value)) => {
                        if last && key_span {
                            return key.span;
                        }
                        node = value;
                    }
                    None => return node.span,
                },
                (PathSeg::Index(idx), NodeKind::Seq(items)) => match items.get(*idx) {
                    Some(item) => node = item,
                    None => return node.span,
                },
                _ => return node.span,
            }
        }
        node.span
    }
}

/// One document of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: Node,
    /// Where the document starts (its `---` or first token).
    pub start: Pos,
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub message: String,
    pub span: Span,
    /// A second location worth showing (e.g. the first occurrence of a duplicate key).
    pub related: Option<(String, Span)>,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.span.start.line, self.span.start.col, self.message)
    }
}

impl std::error::Error for YamlError {}

impl From<ScanError> for YamlError {
    fn from(e: ScanError) -> Self {
        let m = e.marker();
        let pos = Pos { line: m.line(), col: m.col() + 1, char_offset: m.index() };
        YamlError { message: e.info().to_string(), span: Span { start: pos, end: pos }, related: None }
    }
}

/// Parses every document of a YAML stream. Empty documents (e.g. a trailing `---`) are dropped.
pub fn parse_stream(src: &str) -> Result<Vec<Document>, YamlError> {
    let mut builder = Builder { parser: Parser::new_from_str(src), anchors: BTreeMap::new() };
    let mut docs = Vec::new();
    loop {
        let (event, span) = builder.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let start = span.start;
                let (event, span) = builder.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue;
                }
                let root = builder.node(event, span)?;
                // An empty (or `null`) document carries nothing: skip it, as kubectl does.
                if root.kind != NodeKind::Null {
                    docs.push(Document { root, start });
                }
            }
            other => {
                return Err(YamlError { message: format!("unexpected YAML event {other:?}"), span, related: None });
            }
        }
    }
    Ok(docs)
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: BTreeMap<usize, Node>,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Ok((event, Span::from_raw(&span))),
            Some(Err(e)) => Err(e.into()),
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, YamlError> {
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let kind = resolve_scalar(&value, style, tag.as_deref(), span)?;
                let node = Node { kind, span };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(target) => Ok(Node { kind: target.kind.clone(), span }),
                None => Err(YamlError { message: "unknown alias".into(), span, related: None }),
            },
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", span)?;
                let mut items = Vec::new();
                let end = loop {
                    let (event, ev_span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break ev_span.end;
                    }
                    items.push(self.node(event, ev_span)?);
                };
                let node = Node { kind: NodeKind::Seq(items), span: Span { start: span.start, end } };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", span)?;
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let end = loop {
                    let (event, ev_span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break ev_span.end;
                    }
                    let key = self.node(event, ev_span)?;
                    let key = match key.kind {
                        NodeKind::String(_) => key,
                        NodeKind::Null | NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) => {
                            // `on: x` or `80: x` — Kubernetes keys are strings; keep the source text.
                            return Err(YamlError {
                                message: "mapping keys must be strings; quote this key".into(),
                                span: key.span,
                                related: None,
                            });
                        }
                        _ => {
                            return Err(YamlError {
                                message: "complex mapping keys are not supported".into(),
                                span: key.span,
                                related: None,
                            });
                        }
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.kind == key.kind) {
                        return Err(YamlError {
                            message: format!("duplicate key `{}`", key.as_str().unwrap_or_default()),
                            span: key.span,
                            related: Some(("first defined here".into(), first.span)),
                        });
                    }
                    let (event, ev_span) = self.next()?;
                    let value = self.node(event, ev_span)?;
                    entries.push((key, value));
                };
                let node = Node { kind: NodeKind::Map(entries), span: Span { start: span.start, end } };
                self.remember(anchor, &node);
                Ok(node)
            }
            other => Err(YamlError { message: format!("unexpected YAML event {other:?}"), span, related: None }),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, span: Span) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == expected => Ok(()),
        Some(t) => Err(YamlError { message: format!("unsupported tag `{}{}`", t.handle, t.suffix), span, related: None }),
    }
}

/// YAML 1.2 core schema resolution. Quoted and block scalars are always strings.
fn resolve_scalar(value: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Result<NodeKind, YamlError> {
    if let Some(tag) = tag {
        let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
        let err = |what: &str| YamlError { message: format!("`{value}` is not a valid {what}"), span, related: None };
        return match (core, tag.suffix.as_str()) {
            (true, "str") => Ok(NodeKind::String(value.to_string())),
            (true, "int") => plain_scalar(value).filter(|k| matches!(k, NodeKind::Int(_))).ok_or_else(|| err("!!int")),
            (true, "float") => match plain_scalar(value) {
                Some(NodeKind::Int(i)) => Ok(NodeKind::Float(i as f64)),
                Some(k @ NodeKind::Float(_)) => Ok(k),
                _ => Err(err("!!float")),
            },
            (true, "bool") => plain_scalar(value).filter(|k| matches!(k, NodeKind::Bool(_))).ok_or_else(|| err("!!bool")),
            (true, "null") => Ok(NodeKind::Null),
            _ => Err(YamlError { message: format!("unsupported tag `{}{}`", tag.handle, tag.suffix), span, related: None }),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(NodeKind::String(value.to_string()));
    }
    Ok(plain_scalar(value).unwrap_or_else(|| NodeKind::String(value.to_string())))
}

/// Resolves a plain scalar to null/bool/int/float, or `None` when it is a string.
fn plain_scalar(v: &str) -> Option<NodeKind> {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Some(NodeKind::Null),
        "true" | "True" | "TRUE" => return Some(NodeKind::Bool(true)),
        "false" | "False" | "FALSE" => return Some(NodeKind::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(NodeKind::Float(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => return Some(NodeKind::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(NodeKind::Float(f64::NAN)),
        _ => {}
    }
    let bytes = v.as_bytes();
    let first = bytes[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    if let Some(hex) = v.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(NodeKind::Int);
    }
    if let Some(oct) = v.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(NodeKind::Int);
    }
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<i64>().ok().map(NodeKind::Int);
    }
    if is_core_float(digits) {
        return v.parse::<f64>().ok().map(NodeKind::Float);
    }
    None
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (sign already stripped).
fn is_core_float(s: &str) -> bool {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit()) && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Node {
        let mut docs = parse_stream(src).expect("parses");
        assert_eq!(docs.len(), 1);
        docs.remove(0).root
    }

    #[test]
    fn resolves_core_schema_scalars() {
        let n = one("a: 1\nb: '1'\nc: true\nd: yes\ne: 1.5\nf: ~\ng: 0x1f\nh: v1.30.2\ni: -3\nj: 1e3\n");
        let j = n.to_json();
        assert_eq!(j["a"], 1);
        assert_eq!(j["b"], "1");
        assert_eq!(j["c"], true);
        assert_eq!(j["d"], "yes", "YAML 1.2: yes is a string");
        assert_eq!(j["e"], 1.5);
        assert!(j["f"].is_null());
        assert_eq!(j["g"], 31);
        assert_eq!(j["h"], "v1.30.2");
        assert_eq!(j["i"], -3);
        assert_eq!(j["j"], 1000.0);
    }

    #[test]
    fn spans_point_at_values_and_keys() {
        let src = "spec:\n  networkProfile:\n    port: 6443\n    certSANs:\n    - a\n    - b\n";
        let n = one(src);
        let path = [PathSeg::Key("spec".into()), PathSeg::Key("networkProfile".into()), PathSeg::Key("certSANs".into()), PathSeg::Index(1)];
        let s = n.span_at(&path, false);
        assert_eq!((s.start.line, s.start.col), (6, 7));
        let k = n.span_at(&path[..2], true);
        assert_eq!((k.start.line, k.start.col), (2, 3));
        assert_eq!(&src[k.byte_range(src)], "networkProfile");
        // a missing key falls back to the deepest existing parent
        let missing = [PathSeg::Key("spec".into()), PathSeg::Key("nope".into())];
        assert_eq!(n.span_at(&missing, true).start.line, 2);
    }

    #[test]
    fn duplicate_keys_are_errors_with_both_locations() {
        let err = parse_stream("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `a`");
        assert_eq!(err.span.start.line, 3);
        assert_eq!(err.related.unwrap().1.start.line, 1);
    }

    #[test]
    fn multiple_documents_and_empty_ones() {
        let docs = parse_stream("---\na: 1\n---\n---\nb: 2\n...\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].start.line, 4);
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let err = parse_stream("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.span.start.line >= 1, "{err}");
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let n = one("a: &x {k: v}\nb: *x\n");
        assert_eq!(n.to_json()["b"]["k"], "v");
    }

    #[test]
    fn non_string_keys_are_refused() {
        assert!(parse_stream("80: http\n").is_err());
    }

    #[test]
    fn multibyte_byte_ranges() {
        let src = "a: \"é\"\nbé: x\n";
        let n = one(src);
        let s = n.span_at(&[PathSeg::Key("bé".into())], true);
        assert_eq!(&src[s.byte_range(src)], "bé");
    }
}
