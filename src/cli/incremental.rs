//! The incremental render (IO edge): a render whose work grows with what changed, not with
//! the fleet.
//!
//! A tenant is *kept* — its lock shard, its state and its output files not even read — when
//! - `tcpc::keepable` says so: the output's marker records its PKI fingerprint (spec,
//!   `tcpc.yaml`, sealer, its lock shard and state files by digest) and it is unchanged, before
//!   the recorded `until`;
//! - its directory in the output (`<ns>/<tcp>`, a group of `tcpc::index`) is what the render
//!   that wrote the marker wrote, by the index's `stat`s or hashed again;
//! - the index knows when it falls due (`stamp::tenant_until` of its shard).
//!
//! The digests come from the local index (`tcpc::index`): a file or group whose `stat` did not
//! change is not read. Everything else is the usual render, of the other tenants only; the
//! tree is written with the kept groups in place (`spare`), the marker and the stamp take their
//! recorded digests, and the index is brought up to date ([`record`]). Any doubt — no marker,
//! no index, a lock in the single-file format, something odd in the tree — and the render reads
//! everything, as it always did. Invariant: the files written are the ones a full render
//! writes (`tests/incremental.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tcpc::index::Index;
use tcpc::source::Sources;

/// What the incremental render keeps, and what it found.
#[derive(Default)]
pub struct Plan {
    /// Kept tenants, with their marker entry.
    pub kept: BTreeMap<String, tcpc::cache::Entry>,
    /// Their files digests, as the marker records them.
    pub kept_files: BTreeMap<String, String>,
    /// Their groups' digests and number of files.
    pub kept_groups: BTreeMap<String, ([u8; 32], usize)>,
    /// The earliest instant one of them falls due.
    pub kept_until: Option<i64>,
    /// The SHA-256 of every lock, state and sealer file.
    pub digests: Vec<(String, [u8; 32])>,
    /// The marker, and the tree but for the kept groups.
    pub previous: tcpc::emit::Previous,
    /// The index as read, and the new one as far as the scan got.
    pub old: Index,
    pub next: Index,
}

/// Every file a render reads besides the specs, with its label in the stamp
/// (`stamp::InputFiles`): the lock's root and shards, the state files, the sealer certificate.
pub fn input_files(dir: &Path, config: &tcpc_spec::Config) -> std::io::Result<Vec<(String, PathBuf)>> {
    let lock_file = dir.join(config.lock_file());
    let mut items = vec![("lock".to_string(), lock_file.clone())];
    for (key, path) in tcpc::lock::shard_files(&lock_file)? {
        items.push((format!("lock/{key}"), path));
    }
    for (key, path) in crate::state_files(&dir.join(config.state_dir())).map_err(std::io::Error::other)? {
        items.push((format!("state/{key}"), path));
    }
    if let Some(path) = crate::sealer_certificate(dir, config) {
        items.push(("sealer".into(), path));
    }
    Ok(items)
}

/// The SHA-256 of every file of [`input_files`], by `index` where it vouches (recorded in
/// `next`): an absent lock root counts as empty, as the compile reads it.
pub fn hash_inputs(index: &Index, dir: &Path, config: &tcpc_spec::Config, next: &mut Index) -> std::io::Result<Vec<(String, [u8; 32])>> {
    let mut digests = index.hash_files(&input_files(dir, config)?, next)?;
    if !digests.iter().any(|(label, _)| label == "lock") {
        digests.push(("lock".into(), Sha256::digest(b"").into()));
    }
    Ok(digests)
}

/// The SHA-256 of a text, in hex.
pub fn sha_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The canonical label of an output directory in the index.
pub fn output_label(out: &Path) -> String {
    out.canonicalize().unwrap_or_else(|_| out.to_path_buf()).to_string_lossy().into_owned()
}

/// The tenants resolved (unchanged files of tenants only left unparsed where the index allows:
/// `tcpc::prepare_skipping`), and the plan of an incremental render of `out` if it applies.
/// When the specs do not resolve, their diagnostics: the caller reports them where the
/// compile would have (nothing is parsed twice).
pub fn prepare_and_plan<'c>(
    dir: &Path,
    config_file: &'c tcpc::parse::ConfigFile,
    out: &Path,
    sources: &Sources,
    now: i64,
) -> Result<(tcpc::Prepared<'c>, Option<Plan>), tcpc::diag::Diagnostics> {
    let label = output_label(out);
    let index = Index::load(dir, &label);
    let mut files = tcpc::stamp::InputFiles::default();
    files.insert_sources(sources);
    let listed: Vec<(tcpc::source::SourceId, &str, [u8; 32])> =
        sources.iter().filter_map(|(id, f)| Some((id, f.display.as_str(), *files.get(&format!("source/{}", f.display))?))).collect();
    let config_sha = files.get("source/tcpc.yaml").map(hex::encode).unwrap_or_default();
    if let Some((skip, must)) = index.skippable(tcpc::cache::BUILD, &config_sha, &listed)
        && let Some(Ok(prepared)) = tcpc::prepare_skipping(sources, config_file, &skip, &must)
        && let Some(plan) = plan(dir, &config_file.config, out, sources, &prepared, now, index.clone())
    {
        return Ok((prepared, Some(plan)));
    }
    // Every file parsed.
    let prepared = tcpc::prepare(sources, config_file)?;
    let plan = plan(dir, &config_file.config, out, sources, &prepared, now, index);
    Ok((prepared, plan))
}

