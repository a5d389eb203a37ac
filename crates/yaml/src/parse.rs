//! Event stream → spanned node tree.
// A YamlError (message, two spans, the exceeded limit) ends a parse once; boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as RawSpan, Tag};
use serde_json::{Map, Number, Value};

use crate::PathSeg;
use crate::limits::Limits;

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

impl Pos {
    /// The position just past the last character of `src`.
    fn end_of(src: &str) -> Pos {
        let last_line = src.rsplit('\n').next().unwrap_or("");
        Pos { line: src.matches('\n').count() + 1, col: last_line.chars().count() + 1, char_offset: src.chars().count() }
    }
}

impl Span {
    /// This span with both ends moved back to `end` where they lie past it.
    fn clamped(self, end: Pos) -> Span {
        let clamp = |p: Pos| if p.char_offset > end.char_offset { end } else { p };
        Span { start: clamp(self.start), end: clamp(self.end) }
    }

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
    /// The `tcpc.yaml` name of the [`Limits`] field this input exceeded, if that is the error.
    pub limit: Option<&'static str>,
}

impl YamlError {
    fn new(message: impl Into<String>, span: Span) -> Self {
        YamlError { message: message.into(), span, related: None, limit: None }
    }

    fn limit(name: &'static str, value: usize, what: &str, span: Span) -> Self {
        YamlError { message: format!("{what} exceeds the limit {name} = {value}"), span, related: None, limit: Some(name) }
    }
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
        YamlError::new(e.info(), Span { start: pos, end: pos })
    }
}

/// Parses every document of a YAML stream under [`Limits::DEFAULT`]. Empty documents (e.g. a
/// trailing `---`) are dropped.
pub fn parse_stream(src: &str) -> Result<Vec<Document>, YamlError> {
    parse_stream_limited(src, &Limits::DEFAULT)
}

/// Parses every document of a YAML stream; any exceeded limit is an error at the place where it
/// was exceeded. Empty documents (e.g. a trailing `---`) are dropped.
pub fn parse_stream_limited(src: &str, limits: &Limits) -> Result<Vec<Document>, YamlError> {
    if src.len() > limits.max_file_bytes {
        let what = format!("the file ({} bytes)", src.len());
        return Err(YamlError::limit("maxFileBytes", limits.max_file_bytes, &what, Span::default_start()));
    }
    let mut builder = Builder {
        parser: Parser::new_from_str(src),
        end: Pos::end_of(src),
        anchors: BTreeMap::new(),
        limits: *limits,
        depth: 0,
        doc_start: 0,
        aliases: 0,
        expanded: 0,
        built: 0,
    };
    let mut docs = Vec::new();
    let mut count = 0usize;
    loop {
        let (event, span) = builder.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                count += 1;
                if count > limits.max_documents {
                    return Err(YamlError::limit("maxDocuments", limits.max_documents, "the number of documents", span));
                }
                let start = span.start;
                builder.doc_start = start.char_offset;
                builder.anchors.clear();
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
            other => return Err(YamlError::new(format!("unexpected YAML event {other:?}"), span)),
        }
    }
    Ok(docs)
}

