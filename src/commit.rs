//! The crash-consistent commit of encrypted state and `tcpc.lock` (IO edge).
//!
//! Protocol (run under the exclusive repository lock, see `repo_lock`):
//! 1. the new state files and the new lock are written, together, into one journal
//!    (`.tcpc/journal.json`: temp file, fsync, rename, fsync of the directory) — the commit point;
//! 2. each file is replaced from the journal (temp file, fsync, rename, fsync of its directory);
//! 3. the journal is removed (and its directory fsynced);
//! 4. only then is the output tree swapped in (`emit::write_tree`).
//!
//! A run killed before (1) completes leaves the previous generation; killed after it, the next
//! `render` or `import` replays the journal first (idempotent), so state and lock always move
//! together. Temp files (`.tcpc/tmp/.<name>.tcpc-tmp-<pid>`, git-ignored; never in the state
//! directory) are removed on every error path, and leftovers of killed runs by the next run
//! under the lock.
//!
//! Invariant: no file of the repository is ever half-written, and the journal holds only what
//! the repository holds anyway (age-encrypted state, the public lock).

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fault;

/// Where the journal lives, relative to the repository.
pub const JOURNAL: &str = ".tcpc/journal.json";

/// Marker in the names of temp files and trees.
pub const TMP_MARK: &str = ".tcpc-tmp-";

/// Where temp files are written before being renamed into place, relative to the repository:
/// never inside the state directory, so a killed run cannot leave anything there. It holds a
/// `.gitignore` of `*`, so a `git add .` before the next run commits none of it.
pub const TMP_DIR: &str = ".tcpc/tmp";

fn tmp_dir(repo: &Path) -> io::Result<PathBuf> {
    let dir = repo.join(TMP_DIR);
    ignored_dir(&dir, "temp files of tcpc runs (removed by the next run)")?;
    Ok(dir)
}

/// Creates `dir` (if needed) holding a `.gitignore` of `*` that says `why`: nothing in it is
/// ever committed, whatever the repository's own ignore rules.
pub fn ignored_dir(dir: &Path, why: &str) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, format!("# {why}\n*\n"))?;
    }
    Ok(())
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Journal {
    pub api_version: String,
    pub kind: String,
    /// Path (relative to the repository, `/`-separated) → full new content, in write order.
    pub files: BTreeMap<String, String>,
    /// Paths (as `files`) removed after every file is written: lock shards of removed tenants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// Writes `content` to `path` durably and atomically: a hidden temp file in `tmp_dir` (or next
/// to `path` when that is another file system), fsync, rename, fsync of the directory. The temp
/// file is removed on any failure.
pub fn write_durable(path: &Path, content: &[u8], step: &str, tmp_dir: &Path) -> io::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    let tmp_name = temp_name(path, None)?;
    let write = |tmp: &Path| -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        drop(f);
        fault::point(&format!("{step}-tmp"))?;
        std::fs::rename(tmp, path)
    };
    let mut tmp = tmp_dir.join(&tmp_name);
    let mut result = write(&tmp);
    if result.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::EXDEV)) {
        let _ = std::fs::remove_file(&tmp);
        tmp = dir.join(&tmp_name);
        result = write(&tmp);
    }
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    fsync_dir(dir)?;
    fault::point(step)
}

/// The name of the temp file a write of `path` goes through: hidden, marked for
/// [`remove_temps`], unique to this process (and to `index` within one batch).
fn temp_name(path: &Path, index: Option<usize>) -> io::Result<String> {
    let name = path.file_name().ok_or_else(|| io::Error::other(format!("invalid path {}", path.display())))?;
    let pid = std::process::id();
    Ok(match index {
        None => format!(".{}{TMP_MARK}{pid}", name.to_string_lossy()),
        Some(i) => format!(".{}{TMP_MARK}{pid}.{i}", name.to_string_lossy()),
    })
}

