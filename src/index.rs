//! The local index (IO edge, like git's): the `stat` and SHA-256 of every file a render reads
//! besides the specs — the lock's root and shards, the state files, the sealed-secrets
//! certificate — and of every *group* of the output tree (a tenant's directory, `<ns>/<tcp>`),
//! recorded in `.tcpc/cache/index-*` (ignored by Git, one per output directory) after each render and each verification.
//!
//! While a file's `stat` is the recorded one its recorded digest still holds, and it is not
//! read; while every file of a group has the recorded `stat`, the group's digest holds. So a
//! render that one tenant changed reads that tenant's files, lock shard and state, and only
//! `stat`s the rest (`cli/incremental.rs`); `render`, `check` and `diff` of an unchanged
//! repository hash nothing but the specs (`cli/uptodate.rs`).
//!
//! Trust is git's: an entry whose newest `mtime`/`ctime` is within [`RACY_NS`] of the moment
//! the index was taken is never trusted by `stat` alone (the file may have changed again within
//! a timestamp's granularity): it is hashed again. `ctime` changes on every write, rename and
//! link, and cannot be set back by a user. A fresh clone has no index, or other inodes, and
//! hashes everything.
//!
//! The index names the output tree it describes and the SHA-256 of that tree's marker: a group
//! digest is the one the render that wrote the marker wrote (`group_is_recorded`), or the
//! index is not used for the tree. Any doubt (no index, another version, a line that does not
//! parse) is an empty index.

use std::collections::BTreeMap;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::model::Tree;
use crate::stamp::{RACY_NS, TreeDigest, group_digest, group_of};

const HEADER: &str = "# tcpc.dev/index/v1: stat and SHA-256 of what tcpc last read and wrote (like git's index); safe to delete";
/// Where the indexes live, relative to the repository: one per output directory, named by it
/// (`index-<hash of its path>`), so renders to several never void each other's.
pub const DIR: &str = ".tcpc/cache";

fn path(repo: &Path, output: &str) -> PathBuf {
    repo.join(DIR).join(format!("index-{}", &hex::encode(Sha256::digest(output.as_bytes()))[..16]))
}

