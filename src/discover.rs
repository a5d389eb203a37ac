//! Finding and reading the input files (IO edge).
//!
//! Walks the repository with `walkdir`, skipping hidden directories (`.git`, `.tcpc`), the
//! output directory, and the `exclude` globs of `tcpc.yaml`. Every `*.yaml` / `*.yml` file is
//! read; which documents in it matter is decided later, by the parser.
//!
//! Symbolic links are never skipped silently: a link to a file inside the repository is read
//! (under the link's own path); a link to a directory, outside the repository, or dangling is
//! not read and produces a warning.
//!
//! Invariant: the returned files are sorted by their relative path, whatever order the file
//! system lists them in.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{SourceId, Sources};

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

/// Reads `tcpc.yaml` at `root` if it exists (under the default size limit).
pub fn read_config(root: &Path) -> Result<Option<String>, DiscoverError> {
    let mut sources = Sources::default();
    let mut diags = Diagnostics::default();
    let path = root.join(CONFIG_FILE);
    match read_config_into(root, &mut sources, &mut diags)? {
        Some(_) if diags.has_errors() => Err(DiscoverError::Io {
            path,
            source: std::io::Error::other(diags.iter().next().map(|d| d.message.clone()).unwrap_or_default()),
        }),
        Some(id) => Ok(Some(sources.get(id).text.clone())),
        None => Ok(None),
    }
}

