//! Bounds on what a repository may ask of tcpc, and the diagnostics when it asks for more.
//!
//! tcpc runs on whatever a commit contains (CI, Argo CD's repo-server), so every resource an
//! input controls is bounded:
//! * the YAML parser's limits (`tcpc_yaml::Limits`: file and document size, documents, depth,
//!   aliases and their expansion) with defaults and hard caps; `limits:` in `tcpc.yaml` may move
//!   them within the caps (the JSON Schema of `tcpc.yaml` refuses more), and `tcpc.yaml` itself
//!   is always read under the defaults;
//! * the size of all input files together (`limits.maxTotalBytes`), checked before reading;
//! * the number of errors reported per document;
//! * every number of the specs and `tcpc.yaml` that reaches arithmetic (validity days, renewal
//!   fraction, ports, `check` thresholds) is range-checked by the JSON Schema at parse time, so a
//!   located error is reported before any stage computes with it; `SOURCE_DATE_EPOCH` is checked
//!   where it is read ([`source_date_epoch`]).
//!
//! Invariant: pure (no IO); an exceeded limit is a diagnostic, never a panic or an abort.

use crate::diag::Diagnostic;
use crate::source::SourceId;

/// Errors reported per document at most (the schema may find one per key).
pub const MAX_ERRORS_PER_DOCUMENT: usize = 50;

/// The latest `SOURCE_DATE_EPOCH` accepted: 9999-12-31T23:59:59Z, the last second X.509 can hold.
pub const MAX_SOURCE_DATE_EPOCH: i64 = 253_402_300_799;

/// Parses `SOURCE_DATE_EPOCH`: whole seconds since 1970, from 0 to [`MAX_SOURCE_DATE_EPOCH`].
pub fn source_date_epoch(value: &str) -> Result<time::OffsetDateTime, String> {
    let secs: i64 = value.trim().parse().map_err(|_| format!("invalid SOURCE_DATE_EPOCH `{value}`: expected whole seconds since 1970"))?;
    if !(0..=MAX_SOURCE_DATE_EPOCH).contains(&secs) {
        return Err(format!("SOURCE_DATE_EPOCH {secs} is out of range: expected 0 (1970) to {MAX_SOURCE_DATE_EPOCH} (9999-12-31)"));
    }
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| format!("SOURCE_DATE_EPOCH {secs}: {e}"))
}

/// The diagnostic for a parser limit the input exceeded.
pub fn yaml_limit_exceeded(file: SourceId, e: &tcpc_yaml::YamlError, name: &str) -> Diagnostic {
    let cap = tcpc_yaml::Limits::HARD_CAP.entries().into_iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| v);
    Diagnostic::error(format!("input too large: {}", e.message))
        .at(file, e.span, "limit exceeded here")
        .help(format!("if this is intended, raise `limits.{name}` in tcpc.yaml (at most {cap})"))
}

/// The diagnostic when the input files together exceed `limits.maxTotalBytes`; `file` is the
/// first file past the limit.
pub fn total_exceeded(file: SourceId, total: u64, limit: u64) -> Diagnostic {
    Diagnostic::error(format!("input too large: the input files hold at least {total} bytes, more than limits.maxTotalBytes = {limit}"))
        .at(file, tcpc_yaml::Span::default(), "the limit is exceeded with this file")
        .help(format!(
            "exclude what is not an input (`exclude:` in tcpc.yaml), or raise `limits.maxTotalBytes` (at most {})",
            tcpc_spec::config::MAX_TOTAL_BYTES_CAP
        ))
}

/// A located diagnostic for a machine-written JSON file (the lock) that does not parse: at the
/// position the JSON parser stopped, else at the file's start. Returns the one-file sources it
/// points into.
pub fn json_file_error(display: &str, text: &str, message: &str) -> (crate::source::Sources, Diagnostic) {
    let mut sources = crate::source::Sources::default();
    let (line, col) = match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Err(e) if e.line() > 0 => (e.line(), e.column().max(1)),
        _ => (1, 1),
    };
    let start = text.split_inclusive('\n').take(line - 1).map(str::len).sum::<usize>();
    let line_text = text[start..].split('\n').next().unwrap_or_default();
    let col_bytes = if line_text.is_ascii() {
        (col - 1).min(line_text.len())
    } else {
        line_text.char_indices().nth(col - 1).map_or(line_text.len(), |(i, _)| i)
    };
    let prefix = &text[..start + col_bytes];
    let char_offset = if prefix.is_ascii() { prefix.len() } else { prefix.chars().count() };
    let pos = tcpc_yaml::Pos { line, col, char_offset };
    let id = sources.add(display.to_string(), text.to_string());
    let d = Diagnostic::error(message.to_string()).at(id, tcpc_yaml::Span { start: pos, end: pos }, "here");
    (sources, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_range() {
        assert_eq!(source_date_epoch("0").unwrap().unix_timestamp(), 0);
        assert_eq!(source_date_epoch(" 1795317058 ").unwrap().unix_timestamp(), 1_795_317_058);
        assert_eq!(source_date_epoch(&MAX_SOURCE_DATE_EPOCH.to_string()).unwrap().year(), 9999);
        for bad in ["-1", "253402300800", "9223372036854775807", "99999999999999999999", "1e9", "now", ""] {
            assert!(source_date_epoch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hard_caps_of_the_schema_and_the_parser_agree() {
        // The schema of tcpc.yaml states each cap; a value above it must never reach the parser.
        let schema = &tcpc_spec::schemas()["config.schema.json"];
        let limits = schema.pointer("/$defs/Limits/properties").expect("Limits in the config schema");
        for (name, cap) in tcpc_yaml::Limits::HARD_CAP.entries() {
            assert_eq!(limits[name]["maximum"], cap as u64, "{name}");
            assert_eq!(limits[name]["minimum"], 1, "{name}");
        }
    }
}