/// What `stat` says of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stat {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt as _;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stat {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Elsewhere nothing is trusted: every `ctime` is "now".
    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata) -> Stat {
        Stat { dev: 0, ino: 0, size: meta.len(), mtime_ns: i128::MAX, ctime_ns: i128::MAX }
    }

    fn newest(&self) -> i128 {
        self.mtime_ns.max(self.ctime_ns)
    }

    fn feed(&self, h: &mut Sha256) {
        for n in [self.dev, self.ino, self.size] {
            h.update(n.to_le_bytes());
        }
        h.update(self.mtime_ns.to_le_bytes());
        h.update(self.ctime_ns.to_le_bytes());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GroupEntry {
    /// The digest of its files' names and `stat`s, and the newest of their times.
    stat: [u8; 32],
    newest: i128,
    digest: [u8; 32],
    files: usize,
}

/// The index: see the module documentation.
#[derive(Debug, Default, Clone)]
pub struct Index {
    /// The output directory it describes (canonical path) and the SHA-256 of its marker.
    pub output: String,
    pub marker: String,
    /// The SHA-256 of `tcpc.yaml` the `until`s were computed under.
    pub config: String,
    /// The wall clock when it was taken, in ns.
    pub taken_ns: i128,
    files: BTreeMap<String, (Stat, [u8; 32])>,
    groups: BTreeMap<String, GroupEntry>,
    /// Per tenant: the SHA-256 of its lock shard, and the first instant it falls due
    /// (`stamp::tenant_until` of that shard's entry).
    untils: BTreeMap<String, ([u8; 32], Option<i64>)>,
    /// The build (`cache::BUILD`) the source entries were recorded under.
    pub build: String,
    /// Each input file by path: its SHA-256 and, for a file of TenantControlPlanes only, its
    /// tenants as (`<namespace>/<name>`, DataStore) (`Prepared::tcp_only_files`).
    sources: BTreeMap<String, ([u8; 32], Option<Vec<(String, String)>>)>,
}

/// What [`Index::skippable`] found: the unchanged files of tenants only, with their tenants,
/// and the files to parse that must turn out to hold tenants only.
pub type Skippable<Id> = (BTreeMap<Id, Vec<(String, String)>>, std::collections::BTreeSet<Id>);

/// The wall clock (never `SOURCE_DATE_EPOCH`: this compares with file times), in ns.
pub fn wall_clock_ns() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl Index {
    /// An empty index of the tree at `output` (canonical), taken now.
    pub fn new(output: String) -> Index {
        Index { output, taken_ns: wall_clock_ns(), ..Index::default() }
    }

    /// The repository's index of the tree at `output` (canonical), or an empty one.
    pub fn load(repo: &Path, output: &str) -> Index {
        std::fs::read_to_string(path(repo, output))
            .ok()
            .as_deref()
            .and_then(Index::parse)
            .filter(|i| i.output == output)
            .unwrap_or_default()
    }

    /// Written whole (temp file and rename) in a directory Git ignores. Best effort for a
    /// caller: without it the next run hashes again.
    pub fn save(&self, repo: &Path) -> io::Result<()> {
        let path = path(repo, &self.output);
        let dir = repo.join(DIR);
        crate::commit::ignored_dir(&dir, "tcpc's local cache: never committed")?;
        let tmp = dir.join(format!(".index.{}", std::process::id()));
        std::fs::write(&tmp, self.text())?;
        std::fs::rename(&tmp, &path)?;
        // The indexes of output directories that are gone (a test's, a one-off `-o`) go too.
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let other = entry.path();
            if other == path || !entry.file_name().to_string_lossy().starts_with("index-") {
                continue;
            }
            let output = std::fs::read_to_string(&other)
                .ok()
                .and_then(|t| t.lines().nth(1).and_then(|l| l.strip_prefix("output ")).map(PathBuf::from));
            if output.is_none_or(|o| !o.exists()) {
                let _ = std::fs::remove_file(&other);
            }
        }
        Ok(())
    }

    fn text(&self) -> String {
        let mut s = format!(
            "{HEADER}\noutput {}\nmarker {}\nconfig {}\nbuild {}\ntaken {}\n",
            self.output, self.marker, self.config, self.build, self.taken_ns
        );
        for (label, (st, sha)) in &self.files {
            s.push_str(&format!("f {} {} {} {} {} {} {label}\n", hex::encode(sha), st.dev, st.ino, st.size, st.mtime_ns, st.ctime_ns));
        }
        for (group, g) in &self.groups {
            s.push_str(&format!("g {} {} {} {} {group}\n", hex::encode(g.digest), hex::encode(g.stat), g.newest, g.files));
        }
        for (tenant, (shard, until)) in &self.untils {
            let until = until.map_or_else(|| "never".to_string(), |u| u.to_string());
            s.push_str(&format!("u {} {until} {tenant}\n", hex::encode(shard)));
        }
        for (path, (sha, tenants)) in &self.sources {
            match tenants {
                None => s.push_str(&format!("n {} {path}\n", hex::encode(sha))),
                Some(tenants) => {
                    for (key, ds) in tenants {
                        s.push_str(&format!("t {} {ds} {key} {path}\n", hex::encode(sha)));
                    }
                }
            }
        }
        s
    }

    fn parse(text: &str) -> Option<Index> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut field = |name: &str| lines.next()?.strip_prefix(name)?.strip_prefix(' ').map(str::to_string);
        let mut index = Index {
            output: field("output")?,
            marker: field("marker")?,
            config: field("config")?,
            build: field("build")?,
            taken_ns: field("taken")?.parse().ok()?,
            ..Index::default()
        };
        for line in lines {
            let (kind, rest) = line.split_once(' ')?;
            match kind {
                "f" => {
                    let f: Vec<&str> = rest.splitn(7, ' ').collect();
                    let &[sha, dev, ino, size, mtime, ctime, label] = f.as_slice() else { return None };
                    let st = Stat {
                        dev: dev.parse().ok()?,
                        ino: ino.parse().ok()?,
                        size: size.parse().ok()?,
                        mtime_ns: mtime.parse().ok()?,
                        ctime_ns: ctime.parse().ok()?,
                    };
                    index.files.insert(label.to_string(), (st, hex32(sha)?));
                }
                "g" => {
                    let f: Vec<&str> = rest.splitn(5, ' ').collect();
                    let &[digest, stat, newest, files, group] = f.as_slice() else { return None };
                    let g =
                        GroupEntry { stat: hex32(stat)?, newest: newest.parse().ok()?, digest: hex32(digest)?, files: files.parse().ok()? };
                    index.groups.insert(group.to_string(), g);
                }
                "u" => {
                    let f: Vec<&str> = rest.splitn(3, ' ').collect();
                    let &[shard, until, tenant] = f.as_slice() else { return None };
                    let until = match until {
                        "never" => None,
                        u => Some(u.parse().ok()?),
                    };
                    index.untils.insert(tenant.to_string(), (hex32(shard)?, until));
                }
                "n" => {
                    let (sha, path) = rest.split_once(' ')?;
                    index.sources.insert(path.to_string(), (hex32(sha)?, None));
                }
                "t" => {
                    let f: Vec<&str> = rest.splitn(4, ' ').collect();
                    let &[sha, ds, key, path] = f.as_slice() else { return None };
                    let (recorded, tenants) =
                        index.sources.entry(path.to_string()).or_insert_with(|| (hex32(sha).unwrap_or_default(), Some(Vec::new())));
                    if *recorded != hex32(sha)? {
                        return None;
                    }
                    tenants.as_mut()?.push((key.to_string(), ds.to_string()));
                }
                _ => return None,
            }
        }
        Some(index)
    }

    fn settled(&self, newest: i128) -> bool {
        newest < self.taken_ns - RACY_NS
    }

    /// The SHA-256 of each file (`label`, path), by `stat` where this index vouches for it,
    /// else read and hashed (on every core); each recorded in `next`. An absent file is left out.
    pub fn hash_files(&self, items: &[(String, PathBuf)], next: &mut Index) -> io::Result<Vec<(String, [u8; 32])>> {
        let one = |(label, path): &(String, PathBuf)| -> io::Result<Option<(String, Stat, [u8; 32])>> {
            let meta = match std::fs::symlink_metadata(path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io::Error::other(format!("reading {}: {e}", path.display()))),
            };
            let st = Stat::of(&meta);
            let sha = match self.files.get(label) {
                Some((recorded, sha)) if *recorded == st && self.settled(st.newest()) => *sha,
                _ => sha256_file(path).map_err(|e| io::Error::other(format!("reading {}: {e}", path.display())))?,
            };
            Ok(Some((label.clone(), st, sha)))
        };
        let results = crate::par::map(items, one);
        let mut out = Vec::with_capacity(items.len());
        for r in results {
            if let Some((label, st, sha)) = r? {
                next.files.insert(label.clone(), (st, sha));
                out.push((label, sha));
            }
        }
        Ok(out)
    }

    /// Records `label` at `path` (just written, with SHA-256 `sha`) as `stat` says it is now.
    pub fn record_file(&mut self, label: String, path: &Path, sha: [u8; 32]) -> io::Result<()> {
        let st = Stat::of(&std::fs::symlink_metadata(path)?);
        self.files.insert(label, (st, sha));
        Ok(())
    }

    pub fn forget_file(&mut self, label: &str) {
        self.files.remove(label);
    }

    /// Whether `label` is recorded with SHA-256 `sha`.
    pub fn has_file(&self, label: &str, sha: &[u8; 32]) -> bool {
        self.files.get(label).is_some_and(|(_, s)| s == sha)
    }

    pub fn retain_files(&mut self, keep: impl Fn(&str) -> bool) {
        self.files.retain(|l, _| keep(l));
    }

    pub fn retain_groups(&mut self, keep: impl Fn(&str) -> bool) {
        self.groups.retain(|g, _| keep(g));
    }

    /// Whether the group's digest is the one this index recorded (the render that wrote the
    /// marker the index names wrote it).
    pub fn group_is_recorded(&self, group: &str, digest: &[u8; 32]) -> bool {
        self.groups.get(group).is_some_and(|g| g.digest == *digest)
    }

    /// Records a group of the tree at `out` (just written, digest `digest` of `files` files) as
    /// `stat` says its files are now.
    pub fn record_group(&mut self, out: &Path, group: &str, digest: [u8; 32], files: usize) -> io::Result<()> {
        let (stat, newest, _) = group_stat(out, group)?;
        self.groups.insert(group.to_string(), GroupEntry { stat, newest, digest, files });
        Ok(())
    }

    /// The recorded `until` of `tenant`, if its lock shard still hashes to `shard` under the
    /// same `tcpc.yaml` (`config`).
    pub fn until(&self, tenant: &str, shard: &[u8; 32], config: &str) -> Option<Option<i64>> {
        if self.config != config {
            return None;
        }
        self.untils.get(tenant).filter(|(s, _)| s == shard).map(|(_, u)| *u)
    }

    pub fn set_until(&mut self, tenant: String, shard: [u8; 32], until: Option<i64>) {
        self.untils.insert(tenant, (shard, until));
    }

    /// Every `until` of `other` (valid as long as its shard hashes the same).
    pub fn all_untils_from(&mut self, other: &Index) {
        self.untils.extend(other.untils.iter().map(|(t, u)| (t.clone(), *u)));
    }

    pub fn untils_from(&mut self, other: &Index, tenants: impl IntoIterator<Item = String>) {
        for t in tenants {
            if let Some(u) = other.untils.get(&t) {
                self.untils.insert(t, *u);
            }
        }
    }

    /// Records the input files (path, SHA-256) of a render under `build`, with the tenants of
    /// those that hold TenantControlPlanes only.
    pub fn set_sources(&mut self, build: &str, files: &[(String, [u8; 32])], tcp_only: &BTreeMap<String, Vec<(String, String)>>) {
        self.build = build.to_string();
        self.sources = files.iter().map(|(path, sha)| (path.clone(), (*sha, tcp_only.get(path).cloned()))).collect();
    }

    /// The source entries of `other` (the same files: an up-to-date check).
    pub fn sources_from(&mut self, other: &Index) {
        self.build = other.build.clone();
        self.sources = other.sources.clone();
    }

    /// Which input files (`files`: an id, the path, the SHA-256) need not be parsed: the ones
    /// recorded, byte for byte, as holding tenants only, while every other recorded file is
    /// as it was, under the same build and `tcpc.yaml` (their tenants resolve as they did: no
    /// tenant depends on another's file). The files to parse that were not recorded as other
    /// files must hold tenants only too (the caller checks). `None`: nothing to skip.
    pub fn skippable<Id: Ord + Copy>(&self, build: &str, config: &str, files: &[(Id, &str, [u8; 32])]) -> Option<Skippable<Id>> {
        if self.build != build || self.config != config || self.sources.is_empty() {
            return None;
        }
        let current: BTreeMap<&str, &[u8; 32]> = files.iter().map(|(_, p, s)| (*p, s)).collect();
        let others_same =
            self.sources.iter().filter(|(_, (_, t))| t.is_none()).all(|(path, (sha, _))| current.get(path.as_str()) == Some(&sha));
        if !others_same {
            return None;
        }
        let mut skip = BTreeMap::new();
        let mut must = std::collections::BTreeSet::new();
        for (id, path, sha) in files {
            match self.sources.get(*path) {
                Some((recorded, Some(tenants))) if recorded == sha => {
                    skip.insert(*id, tenants.clone());
                }
                Some((_, None)) => {}
                _ => {
                    must.insert(*id);
                }
            }
        }
        (!skip.is_empty()).then_some((skip, must))
    }

    /// Scans the tree at `out` (marker aside): the files above the groups are read; each group
    /// is `stat`ed, and hashed only when this index does not vouch for it (or the index
    /// describes another marker than `marker_sha`). Every group is recorded in `next`.
    pub fn scan_tree(&self, out: &Path, marker_sha: &str, next: &mut Index) -> io::Result<TreeScan> {
        let trusted_groups = self.marker == marker_sha && self.output == next.output;
        let mut top = Tree::new();
        let mut groups = Vec::new();
        let mut odd = Vec::new();
        for entry in sorted_entries(out)? {
            let (name, kind) = entry;
            if name == crate::emit::MARKER {
                continue;
            }
            if kind.is_file() {
                top.insert(name.clone(), std::fs::read_to_string(out.join(&name))?);
            } else if kind.is_dir() {
                for (sub, kind) in sorted_entries(&out.join(&name))? {
                    let rel = format!("{name}/{sub}");
                    if kind.is_file() {
                        top.insert(rel.clone(), std::fs::read_to_string(out.join(&rel))?);
                    } else if kind.is_dir() {
                        groups.push(rel);
                    } else {
                        odd.push(rel);
                    }
                }
            } else {
                odd.push(name);
            }
        }
        let one = |group: &String| -> io::Result<(String, GroupEntry, bool)> {
            let (stat, newest, files) = group_stat(out, group)?;
            let recorded = self.groups.get(group).filter(|_| trusted_groups);
            if let Some(g) = recorded.filter(|g| g.stat == stat && g.newest == newest && self.settled(newest)) {
                return Ok((group.clone(), *g, true));
            }
            let digest = hash_group(out, group, &files)?;
            let g = GroupEntry { stat, newest, digest, files: files.len() };
            Ok((group.clone(), g, recorded.is_some_and(|r| r.digest == digest)))
        };
        let mut scanned = BTreeMap::new();
        for r in crate::par::map(&groups, one) {
            let (group, g, as_recorded) = r?;
            next.groups.insert(group.clone(), g);
            scanned.insert(group, GroupScan { digest: g.digest, files: g.files, as_recorded });
        }
        Ok(TreeScan { top, groups: scanned, odd })
    }
}

