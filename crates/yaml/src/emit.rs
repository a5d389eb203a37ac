//! Canonical YAML writer.
//!
//! One style per shape, so equal values give equal bytes:
//! * mappings in block style, keys sorted by bytes, two-space indent;
//! * sequences in block style at the parent's indentation (`kubectl` style);
//! * empty collections as `{}` / `[]`;
//! * strings plain when that reads back as the same string under YAML 1.1 *and* 1.2 resolvers,
//!   literal blocks (`|`) when multi-line and printable, double-quoted otherwise.

use serde_json::{Map, Value};

/// Canonical YAML of one value (no document marker), ending in a newline.
pub fn emit(value: &Value) -> String {
    let mut out = String::with_capacity(1024);
    emit_into(&mut out, value);
    out
}

/// Appends the canonical YAML of `value` to `out`.
pub fn emit_into(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => write_map(out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(out, items, 0),
        scalar => {
            // A literal block at the root is indented too: at column 0 a `---` or `...` line
            // of the string would end the document (found by fuzzing).
            write_inline(out, scalar, 2);
            out.push('\n');
        }
    }
}

/// A stream of documents, each introduced by `---`.
pub fn emit_stream<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for v in values {
        out.push_str("---\n");
        emit_into(&mut out, v);
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

fn write_map(out: &mut String, map: &Map<String, Value>, level: usize) {
    for (key, value) in sorted(map) {
        indent(out, level);
        write_key(out, key, level);
        out.push(':');
        write_value_after_key(out, value, level);
    }
}

/// A mapping key; one longer than YAML's 1024-character limit for implicit keys is written as
/// an explicit `? key` with the `:` on the next line at `level` (found by fuzzing).
fn write_key(out: &mut String, key: &str, level: usize) {
    let start = out.len();
    write_string(out, key, level, true);
    if out[start..].chars().count() > 1000 {
        let written = out.split_off(start);
        out.push_str("? ");
        out.push_str(&written);
        out.push('\n');
        indent(out, level);
    }
}

/// After `key:` — nested collections go on the next lines, scalars inline.
fn write_value_after_key(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, level + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, level);
        }
        scalar => {
            out.push(' ');
            write_inline(out, scalar, level + 2);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // First entry on the dash line, the rest aligned under it.
                let mut first = true;
                for (key, value) in sorted(m) {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, level + 2);
                    }
                    write_key(out, key, level + 2);
                    out.push(':');
                    write_value_after_key(out, value, level + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, level + 2);
            }
            scalar => {
                out.push(' ');
                write_inline(out, scalar, level + 2);
                out.push('\n');
            }
        }
    }
}

/// Scalars and empty collections. `block_indent` is the indentation for literal block lines.
fn write_inline(out: &mut String, value: &Value, block_indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s, block_indent, false),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn write_string(out: &mut String, s: &str, block_indent: usize, is_key: bool) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if !is_key && s.contains('\n') && is_block_safe(s) {
        write_literal(out, s, block_indent);
    } else {
        write_double_quoted(out, s);
    }
}

fn write_literal(out: &mut String, s: &str, block_indent: usize) {
    out.push('|');
    if s.starts_with(' ') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = s.trim_end_matches('\n');
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, block_indent);
            out.push_str(line);
        }
    }
    // Keep extra trailing newlines for `|+`.
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Multi-line strings whose lines are printable and carry no trailing blanks or tabs.
fn is_block_safe(s: &str) -> bool {
    s.lines().all(|l| !l.ends_with([' ', '\t']))
        && s.chars().all(|c| c == '\n' || !(c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')))
        && !s.trim_end_matches('\n').is_empty()
        && !s.starts_with('\n')
}

/// Whether `s` can be written as a plain scalar and read back as the same string by both
/// YAML 1.2 (core schema) and YAML 1.1 (go-yaml v2 / sigs.k8s.io/yaml) readers.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if s != s.trim() || s.contains(['\n', '\t', '\r']) {
        return false;
    }
    // At the start of a line (a root scalar, a top-level key) these are document markers
    // (found by fuzzing).
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.chars().any(|c| c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')) {
        return false;
    }
    match first {
        '!' | '&' | '*' | '{' | '}' | '[' | ']' | ',' | '#' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => return false,
        '-' | '?' | ':' => {
            let second = s[1..].chars().next();
            if second.is_none_or(|c| c == ' ') {
                return false;
            }
        }
        _ => {}
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    // Flow indicators inside a plain scalar are fine in block context (`--mode=Node,RBAC`).
    !looks_like_non_string(s)
}

/// Anything a YAML 1.1 or 1.2 resolver could read as null, bool or number.
fn looks_like_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null" | "true" | "false" | "yes" | "no" | "y" | "n" | "on" | "off" | ".inf" | "-.inf" | "+.inf" | ".nan" | "<<" | "="
    ) {
        return true;
    }
    // YAML 1.1 timestamps (`2024-05-01`, `2024-05-01T12:34:56Z`): go-yaml v2 and sops read
    // them as time values.
    let b = s.as_bytes();
    if b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[5].is_ascii_digit() {
        return true;
    }
    // Numbers in any base, with YAML 1.1 underscores and sexagesimal colons: be conservative and
    // quote every string that starts like a number and contains only number-ish characters.
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let starts_numeric = body.starts_with(|c: char| c.is_ascii_digit()) || body.starts_with('.');
    starts_numeric && body.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | '_' | ':' | 'x' | 'X' | 'o' | 'O' | '+' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_layout_is_kubectl_like_and_sorted() {
        let v = json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "spec": {"replicas": 2, "args": ["--a=b", "--c"], "empty": {}, "none": []},
            "list": [{"name": "x", "image": "img", "ports": [{"containerPort": 1}]}],
        });
        let expected = "\
apiVersion: apps/v1
kind: Deployment
list:
- image: img
  name: x
  ports:
  - containerPort: 1
