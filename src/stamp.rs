//! The up-to-date stamp: a render whose every input is byte for byte what the last full render
//! read, at a time before anything of it falls due, compiles to the same tree, so nothing is
//! compiled at all.
//!
//! A full render (no filter, no intent, no pending tenant, no warning) ends its marker
//! (`emit::MARKER`) with one stamp line:
//!
//! ```text
//! # up to date (tcpc.dev/stamp/v2): sources <digest> inputs <digest> tree <digest> until <unix seconds|never> tenants <n> files <n>
//! ```
//!
//! - `sources`: the part of `inputs` read anyway before anything else ([`InputFiles::sources_digest`]:
//!   this build, `tcpc.yaml` and the specs). When it differs, so do the inputs, and the run goes to
//!   the compile without hashing the lock, the states or the tree.
//! - `inputs`: SHA-256 over this build's output-shaping code ([`crate::cache::BUILD`]) and the
//!   SHA-256 of every file a render reads: `tcpc.yaml` and each input file, the lock, each
//!   encrypted state file, the sealed-secrets certificate ([`InputFiles`]).
//! - `tree`: SHA-256 over the tree's files, marker aside ([`TreeDigest`]): the next render and
//!   `tcpc check` hash the tree on disk and compare, so a hand edit is never taken as current.
//! - `until`: the first instant a render would decide differently from the same bytes — a
//!   renewal window opening, or a certificate crossing `check`'s warning threshold
//!   ([`valid_until`]). Time enters a render nowhere else without an intent flag.
//!
//! Why that is enough: `compile` is a pure function of those files, `now` and the seed, and
//! the seed and `now` only reach the output through issuance and sealing, which happen only
//! when something is due (or asked for by an intent flag, which never takes the stamp).
//! Invariant: a stamp is written only by a render whose output is exactly what a cold render of
//! the same files writes (`tests/incremental.rs`).

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use crate::lock::Lock;

/// The stamp line's prefix (and version).
pub const PREFIX: &str = "# up to date (tcpc.dev/stamp/v2):";

/// What a full render recorded about its inputs and output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub sources: String,
    pub inputs: String,
    pub tree: String,
    /// Unix seconds; `None`: nothing of the repository ever falls due.
    pub until: Option<i64>,
    pub tenants: usize,
    pub files: usize,
}

impl Stamp {
    pub fn line(&self) -> String {
        let until = self.until.map_or_else(|| "never".to_string(), |u| u.to_string());
        format!(
            "{PREFIX} sources {} inputs {} tree {} until {until} tenants {} files {}\n",
            self.sources, self.inputs, self.tree, self.tenants, self.files
        )
    }

    /// The stamp a marker ends with, if any.
    pub fn parse(marker: &str) -> Option<Stamp> {
        let rest = marker.lines().last()?.strip_prefix(PREFIX)?;
        let words: Vec<&str> = rest.split_whitespace().collect();
        let ["sources", sources, "inputs", inputs, "tree", tree, "until", until, "tenants", tenants, "files", files] = words[..] else {
            return None;
        };
        let until = match until {
            "never" => None,
            u => Some(u.parse().ok()?),
        };
        Some(Stamp {
            sources: sources.into(),
            inputs: inputs.into(),
            tree: tree.into(),
            until,
            tenants: tenants.parse().ok()?,
            files: files.parse().ok()?,
        })
    }

    /// Whether a render at `now` of inputs hashing to `inputs` may leave the tree as it is.
    pub fn holds(&self, inputs: &str, now: time::OffsetDateTime) -> bool {
        self.inputs == inputs && self.until.is_none_or(|u| now.unix_timestamp() < u)
    }
}

/// `marker` without its stamp line, if it has one.
pub fn without_stamp(marker: &str) -> &str {
    match marker.trim_end_matches('\n').rsplit_once('\n') {
        Some((head, last)) if last.starts_with(PREFIX) => &marker[..head.len() + 1],
        _ => marker,
    }
}

/// `marker` with `stamp` as its last line (replacing any stamp it had).
pub fn with_stamp(marker: &str, stamp: Option<&Stamp>) -> String {
    let mut text = without_stamp(marker).to_string();
    if let Some(s) = stamp {
        text.push_str(&s.line());
    }
    text
}

/// The SHA-256 of every file a render reads, by a label naming it (`source/<path>`, `lock`,
/// `state/<key>`, `sealer`). The IO edge fills it (streaming the large files); [`digest`]
/// folds it in label order, so it does not depend on the order files were read in.
///
/// [`digest`]: InputFiles::digest
#[derive(Debug, Clone, Default)]
pub struct InputFiles {
    files: BTreeMap<String, [u8; 32]>,
}

