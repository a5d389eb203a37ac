//! Finding and reading the input files (IO edge).
//!
//! Walks the repository with `walkdir`, skipping hidden directories (`.git`, `.tcpc`), the
//! output directory, and the `exclude` globs of `tcpc.yaml`. Every `*.yaml` / `*.yml` file is
//! read; which documents in it matter is decided later, by the parser.
//!
//! Invariant: the returned files are sorted by their relative path, whatever order the file
//! system lists them in.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use crate::source::Sources;

/// The repository-wide configuration file at the root of the input directory.
pub const CONFIG_FILE: &str = "tcpc.yaml";

/// Files at the repository root that are ours but not inputs.
const NOT_INPUTS: &[&str] = &[CONFIG_FILE, "tcpc.lock"];

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid exclude glob `{glob}` in tcpc.yaml: {source}")]
    Glob { glob: String, source: globset::Error },
}

/// Reads `tcpc.yaml` at `root` if it exists.
pub fn read_config(root: &Path) -> Result<Option<String>, DiscoverError> {
    let path = root.join(CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(DiscoverError::Io { path, source }),
    }
}

/// Reads every YAML input below `root`, skipping `skip` (absolute or root-relative paths,
/// typically the output directory) and paths matching `exclude` globs.
pub fn read_inputs(root: &Path, exclude: &[String], skip: &[PathBuf], sources: &mut Sources) -> Result<(), DiscoverError> {
    let excluded = build_globs(exclude)?;
    let skip: Vec<PathBuf> = skip.iter().map(|p| normalize(&root.join(p))).collect();
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let walker = WalkDir::new(root).follow_links(false).sort_by_file_name().into_iter();
    let walker = walker.filter_entry(|e| {
        if e.depth() == 0 {
            return true;
        }
        let hidden = e.file_name().to_str().is_some_and(|n| n.starts_with('.'));
        let rel = relative(root, e.path());
        !(hidden || skip.contains(&normalize(e.path())) || excluded.is_match(&rel))
    });
    for entry in walker {
        let entry = entry.map_err(|e| DiscoverError::Io {
            path: e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf()),
            source: e.into_io_error().unwrap_or_else(|| std::io::Error::other("walk error")),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = relative(root, entry.path());
        let is_yaml = rel.ends_with(".yaml") || rel.ends_with(".yml");
        if is_yaml && !NOT_INPUTS.contains(&rel.as_str()) {
            found.push((rel, entry.into_path()));
        }
    }
    found.sort();
    for (rel, path) in found {
        let text = std::fs::read_to_string(&path).map_err(|source| DiscoverError::Io { path, source })?;
        sources.add(rel, text);
    }
    Ok(())
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, DiscoverError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|source| DiscoverError::Glob { glob: p.clone(), source })?;
        b.add(glob);
    }
    b.build().map_err(|source| DiscoverError::Glob { glob: patterns.join(", "), source })
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Lexical normalisation (no file system access): drops `.` and resolves `..`.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_and_skips_hidden_output_and_excluded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (p, body) in [
            ("b/tcp.yaml", "b"),
            ("a/tcp.yml", "a"),
            ("a/notes.txt", "x"),
            (".git/x.yaml", "x"),
            ("rendered/x.yaml", "x"),
            ("drafts/x.yaml", "x"),
            ("tcpc.yaml", "cfg"),
        ] {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let mut sources = Sources::default();
        read_inputs(root, &["drafts/**".into()], &[PathBuf::from("rendered")], &mut sources).unwrap();
        let names: Vec<_> = sources.iter().map(|(_, f)| f.display.clone()).collect();
        assert_eq!(names, ["a/tcp.yml", "b/tcp.yaml"]);
    }
}
