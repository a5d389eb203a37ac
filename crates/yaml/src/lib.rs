//! YAML with source spans in, canonical YAML out.
//!
//! * [`parse_stream`] turns a YAML stream into [`Document`]s whose every node carries the
//!   [`Span`] it came from, so later stages can point diagnostics at `file:line:col`.
//!   Scalars are resolved with the YAML 1.2 core schema. Duplicate mapping keys are an error
//!   (Kubernetes tooling disagrees on which one wins, so we refuse to guess). Every resource
//!   the parse may use is bounded by [`Limits`] (depth, aliases, sizes, documents).
//! * [`emit`] writes a `serde_json::Value` as canonical block YAML: mapping keys sorted by
//!   bytes at every level, one fixed style per value shape. Equal values always give equal bytes.
//!
//! Invariant: this crate does no IO and holds no global state.

mod emit;
mod limits;
mod parse;

pub use emit::{emit, emit_into, emit_stream};
pub use limits::Limits;
pub use parse::{Document, Node, NodeKind, Pos, Span, YamlError, parse_stream, parse_stream_limited};

/// One step of a path into a document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl std::fmt::Display for PathSeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathSeg::Key(k) => write!(f, ".{k}"),
            PathSeg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Renders a path the way users read it: `spec.networkProfile.certSANs[2]`.
pub fn display_path(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) if out.is_empty() => out.push_str(k),
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

/// Parses a JSON pointer (`/spec/networkProfile/certSANs/2`) into path segments.
/// Numeric segments become indices; the caller's tree decides whether that fits.
pub fn path_from_pointer(pointer: &str) -> Vec<PathSeg> {
    pointer
        .split('/')
        .skip(1)
        .map(|raw| {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            match seg.parse::<usize>() {
                Ok(i) => PathSeg::Index(i),
                Err(_) => PathSeg::Key(seg),
            }
        })
        .collect()
}