impl InputFiles {
    pub fn insert(&mut self, label: String, sha256: [u8; 32]) {
        self.files.insert(label, sha256);
    }

    pub fn insert_bytes(&mut self, label: String, bytes: &[u8]) {
        self.insert(label, Sha256::digest(bytes).into());
    }

    pub fn remove(&mut self, label: &str) {
        self.files.remove(label);
    }

    /// Every file's label and SHA-256, in label order.
    pub fn labelled(&self) -> impl Iterator<Item = (&str, &[u8; 32])> {
        self.files.iter().map(|(l, s)| (l.as_str(), s))
    }

    /// The SHA-256 of the file `label`, as read.
    pub fn get(&self, label: &str) -> Option<&[u8; 32]> {
        self.files.get(label)
    }

    /// Every input file of `sources` (`tcpc.yaml` among them).
    pub fn insert_sources(&mut self, sources: &crate::source::Sources) {
        for (_, f) in sources.iter() {
            self.insert_bytes(format!("source/{}", f.display), f.text.as_bytes());
        }
    }

    /// Every encrypted state file, keyed as `read_states` keys them.
    pub fn insert_states<'a>(&mut self, states: impl IntoIterator<Item = (&'a String, &'a String)>) {
        self.files.retain(|label, _| !label.starts_with("state/"));
        for (key, text) in states {
            self.insert_bytes(format!("state/{key}"), text.as_bytes());
        }
    }

    /// The digest of this build and the `source/*` entries alone (what the local cache cannot
    /// vouch for: the cache's record holds for this binary and these specs only).
    pub fn sources_digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(crate::cache::BUILD.as_bytes());
        for (label, sha) in self.files.iter().filter(|(l, _)| l.starts_with("source/")) {
            h.update((label.len() as u64).to_le_bytes());
            h.update(label.as_bytes());
            h.update(sha);
        }
        hex::encode(h.finalize())
    }

    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(crate::cache::BUILD.as_bytes());
        for (label, sha) in &self.files {
            h.update((label.len() as u64).to_le_bytes());
            h.update(label.as_bytes());
            h.update(sha);
        }
        hex::encode(h.finalize())
    }
}

/// A tree's digest, in two levels so a directory can be vouched for without reading it: each
/// *group* (a second-level directory `<a>/<b>`: one tenant's files) folds into one digest
/// ([`group_digest`] of its files' paths within it and SHA-256s), and the tree's digest is over
/// the files above the groups and the groups, in path order. The same whether computed from a
/// tree in memory, from files hashed on several cores, or with groups the IO edge's index
/// vouches for (`add_group`).
#[derive(Default)]
pub struct TreeDigest {
    files: Vec<(String, [u8; 32])>,
    /// Groups taken whole: path, digest, number of files.
    groups: Vec<(String, [u8; 32], usize)>,
}

impl TreeDigest {
    /// The digest of a tree in memory, its files hashed on every core.
    pub fn of(tree: &crate::model::Tree) -> TreeDigest {
        let files: Vec<(&String, &String)> = tree.iter().collect();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = files.len().div_ceil(workers).max(1);
        let files = std::thread::scope(|scope| {
            let parts: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|(p, t)| ((*p).clone(), Sha256::digest(t.as_bytes()).into())).collect::<Vec<_>>())
                })
                .collect();
            parts.into_iter().flat_map(|h| h.join().expect("tree hasher panicked")).collect()
        });
        TreeDigest { files, groups: Vec::new() }
    }

    /// Each file's path and SHA-256 (in path order when built by [`TreeDigest::of`]); the
    /// groups added whole are not among them.
    pub fn leaves(&self) -> impl Iterator<Item = (&str, &[u8; 32])> {
        self.files.iter().map(|(p, s)| (p.as_str(), s))
    }

    pub fn from_leaves(files: Vec<(String, [u8; 32])>) -> TreeDigest {
        TreeDigest { files, groups: Vec::new() }
    }

    pub fn push(&mut self, path: String, bytes: &[u8]) {
        self.files.push(leaf(path, bytes));
    }

    pub fn extend(&mut self, other: TreeDigest) {
        self.files.extend(other.files);
        self.groups.extend(other.groups);
    }

    /// A group (`<a>/<b>`) whose files are not in this digest, by its [`group_digest`].
    pub fn add_group(&mut self, group: String, digest: [u8; 32], files: usize) {
        self.groups.push((group, digest, files));
    }

    /// The number of files, those of groups added whole included.
    pub fn len(&self) -> usize {
        self.files.len() + self.groups.iter().map(|g| g.2).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each group's digest and number of files, the groups added whole included.
    pub fn groups(&self) -> BTreeMap<String, ([u8; 32], usize)> {
        let mut by_group: BTreeMap<&str, Vec<(&str, [u8; 32])>> = BTreeMap::new();
        for (path, sha) in &self.files {
            if let Some((group, rest)) = group_of(path) {
                by_group.entry(group).or_default().push((rest, *sha));
            }
        }
        let mut out: BTreeMap<String, ([u8; 32], usize)> = by_group
            .into_iter()
            .map(|(g, files)| (g.to_string(), (group_digest(files.iter().map(|(p, s)| (*p, s))), files.len())))
            .collect();
        out.extend(self.groups.iter().map(|(g, d, n)| (g.clone(), (*d, *n))));
        out
    }

    /// The digest (the leaves are left sorted by path).
    pub fn finish(&mut self) -> String {
        self.files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut entries: Vec<(String, [u8; 32])> =
            self.files.iter().filter(|(p, _)| group_of(p).is_none()).map(|(p, s)| (p.clone(), *s)).collect();
        entries.extend(self.groups().into_iter().map(|(g, (d, _))| (format!("{g}/"), d)));
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut h = Sha256::new();
        for (path, sha) in &entries {
            h.update((path.len() as u64).to_le_bytes());
            h.update(path.as_bytes());
            h.update(sha);
        }
        hex::encode(h.finalize())
    }
}