impl Span {
    fn default_start() -> Span {
        let p = Pos { line: 1, col: 1, char_offset: 0 };
        Span { start: p, end: p }
    }
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// The end of the source: no span may point past it (the scanner's markers can, on
    /// malformed input at the end of the stream).
    end: Pos,
    /// Anchored nodes of the current document and their cost (see [`Builder::built`]).
    anchors: BTreeMap<usize, (Node, usize)>,
    limits: Limits,
    depth: usize,
    /// Character offset where the current document starts.
    doc_start: usize,
    aliases: usize,
    /// Cost materialised through aliases so far in this stream.
    expanded: usize,
    /// Running cost of every node built: one per node plus the bytes of each scalar. The cost
    /// of a subtree is the difference of this counter across its construction.
    built: usize,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let span = Span::from_raw(&span).clamped(self.end);
                let limit = self.limits.max_document_chars;
                if span.end.char_offset.saturating_sub(self.doc_start) > limit {
                    return Err(YamlError::limit("maxDocumentChars", limit, "the size of this document", span));
                }
                Ok((event, span))
            }
            Some(Err(e)) => {
                let mut e = YamlError::from(e);
                e.span = e.span.clamped(self.end);
                Err(e)
            }
            None => Ok((Event::StreamEnd, Span::default())),
        }
    }

    fn enter(&mut self, span: Span) -> Result<(), YamlError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(YamlError::limit("maxDepth", self.limits.max_depth, "the nesting depth", span));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, YamlError> {
        let before = self.built;
        self.built += 1;
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                self.built += value.len();
                let kind = resolve_scalar(&value, style, tag.as_deref(), span)?;
                let node = Node { kind, span };
                self.remember(anchor, &node, before);
                Ok(node)
            }
            Event::Alias(id) => {
                self.aliases += 1;
                if self.aliases > self.limits.max_aliases {
                    return Err(YamlError::limit("maxAliases", self.limits.max_aliases, "the number of aliases", span));
                }
                let Some((target, cost)) = self.anchors.get(&id) else {
                    return Err(YamlError::new("unknown alias", span));
                };
                self.expanded = self.expanded.saturating_add(*cost);
                self.built = self.built.saturating_add(*cost);
                if self.expanded > self.limits.max_alias_expansion {
                    let limit = self.limits.max_alias_expansion;
                    return Err(YamlError::limit("maxAliasExpansion", limit, "what the aliases expand to", span));
                }
                Ok(Node { kind: target.kind.clone(), span })
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", span)?;
                self.enter(span)?;
                let mut items = Vec::new();
                let end = loop {
                    let (event, ev_span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break ev_span.end;
                    }
                    items.push(self.node(event, ev_span)?);
                };
                self.depth -= 1;
                let node = Node { kind: NodeKind::Seq(items), span: Span { start: span.start, end } };
                self.remember(anchor, &node, before);
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", span)?;
                self.enter(span)?;
                let mut entries: Vec<(Node, Node)> = Vec::new();
                // Key → index into `entries`: duplicate detection in O(log n), not O(n).
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                let end = loop {
                    let (event, ev_span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break ev_span.end;
                    }
                    let key = self.node(event, ev_span)?;
                    let name = match &key.kind {
                        NodeKind::String(s) => s.clone(),
                        NodeKind::Null | NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) => {
                            // `on: x` or `80: x` — Kubernetes keys are strings; keep the source text.
                            return Err(YamlError::new("mapping keys must be strings; quote this key", key.span));
                        }
                        _ => return Err(YamlError::new("complex mapping keys are not supported", key.span)),
                    };
                    if let Some(&first) = seen.get(&name) {
                        return Err(YamlError {
                            message: format!("duplicate key `{name}`"),
                            span: key.span,
                            related: Some(("first defined here".into(), entries[first].0.span)),
                            limit: None,
                        });
                    }
                    seen.insert(name, entries.len());
                    let (event, ev_span) = self.next()?;
                    let value = self.node(event, ev_span)?;
                    entries.push((key, value));
                };
                self.depth -= 1;
                let node = Node { kind: NodeKind::Map(entries), span: Span { start: span.start, end } };
                self.remember(anchor, &node, before);
                Ok(node)
            }
            other => Err(YamlError::new(format!("unexpected YAML event {other:?}"), span)),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node, before: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), self.built - before));
        }
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, span: Span) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == expected => Ok(()),
        Some(t) => Err(YamlError::new(format!("unsupported tag `{}{}`", t.handle, t.suffix), span)),
    }
}