/// Adds `tcpc.yaml` at `root` to `sources` if it exists. Too large or not UTF-8: a located
/// error in `diags` (the file is then added with what could be read).
pub fn read_config_into(root: &Path, sources: &mut Sources, diags: &mut Diagnostics) -> Result<Option<SourceId>, DiscoverError> {
    let path = root.join(CONFIG_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let max = tcpc_yaml::Limits::DEFAULT.max_file_bytes as u64;
    read_source(&path, CONFIG_FILE.into(), max, sources, diags).map(Some)
}

/// Reads one file into `sources`, refusing (with a diagnostic at its start) one larger than
/// `max_bytes` before reading it, and pointing at the first byte that is not UTF-8.
pub fn read_source(
    path: &Path,
    display: String,
    max_bytes: u64,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Result<SourceId, DiscoverError> {
    use std::io::Read as _;
    let io = |source| DiscoverError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let too_large = |len: u64, sources: &mut Sources, diags: &mut Diagnostics| {
        let id = sources.add(display.clone(), String::new());
        diags.push(
            Diagnostic::error(format!("input too large: the file ({len} bytes) exceeds the limit maxFileBytes = {max_bytes}"))
                .at(id, tcpc_yaml::Span::default(), "this file")
                .help("exclude it (`exclude:` in tcpc.yaml) or raise `limits.maxFileBytes`"),
        );
        id
    };
    if len > max_bytes {
        return Ok(too_large(len, sources, diags));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        return Ok(too_large(bytes.len() as u64, sources, diags));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(sources.add(display, text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = std::str::from_utf8(&bytes[..valid]).expect("valid prefix");
            let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
            let pos = tcpc_yaml::Pos {
                line: prefix.matches('\n').count() + 1,
                col: prefix[line_start..].chars().count() + 1,
                char_offset: prefix.chars().count(),
            };
            let utf16 = bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]);
            let id = sources.add(display, String::from_utf8_lossy(&bytes).into_owned());
            let d = Diagnostic::error(if utf16 { "the file is UTF-16 encoded, not UTF-8" } else { "the file is not valid UTF-8" })
                .at(id, tcpc_yaml::Span { start: pos, end: pos }, format!("invalid byte 0x{:02x}", bytes[valid]))
                .help("YAML inputs must be UTF-8 text");
            diags.push(d);
            Ok(id)
        }
    }
}

/// Reads every YAML input below `root`, skipping `skip` (absolute or root-relative paths,
/// typically the output directory) and paths matching `exclude` globs. Files larger than
/// `limits.maxFileBytes`, files past `limits.maxTotalBytes` together and files that are not
/// UTF-8 are located errors in `diags`; sizes are checked before a file is read. Returns
/// warnings (links that were not followed).
pub fn read_inputs(
    root: &Path,
    config: &tcpc_spec::Config,
    skip: &[PathBuf],
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Result<Vec<String>, DiscoverError> {
    let exclude = config.exclude_globs();
    let (max_file, max_total) = (config.yaml_limits().max_file_bytes as u64, config.max_total_bytes());
    let mut warnings = Vec::new();
    let canonical_root = std::fs::canonicalize(root).map_err(|source| DiscoverError::Io { path: root.to_path_buf(), source })?;
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
        let rel = relative(root, entry.path());
        let is_yaml = rel.ends_with(".yaml") || rel.ends_with(".yml");
        if entry.file_type().is_symlink() {
            let target = std::fs::canonicalize(entry.path());
            match target {
                Err(_) => warnings.push(format!("{rel}: symbolic link to nothing (dangling); not read")),
                Ok(t) if !t.starts_with(&canonical_root) => {
                    warnings.push(format!("{rel}: symbolic link to {}, outside the repository; not read", t.display()))
                }
                Ok(t) if t.is_dir() => warnings.push(format!(
                    "{rel}: symbolic link to a directory; not followed (link the files, or move the directory into the repository)"
                )),
                Ok(t) if is_yaml && !NOT_INPUTS.contains(&rel.as_str()) => found.push((rel, t)),
                Ok(_) => {}
            }
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        if is_yaml && !NOT_INPUTS.contains(&rel.as_str()) {
            found.push((rel, entry.into_path()));
        }
    }
    found.sort();
    let mut total: u64 = 0;
    for (rel, path) in found {
        let len = std::fs::metadata(&path).map_err(|source| DiscoverError::Io { path: path.clone(), source })?.len();
        total = total.saturating_add(len.min(max_file + 1));
        if total > max_total {
            let id = sources.add(rel, String::new());
            diags.push(crate::limits::total_exceeded(id, total, max_total));
            break;
        }
        read_source(&path, rel, max_file, sources, diags)?;
    }
    Ok(warnings)
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
        let mut config = tcpc_spec::Config::empty();
        config.exclude = Some(vec!["drafts/**".into()]);
        let mut diags = Diagnostics::default();
        read_inputs(root, &config, &[PathBuf::from("rendered")], &mut sources, &mut diags).unwrap();
        let names: Vec<_> = sources.iter().map(|(_, f)| f.display.clone()).collect();
        assert_eq!(names, ["a/tcp.yml", "b/tcp.yaml"]);
        assert!(diags.is_empty());
    }

    #[test]
    fn oversized_and_non_utf8_files_are_located_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("big.yaml"), vec![b'#'; 2000]).unwrap();
        std::fs::write(root.join("latin1.yaml"), b"a: 1\nname: caf\xe9\n").unwrap();
        std::fs::write(root.join("utf16.yaml"), b"\xff\xfea\x00").unwrap();
        let mut config = tcpc_spec::Config::empty();
        config.limits = Some(tcpc_spec::config::Limits { max_file_bytes: Some(1000), ..Default::default() });
        let (mut sources, mut diags) = (Sources::default(), Diagnostics::default());
        read_inputs(root, &config, &[], &mut sources, &mut diags).unwrap();
        let out = diags.render(&sources);
        assert!(out.contains("--> big.yaml:1:1") && out.contains("2000 bytes"), "{out}");
        assert!(out.contains("--> latin1.yaml:2:10") && out.contains("0xe9"), "{out}");
        assert!(out.contains("--> utf16.yaml:1:1") && out.contains("UTF-16"), "{out}");
        // the total: two files of 600 bytes under a 1000-byte budget
        std::fs::remove_file(root.join("big.yaml")).unwrap();
        std::fs::remove_file(root.join("utf16.yaml")).unwrap();
        std::fs::write(root.join("latin1.yaml"), vec![b'#'; 600]).unwrap();
        std::fs::write(root.join("more.yaml"), vec![b'#'; 600]).unwrap();
        config.limits = Some(tcpc_spec::config::Limits { max_total_bytes: Some(1000), ..Default::default() });
        let (mut sources, mut diags) = (Sources::default(), Diagnostics::default());
        read_inputs(root, &config, &[], &mut sources, &mut diags).unwrap();
        let out = diags.render(&sources);
        assert!(out.contains("--> more.yaml:1:1") && out.contains("maxTotalBytes"), "{out}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_inside_the_repository_or_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/a.yaml"), "a").unwrap();
        std::fs::write(dir.path().join("outside.yaml"), "o").unwrap();
        let link = |target: &Path, at: &str| std::os::unix::fs::symlink(target, root.join(at)).unwrap();
        link(Path::new("real/a.yaml"), "linked.yaml");
        link(&dir.path().join("outside.yaml"), "out.yaml");
        link(Path::new("real"), "dirlink");
        link(Path::new("nowhere.yaml"), "dangling.yaml");
        let mut sources = Sources::default();
        let mut diags = Diagnostics::default();
        let warnings = read_inputs(&root, &tcpc_spec::Config::default(), &[], &mut sources, &mut diags).unwrap();
        assert!(!diags.has_errors());
        let names: Vec<_> = sources.iter().map(|(_, f)| f.display.clone()).collect();
        assert_eq!(names, ["linked.yaml", "real/a.yaml"]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        for (w, what) in warnings.iter().zip(["dangling.yaml", "dirlink", "out.yaml"]) {
            assert!(w.starts_with(what), "{w}");
        }
    }
}