/// The group (`<a>/<b>`) a tree path belongs to, and its path within it; `None` above the groups.
pub fn group_of(path: &str) -> Option<(&str, &str)> {
    let first = path.find('/')?;
    let second = first + 1 + path[first + 1..].find('/')?;
    Some((&path[..second], &path[second + 1..]))
}

/// The digest of one group's files: each one's path within the group and SHA-256, in path order.
pub fn group_digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8; 32])>) -> [u8; 32] {
    let mut files: Vec<(&str, &[u8; 32])> = files.into_iter().collect();
    files.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (path, sha) in files {
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(sha);
    }
    h.finalize().into()
}

/// One file of a [`TreeDigest`]: its path and the SHA-256 of its bytes.
pub fn leaf(path: String, bytes: &[u8]) -> (String, [u8; 32]) {
    (path, Sha256::digest(bytes).into())
}

/// How much older than the moment a `stat` record (`index`) is taken a file must be for its
/// `stat` alone to be trusted (2 s: coarser than any file system's timestamp granularity tcpc
/// runs on; git's "racily clean").
pub const RACY_NS: i128 = 2_000_000_000;

/// The first instant (unix seconds) a render of the same files would decide differently: the
/// earliest renewal window opening (`pki::reason`: less than `fraction` of a lifetime left) or
/// certificate crossing `warn_days`/`fail_days` before its `notAfter` (`review::certificates`).
/// Imported material is never renewed, but `check` still warns about it.
pub fn valid_until(lock: &Lock, fraction: f64, warn_days: i64, fail_days: i64) -> Option<i64> {
    lock.tenants.values().filter_map(|t| tenant_until(t, fraction, warn_days, fail_days)).min()
}

/// [`valid_until`] of one tenant's lock entry.
pub fn tenant_until(t: &crate::lock::TenantLock, fraction: f64, warn_days: i64, fail_days: i64) -> Option<i64> {
    let parse =
        |s: &Option<String>| s.as_deref().and_then(|v| time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok());
    let threshold = time::Duration::days(warn_days.max(fail_days));
    let warned = t.artefacts.values().filter_map(|a| parse(&a.not_after)).map(|na| (na - threshold).unix_timestamp());
    warned.chain(renewal_from(t, fraction)).min()
}