/// YAML 1.2 core schema resolution. Quoted and block scalars are always strings.
fn resolve_scalar(value: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Result<NodeKind, YamlError> {
    if let Some(tag) = tag {
        let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
        let err = |what: &str| YamlError::new(format!("`{value}` is not a valid {what}"), span);
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
            _ => Err(YamlError::new(format!("unsupported tag `{}{}`", tag.handle, tag.suffix), span)),
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
    fn no_span_points_past_the_end_of_the_input() {
        // Found by fuzzing (fuzz/regressions/yaml_parse/crash-87da…): the scanner's markers ran
        // past the end of this stream.
        let src = "%: !:\u{ffef}  ,:a@@\x10@\n---\n-@\x10@@\x10@\n---\n---\n\n\n---\n---\n--\n\n---\n-@\x10@@\x10@\n---\n---\n\n\n---, \u{ffef}:a &";
        let chars = src.chars().count();
        fn walk(n: &Node, chars: usize) {
            assert!(n.span.end.char_offset <= chars && n.span.start.char_offset <= chars, "{:?} past {chars}", n.span);
            match &n.kind {
                NodeKind::Seq(items) => items.iter().for_each(|i| walk(i, chars)),
                NodeKind::Map(entries) => entries.iter().for_each(|(k, v)| {
                    walk(k, chars);
                    walk(v, chars)
                }),
                _ => {}
            }
        }
        match parse_stream_limited(src, &Limits::DEFAULT) {
            Ok(docs) => docs.iter().for_each(|d| walk(&d.root, chars)),
            Err(e) => assert!(e.span.end.char_offset <= chars, "{:?} past {chars}", e.span),
        }
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

    fn limited(src: &str, f: impl FnOnce(&mut Limits)) -> Result<Vec<Document>, YamlError> {
        let mut l = Limits::DEFAULT;
        f(&mut l);
        parse_stream_limited(src, &l)
    }

    #[test]
    fn depth_limit_is_a_located_error_in_every_collection_style() {
        for (open, close) in [("a:\n", ""), ("- ", ""), ("{a: ", "}"), ("[", "]")] {
            let block = close.is_empty();
            // Block nesting costs indentation: 1,000 levels are already 500 kB.
            let n = if block { 1_000 } else { 10_000 };
            let mut src = String::new();
            for i in 0..n {
                if open == "a:\n" {
                    src.push_str(&" ".repeat(i));
                    src.push_str("a:\n");
                } else if open == "- " {
                    src.push_str(&" ".repeat(2 * i));
                    src.push_str("-\n");
                } else {
                    src.push_str(open);
                }
            }
            src.push_str(&close.repeat(n));
            let err = parse_stream(&src).unwrap_err();
            assert!(err.span.start.line >= 1, "{err}");
            // Flow collections may be stopped by the scanner's own nesting limit first.
            assert!(err.limit == Some("maxDepth") || err.message.contains("recursion limit"), "{open:?}: {err}");
        }
        // exactly at the limit is fine, one more is not
        let nest = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(limited(&nest(5), |l| l.max_depth = 5).is_ok());
        let err = limited(&nest(6), |l| l.max_depth = 5).unwrap_err();
        assert_eq!((err.limit, err.span.start.col), (Some("maxDepth"), 6), "{err}");
    }

    #[test]
    fn alias_bombs_are_stopped_by_the_expansion_budget() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            src.push_str(&format!("a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", ")));
        }
        let err = parse_stream(&src).unwrap_err();
        assert_eq!(err.limit, Some("maxAliasExpansion"), "{err}");
        // a smaller bomb fits a bigger budget and expands completely
        let small = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n";
        let doc = limited(small, |l| l.max_alias_expansion = 100).unwrap();
        assert_eq!(doc[0].root.to_json()["c"][1][1][0], "x");
        assert_eq!(limited(small, |l| l.max_alias_expansion = 10).unwrap_err().limit, Some("maxAliasExpansion"));
        assert_eq!(limited(small, |l| l.max_aliases = 3).unwrap_err().limit, Some("maxAliases"));
        // scalar bytes count: one alias of a long string is charged its length
        let long = format!("a: &a {}\nb: [*a, *a]\n", "x".repeat(1000));
        assert!(limited(&long, |l| l.max_alias_expansion = 2004).is_ok());
        assert_eq!(limited(&long, |l| l.max_alias_expansion = 2000).unwrap_err().limit, Some("maxAliasExpansion"));
    }

    #[test]
    fn size_and_count_limits() {
        let docs = "a: 1\n---\nb: 2\n---\nc: 3\n";
        assert_eq!(limited(docs, |l| l.max_documents = 3).unwrap().len(), 3);
        let err = limited(docs, |l| l.max_documents = 2).unwrap_err();
        assert_eq!((err.limit, err.span.start.line), (Some("maxDocuments"), 4), "at the third `---`");
        assert_eq!(limited(docs, |l| l.max_file_bytes = 10).unwrap_err().limit, Some("maxFileBytes"));
        let err = limited("a: 1\n---\nb: 222222222222\n", |l| l.max_document_chars = 10).unwrap_err();
        assert_eq!((err.limit, err.span.start.line), (Some("maxDocumentChars"), 3), "{err}");
    }

    fn unbounded_size(l: &mut Limits) {
        l.max_document_chars = usize::MAX;
        l.max_file_bytes = usize::MAX;
    }

    #[test]
    fn many_keys_and_a_late_duplicate() {
        let src: String = (0..200_000).map(|i| format!("k{i}: {i}\n")).collect();
        let docs = limited(&src, unbounded_size).unwrap();
        assert_eq!(docs[0].root.to_json()["k199999"], 199_999);
        let dup = format!("{src}k7: x\n");
        let err = limited(&dup, unbounded_size).unwrap_err();
        assert_eq!(err.related.unwrap().1.start.line, 8);
    }
}
