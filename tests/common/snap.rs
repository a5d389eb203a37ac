//! Text snapshots (insta-style, without the dependency): `assert_snapshot("name", text)`
//! compares `text` with `tests/snapshots/<name>.snap` and fails with a unified diff.
//!
//! `TCPC_BLESS=1 cargo test …` writes the snapshots instead of comparing: review the change
//! with `git diff tests/snapshots` like any golden file. Callers replace run-specific text
//! (temp paths) with stable placeholders first, see [`filter`].

use std::path::Path;

/// Replaces every occurrence of `path` (and its canonical form) in `text` with `placeholder`.
pub fn filter(text: &str, path: &Path, placeholder: &str) -> String {
    let mut out = text.to_string();
    if let Ok(canonical) = path.canonicalize() {
        out = out.replace(&canonical.to_string_lossy().into_owned(), placeholder);
    }
    out.replace(&path.to_string_lossy().into_owned(), placeholder)
}

/// Checks `actual` against the snapshot `name`; returns a description of the mismatch.
pub fn check_snapshot(name: &str, actual: &str) -> Option<String> {
    let path = super::root().join("tests/snapshots").join(format!("{name}.snap"));
    if std::env::var("TCPC_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return None;
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) => return Some(format!("snapshot {} is missing; run with TCPC_BLESS=1 to write it:\n{actual}", path.display())),
    };
    if expected == actual {
        return None;
    }
    let rel = format!("tests/snapshots/{name}.snap");
    let diff = similar::TextDiff::from_lines(expected.as_str(), actual).unified_diff().context_radius(3).header(&rel, "actual").to_string();
    Some(format!("snapshot {rel} differs (TCPC_BLESS=1 rewrites it):\n{diff}"))
}

/// Panics with a diff unless `actual` equals the snapshot `name`.
pub fn assert_snapshot(name: &str, actual: &str) {
    if let Some(problem) = check_snapshot(name, actual) {
        panic!("{problem}");
    }
}