/// The plan of an incremental render of `out`, or `None` when it does not apply (the render
/// then reads everything; with stubs, it must parse everything first). `now`: unix seconds.
fn plan(
    dir: &Path,
    config: &tcpc_spec::Config,
    out: &Path,
    sources: &Sources,
    prepared: &tcpc::Prepared<'_>,
    now: i64,
    old: Index,
) -> Option<Plan> {
    let marker = std::fs::read_to_string(out.join(tcpc::emit::MARKER)).ok()?;
    let recorded = tcpc::cache::recorded_keys(&marker);
    if recorded.is_empty() {
        return None;
    }
    let lock_file = dir.join(config.lock_file());
    if tcpc::lock::shard_files(&lock_file).ok()?.is_empty() {
        // No shards: a lock of an earlier release, in one file, or none.
        return None;
    }
    let mut next = Index::new(output_label(out));
    let digests = hash_inputs(&old, dir, config, &mut next).ok()?;
    let mut files = tcpc::stamp::InputFiles::default();
    files.insert_sources(sources);
    for (label, sha) in &digests {
        files.insert(label.clone(), *sha);
    }
    let config_sha = hex::encode(files.get("source/tcpc.yaml")?);
    let candidates = tcpc::keepable(sources, prepared, &files, &recorded, now);
    let scan = old.scan_tree(out, &sha_hex(&marker), &mut next).ok()?;
    if !scan.odd.is_empty() {
        return None;
    }
    let recorded_files = tcpc::cache::recorded_files(&marker);
    let mut plan = Plan { digests, old: Index::default(), next, ..Plan::default() };
    for (tenant, entry) in candidates {
        let Some(group) = scan.groups.get(&tenant).filter(|g| g.as_recorded) else { continue };
        let Some(shard) = files.get(&format!("lock/{tenant}")) else { continue };
        let (Some(until), Some(digest)) = (old.until(&tenant, shard, &config_sha), recorded_files.get(&tenant)) else { continue };
        plan.kept_until = until.into_iter().chain(plan.kept_until).min();
        plan.kept_groups.insert(tenant.clone(), (group.digest, group.files));
        plan.kept_files.insert(tenant.clone(), digest.clone());
        plan.kept.insert(tenant, entry);
    }
    if plan.kept.is_empty() || prepared.stubs().iter().any(|s| !plan.kept.contains_key(&s.key)) {
        return None;
    }
    let others: Vec<&str> = scan.groups.keys().map(String::as_str).filter(|g| !plan.kept.contains_key(*g)).collect();
    plan.previous = tcpc::emit::Previous { tree: scan.read(out, &others).ok()?, marker };
    plan.old = old;
    Some(plan)
}

/// After a full render that wrote `tree` (with `kept` groups as they were) and `marker` to
/// `out`: the index of what is on disk now. The `next` index of the plan, if there was one,
/// already holds every file and group as the render found them; what the render wrote is
/// `stat`ed now (and so hashed again by the next run if it is within the racy window).
/// Best effort: without it the next run hashes.
pub struct Written<'a> {
    pub dir: &'a Path,
    pub out: &'a Path,
    pub marker: &'a str,
    /// Every lock, state and sealer file as the stamp holds it now, by label.
    pub inputs: &'a tcpc::stamp::InputFiles,
    pub items: Vec<(String, PathBuf)>,
    /// Labels of the files this render wrote.
    pub written: std::collections::BTreeSet<String>,
    /// The new tree's groups (the kept ones included), by digest and number of files.
    pub groups: BTreeMap<String, ([u8; 32], usize)>,
    /// Groups that stayed as they were.
    pub kept: &'a std::collections::BTreeSet<String>,
    /// The lock entries this render holds (all but the kept tenants').
    pub lock: &'a tcpc::lock::Lock,
    pub config: &'a tcpc_spec::Config,
    /// The tenants of each file of tenants only, by path, when the compile knew them.
    pub tcp_only: Option<&'a BTreeMap<String, Vec<(String, String)>>>,
}

pub fn record(w: Written<'_>, plan: Option<Plan>) -> std::io::Result<()> {
    let (old, mut next) = match plan {
        Some(p) => (p.old, p.next),
        None => (Index::default(), Index::new(output_label(w.out))),
    };
    next.marker = sha_hex(w.marker);
    let config_sha = w.inputs.get("source/tcpc.yaml").map(hex::encode).unwrap_or_default();
    next.config = config_sha.clone();
    for (label, path) in &w.items {
        let Some(sha) = w.inputs.get(label) else {
            next.forget_file(label);
            continue;
        };
        if w.written.contains(label) || !next.has_file(label, sha) {
            next.record_file(label.clone(), path, *sha)?;
        }
    }
    let labels: std::collections::BTreeSet<&str> = w.items.iter().map(|(l, _)| l.as_str()).collect();
    next.retain_files(|label| labels.contains(label));
    for (group, (digest, files)) in &w.groups {
        if !w.kept.contains(group) {
            next.record_group(w.out, group, *digest, *files)?;
        }
    }
    next.retain_groups(|g| w.groups.contains_key(g));
    for (tenant, entry) in &w.lock.tenants {
        if let Some(shard) = w.inputs.get(&format!("lock/{tenant}")) {
            let until = tcpc::stamp::tenant_until(
                entry,
                w.config.renew_before_fraction(),
                w.config.check_warn_days() as i64,
                w.config.check_fail_days() as i64,
            );
            next.set_until(tenant.clone(), *shard, until);
        }
    }
    if old.config == config_sha {
        next.untils_from(&old, w.kept.iter().cloned());
    }
    if let Some(tcp_only) = w.tcp_only {
        let files: Vec<(String, [u8; 32])> =
            w.inputs.labelled().filter_map(|(label, sha)| Some((label.strip_prefix("source/")?.to_string(), *sha))).collect();
        next.set_sources(tcpc::cache::BUILD, &files, tcp_only);
    }
    next.save(w.dir)
}