/// The tree as [`Index::scan_tree`] found it.
pub struct TreeScan {
    /// The files above the groups (kustomizations, Namespace objects), by path.
    pub top: Tree,
    pub groups: BTreeMap<String, GroupScan>,
    /// Entries that are neither files nor directories where tcpc writes files (a symlink).
    pub odd: Vec<String>,
}

/// One group of a [`TreeScan`].
pub struct GroupScan {
    pub digest: [u8; 32],
    pub files: usize,
    /// The digest is the one the index recorded (by `stat`, or hashed and found equal).
    pub as_recorded: bool,
}

impl TreeScan {
    /// The tree's digest and number of files, as `stamp::TreeDigest` computes them.
    pub fn digest(&self) -> (String, usize) {
        let mut d = TreeDigest::default();
        for (path, text) in &self.top {
            d.push(path.clone(), text.as_bytes());
        }
        for path in &self.odd {
            d.push(format!("{path}\0not a file"), b"");
        }
        for (group, g) in &self.groups {
            d.add_group(group.clone(), g.digest, g.files);
        }
        let files = d.len();
        (d.finish(), files)
    }

    /// The files of `groups` as they are on disk, with the files above the groups: the part of
    /// the live tree a render compares with and writes over.
    pub fn read(&self, out: &Path, groups: &[&str]) -> io::Result<Tree> {
        let read_group = |group: &&str| -> io::Result<Vec<(String, String)>> {
            let mut files = Vec::new();
            for entry in walkdir::WalkDir::new(out.join(group)).sort_by_file_name() {
                let entry = entry.map_err(io::Error::other)?;
                if entry.file_type().is_file() {
                    let rel = entry.path().strip_prefix(out).map_err(io::Error::other)?;
                    let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                    files.push((rel, std::fs::read_to_string(entry.path())?));
                }
            }
            Ok(files)
        };
        let mut tree = self.top.clone();
        for part in crate::par::map(groups, read_group) {
            tree.extend(part?);
        }
        Ok(tree)
    }
}