spec:
  args:
  - --a=b
  - --c
  empty: {}
  none: []
  replicas: 2
";
        assert_eq!(emit(&v), expected);
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "true",
            "yes",
            "No",
            "on",
            "1",
            "0755",
            "1.5",
            "1e3",
            "",
            " x",
            "a: b",
            "- x",
            "#c",
            "null",
            "~",
            "0x1F",
            "1_000",
            "12:30",
            "*x",
            "[a]",
            "2024-05-01T12:34:56Z",
            "2024-05-01",
        ] {
            let out = emit(&json!({ "k": s }));
            assert!(out.starts_with("k: \""), "{s:?} -> {out}");
        }
        for s in [
            "v1.30.2",
            "--flag=value",
            "registry.k8s.io/kube-apiserver:v1.36.3",
            "10.96.0.0/16",
            "a b",
            "--mode=Node,RBAC",
            "x:y",
            "*,bootstrapsigner",
        ] {
            let out = emit(&json!({ "k": s }));
            if s.starts_with('*') {
                assert!(out.starts_with("k: \""), "{s:?} -> {out}");
            } else {
                assert_eq!(out, format!("k: {s}\n"), "{s:?}");
            }
        }
    }

    #[test]
    fn multi_line_strings_use_literal_blocks() {
        let v = json!({"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "nl": "a\nb", "two": "a\n\n", "sp": "  lead\nx\n"}});
        let out = emit(&v);
        assert!(out.contains("  ca.crt: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----\n"), "{out}");
        assert!(out.contains("  nl: |-\n    a\n    b\n"), "{out}");
        assert!(out.contains("  two: |+\n    a\n\n"), "{out}");
        assert!(out.contains("  sp: |2\n      lead\n    x\n"), "{out}");
    }

    #[test]
    fn every_emitted_document_reads_back_identically() {
        let v = json!({
            "a": ["x", {"b": [1, 2.5, true, null, "", "yes", "a\tb", "line\n  indented\n", "trail \nx"]}],
            "c": {"d": {"e": "é ünïcode", "f": "quote\"back\\slash"}},
            "g": [[1, 2], [], {}],
            "h": "\u{1}ctl",
        });
        let text = emit(&v);
        let docs = crate::parse_stream(&text).expect(&text);
        assert_eq!(docs[0].root.to_json(), v, "{text}");
    }

    #[test]
    fn a_root_string_with_document_markers_reads_back() {
        for s in ["---\n, -", "a\n...\nb\n", "x\n--- y\n", "---", "...", "--- x", "... y"] {
            let value = Value::String(s.to_string());
            let text = emit(&value);
            let back = crate::parse_stream(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(back[0].root.to_json(), value, "{text}");
        }
    }

    #[test]
    fn keys_longer_than_an_implicit_key_may_be_read_back() {
        let long = "k".repeat(2000);
        for value in [serde_json::json!({ &long: 1, "a": {&long: [1, {&long: "x"}]} }), serde_json::json!([{ &long: {"b": 2}, "c": 3 }])] {
            let text = emit(&value);
            let back = crate::parse_stream(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back[0].root.to_json(), value);
        }
    }
}
