//! Resource limits of the parser: hostile input is refused with a located error, never a stack
//! overflow, an out-of-memory abort or a parse that takes minutes.
//!
//! Every limit is checked while the event stream is consumed, so an exceeded limit stops the
//! parse at the offending place (the input is never fully materialised first):
//!
//! | limit | bounds |
//! |---|---|
//! | `max_file_bytes` | the whole stream (checked before the first event) |
//! | `max_documents` | documents in the stream, empty ones included |
//! | `max_document_chars` | characters from a document's start to any of its events |
//! | `max_depth` | nesting of sequences and mappings (the builder recurses once per level) |
//! | `max_aliases` | alias uses in the stream |
//! | `max_alias_expansion` | nodes materialised by alias uses in the stream, plus the bytes of their scalars (billion laughs) |
//!
//! Together they bound memory and time linearly. The costliest input per byte is one large
//! flow collection (`[a, a, …]`): the scanner holds about 175 bytes per character of it until
//! it closes, and the tree about 60 more; an alias expansion unit costs about 30 bytes. That is
//! under 512 MB and 2 s with the defaults (`tests/hostile.rs` measures it) and a few GB at the
//! hard caps.

/// Parser limits; see the module documentation. [`Limits::DEFAULT`] applies unless the caller
/// says otherwise; [`Limits::HARD_CAP`] is the most a configuration may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_file_bytes: usize,
    pub max_documents: usize,
    pub max_document_chars: usize,
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_alias_expansion: usize,
}

impl Limits {
    /// Generous for any real repository (a TenantControlPlane is a few kB and ten levels deep),
    /// small enough that the worst case of every limit together stays far below 512 MB.
    pub const DEFAULT: Limits = Limits {
        max_file_bytes: 2 << 20,
        max_documents: 10_000,
        max_document_chars: 1 << 20,
        max_depth: 64,
        max_aliases: 10_000,
        max_alias_expansion: 1_000_000,
    };

    /// The most any configuration may raise a limit to.
    pub const HARD_CAP: Limits = Limits {
        max_file_bytes: 8 << 20,
        max_documents: 1_000_000,
        max_document_chars: 8 << 20,
        max_depth: 256,
        max_aliases: 1_000_000,
        max_alias_expansion: 4_000_000,
    };

    /// `(name in tcpc.yaml, value)` of every limit, in a fixed order.
    pub fn entries(&self) -> [(&'static str, usize); 6] {
        [
            ("maxFileBytes", self.max_file_bytes),
            ("maxDocuments", self.max_documents),
            ("maxDocumentChars", self.max_document_chars),
            ("maxDepth", self.max_depth),
            ("maxAliases", self.max_aliases),
            ("maxAliasExpansion", self.max_alias_expansion),
        ]
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