/// `(name, file type)` of a directory's entries, in name order.
fn sorted_entries(dir: &Path) -> io::Result<Vec<(String, std::fs::FileType)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().into_string().map_err(|n| io::Error::other(format!("non-UTF-8 file name {n:?}")))?;
        out.push((name, entry.file_type()?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The digest of a group's files' paths and `stat`s, the newest of their times, and its files
/// (path within the group, whether a regular file), in path order. Each entry is `stat`ed
/// relative to its directory (`DirEntry::metadata`), not by its whole path.
fn group_stat(out: &Path, group: &str) -> io::Result<([u8; 32], i128, Vec<(String, bool)>)> {
    fn walk(dir: &Path, rel: &str, entries: &mut Vec<(String, Stat, bool)>) -> io::Result<()> {
        let mut list: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)?.collect::<io::Result<_>>()?;
        list.sort_by_key(|e| e.file_name());
        for entry in list {
            let name = entry.file_name().into_string().map_err(|n| io::Error::other(format!("non-UTF-8 file name {n:?}")))?;
            let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&entry.path(), &path, entries)?;
            } else {
                entries.push((path, Stat::of(&entry.metadata()?), kind.is_file()));
            }
        }
        Ok(())
    }
    let mut entries = Vec::new();
    walk(&out.join(group), "", &mut entries)?;
    // Path order, as `stamp::group_digest` folds them ("a/b" and "a.b" sort apart from a walk's).
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    let mut newest = i128::MIN;
    let mut files = Vec::with_capacity(entries.len());
    for (rel, st, regular) in entries {
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        st.feed(&mut h);
        newest = newest.max(st.newest());
        files.push((rel, regular));
    }
    Ok((h.finalize().into(), newest, files))
}

