//! `tcpc diff` and `tcpc check` (IO edge of `tcpc::review`): compile without the identity,
//! compare with the tree and lock on disk, print the review (text or JSON), map it to an exit
//! code. `validate --format json` reports through the same schema.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use tcpc::filter::Filter;
use tcpc::intent::Intent;
use tcpc::repo_lock::{self, Locks};
use tcpc::review::{self, ExpiryStatus, Report, Review};
use tcpc::{commit, emit};

use crate::{Failure, Mode, Output, load_and_compile, lock_dir, now, verbosity};

/// `--format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Which command reviews.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Check,
    Diff,
}

impl Command {
    fn name(self) -> &'static str {
        match self {
            Command::Check => "check",
            Command::Diff => "diff",
        }
    }
}

fn status_of(failure: &Failure) -> (&'static str, u8) {
    match failure {
        Failure::Invalid => ("invalid", 1),
        Failure::Io(_) => ("error", 2),
        Failure::Stale => ("stale", 1),
        Failure::Expiring => ("expiring", 4),
        Failure::NeedsIdentity => ("needs-identity", 5),
    }
}

/// Prints a JSON report for a run that ended before a review existed (invalid input, IO).
pub fn print_failure_json(command: &str, failure: &Failure) {
    let (status, exit_code) = status_of(failure);
    let report = Report {
        schema_version: review::SCHEMA_VERSION,
        command,
        status,
        exit_code,
        tenants: Vec::new(),
        changes: &[],
        pending: &[],
        certificates: &[],
    };
    let _ = std::io::stdout().lock().write_all(report.to_json().as_bytes());
}

/// Runs `check` or `diff` and prints its report; the exit code follows `check`'s rules for
/// `check`, and is 0 for `diff` whatever would change.
pub fn run(
    dir: &Path,
    output: Option<PathBuf>,
    filter: &Filter,
    format: Format,
    command: Command,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    let result = review_repo(dir, output, filter, format, command, timeout);
    if format == Format::Json
        && let Err(f @ (Failure::Invalid | Failure::Io(_))) = &result
    {
        print_failure_json(command.name(), f);
    }
    result
}

fn review_repo(
    dir: &Path,
    output: Option<PathBuf>,
    filter: &Filter,
    format: Format,
    command: Command,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    if !dir.is_dir() {
        return Err(Failure::Io(format!("{} is not a directory", dir.display())));
    }
    // A reader: never while a writer commits, and never writes itself.
    let mut locks = Locks::default();
    lock_dir(&mut locks, dir, repo_lock::Mode::Shared, timeout)?;
    if commit::pending(dir) {
        eprintln!(
            "error: an interrupted render left a pending commit ({}): run `tcpc render {}` to complete it",
            commit::JOURNAL,
            dir.display()
        );
        if format == Format::Json {
            print_failure_json(command.name(), &Failure::Stale);
        }
        return Err(Failure::Stale);
    }
    if format == Format::Text
        && filter.is_all()
        && let Some(up) = super::uptodate::check(dir, output.as_deref(), &mut locks, repo_lock::Mode::Shared, timeout)?
    {
        if verbosity() >= 1 {
            eprintln!("{}: up to date", up.output.display());
        }
        return Ok(());
    }
    // No identity: an up-to-date repository never needs one.
    // The tree on disk is read first (under the output lock): the render cache takes the files of
    // tenants whose inputs did not change from it.
    let mut read_on_disk = |config_output: &Path| -> Result<emit::Previous, Failure> {
        let out = output.clone().unwrap_or_else(|| config_output.to_path_buf());
        if let Some(parent) = out.parent().filter(|p| p.is_dir()) {
            lock_dir(&mut locks, parent, repo_lock::Mode::Shared, timeout)?;
        }
        if !out.exists() {
            return Ok(emit::Previous::default());
        }
        let marker = std::fs::read_to_string(out.join(emit::MARKER)).unwrap_or_default();
        let tree = emit::read_tree(&out).map_err(|e| Failure::Io(format!("reading {}: {e}", out.display())))?;
        Ok(emit::Previous { tree, marker })
    };
    let mode = Mode::Render {
        identity: None,
        intent: &Intent::default(),
        write: None,
        output: Some(Output::Read(&mut read_on_disk)),
        incremental: false,
    };
    let (mut repo, mut compiled) = load_and_compile(dir, mode)?;
    crate::check_filter(filter, &compiled)?;
    let on_disk = repo.previous.take().map(|p| p.tree).unwrap_or_default();
    let out = output.unwrap_or(repo.output.clone());
    if !compiled.pending.is_empty() {
        compiled.tree = tcpc::keep_previous(std::mem::take(&mut compiled.tree), &on_disk, &compiled).map_err(Failure::Io)?;
    }
    let lock_name = repo.lock_path.file_name().map_or_else(|| "tcpc.lock".into(), |n| n.to_string_lossy().into_owned());
    let mut review = review::review(&review::Inputs {
        on_disk: &on_disk,
        new: &compiled.tree,
        old_lock: &repo.lock,
        old_lock_root: &repo.lock_files.root,
        // An unchanged lock still compares its root: a single-file lock is rewritten sharded.
        new_lock: Some(compiled.lock.as_ref().unwrap_or(&repo.lock)),
        lock_file: &lock_name,
        filter,
        pending: &compiled.pending,
    });
    let now = now().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let (warn, fail) = (repo.config.check_warn_days() as i64, repo.config.check_fail_days() as i64);
    review.certificates = review::certificates(&repo.lock, filter, now, warn, fail);

    let out_name = out.display().to_string();
    let result = outcome(&review, command);
    match format {
        Format::Json => {
            let (status, exit_code) = match &result {
                Ok(()) => ("ok", 0),
                Err(f) => status_of(f),
            };
            let tenants = review::tenants(&compiled.tree, filter);
            let report = Report {
                schema_version: review::SCHEMA_VERSION,
                command: command.name(),
                status,
                exit_code,
                tenants,
                changes: &review.changes,
                pending: &review.pending,
                certificates: &review.certificates,
            };
            std::io::stdout().lock().write_all(report.to_json().as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))?;
        }
        Format::Text => print_text(&review, command, dir, &out_name, compiled.tenants),
    }
    result
}

