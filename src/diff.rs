//! Readable differences between two output trees (for `tcpc check` and golden tests).

use similar::TextDiff;

use crate::model::Tree;

/// A unified diff of every file that differs, is missing or is extra; empty when equal.
pub fn tree_diff(old: &Tree, new: &Tree) -> String {
    let mut out = String::new();
    let paths: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for path in paths {
        let a = old.get(path).map_or("", String::as_str);
        let b = new.get(path).map_or("", String::as_str);
        if a != b {
            let diff = TextDiff::from_lines(a, b);
            let header_a = if old.contains_key(path) { format!("a/{path}") } else { "/dev/null".into() };
            let header_b = if new.contains_key(path) { format!("b/{path}") } else { "/dev/null".into() };
            out.push_str(&diff.unified_diff().context_radius(3).header(&header_a, &header_b).to_string());
        }
    }
    out
}