/// The first instant (unix seconds) one of `entry`'s certificates enters its renewal window
/// (`pki::reason`: less than `fraction` of its lifetime left), or `None` if none ever does
/// (imported material is never renewed). Until then the PKI stage decides nothing new for the
/// same inputs: the render cache skips it (`cache::RenderCache::unchanged`).
pub fn renewal_from(entry: &crate::lock::TenantLock, fraction: f64) -> Option<i64> {
    let parse =
        |s: &Option<String>| s.as_deref().and_then(|v| time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok());
    entry
        .artefacts
        .values()
        .filter(|a| !a.imported)
        .filter_map(|a| Some((parse(&a.not_before)?, parse(&a.not_after)?)))
        // Due once `na - now < life * fraction`: from `na - life * fraction` on, rounded down so
        // nothing outlives the window.
        .map(|(nb, na)| (na - (na - nb) * fraction - time::Duration::seconds(1)).unix_timestamp())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp { sources: "s".repeat(64), inputs: "a".repeat(64), tree: "b".repeat(64), until: Some(1_800_000_000), tenants: 3, files: 40 }
    }

    #[test]
    fn a_stamp_round_trips_through_a_marker_and_replaces_the_old_one() {
        let marker = "header\n# render cache\nns/a k d\n";
        let stamped = with_stamp(marker, Some(&stamp()));
        assert_eq!(Stamp::parse(&stamped), Some(stamp()));
        assert_eq!(without_stamp(&stamped), marker);
        let never = Stamp { until: None, ..stamp() };
        let restamped = with_stamp(&stamped, Some(&never));
        assert_eq!(Stamp::parse(&restamped), Some(never));
        assert_eq!(restamped.lines().count(), 4);
        assert_eq!(with_stamp(&stamped, None), marker);
        assert_eq!(Stamp::parse(marker), None);
    }

    #[test]
    fn a_stamp_holds_for_the_same_inputs_before_until_only() {
        let s = stamp();
        let at = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).unwrap();
        assert!(s.holds(&"a".repeat(64), at(1_799_999_999)));
        assert!(!s.holds(&"a".repeat(64), at(1_800_000_000)));
        assert!(!s.holds(&"c".repeat(64), at(0)));
        assert!(Stamp { until: None, ..s }.holds(&"a".repeat(64), at(i64::from(i32::MAX))));
    }

    #[test]
    fn the_inputs_digest_sees_every_file_and_not_the_order_they_were_read_in() {
        let mut a = InputFiles::default();
        a.insert_bytes("lock".into(), b"l");
        a.insert_bytes("source/x.yaml".into(), b"x");
        let mut b = InputFiles::default();
        b.insert_bytes("source/x.yaml".into(), b"x");
        b.insert_bytes("lock".into(), b"l");
        assert_eq!(a.digest(), b.digest());
        let mut c = b.clone();
        c.insert_bytes("state/ns/t".into(), b"s");
        assert_ne!(c.digest(), b.digest());
        let mut d = b.clone();
        d.insert_bytes("lock".into(), b"L");
        assert_ne!(d.digest(), b.digest());
    }

    #[test]
    fn a_tree_digest_is_the_same_in_memory_and_from_files_in_any_order() {
        let mut tree = crate::model::Tree::new();
        tree.insert("a/x.yaml".into(), "1\n".into());
        tree.insert("b/y.yaml".into(), "2\n".into());
        let mut parts = TreeDigest::default();
        parts.push("b/y.yaml".into(), b"2\n");
        let mut other = TreeDigest::default();
        other.push("a/x.yaml".into(), b"1\n");
        parts.extend(other);
        assert_eq!(TreeDigest::of(&tree).finish(), parts.finish());
        tree.insert("b/y.yaml".into(), "3\n".into());
        let mut again = TreeDigest::default();
        again.push("a/x.yaml".into(), b"1\n");
        again.push("b/y.yaml".into(), b"2\n");
        assert_ne!(TreeDigest::of(&tree).finish(), again.finish());
    }

    #[test]
    fn valid_until_is_the_first_renewal_or_warning() {
        let mut lock = Lock::new();
        let art = |nb: &str, na: &str, imported: bool| crate::lock::ArtefactLock {
            inputs: String::new(),
            fingerprint: String::new(),
            not_before: Some(nb.into()),
            not_after: Some(na.into()),
            serial: None,
            imported,
        };
        let mut t = crate::lock::TenantLock::default();
        // 100 days of life, a third left: due 33.3 days before notAfter.
        t.artefacts.insert("apiserver".into(), art("2026-01-01T00:00:00Z", "2026-04-11T00:00:00Z", false));
        t.artefacts.insert("ca".into(), art("2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z", false));
        lock.tenants.insert("ns/a".into(), t);
        let na = time::macros::datetime!(2026-04-11 00:00 UTC);
        let renewal = na - time::Duration::seconds(100 * 86_400 / 3) - time::Duration::seconds(1);
        assert_eq!(valid_until(&lock, 1.0 / 3.0, 30, 7), Some(renewal.unix_timestamp()));
        // A warning threshold further out than the window comes first.
        assert_eq!(valid_until(&lock, 1.0 / 3.0, 40, 7), Some((na - time::Duration::days(40)).unix_timestamp()));
        // Imported material is never renewed: only the warning counts.
        lock.tenants.get_mut("ns/a").unwrap().artefacts.get_mut("apiserver").unwrap().imported = true;
        assert_eq!(valid_until(&lock, 1.0 / 3.0, 30, 7), Some((na - time::Duration::days(30)).unix_timestamp()));
        assert_eq!(valid_until(&Lock::new(), 1.0 / 3.0, 30, 7), None);
    }
}
