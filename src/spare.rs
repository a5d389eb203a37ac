//! The spare tree: the output is double-buffered (IO edge, used by `emit::write_tree_with`).
//!
//! A render never writes into the live tree `OUT`: it brings a second tree up to date and swaps
//! the two with one `renameat2(RENAME_EXCHANGE)`. Before, that second tree was built from
//! nothing on every render and the old one deleted after the swap: at 10,000 tenants 356,000
//! hard links and 30,000 directories created, then as many removed, for a one-tenant change
//! (and ext4 makes every later create slow after such a mass delete). Now the old tree is kept,
//! as the *spare*, at `.<name>.tcpc-spare/tree` beside `OUT` (the wrapper holds a `.gitignore` of
//! `*`, so Git never sees it), and the next render updates only the directories that differ.
//!
//! Which directories differ is recorded, not computed from content: after each swap the
//! *manifest* (`.<name>.tcpc-spare/manifest`) lists
//! - `live` — every directory of the live tree with its `stat` (inode, mtime, ctime), and
//! - `differs` — the directories where live and spare were written differently in that render.
//!
//! Invariant: in every directory of the live tree that is not `differs` and whose `stat` is what
//! the manifest recorded, the spare holds the *same inodes* (hard links) under the same names. So
//! an edit of a live file in place changes the spare's too, and anything that adds, removes or
//! renames an entry of a live directory (a `git checkout`, an editor's save) changes that
//! directory's mtime and ctime. A directory whose recorded times were within 2 s of the record
//! is never trusted (the granularity of timestamps: git's "racily clean" rule). A render then
//! rewrites, in the spare, the directories that are `differs`, whose `stat` changed, or whose
//! files differ between the live tree (read by the caller) and the new tree; every other
//! directory already holds the new tree's files.
//!
//! Crash safety: the manifest is removed (durably) before the spare is touched, and written again
//! only after the swap; a spare without a manifest is rebuilt from nothing. The live tree is only
//! ever replaced by the swap, so a killed run leaves the old tree or the new one.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::model::Tree;

const HEADER: &str = "# spare tree of tcpc (tcpc.dev/spare/v1): live <dir> <inode> <mtime ns> <ctime ns> | differs <dir>";
const MANIFEST: &str = "manifest";
const TREE: &str = "tree";

/// A directory's identity as `stat` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirStat {
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl DirStat {
    fn of(path: &Path) -> io::Result<DirStat> {
        let meta = std::fs::symlink_metadata(path)?;
        if !meta.is_dir() {
            return Err(io::Error::other(format!("{} is not a directory", path.display())));
        }
        Ok(stat_of(&meta))
    }
}

#[cfg(unix)]
fn stat_of(meta: &std::fs::Metadata) -> DirStat {
    use std::os::unix::fs::MetadataExt as _;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    DirStat { ino: meta.ino(), mtime_ns: ns(meta.mtime(), meta.mtime_nsec()), ctime_ns: ns(meta.ctime(), meta.ctime_nsec()) }
}

#[cfg(not(unix))]
fn stat_of(_: &std::fs::Metadata) -> DirStat {
    // No inode to pin the invariant on: every directory is always rewritten.
    DirStat { ino: 0, mtime_ns: -1, ctime_ns: -1 }
}

#[derive(Debug, Default, PartialEq)]
struct Manifest {
    /// Every directory of the live tree: its `stat`, and whether that `stat` was taken too soon
    /// after its last change to be trusted alone (`racy`).
    live: BTreeMap<String, (DirStat, bool)>,
    differs: BTreeSet<String>,
}

impl Manifest {
    fn text(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for (dir, (st, racy)) in &self.live {
            let kind = if *racy { "racy" } else { "live" };
            s.push_str(&format!("{kind} {} {} {} {}\n", label(dir), st.ino, st.mtime_ns, st.ctime_ns));
        }
        for dir in &self.differs {
            s.push_str(&format!("differs {}\n", label(dir)));
        }
        s
    }

