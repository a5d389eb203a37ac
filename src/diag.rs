//! Diagnostics in the style of rustc and cargo: `file:line:col`, the offending key, what was
//! expected, and a hint.
//!
//! Every stage reports problems by pushing a [`Diagnostic`] into [`Diagnostics`] and carrying on
//! where it can, so one run reports every error, not just the first. Rendering needs the
//! [`Sources`] the spans point into.
//!
//! Invariant: a diagnostic never contains secret material. Callers describe secrets by name
//! (`the apiserver key of tenants/alpha`), never by value.

use std::fmt::Write as _;

use annotate_snippets::{Level, Renderer, Snippet};
pub use tcpc_yaml::Span;

use crate::source::{SourceId, Sources};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A location in one of the input files.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub file: SourceId,
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }

    pub fn at(mut self, file: SourceId, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some(Label { file, span, message: label.into() });
        self
    }

    pub fn also(mut self, file: SourceId, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label { file, span, message: label.into() });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders this diagnostic against the sources its labels point into.
    pub fn render(&self, sources: &Sources) -> String {
        self.render_with(sources, &mut LineIndex::default())
    }

    fn render_with(&self, sources: &Sources, index: &mut LineIndex) -> String {
        let level = match self.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let mut message = level.title(&self.message);
        // Group labels by file: one snippet per file, primary first.
        let labels: Vec<&Label> = self.primary.iter().chain(self.secondary.iter()).collect();
        let mut manual: Vec<String> = Vec::new();
        let mut files: Vec<SourceId> = Vec::new();
        for l in &labels {
            if !files.contains(&l.file) {
                files.push(l.file);
            }
        }
        // Every label's location, for when the source is not shown.
        let mut locations: Vec<String> = Vec::new();
        // (file, window text, first line of the window, labels with ranges in the window)
        let mut windows: Vec<Window<'_>> = Vec::new();
        for file in files {
            let src = sources.get(file);
            let starts = index.get(file, &src.text);
            let mut ranges = Vec::new();
            for l in labels.iter().filter(|l| l.file == file) {
                let start = byte_offset(&src.text, starts, l.span.start);
                let mut range = start..byte_offset(&src.text, starts, l.span.end).max(start);
                if range.is_empty() {
                    // Point at one character so the caret shows.
                    let end = src.text[range.start..].chars().next().map_or(range.start, |c| range.start + c.len_utf8());
                    range = range.start..end;
                }
                let line = starts.partition_point(|&s| s <= range.start).max(1);
                let col = char_count(&src.text[starts[line - 1]..range.start]) + 1;
                locations.push(format!("  --> {}:{line}:{col}: {}", src.display, l.message));
                ranges.push((*l, range));
            }
            // Only the lines the labels span go to the renderer: a diagnostic costs the size of
            // what it shows, not the size of the file.
            let first = ranges.iter().map(|(_, r)| r.start).min().unwrap_or(0);
            let last = ranges.iter().map(|(_, r)| r.end).max().unwrap_or(0);
            let first_line = starts.partition_point(|&s| s <= first).max(1);
            let window_start = starts[first_line - 1];
            let window_end = src.text[last..].find('\n').map_or(src.text.len(), |i| last + i + 1);
            let last_line = starts.partition_point(|&s| s <= last.saturating_sub(1).max(first));
            let widest =
                (first_line..=last_line).map(|l| starts.get(l).copied().unwrap_or(src.text.len()) - starts[l - 1]).max().unwrap_or(0);
            if widest > MAX_SHOWN_LINE || last_line - first_line > MAX_SHOWN_LINES {
                // Too much to show: only the location and the label.
                manual.extend(locations.iter().skip(locations.len() - ranges.len()).cloned());
                continue;
            }
            // Tabs and control characters become spaces (same byte length, so the ranges hold):
            // the renderer measures them inconsistently.
            let text: String = src.text[window_start..window_end]
                .chars()
                .map(|c| if c.is_control() && c != '\n' && c != '\r' { ' ' } else { c })
                .collect();
            let ranges = ranges.into_iter().map(|(l, r)| (l, r.start - window_start..r.end - window_start)).collect();
            windows.push((&src.display, text, first_line, ranges));
        }
        for (display, text, first_line, ranges) in &windows {
            let mut snippet = Snippet::source(text).line_start(*first_line).origin(display).fold(true);
            for (l, range) in ranges {
                let is_primary = self.primary.as_ref().is_some_and(|p| std::ptr::eq(p, *l));
                let lvl = if is_primary { level } else { Level::Info };
                snippet = snippet.annotation(lvl.span(range.clone()).label(&l.message));
            }
            message = message.snippet(snippet);
        }
        for n in &self.notes {
            message = message.footer(Level::Note.title(n));
        }
        if let Some(h) = &self.help {
            message = message.footer(Level::Help.title(h));
        }
        // The renderer has arithmetic that can overflow on odd input (found by fuzzing): a
        // diagnostic must never crash the run, so fall back to the locations alone.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Renderer::plain().render(message).to_string()));
        std::panic::set_hook(hook);
        let text = match rendered {
            Ok(text) => text,
            Err(_) => {
                let level = if self.severity == Severity::Error { "error" } else { "warning" };
                let mut out = format!("{level}: {}\n{}", self.message, locations.join("\n"));
                for n in &self.notes {
                    out.push_str(&format!("\n   = note: {n}"));
                }
                if let Some(h) = &self.help {
                    out.push_str(&format!("\n   = help: {h}"));
                }
                return out;
            }
        };
        if manual.is_empty() {
            return text;
        }
        let (title, rest) = text.split_once('\n').unwrap_or((&text, ""));
        format!(
            "{title}\n{}\n   = note: the source is not shown (lines too long or too many){}{rest}",
            manual.join("\n"),
            if rest.is_empty() { "" } else { "\n" }
        )
    }
}