/// Writes every `(path, content, step)` durably and atomically, as [`write_durable`] writes one,
/// with one flush for all of them instead of an fsync per file: every temp file is written, the
/// file system is flushed once (`syncfs` on Linux, else an fsync per file), each temp file is
/// renamed over its target, and each directory is fsynced once. At a thousand tenants that is a
/// few syscalls where the file-by-file way waited for two thousand journal commits. Each file
/// passes the fault points `<step>-tmp` (written) and `<step>` (renamed). On an error every
/// temp file not yet renamed is removed.
pub fn write_all_durable(files: &[(PathBuf, &[u8], &str)], tmp_dir: &Path) -> io::Result<()> {
    let mut temps: Vec<PathBuf> = Vec::with_capacity(files.len());
    let result = (|| -> io::Result<()> {
        for (i, (path, content, step)) in files.iter().enumerate() {
            std::fs::create_dir_all(parent(path))?;
            // Unique per file: two targets may share a name (one shard per namespace directory).
            let tmp = tmp_dir.join(temp_name(path, Some(i))?);
            temps.push(tmp.clone());
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
            f.write_all(content)?;
            #[cfg(not(target_os = "linux"))]
            f.sync_all()?;
            drop(f);
            fault::point(&format!("{step}-tmp"))?;
        }
        #[cfg(target_os = "linux")]
        if !files.is_empty() {
            use std::os::fd::AsRawFd as _;
            let d = std::fs::File::open(tmp_dir)?;
            // SAFETY: a valid open descriptor for the duration of the call.
            if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let mut dirs = std::collections::BTreeSet::new();
        for ((path, content, step), tmp) in files.iter().zip(&temps) {
            match std::fs::rename(tmp, path) {
                // Another file system than the temp directory's: the file alone, next to its target.
                Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                    let _ = std::fs::remove_file(tmp);
                    write_durable(path, content, &format!("{step}-copy"), parent(path))?;
                }
                Err(e) => return Err(io::Error::other(format!("{}: {e}", path.display()))),
                Ok(()) => {}
            }
            dirs.insert(parent(path).to_path_buf());
            fault::point(step)?;
        }
        for dir in dirs {
            fsync_dir(&dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        for tmp in &temps {
            let _ = std::fs::remove_file(tmp);
        }
    }
    result
}

/// fsync of a directory, so a rename or removal in it survives a power loss.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn rel_key(repo: &Path, path: &Path) -> String {
    match path.strip_prefix(repo) {
        Ok(rel) => rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// Commits `files` (absolute or repository paths → content) as one unit; see the module doc.
/// Writes nothing when `files` is empty.
pub fn commit(repo: &Path, files: &[(PathBuf, String)]) -> io::Result<()> {
    commit_with_removals(repo, files, &[])
}

/// [`commit`], also removing `removed` (regular files or absent) in the same unit, after
/// every file is written.
pub fn commit_with_removals(repo: &Path, files: &[(PathBuf, String)], removed: &[PathBuf]) -> io::Result<()> {
    if files.is_empty() && removed.is_empty() {
        return Ok(());
    }
    for path in removed {
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.file_type().is_file() => {
                return Err(io::Error::other(format!("{} exists and is not a regular file", path.display())));
            }
            _ => {}
        }
    }
    // Pre-flight, before the commit point: every target must be a regular file or absent, and
    // its directory must exist (or be creatable). A failure here changes nothing.
    for (path, _) in files {
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.file_type().is_file() => {
                return Err(io::Error::other(format!("{} exists and is not a regular file", path.display())));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::other(format!("{}: {e}", path.display()))),
        }
        std::fs::create_dir_all(parent(path)).map_err(|e| io::Error::other(format!("creating {}: {e}", parent(path).display())))?;
    }
    let journal = Journal {
        api_version: crate::lock::API_VERSION.into(),
        kind: "Journal".into(),
        files: files.iter().map(|(p, c)| (rel_key(repo, p), c.clone())).collect(),
        removed: removed.iter().map(|p| rel_key(repo, p)).collect(),
    };
    let text = serde_json::to_vec(&journal).map_err(io::Error::other)?;
    let jpath = repo.join(JOURNAL);
    write_durable(&jpath, &text, "journal", &tmp_dir(repo)?)?;
    apply(repo, &journal).map_err(|e| {
        io::Error::other(format!("{e} (the commit is recorded in {}; the next `tcpc render` completes it)", jpath.display()))
    })?;
    std::fs::remove_file(&jpath)?;
    fsync_dir(parent(&jpath))?;
    fault::point("journal-removed")
}

fn apply(repo: &Path, journal: &Journal) -> io::Result<()> {
    // State files first, the lock last: the order does not matter for consistency (the journal
    // is replayed as a whole), but it keeps the fault steps in one predictable sequence.
    let (locks, states): (Vec<_>, Vec<_>) = journal.files.iter().partition(|(p, _)| !p.ends_with(".age"));
    let files: Vec<(PathBuf, &[u8], &str)> = states
        .into_iter()
        .chain(locks)
        .map(|(rel, content)| (repo.join(rel), content.as_bytes(), if rel.ends_with(".age") { "state" } else { "lock" }))
        .collect();
    write_all_durable(&files, &tmp_dir(repo)?)?;
    // Removals are idempotent: a replay finds some already gone.
    let mut dirs = std::collections::BTreeSet::new();
    for rel in &journal.removed {
        let path = repo.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::other(format!("removing {}: {e}", path.display()))),
        }
        dirs.insert(parent(&path).to_path_buf());
    }
    for dir in dirs {
        // A namespace's last shard gone: its directory goes too (not if anything else is in it).
        if std::fs::remove_dir(&dir).is_ok() {
            fsync_dir(parent(&dir))?;
        } else if dir.is_dir() {
            fsync_dir(&dir)?;
        }
    }
    Ok(())
}

