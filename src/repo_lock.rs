//! One writer at a time: advisory `flock(2)` locks on the repository directory and on the
//! directory that holds the output tree (IO edge).
//!
//! `render` and `import` hold an exclusive lock on the repository for their whole run (read,
//! compile, commit) and on the output's parent while they replace the tree; `check` holds
//! shared locks, so it never reads a half-committed repository. A second writer waits up to a
//! bounded time, saying once what it waits for, then fails with exit 2 and a clear message;
//! it never writes without the lock. The locks are on the directories themselves (no lock
//! files to commit or clean up) and vanish with the process, even after `kill -9`.
//!
//! Invariant: a directory is locked at most once per process (same device and inode), so the
//! repository being the output's parent cannot deadlock a run against itself.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Writers (`render`, `import`).
    Exclusive,
    /// Readers (`check`).
    Shared,
}

/// Held locks; dropping it releases them.
#[derive(Default)]
pub struct Locks {
    held: Vec<(u64, u64, File)>,
}

/// Error of [`Locks::acquire`]: the other holder did not finish in time, or an IO failure.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another tcpc process is using {path} (it holds its lock); gave up after {secs}s — wait for it to finish, or raise --lock-timeout"
    )]
    Busy { path: PathBuf, secs: u64 },
    #[error("locking {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl Locks {
    /// Locks directory `dir` (which must exist) in `mode`, waiting at most `timeout`;
    /// `waiting` is called once if the lock is not free at first.
    pub fn acquire(&mut self, dir: &Path, mode: Mode, timeout: Duration, mut waiting: impl FnMut(&Path)) -> Result<(), LockError> {
        let io_err = |source| LockError::Io { path: dir.to_path_buf(), source };
        let file = File::open(dir).map_err(io_err)?;
        let (dev, ino) = identity(&file).map_err(io_err)?;
        if self.held.iter().any(|(d, i, _)| (*d, *i) == (dev, ino)) {
            return Ok(());
        }
        let start = Instant::now();
        let mut said = false;
        loop {
            match try_lock(&file, mode) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return Err(io_err(e)),
            }
            if start.elapsed() >= timeout {
                return Err(LockError::Busy { path: dir.to_path_buf(), secs: timeout.as_secs() });
            }
            if !said {
                waiting(dir);
                said = true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.held.push((dev, ino, file));
        Ok(())
    }
}

#[cfg(unix)]
fn identity(f: &File) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = f.metadata()?;
    Ok((m.dev(), m.ino()))
}

#[cfg(unix)]
fn try_lock(f: &File, mode: Mode) -> io::Result<bool> {
    use std::os::fd::AsRawFd as _;
    let op = match mode {
        Mode::Exclusive => libc::LOCK_EX,
        Mode::Shared => libc::LOCK_SH,
    };
    loop {
        // SAFETY: a valid open descriptor for the duration of the call.
        let rc = unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

#[cfg(not(unix))]
fn identity(_: &File) -> io::Result<(u64, u64)> {
    Ok((0, 0))
}

#[cfg(not(unix))]
fn try_lock(_: &File, _: Mode) -> io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_releases() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Locks::default();
        first.acquire(dir.path(), Mode::Exclusive, Duration::ZERO, |_| {}).unwrap();
        // The same directory again in the same holder is a no-op, not a self-deadlock.
        first.acquire(dir.path(), Mode::Exclusive, Duration::ZERO, |_| {}).unwrap();
        let mut second = Locks::default();
        let err = second.acquire(dir.path(), Mode::Shared, Duration::ZERO, |_| {}).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("another tcpc process"), "{err}");
        drop(first);
        second.acquire(dir.path(), Mode::Shared, Duration::ZERO, |_| {}).unwrap();
        let mut third = Locks::default();
        third.acquire(dir.path(), Mode::Shared, Duration::ZERO, |_| {}).unwrap();
        let mut writer = Locks::default();
        assert!(writer.acquire(dir.path(), Mode::Exclusive, Duration::ZERO, |_| {}).is_err(), "readers exclude a writer");
    }
}