    /// `None` for anything but a manifest this code wrote (a spare is then rebuilt).
    fn parse(text: &str) -> Option<Manifest> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut m = Manifest::default();
        for line in lines {
            let mut f = line.split(' ');
            match (f.next()?, f.next()?) {
                (kind @ ("live" | "racy"), dir) => {
                    let st = DirStat { ino: f.next()?.parse().ok()?, mtime_ns: f.next()?.parse().ok()?, ctime_ns: f.next()?.parse().ok()? };
                    m.live.insert(unlabel(dir), (st, kind == "racy"));
                }
                ("differs", dir) => {
                    m.differs.insert(unlabel(dir));
                }
                _ => return None,
            }
            if f.next().is_some() {
                return None;
            }
        }
        Some(m)
    }
}

/// Whether two directories hold the same files as the same inodes (and subdirectories of the
/// same names): read from the directory entries, no `stat`.
#[cfg(unix)]
fn same_inodes(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::DirEntryExt as _;
    let entries = |d: &Path| -> io::Result<BTreeMap<std::ffi::OsString, Option<u64>>> {
        let mut m = BTreeMap::new();
        for e in std::fs::read_dir(d)? {
            let e = e?;
            let ino = if e.file_type()?.is_dir() { None } else { Some(e.ino()) };
            m.insert(e.file_name(), ino);
        }
        Ok(m)
    };
    matches!((entries(a), entries(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(not(unix))]
fn same_inodes(_: &Path, _: &Path) -> bool {
    false
}

/// The root directory is `""` in memory and `.` in the manifest.
fn label(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

fn unlabel(dir: &str) -> String {
    if dir == "." { String::new() } else { dir.to_string() }
}

fn parent_dir(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(root: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() { root.to_path_buf() } else { root.join(rel) }
}

/// Every directory of `tree` (the root `""` included), each with its files' names and its
/// subdirectories' names.
#[derive(Default)]
struct Dirs<'t> {
    files: BTreeMap<&'t str, BTreeMap<&'t str, &'t String>>,
    subdirs: BTreeMap<&'t str, BTreeSet<&'t str>>,
}

impl<'t> Dirs<'t> {
    fn of(tree: &'t Tree) -> Dirs<'t> {
        let mut d = Dirs::default();
        d.files.entry("").or_default();
        d.subdirs.entry("").or_default();
        for (rel, content) in tree {
            let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
            d.files.entry(dir).or_default().insert(name, content);
            let mut child = dir;
            while !child.is_empty() {
                let up = parent_dir(child);
                let name = child.rsplit_once('/').map_or(child, |(_, n)| n);
                d.files.entry(child).or_default();
                if !d.subdirs.entry(up).or_default().insert(name) {
                    break;
                }
                d.subdirs.entry(child).or_default();
                child = up;
            }
        }
        d
    }

    fn contains(&self, dir: &str) -> bool {
        self.files.contains_key(dir)
    }

    /// Lists a kept group (`<a>/<b>`, written as it is on disk) as a subdirectory of its parent,
    /// so that rewriting the parent leaves it in place.
    fn add_kept(&mut self, group: &'t str) {
        let (parent, name) = group.rsplit_once('/').unwrap_or(("", group));
        if !self.files.contains_key(parent) {
            self.files.entry(parent).or_default();
            self.subdirs.entry(parent).or_default();
            if !parent.is_empty() {
                self.add_kept_parent(parent);
            }
        }
        self.subdirs.entry(parent).or_default().insert(name);
    }

    fn add_kept_parent(&mut self, dir: &'t str) {
        let (parent, name) = dir.rsplit_once('/').unwrap_or(("", dir));
        self.files.entry(parent).or_default();
        self.subdirs.entry(parent).or_default().insert(name);
    }
}

/// The group (`<a>/<b>`) a directory is or lies in, if any.
fn group_dir(dir: &str) -> Option<&str> {
    let first = dir.find('/')?;
    Some(match dir[first + 1..].find('/') {
        Some(second) => &dir[..first + 1 + second],
        None => dir,
    })
}

/// Whether `dir` is a kept group or lies in one.
fn in_kept(kept: &BTreeSet<String>, dir: &str) -> bool {
    group_dir(dir).is_some_and(|g| kept.contains(g))
}

/// The directories whose files differ between two trees (either side's).
fn differing_dirs(a: &Tree, b: &Tree) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let (mut ia, mut ib) = (a.iter().peekable(), b.iter().peekable());
    loop {
        let rel = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                let differs = va != vb;
                let rel = ka.as_str();
                ia.next();
                ib.next();
                if !differs {
                    continue;
                }
                rel
            }
            (Some((ka, _)), Some((kb, _))) if ka < kb => ia.next().map(|(k, _)| k.as_str()).unwrap_or_default(),
            (Some(_), Some(_)) | (None, Some(_)) => ib.next().map(|(k, _)| k.as_str()).unwrap_or_default(),
            (Some(_), None) => ia.next().map(|(k, _)| k.as_str()).unwrap_or_default(),
        };
        out.insert(parent_dir(rel).to_string());
    }
    out
}

/// Makes the spare's copy of the kept group `group` hold the live tree's inodes (hard links
/// under the same names); returns its directories.
fn link_group(out: &Path, spare: &Path, group: &str) -> io::Result<Vec<String>> {
    let target = join(spare, group);
    match std::fs::remove_dir_all(&target) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut dirs = Vec::new();
    let source = join(out, group);
    for entry in walkdir::WalkDir::new(&source).sort_by_file_name() {
        let entry = entry.map_err(io::Error::other)?;
        let rel = entry.path().strip_prefix(&source).map_err(io::Error::other)?;
        let to = target.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to)?;
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            dirs.push(if rel.is_empty() { group.to_string() } else { format!("{group}/{rel}") });
        } else {
            std::fs::hard_link(entry.path(), &to)?;
        }
    }
    Ok(dirs)
}