/// What a diagnostic shows of one file: its name, the (sanitised) lines, the first line's
/// number, and the labels with their byte ranges in those lines.
type Window<'a> = (&'a str, String, usize, Vec<(&'a Label, std::ops::Range<usize>)>);

/// Byte offsets of line starts, per file, computed once per rendering.
#[derive(Default)]
struct LineIndex {
    files: std::collections::BTreeMap<SourceId, Vec<usize>>,
}

impl LineIndex {
    fn get(&mut self, file: SourceId, text: &str) -> &[usize] {
        self.files.entry(file).or_insert_with(|| std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect())
    }
}

/// Byte offset of a position (1-based line, 1-based column in characters) in `text`.
fn byte_offset(text: &str, starts: &[usize], pos: tcpc_yaml::Pos) -> usize {
    let Some(&start) = starts.get(pos.line.max(1) - 1) else { return text.len() };
    let end = starts.get(pos.line.max(1)).copied().unwrap_or(text.len());
    let line = &text[start..end];
    let col = pos.col.saturating_sub(1);
    if line.is_ascii() {
        return start + col.min(line.len());
    }
    start + line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
}

/// Characters in `s` (bytes when ASCII: a long line is not walked char by char).
fn char_count(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().count() }
}

/// Longest source line (bytes) and most lines a diagnostic shows; beyond, only the location.
const MAX_SHOWN_LINE: usize = 1000;
const MAX_SHOWN_LINES: usize = 500;

/// Diagnostics rendered per run at most; the rest are counted.
pub const MAX_RENDERED: usize = 100;

/// Everything one run has to say.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Error).count()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorts by file, then position, so output order never depends on processing order.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.primary.as_ref().map(|l| (l.file, l.span.start.line, l.span.start.col));
            key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
        });
    }

    /// All diagnostics, rendered, followed by a summary line when there are errors.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        let mut index = LineIndex::default();
        for d in self.items.iter().take(MAX_RENDERED) {
            out.push_str(&d.render_with(sources, &mut index));
            out.push_str("\n\n");
        }
        if self.items.len() > MAX_RENDERED {
            let _ = writeln!(out, "note: {} more diagnostic(s) not shown", self.items.len() - MAX_RENDERED);
        }
        let errors = self.error_count();
        if errors > 0 {
            let _ = writeln!(out, "error: aborting: {errors} error{} found", if errors == 1 { "" } else { "s" });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    #[test]
    fn renders_file_line_col_label_and_help() {
        let mut sources = Sources::default();
        let text = "spec:\n  networkProfile:\n    serviceCidr: 10.96.0.0/33\n";
        let id = sources.add("tenants/a.yaml".into(), text.to_string());
        let docs = tcpc_yaml::parse_stream(text).unwrap();
        let path = tcpc_yaml::path_from_pointer("/spec/networkProfile/serviceCidr");
        let span = docs[0].root.span_at(&path, false);
        let d = Diagnostic::error("invalid CIDR `10.96.0.0/33`")
            .at(id, span, "prefix length must be at most 32")
            .help("write an IPv4 CIDR such as 10.96.0.0/16");
        let out = d.render(&sources);
        assert!(out.contains("error: invalid CIDR `10.96.0.0/33`"), "{out}");
        assert!(out.contains("tenants/a.yaml:3:18"), "{out}");
        assert!(out.contains("^^^^^^^^^^^^ prefix length must be at most 32"), "{out}");
        assert!(out.contains("help: write an IPv4 CIDR"), "{out}");
    }
}
