//! The YAML parser on arbitrary bytes under arbitrary limits: it must never panic, overflow
//! the stack or allocate without bound, every span must lie inside the input, and a parsed
//! value written by the canonical emitter must read back as the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpc_yaml::{Limits, Node, NodeKind};

fn check_spans(node: &Node, chars: usize) {
    assert!(node.span.start.char_offset <= node.span.end.char_offset.max(node.span.start.char_offset));
    assert!(node.span.end.char_offset <= chars, "span {:?} past the end ({chars} chars)", node.span);
    match &node.kind {
        NodeKind::Seq(items) => items.iter().for_each(|n| check_spans(n, chars)),
        NodeKind::Map(entries) => entries.iter().for_each(|(k, v)| {
            check_spans(k, chars);
            check_spans(v, chars);
        }),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    // The first bytes pick the limits (small ones, so the fuzzer reaches each boundary).
    let Some((&[depth, docs, aliases, expansion], rest)) = data.split_first_chunk::<4>() else { return };
    let limits = Limits {
        max_file_bytes: Limits::DEFAULT.max_file_bytes,
        max_documents: 1 + docs as usize,
        max_document_chars: Limits::DEFAULT.max_document_chars,
        max_depth: 1 + depth as usize,
        max_aliases: 1 + aliases as usize,
        max_alias_expansion: 1 + 64 * expansion as usize,
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(docs) = tcpc_yaml::parse_stream_limited(text, &limits) else { return };
    let chars = text.chars().count();
    for doc in &docs {
        check_spans(&doc.root, chars);
        let value = doc.root.to_json();
        let emitted = tcpc_yaml::emit(&value);
        let back = tcpc_yaml::parse_stream_limited(&emitted, &Limits::HARD_CAP).unwrap_or_else(|e| panic!("emitted YAML does not parse: {e}\n{emitted}"));
        let back = back.first().map_or(serde_json::Value::Null, |d| d.root.to_json());
        assert_eq!(back, value, "emitted YAML reads back differently:\n{emitted}");
    }
});
