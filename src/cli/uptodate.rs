//! The up-to-date fast path of `render`, `check` and `diff` (IO edge of `tcpc::stamp`): if
//! every file a render would read is what the last full render read, before anything falls
//! due, and the tree on disk is what it wrote, nothing is compiled.
//!
//! Knowing that takes hashing the lock, the state files and the whole tree (at 10,000 tenants
//! ~1.4 GB in ~370,000 files). So, as git's index does, what was last read and written is
//! recorded locally with the `stat` of every file (`tcpc::index`, `.tcpc/cache/index-*`, ignored
//! by Git): while a file's `stat` did not change, its digest still holds, and nothing is read
//! but `tcpc.yaml`, the specs and what changed. A fresh clone (CI) has no index, or other
//! inodes and times, and hashes everything. Only a writer (`render`) records what it hashed.
//!
//! Any doubt (no stamp, unreadable or invalid `tcpc.yaml`, a warning while reading, another
//! digest) answers `None` and the caller compiles as usual: this path never reports an error
//! of its own, and never says more than "up to date".

use std::path::{Path, PathBuf};

use tcpc::index::Index;
use tcpc::repo_lock::{self, Locks};
use tcpc::source::Sources;
use tcpc::stamp::{InputFiles, Stamp};
use tcpc::{discover, emit};

use super::incremental;
use crate::{Failure, lock_dir, now, verbosity};

/// An up-to-date tree: where it is, its stamp, and where the state and the lock are.
pub struct UpToDate {
    pub output: PathBuf,
    pub stamp: Stamp,
    pub state_dir: PathBuf,
    pub lock_path: PathBuf,
}

impl UpToDate {
    /// What a render removes before it writes, the writes aside: temp files and trees of killed
    /// runs (under the exclusive locks the caller holds).
    pub fn remove_temps(&self) -> std::io::Result<()> {
        tcpc::commit::remove_temps(&self.state_dir, usize::MAX)?;
        if let Some(parent) = self.lock_path.parent().filter(|p| p.is_dir()) {
            tcpc::commit::remove_temps(parent, 1)?;
        }
        tcpc::commit::remove_temps(&tcpc::lock::shard_dir(&self.lock_path), 2)?;
        let parent = self.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        match self.output.file_name() {
            Some(name) => emit::remove_leftovers(parent, &name.to_string_lossy()),
            None => Ok(()),
        }
    }
}

/// The output directory and its stamp, when the tree there is up to date. Takes the output
/// directory's lock (`mode`) before reading the tree, as the compile would. Only a writer
/// (`render`, `mode` exclusive) records a verification it had to hash; `check` and `diff`
/// read the record and never write.
pub fn check(
    dir: &Path,
    output: Option<&Path>,
    locks: &mut Locks,
    mode: repo_lock::Mode,
    timeout: std::time::Duration,
) -> Result<Option<UpToDate>, Failure> {
    let writer = matches!(mode, repo_lock::Mode::Exclusive);
    let mut sources = Sources::default();
    let mut diags = tcpc::diag::Diagnostics::default();
    let Ok(config_id) = discover::read_config_into(dir, &mut sources, &mut diags) else { return Ok(None) };
    if diags.has_errors() {
        return Ok(None);
    }
    let config_file = tcpc::parse::ConfigFile::parse(&sources, config_id, &mut diags);
    if std::env::var_os("TCPC_ALLOW_TEST_ONLY").is_none_or(|v| v != "1") {
        config_file.refuse_test_only(&mut diags);
    }
    if diags.has_errors() {
        return Ok(None);
    }
    let config = &config_file.config;
    let out = output.map_or_else(|| dir.join(config.output_dir()), Path::to_path_buf);
    let Some(parent) = out.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }).filter(|p| p.is_dir()) else {
        return Ok(None);
    };
    lock_dir(locks, parent, mode, timeout)?;
    let Some(marker) = std::fs::read_to_string(out.join(emit::MARKER)).ok() else { return Ok(None) };
    let Some(stamp) = Stamp::parse(&marker) else { return Ok(None) };
    match discover::read_inputs(dir, config, &crate::not_inputs(config), &mut sources, &mut diags) {
        Ok(warnings) if warnings.is_empty() && !diags.has_errors() => {}
        _ => return Ok(None),
    }
    let now = now()?;
    let mut inputs = InputFiles::default();
    inputs.insert_sources(&sources);
    let sources_digest = inputs.sources_digest();
    if stamp.sources != sources_digest {
        // A spec, `tcpc.yaml` or this build changed: the inputs differ, whatever the rest holds.
        return Ok(None);
    }
    // Every other input and the tree by the local index: what did not change since it was
    // taken is `stat`ed, not read (`tcpc::index`).
    let mut next = Index::new(incremental::output_label(&out));
    let old = Index::load(dir, &next.output);
    let Ok(digests) = incremental::hash_inputs(&old, dir, config, &mut next) else { return Ok(None) };
    for (label, sha) in digests {
        inputs.insert(label, sha);
    }
    if !stamp.holds(&inputs.digest(), now) {
        return Ok(None);
    }
    let marker_sha = incremental::sha_hex(&marker);
    let Ok(scan) = old.scan_tree(&out, &marker_sha, &mut next) else { return Ok(None) };
    if scan.digest() != (stamp.tree.clone(), stamp.files) {
        return Ok(None);
    }
    if writer {
        // Best effort: a read-only checkout simply hashes again next time.
        next.marker = marker_sha;
        next.config = inputs.get("source/tcpc.yaml").map(hex::encode).unwrap_or_default();
        if old.config == next.config {
            next.all_untils_from(&old);
            // The same specs (the stamp's sources digest): what they hold is as recorded.
            next.sources_from(&old);
        }
        let _ = next.save(dir);
    }
    if verbosity() >= 2 {
        eprintln!("up-to-date stamp: every input as the last render read it, the tree as it wrote it; nothing compiled");
    }
    Ok(Some(UpToDate { output: out, stamp, state_dir: dir.join(config.state_dir()), lock_path: dir.join(config.lock_file()) }))
}