/// A group's digest from its files on disk (`stamp::group_digest`; what is not a regular file
/// counts as one that differs, as `emit::tree_digest` counts it).
fn hash_group(out: &Path, group: &str, files: &[(String, bool)]) -> io::Result<[u8; 32]> {
    let root = out.join(group);
    let mut leaves = Vec::with_capacity(files.len());
    for (rel, regular) in files {
        if *regular {
            leaves.push((rel.clone(), sha256_file(&root.join(rel))?));
        } else {
            leaves.push((format!("{rel}\0not a file"), Sha256::digest(b"").into()));
        }
    }
    Ok(group_digest(leaves.iter().map(|(p, s)| (p.as_str(), s))))
}

/// A tree's groups, as `stamp::group_of` names them, with the digest and number of files of each.
pub fn groups_of(tree: &Tree) -> BTreeMap<String, ([u8; 32], usize)> {
    let mut d = TreeDigest::default();
    for (path, text) in tree {
        if group_of(path).is_some() {
            d.push(path.clone(), text.as_bytes());
        }
    }
    d.groups()
}

pub fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(h.finalize().into()),
            n => h.update(&buf[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_round_trips_and_refuses_anything_else() {
        let mut i = Index::new("/out".into());
        i.marker = "m".repeat(64);
        i.config = "c".repeat(64);
        i.files.insert("lock/ns/a b".into(), (Stat { dev: 1, ino: 2, size: 3, mtime_ns: 4, ctime_ns: -5 }, [7; 32]));
        i.groups.insert("ns/a".into(), GroupEntry { stat: [1; 32], newest: 9, digest: [2; 32], files: 30 });
        i.untils.insert("ns/a".into(), ([3; 32], Some(1_800_000_000)));
        i.untils.insert("ns/b".into(), ([4; 32], None));
        let back = Index::parse(&i.text()).expect("parses");
        assert_eq!(back.text(), i.text());
        assert_eq!(back.until("ns/a", &[3; 32], &"c".repeat(64)), Some(Some(1_800_000_000)));
        assert_eq!(back.until("ns/a", &[4; 32], &"c".repeat(64)), None, "another shard");
        assert_eq!(back.until("ns/a", &[3; 32], "other"), None, "another tcpc.yaml");
        for bad in ["", "f x\n", &format!("{HEADER}\noutput o\nmarker m\nconfig c\ntaken 1\nz 1\n"), &format!("{HEADER}\noutput o\n")] {
            assert!(Index::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn only_unchanged_files_of_tenants_are_skipped_and_only_while_every_other_file_is_as_it_was() {
        let tenants = |k: &str| vec![(format!("ns/{k}"), "default".to_string())];
        let tcp_only: BTreeMap<String, Vec<(String, String)>> =
            [("a.yaml".to_string(), tenants("a")), ("b.yaml".to_string(), tenants("b"))].into();
        let mut i = Index::new("o".into());
        i.config = "c".into();
        i.set_sources("build", &[("a.yaml".into(), [1; 32]), ("b.yaml".into(), [2; 32]), ("ds.yaml".into(), [3; 32])], &tcp_only);
        let i = Index::parse(&i.text()).expect("round trip");
        let files =
            |a: u8, b: u8, ds: u8| vec![(0, "a.yaml", [a; 32]), (1, "b.yaml", [b; 32]), (2, "ds.yaml", [ds; 32]), (3, "new.yaml", [9; 32])];
        let (skip, must) = i.skippable("build", "c", &files(1, 7, 3)).expect("a.yaml is skipped");
        assert_eq!(skip, [(0, tenants("a"))].into());
        assert_eq!(must, [1, 3].into(), "a changed file of tenants and a new file must hold tenants only");
        assert!(i.skippable("build", "c", &files(1, 7, 4)).is_none(), "another file changed: every file is parsed");
        assert!(i.skippable("build", "c", &files(5, 6, 3)).is_none(), "nothing left to skip");
        assert!(i.skippable("other", "c", &files(1, 2, 3)).is_none(), "another build");
        assert!(i.skippable("build", "other", &files(1, 2, 3)).is_none(), "another tcpc.yaml");
        assert!(i.skippable("build", "c", &[(0, "a.yaml", [1; 32])]).is_none(), "ds.yaml is gone");
    }

    #[test]
    fn a_file_or_group_is_trusted_by_stat_only_when_settled_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(out.join("ns/a/management")).unwrap();
        std::fs::write(out.join("kustomization.yaml"), "k").unwrap();
        std::fs::write(out.join("ns/a/management/x.yaml"), "x").unwrap();
        std::fs::write(dir.path().join("lock"), "l").unwrap();
        let items = vec![("lock".to_string(), dir.path().join("lock")), ("gone".to_string(), dir.path().join("gone"))];

        // Taken right after the writes: racy, so the next scan hashes again.
        let mut first = Index::new("o".into());
        let hashed = Index::default().hash_files(&items, &mut first).unwrap();
        assert_eq!(hashed, [("lock".to_string(), Sha256::digest(b"l").into())], "an absent file is left out");
        let scan = Index::default().scan_tree(&out, "m", &mut first).unwrap();
        assert!(!scan.groups["ns/a"].as_recorded, "nothing recorded yet");
        first.marker = "m".into();
        // Edited in place behind the index's back, within the racy window: the hash tells.
        std::fs::write(dir.path().join("lock"), "L").unwrap();
        std::fs::write(out.join("ns/a/management/x.yaml"), "y").unwrap();
        let mut second = Index::new("o".into());
        assert_eq!(first.hash_files(&items, &mut second).unwrap()[0].1, <[u8; 32]>::from(Sha256::digest(b"L")));
        let scan = first.scan_tree(&out, "m", &mut second).unwrap();
        assert!(!scan.groups["ns/a"].as_recorded, "the group's content changed");

        // Settled: trusted by stat, a fake digest recorded is believed (nothing is read)...
        let mut settled = second.clone();
        settled.taken_ns = i128::MAX / 2;
        settled.files.get_mut("lock").unwrap().1 = [9; 32];
        settled.groups.get_mut("ns/a").unwrap().digest = [8; 32];
        settled.marker = "m".into();
        let mut third = Index::new("o".into());
        assert_eq!(settled.hash_files(&items, &mut third).unwrap()[0].1, [9; 32]);
        let scan = settled.scan_tree(&out, "m", &mut third).unwrap();
        assert_eq!((scan.groups["ns/a"].digest, scan.groups["ns/a"].as_recorded), ([8; 32], true));
        // ...but not for another marker, and not once a file was written again.
        assert!(!settled.scan_tree(&out, "other", &mut Index::new("o".into())).unwrap().groups["ns/a"].as_recorded);
        std::fs::write(out.join("ns/a/management/x.yaml"), "y").unwrap();
        std::fs::write(dir.path().join("lock"), "L").unwrap();
        let scan = settled.scan_tree(&out, "m", &mut Index::new("o".into())).unwrap();
        assert_ne!(scan.groups["ns/a"].digest, [8; 32]);
        assert_ne!(settled.hash_files(&items, &mut Index::new("o".into())).unwrap()[0].1, [9; 32]);
        // A stray file in a group changes it.
        let before = settled.scan_tree(&out, "m", &mut Index::new("o".into())).unwrap().groups["ns/a"].digest;
        std::fs::write(out.join("ns/a/stray.yaml"), "s").unwrap();
        assert_ne!(settled.scan_tree(&out, "m", &mut Index::new("o".into())).unwrap().groups["ns/a"].digest, before);
    }

    #[test]
    fn a_scanned_tree_digests_as_the_tree_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let tree: Tree = [
            ("kustomization.yaml", "k"),
            ("ns/kustomization.yaml", "n"),
            ("ns/a/kustomization.yaml", "a"),
            ("ns/a/management/x.yaml", "x"),
            ("ns/b/tenant/y.yaml", "y"),
            ("_companion/deploy/z.yaml", "z"),
        ]
        .into_iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
        crate::emit::write_tree(&dir.path().join("out"), &tree).unwrap();
        let scan = Index::default().scan_tree(&dir.path().join("out"), "", &mut Index::default()).unwrap();
        assert_eq!(scan.digest(), (TreeDigest::of(&tree).finish(), tree.len()));
        assert_eq!(scan.digest(), crate::emit::tree_digest(&dir.path().join("out")).unwrap());
        assert_eq!(scan.read(&dir.path().join("out"), &["ns/a", "ns/b", "_companion/deploy"]).unwrap(), tree);
        let groups = groups_of(&tree);
        assert_eq!(groups.keys().map(String::as_str).collect::<Vec<_>>(), ["_companion/deploy", "ns/a", "ns/b"]);
        assert_eq!(groups["ns/a"], (scan.groups["ns/a"].digest, 2));
    }
}