/// The spare of the output directory `out` (`.<name>.tcpc-spare` beside it).
pub struct Spare {
    root: PathBuf,
}

/// What [`Spare::prepare`] did, for the swap and the record after it.
pub struct Prepared {
    /// The spare tree, now holding the new tree (marker included).
    pub tree: PathBuf,
    /// Where the new tree and the old one do not share inodes: the next manifest's `differs`.
    /// `None` when the old tree was unknown (no manifest is then recorded).
    differs: Option<BTreeSet<String>>,
    /// Directories rewritten (for the figures of a benchmark or a test).
    pub rewritten: usize,
    /// Every directory of the new tree (what the manifest records after the swap).
    dirs: Vec<String>,
}

impl Spare {
    pub fn beside(parent: &Path, name: &str) -> Spare {
        Spare { root: parent.join(format!(".{name}.tcpc-spare")) }
    }

    /// Brings the spare tree to `tree` + `marker`. `live` is the live tree `out` as the caller
    /// read it (under the output lock), `None` when unknown: every directory is then written.
    /// `kept` are groups (`<a>/<b>`) the tree does not hold because they stay as they are in
    /// `out` (`Compiled::kept`; `live` holds none of their files either): the spare's copy is
    /// trusted as any directory is, or linked anew from the live one.
    pub fn prepare(&self, out: &Path, tree: &Tree, marker: &str, live: Option<&Tree>, kept: &BTreeSet<String>) -> io::Result<Prepared> {
        crate::commit::ignored_dir(&self.root, "the spare copy of the output tree, for the next render (tcpc)")?;
        let spare = self.root.join(TREE);
        let manifest_path = self.root.join(MANIFEST);
        let manifest = match std::fs::read_to_string(&manifest_path) {
            Ok(text) => Manifest::parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        // From here on the spare is being changed: without a manifest it is never trusted.
        if std::fs::symlink_metadata(&manifest_path).is_ok() {
            std::fs::remove_file(&manifest_path)?;
            crate::commit::fsync_dir(&self.root)?;
        }
        let mut new = Dirs::of(tree);
        for group in kept {
            new.add_kept(group);
        }
        let changed = live.map(|l| differing_dirs(l, tree));
        // Kept groups whose copy in the spare is not known to hold the live inodes.
        let mut relink: BTreeSet<&String> = kept.iter().collect();
        let mut kept_dirs: Vec<String> = Vec::new();
        let rewrite: BTreeSet<String> = match (manifest.filter(|_| spare.is_dir()), &changed) {
            (Some(m), Some(changed)) => {
                let mut set: BTreeSet<String> = m.differs.iter().chain(changed).cloned().collect();
                set.insert(String::new());
                for dir in new.files.keys() {
                    if set.contains(*dir) {
                        continue;
                    }
                    // (Without inodes, off Unix, nothing is trusted: every directory is rewritten.)
                    let trusted = cfg!(unix)
                        && m.live.get(*dir).is_some_and(|(st, racy)| {
                            DirStat::of(&join(out, dir)).ok() == Some(*st) && (!racy || same_inodes(&join(out, dir), &join(&spare, dir)))
                        });
                    if !trusted {
                        set.insert((*dir).to_string());
                    }
                }
                let trusted = |dir: &str, (st, racy): &(DirStat, bool)| {
                    cfg!(unix)
                        && !m.differs.contains(dir)
                        && DirStat::of(&join(out, dir)).ok() == Some(*st)
                        && (!racy || same_inodes(&join(out, dir), &join(&spare, dir)))
                };
                let mut under: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for dir in m.live.keys().filter(|d| in_kept(kept, d)) {
                    if let Some(g) = group_dir(dir) {
                        under.entry(g).or_default().push(dir);
                    }
                }
                for group in kept {
                    let dirs = under.get(group.as_str()).map(Vec::as_slice).unwrap_or_default();
                    if dirs.contains(&group.as_str()) && dirs.iter().all(|d| trusted(d, &m.live[*d])) {
                        relink.remove(group);
                        kept_dirs.extend(dirs.iter().map(|d| (*d).to_string()));
                    }
                }
                set.extend(m.live.keys().filter(|d| !new.contains(d)).cloned());
                // Kept groups are linked whole (`link_group`), never written or removed here.
                set.retain(|d| !in_kept(kept, d));
                set
            }
            _ => {
                if std::fs::symlink_metadata(&spare).is_ok() {
                    std::fs::remove_dir_all(&spare)?;
                }
                std::fs::create_dir(&spare)?;
                new.files.keys().map(|d| (*d).to_string()).collect()
            }
        };
        let mut touched = BTreeSet::new();
        let mut fresh = BTreeSet::new();
        for group in relink {
            kept_dirs.extend(link_group(out, &spare, group)?);
            touched.insert(join(&spare, parent_dir(group)));
        }
        // Directories the new tree no longer has go first (one thread: a directory and its
        // subdirectory may both be listed), then the others are written on every core (each
        // directory by one thread; a parent's entries that a child's thread creates are kept).
        let mut write = Vec::new();
        for dir in &rewrite {
            if new.files.contains_key(dir.as_str()) {
                write.push(dir);
                continue;
            }
            let path = join(&spare, dir);
            match std::fs::remove_dir_all(&path) {
                Ok(()) if new.contains(parent_dir(dir)) => _ = touched.insert(join(&spare, parent_dir(dir))),
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let write_dir = |dir: &String, touched: &mut BTreeSet<PathBuf>, fresh: &mut BTreeSet<String>| -> io::Result<()> {
            let path = join(&spare, dir);
            let files = &new.files[dir.as_str()];
            std::fs::create_dir_all(&path)?;
            let subdirs = &new.subdirs[dir.as_str()];
            for entry in std::fs::read_dir(&path)? {
                let entry = entry?;
                let is_dir = entry.file_type()?.is_dir();
                if is_dir && entry.file_name().to_str().is_some_and(|n| subdirs.contains(n)) {
                    continue;
                }
                if is_dir { std::fs::remove_dir_all(entry.path())? } else { std::fs::remove_file(entry.path())? }
            }
            for (name, content) in files {
                let rel = if dir.is_empty() { (*name).to_string() } else { format!("{dir}/{name}") };
                let target = path.join(name);
                // The live file, when it holds these bytes, is linked: no file of either tree is
                // ever written in place, so the two may share the inode.
                let same = live.is_some_and(|l| l.get(&rel) == Some(*content));
                if !(same && std::fs::hard_link(out.join(&rel), &target).is_ok()) {
                    std::fs::write(&target, content)?;
                    fresh.insert(dir.clone());
                }
            }
            touched.insert(path);
            Ok(())
        };
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(write.len().max(1));
        let chunk = write.len().div_ceil(workers).max(1);
        let write_dir = &write_dir;
        let written: Vec<io::Result<(BTreeSet<PathBuf>, BTreeSet<String>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = write
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let (mut touched, mut fresh) = (BTreeSet::new(), BTreeSet::new());
                        for dir in part {
                            write_dir(dir, &mut touched, &mut fresh)?;
                        }
                        Ok((touched, fresh))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a spare writer panicked")).collect()
        });
        for result in written {
            let (t, f) = result?;
            touched.extend(t);
            fresh.extend(f);
        }
        std::fs::write(spare.join(crate::emit::MARKER), marker)?;
        fresh.insert(String::new());
        touched.insert(spare.clone());
        crate::emit::sync_tree(&spare, &touched)?;
        // Where the new tree (this spare) and the old one (the live tree, the next spare) do not
        // share inodes under the same names: any file written rather than linked, any file the
        // two hold differently, and any rewritten directory whose entries in the old tree are
        // not exactly the new one's (a stray subdirectory, say).
        let differs = changed.map(|mut c| {
            c.extend(fresh);
            for dir in &rewrite {
                if c.contains(dir) {
                    continue;
                }
                let same_names = new.files.get(dir.as_str()).is_some_and(|files| {
                    let want: BTreeSet<&str> = files.keys().chain(&new.subdirs[dir.as_str()]).copied().collect();
                    std::fs::read_dir(join(out, dir)).is_ok_and(|entries| {
                        let mut have = BTreeSet::new();
                        for e in entries {
                            let Ok(e) = e else { return false };
                            have.insert(e.file_name().to_string_lossy().into_owned());
                        }
                        have.iter().map(String::as_str).eq(want.iter().copied())
                    })
                });
                if !same_names {
                    c.insert(dir.clone());
                }
            }
            c
        });
        let mut dirs: Vec<String> = new.files.keys().map(|d| (*d).to_string()).collect();
        dirs.extend(kept_dirs);
        Ok(Prepared { tree: spare, differs, rewritten: rewrite.len(), dirs })
    }

    /// After the swap (`out` is the new tree, the spare the old one): records the manifest.
    /// A crash before this leaves no manifest, and the next render rebuilds the spare.
    pub fn record(&self, out: &Path, prepared: Prepared) -> io::Result<()> {
        let taken_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        crate::commit::fsync_dir(&self.root)?;
        let Some(differs) = prepared.differs else { return Ok(()) };
        let mut m = Manifest { live: BTreeMap::new(), differs };
        for dir in prepared.dirs {
            let st = DirStat::of(&join(out, &dir))?;
            let racy = taken_ns - st.mtime_ns.max(st.ctime_ns) < crate::stamp::RACY_NS;
            m.live.insert(dir, (st, racy));
        }
        crate::commit::write_durable(&self.root.join(MANIFEST), m.text().as_bytes(), "spare-manifest", &self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Tree {
        files.iter().map(|(p, c)| ((*p).to_string(), (*c).to_string())).collect()
    }

    #[test]
    fn manifest_round_trips_and_refuses_anything_else() {
        let mut m = Manifest::default();
        m.live.insert(String::new(), (DirStat { ino: 7, mtime_ns: 1_700_000_000_123_456_789, ctime_ns: -3 }, false));
        m.live.insert("ns/a".into(), (DirStat { ino: 8, mtime_ns: 1, ctime_ns: 2 }, true));
        m.differs.insert("ns/a/management".into());
        assert_eq!(Manifest::parse(&m.text()), Some(m));
        assert_eq!(Manifest::parse("live . 1 2 3\n"), None);
        assert_eq!(Manifest::parse(&format!("{HEADER}\nlive . 1 2\n")), None);
        assert_eq!(Manifest::parse(&format!("{HEADER}\nlive . 1 2 3 4\n")), None);
        assert_eq!(Manifest::parse(&format!("{HEADER}\nmaybe x\n")), None);
    }

    #[test]
    fn dirs_and_differing_dirs() {
        let a = tree(&[("k.yaml", "1"), ("ns/a/m/x.yaml", "x"), ("ns/b/m/y.yaml", "y")]);
        let d = Dirs::of(&a);
        assert_eq!(d.files.keys().copied().collect::<Vec<_>>(), ["", "ns", "ns/a", "ns/a/m", "ns/b", "ns/b/m"]);
        assert_eq!(d.subdirs["ns"].iter().copied().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(d.subdirs[""].iter().copied().collect::<Vec<_>>(), ["ns"]);
        let b = tree(&[("k.yaml", "1"), ("ns/a/m/x.yaml", "x2"), ("ns/c/z.yaml", "z")]);
        assert_eq!(differing_dirs(&a, &b).into_iter().collect::<Vec<_>>(), ["ns/a/m", "ns/b/m", "ns/c"]);
        assert!(differing_dirs(&a, &a).is_empty());
    }

    /// Writes `tree` as `render` does (the live tree read first) and checks what is on disk.
    fn write(out: &Path, tree: &Tree) -> usize {
        let previous = crate::emit::read_previous(out).unwrap();
        let marker = format!("{}\n", crate::cache::MARKER_HEADER);
        let outcome = crate::emit::write_tree_with(out, tree, &marker, Some(&previous), &BTreeSet::new()).unwrap();
        assert_eq!(crate::emit::read_tree(out).unwrap(), *tree, "the live tree is the new tree");
        match outcome {
            crate::emit::WriteOutcome::Written { dirs, .. } => dirs,
            crate::emit::WriteOutcome::Unchanged => 0,
        }
    }

    fn fleet(n: usize, changed: usize, version: &str) -> Tree {
        let mut t = Tree::new();
        t.insert("kustomization.yaml".into(), "top\n".into());
        for i in 0..n {
            let v = if i == changed { version } else { "0" };
            t.insert(format!("ns/t{i}/management/deployment.yaml"), format!("t{i} v{v}\n"));
            t.insert(format!("ns/t{i}/management/service.yaml"), format!("s{i}\n"));
            t.insert(format!("ns/t{i}/tenant/config.yaml"), format!("c{i}\n"));
        }
        t
    }

    /// Kept groups (`Compiled::kept`) are in neither the new tree nor the live one read: they
    /// stay in place, in the live tree and the spare, linked anew where the spare's copy is stale.
    #[test]
    fn kept_groups_stay_as_they_are_in_both_trees() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rendered");
        let spare = dir.path().join(".rendered.tcpc-spare").join(TREE);
        let marker = format!("{}\n", crate::cache::MARKER_HEADER);
        let without = |t: &Tree, kept: &BTreeSet<String>| -> Tree {
            t.iter().filter(|(p, _)| !kept.iter().any(|k| p.starts_with(&format!("{k}/")))).map(|(p, c)| (p.clone(), c.clone())).collect()
        };
        // t3 changes in the first renders, so the spare's copy of it is stale ("differs").
        write(&out, &fleet(6, 3, "0"));
        write(&out, &fleet(6, 3, "1"));
        let kept: BTreeSet<String> = ["ns/t3".to_string(), "ns/t4".to_string()].into();
        for (changed, version) in [(0, "1"), (0, "2"), (1, "1")] {
            let full = fleet(6, changed, version);
            let full = {
                let mut f = full;
                f.insert("ns/t3/management/deployment.yaml".into(), "t3 v1\n".into());
                f
            };
            let mut previous = crate::emit::read_previous(&out).unwrap();
            previous.tree = without(&previous.tree, &kept);
            crate::emit::write_tree_with(&out, &without(&full, &kept), &marker, Some(&previous), &kept).unwrap();
            assert_eq!(crate::emit::read_tree(&out).unwrap(), full, "the live tree holds the kept groups");
            if spare.exists() {
                for group in &kept {
                    assert!(
                        same_inodes(&join(&out, &format!("{group}/management")), &join(&spare, &format!("{group}/management"))),
                        "{group}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_spare_tree_is_updated_where_it_differs_and_survives_edits_of_the_live_tree() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rendered");
        let spare = dir.path().join(".rendered.tcpc-spare");
        let all_dirs = Dirs::of(&fleet(20, 0, "0")).files.len();
        write(&out, &fleet(20, 0, "0"));
        // The first swap leaves nothing beside; the second builds the spare from nothing.
        assert!(!spare.join(TREE).exists());
        assert_eq!(write(&out, &fleet(20, 1, "1")), all_dirs);
        assert!(spare.join(MANIFEST).exists());
        assert_eq!(crate::emit::read_tree(&spare.join(TREE)).unwrap(), fleet(20, 0, "0"), "the spare is the old tree");
        // From now on only what differs is written (here everything is "racy": checked by inode).
        let few = write(&out, &fleet(20, 2, "1"));
        assert!(few < all_dirs / 4, "{few} of {all_dirs} directories rewritten");
        // Gitignored as a whole.
        assert_eq!(std::fs::read_to_string(spare.join(".gitignore")).unwrap().lines().last(), Some("*"));

        // Edits of the live tree behind tcpc's back, each followed by a render whose tree holds
        // what the edit wrote (the case a content comparison alone would miss).
        let live = |rel: &str| out.join(rel);
        // in place (same inode)
        std::fs::OpenOptions::new().write(true).truncate(true).open(live("ns/t5/tenant/config.yaml")).unwrap();
        let mut t = fleet(20, 2, "1");
        t.insert("ns/t5/tenant/config.yaml".into(), String::new());
        write(&out, &t);
        write(&out, &t);
        // replaced by a rename (a checkout, an editor), after the stat became trustworthy
        std::thread::sleep(std::time::Duration::from_millis(2100));
        write(&out, &fleet(20, 3, "1"));
        write(&out, &fleet(20, 3, "1"));
        std::fs::write(dir.path().join("x"), "t7 v9\n").unwrap();
        std::fs::rename(dir.path().join("x"), live("ns/t7/management/deployment.yaml")).unwrap();
        write(&out, &fleet(20, 7, "9"));
        write(&out, &fleet(20, 7, "9"));
        // a stray file, an empty directory, a removed directory
        std::fs::write(live("ns/t8/tenant/stray.yaml"), "x").unwrap();
        std::fs::create_dir(live("ns/t9/empty")).unwrap();
        std::fs::remove_dir_all(live("ns/t10")).unwrap();
        write(&out, &fleet(20, 7, "9"));
        assert!(!live("ns/t9/empty").exists());
        // Both trees are taken in turn, so the spare that still holds the edits is cleaned too.
        write(&out, &fleet(20, 13, "1"));
        write(&out, &fleet(20, 13, "2"));
        for tree in [out.clone(), spare.join(TREE)] {
            assert!(!tree.join("ns/t9/empty").exists() && !tree.join("ns/t8/tenant/stray.yaml").exists(), "{}", tree.display());
        }
        // A spare whose manifest is gone (a killed run) is rebuilt.
        std::fs::write(spare.join(TREE).join("ns/t11/tenant/config.yaml"), "corrupt").unwrap();
        std::fs::remove_file(spare.join(MANIFEST)).unwrap();
        assert_eq!(write(&out, &fleet(20, 12, "1")), all_dirs);
        write(&out, &fleet(20, 12, "2"));
    }
}
