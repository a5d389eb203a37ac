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
        let level = match self.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let mut message = level.title(&self.message);
        // Group labels by file: one snippet per file, primary first.
        let labels: Vec<&Label> = self.primary.iter().chain(self.secondary.iter()).collect();
        let mut files: Vec<SourceId> = Vec::new();
        for l in &labels {
            if !files.contains(&l.file) {
                files.push(l.file);
            }
        }
        for file in files {
            let src = sources.get(file);
            let mut snippet = Snippet::source(&src.text).line_start(1).origin(&src.display).fold(true);
            for l in labels.iter().filter(|l| l.file == file) {
                let is_primary = self.primary.as_ref().is_some_and(|p| std::ptr::eq(p, *l));
                let lvl = if is_primary { level } else { Level::Info };
                let mut range = l.span.byte_range(&src.text);
                if range.is_empty() {
                    // Point at one character so the caret shows.
                    let end = src.text[range.start..].chars().next().map_or(range.start, |c| range.start + c.len_utf8());
                    range = range.start..end;
                }
                snippet = snippet.annotation(lvl.span(range).label(&l.message));
            }
            message = message.snippet(snippet);
        }
        for n in &self.notes {
            message = message.footer(Level::Note.title(n));
        }
        if let Some(h) = &self.help {
            message = message.footer(Level::Help.title(h));
        }
        Renderer::plain().render(message).to_string()
    }
}

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
        for d in &self.items {
            out.push_str(&d.render(sources));
            out.push_str("\n\n");
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
