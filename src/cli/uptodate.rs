//! The up-to-date fast path of `render`, `check` and `diff` (IO edge of `tcpc::stamp`): if
//! every file a render would read is what the last full render read, before anything falls
//! due, and the tree on disk is what it wrote, nothing is compiled.
//!
//! Knowing that takes hashing the lock, the state files and the whole tree (at 10,000 tenants
//! ~2.5 GB in ~370,000 files). So, as git's index does, the last verification is recorded
//! locally by `render` (`.tcpc/cache/up-to-date`, ignored by Git) with the `stat` of every file it hashed:
//! while no file's `stat` changed, the digests it found still hold and nothing is read but
//! `tcpc.yaml` and the specs. A fresh clone (CI) has no record, or other inodes and times, and
//! hashes everything.
//!
//! Any doubt (no stamp, unreadable or invalid `tcpc.yaml`, a warning while reading, another
//! digest) answers `None` and the caller compiles as usual: this path never reports an error
//! of its own, and never says more than "up to date".

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tcpc::repo_lock::{self, Locks};
use tcpc::source::Sources;
use tcpc::stamp::{FileStat, InputFiles, Stamp, StatPrint, Verified};
use tcpc::{discover, emit};

use crate::{Failure, lock_dir, now, state_files, verbosity};

/// The local cache directory, and the record in it.
const CACHE_DIR: &str = ".tcpc/cache";
const RECORD: &str = "up-to-date";

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
    let Some(stamp) = std::fs::read_to_string(out.join(emit::MARKER)).ok().as_deref().and_then(Stamp::parse) else {
        return Ok(None);
    };
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
    let output_label = out.canonicalize().unwrap_or_else(|_| out.clone()).to_string_lossy().into_owned();

    let record = std::fs::read_to_string(dir.join(CACHE_DIR).join(RECORD))
        .ok()
        .as_deref()
        .and_then(Verified::parse)
        .filter(|v| v.output == output_label && v.sources == sources_digest);
    // The stat print is taken before any file is hashed (a file written after it changes it),
    // and only when there is a record to compare it with or a writer to record it.
    let taken = wall_clock_ns();
    let print = (record.is_some() || writer).then(|| stat_print(dir, config, &out)).flatten().map(|p| p.finish(taken));
    let recorded = record.filter(|v| print.as_ref().is_some_and(|(stat, _)| *stat == v.stat));
    let verified = match recorded {
        Some(v) => v,
        None => {
            if !hash_input_files(dir, config, &mut inputs) {
                return Ok(None);
            }
            let inputs = inputs.digest();
            if !stamp.holds(&inputs, now) {
                return Ok(None);
            }
            let Ok((tree, files)) = emit::tree_digest(&out) else { return Ok(None) };
            let v = Verified { output: output_label, stat: String::new(), sources: sources_digest, inputs, tree, files };
            if let (true, Some((stat, true))) = (writer, &print) {
                // Best effort: a read-only checkout simply hashes again next time.
                let _ = write_record(dir, &Verified { stat: stat.clone(), ..v.clone() });
            }
            v
        }
    };
    if !stamp.holds(&verified.inputs, now) || verified.tree != stamp.tree || verified.files != stamp.files {
        return Ok(None);
    }
    if verbosity() >= 2 {
        eprintln!("up-to-date stamp: every input as the last render read it, the tree as it wrote it; nothing compiled");
    }
    Ok(Some(UpToDate { output: out, stamp, state_dir: dir.join(config.state_dir()), lock_path: dir.join(config.lock_file()) }))
}

/// The `stat` of the lock, every state file, the sealed-secrets certificate and every entry of
/// the tree, or `None` if one cannot be read.
fn stat_print(dir: &Path, config: &tcpc_spec::Config, out: &Path) -> Option<StatPrint> {
    let mut print = StatPrint::default();
    let mut stat = |label: String, path: &Path| match std::fs::symlink_metadata(path) {
        Ok(meta) => Some(print.push(FileStat::of(label, &meta))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(()),
        Err(_) => None,
    };
    let lock_file = dir.join(config.lock_file());
    stat("lock".into(), &lock_file)?;
    for (key, path) in tcpc::lock::shard_files(&lock_file).ok()? {
        stat(format!("lock/{key}"), &path)?;
    }
    if let Some(path) = crate::sealer_certificate(dir, config) {
        stat("sealer".into(), &path)?;
    }
    for (key, path) in state_files(&dir.join(config.state_dir())).ok()? {
        stat(format!("state/{key}"), &path)?;
    }
    emit::tree_stat(out, &mut print).ok()?;
    Some(print)
}

/// Hashes what `load_and_compile` hashes into the stamp besides the sources, file by file: the
/// lock and the state files are streamed, never held. `false` if one cannot be read.
fn hash_input_files(dir: &Path, config: &tcpc_spec::Config, inputs: &mut InputFiles) -> bool {
    let lock_file = dir.join(config.lock_file());
    match sha256_file(&lock_file) {
        Ok(sha) => inputs.insert("lock".into(), sha),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => inputs.insert_bytes("lock".into(), b""),
        Err(_) => return false,
    }
    let Ok(shards) = tcpc::lock::shard_files(&lock_file) else { return false };
    for (key, path) in shards {
        let Ok(sha) = sha256_file(&path) else { return false };
        inputs.insert(format!("lock/{key}"), sha);
    }
    let Ok(states) = state_files(&dir.join(config.state_dir())) else { return false };
    for (key, path) in states {
        let Ok(sha) = sha256_file(&path) else { return false };
        inputs.insert(format!("state/{key}"), sha);
    }
    if let Some(path) = crate::sealer_certificate(dir, config) {
        let Ok(sha) = sha256_file(&path) else { return false };
        inputs.insert("sealer".into(), sha);
    }
    true
}

fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
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

/// The record, written whole (temp file and rename) in a directory Git ignores.
fn write_record(dir: &Path, verified: &Verified) -> std::io::Result<()> {
    let cache = dir.join(CACHE_DIR);
    tcpc::commit::ignored_dir(&cache, "tcpc's local cache: never committed")?;
    let tmp = cache.join(format!(".{RECORD}.{}", std::process::id()));
    std::fs::write(&tmp, verified.text())?;
    std::fs::rename(&tmp, cache.join(RECORD))
}

/// The wall clock (never `SOURCE_DATE_EPOCH`: this compares with file times), in nanoseconds.
fn wall_clock_ns() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}