/// What [`recover`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Files re-written from an interrupted commit's journal.
    pub replayed: usize,
    /// Temp files of killed runs that were removed.
    pub removed_temps: usize,
}

/// Completes an interrupted commit (replaying its journal) and removes temp files of killed
/// runs under `.tcpc/`. Call under the exclusive repository lock, before reading state or lock.
pub fn recover(repo: &Path) -> io::Result<Recovery> {
    let mut r = Recovery::default();
    let jpath = repo.join(JOURNAL);
    match std::fs::read(&jpath) {
        Ok(bytes) => {
            let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::other(format!(
                    "{} (an interrupted commit) is unreadable: {e}; restore .tcpc/ and the lock from Git, then delete it",
                    jpath.display()
                ))
            })?;
            if journal.kind != "Journal" {
                return Err(io::Error::other(format!("{} is not a tcpc journal", jpath.display())));
            }
            apply(repo, &journal)?;
            r.replayed = journal.files.len();
            std::fs::remove_file(&jpath)?;
            fsync_dir(parent(&jpath))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    r.removed_temps = remove_temps(parent(&jpath), usize::MAX)?;
    Ok(r)
}

/// Removes the temp files (`.<name>.tcpc-tmp-<pid>`) of killed runs in `dir`, down to
/// `max_depth`. Only under the exclusive repository lock: no other tcpc is writing then.
pub fn remove_temps(dir: &Path, max_depth: usize) -> io::Result<usize> {
    let mut removed = 0;
    if !dir.is_dir() {
        return Ok(0);
    }
    for entry in walkdir::WalkDir::new(dir).follow_links(false).max_depth(max_depth) {
        let entry = entry.map_err(io::Error::other)?;
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && name.starts_with('.') && name.contains(TMP_MARK) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether an interrupted commit is pending (for read-only commands).
pub fn pending(repo: &Path) -> bool {
    repo.join(JOURNAL).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_writes_every_file_and_leaves_no_journal_or_temp() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        let files = vec![(repo.join(".tcpc/state/tenants/a/b.age"), "state".to_string()), (repo.join("tcpc.lock"), "lock".to_string())];
        commit(repo, &files).unwrap();
        assert_eq!(std::fs::read_to_string(repo.join("tcpc.lock")).unwrap(), "lock");
        assert_eq!(std::fs::read_to_string(repo.join(".tcpc/state/tenants/a/b.age")).unwrap(), "state");
        assert!(!repo.join(JOURNAL).exists());
        assert_eq!(recover(repo).unwrap(), Recovery::default());
    }

    #[test]
    fn a_pending_journal_is_replayed_and_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        std::fs::write(repo.join("tcpc.lock"), "old").unwrap();
        std::fs::create_dir_all(repo.join("tcpc.lock.d/ns")).unwrap();
        std::fs::write(repo.join("tcpc.lock.d/ns/gone.json"), "{}").unwrap();
        let journal = Journal {
            api_version: crate::lock::API_VERSION.into(),
            kind: "Journal".into(),
            files: BTreeMap::from([("tcpc.lock".to_string(), "new".to_string()), (".tcpc/state/x.age".to_string(), "s".to_string())]),
            // Removed by the replay, and so is the namespace directory it leaves empty.
            removed: vec!["tcpc.lock.d/ns/gone.json".into()],
        };
        write_durable(&repo.join(JOURNAL), &serde_json::to_vec(&journal).unwrap(), "journal", repo).unwrap();
        std::fs::create_dir_all(repo.join(".tcpc/state")).unwrap();
        std::fs::write(repo.join(".tcpc/state/.y.age.tcpc-tmp-1"), "torn").unwrap();
        let r = recover(repo).unwrap();
        assert_eq!(r, Recovery { replayed: 2, removed_temps: 1 });
        assert_eq!(std::fs::read_to_string(repo.join("tcpc.lock")).unwrap(), "new");
        assert!(!repo.join("tcpc.lock.d/ns").exists(), "the removal was not replayed");
        assert_eq!(std::fs::read_to_string(repo.join(".tcpc/state/x.age")).unwrap(), "s");
        assert!(!pending(repo));
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails, and the temp file must go with it.
        // (`write_durable` alone, without the pre-flight check `commit` makes first.)
        let target = dir.path().join("x.age");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "k").unwrap();
        assert!(write_durable(&target, b"data", "state", dir.path()).is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["x.age"]);
    }
}