/// check: stale (1) before needs-identity (5) before expiring (4); diff: always 0.
fn outcome(review: &Review, command: Command) -> Result<(), Failure> {
    if command == Command::Diff {
        return Ok(());
    }
    if review.has_changes() {
        Err(Failure::Stale)
    } else if !review.pending.is_empty() {
        Err(Failure::NeedsIdentity)
    } else if review.certificates.iter().any(|c| c.status == ExpiryStatus::Fail) {
        Err(Failure::Expiring)
    } else {
        Ok(())
    }
}

fn print_text(review: &Review, command: Command, dir: &Path, out: &str, total: usize) {
    let renew = format!("run `tcpc render {} --identity FILE` to renew", dir.display());
    for c in &review.certificates {
        let line = format!("{}: certificate {} expires in {} day(s) ({}); {renew}", c.tenant, c.certificate, c.days_left, c.not_after);
        match c.status {
            ExpiryStatus::Fail => eprintln!("error: {line}"),
            ExpiryStatus::Warn => eprintln!("warning: {line}"),
            ExpiryStatus::Ok => {}
        }
    }
    match command {
        Command::Diff => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let text = review.text(out, color);
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            if review.has_changes() {
                info!("{}", review.summary());
            } else if review.pending.is_empty() {
                info!("{out}: up to date");
            }
            if !review.pending.is_empty() {
                info!("{} tenant(s) need the identity and would stay as they are", review.pending.len());
            }
        }
        Command::Check => {
            if review.has_changes() {
                let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                eprint!("{}", review.text(out, color));
                eprintln!("error: {}", review.summary());
                eprintln!("error: {out} is stale: run `tcpc render {}`", dir.display());
            } else if !review.pending.is_empty() {
                let pending: Vec<tcpc::Pending> = review
                    .pending
                    .iter()
                    .map(|p| {
                        let (ns, name) = p.tenant.split_once('/').unwrap_or(("", &p.tenant));
                        tcpc::Pending { namespace: ns.into(), name: name.into(), message: p.message.clone(), known: true }
                    })
                    .collect();
                crate::report_pending(&pending, total, dir, "cannot be rendered without it");
            } else if verbosity() >= 1 {
                eprintln!("{out}: up to date");
            }
        }
    }
}
