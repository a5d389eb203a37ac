//! Failure injection at the write steps (tests only).
//!
//! `TCPC_FAULT=<step>[@<n>][:fail|:kill]` makes the `n`-th (default first) arrival at `step`
//! either return an IO error (`fail`, the default) or end the process with `SIGKILL` (`kill`),
//! exactly as `kill -9` would at that point. Honoured only in debug builds (what `cargo test`
//! runs), so a release binary can never be made to fail by its environment; an environment
//! variable rather than a cargo feature because the integration tests run the very binary
//! `cargo test` builds, with no extra flag in the project's test command.
//!
//! Steps, in the order a render reaches them: `journal-tmp`, `journal`, `state-tmp`, `state`,
//! `lock-tmp`, `lock`, `journal-removed`, `tree-tmp`, `tree-swapped`, `done`.

use std::io;

/// Every step name, in commit order (the kill -9 test aims at each).
pub const STEPS: &[&str] =
    &["journal-tmp", "journal", "state-tmp", "state", "lock-tmp", "lock", "journal-removed", "tree-tmp", "tree-swapped", "done"];

/// Called at each write step; a no-op unless `TCPC_FAULT` names this step (debug builds only).
pub fn point(step: &str) -> io::Result<()> {
    #[cfg(debug_assertions)]
    {
        use std::sync::Mutex;
        static SPEC: std::sync::OnceLock<Option<(String, usize, bool)>> = std::sync::OnceLock::new();
        static HITS: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());
        let spec = SPEC.get_or_init(|| {
            let v = std::env::var("TCPC_FAULT").ok()?;
            let (rest, kill) = match v.rsplit_once(':') {
                Some((r, "kill")) => (r.to_string(), true),
                Some((r, "fail")) => (r.to_string(), false),
                _ => (v.clone(), false),
            };
            let (name, n) = match rest.split_once('@') {
                Some((s, n)) => (s.to_string(), n.parse().unwrap_or(1)),
                None => (rest, 1),
            };
            Some((name, n, kill))
        });
        if let Some((name, n, kill)) = spec
            && name == step
        {
            let mut hits = HITS.lock().unwrap_or_else(|e| e.into_inner());
            let count = match hits.iter_mut().find(|(s, _)| s == step) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    hits.push((step.to_string(), 1));
                    1
                }
            };
            if count == *n {
                if *kill {
                    // SAFETY: plain syscalls on our own pid.
                    unsafe {
                        libc::kill(libc::getpid(), libc::SIGKILL);
                    }
                }
                return Err(io::Error::other(format!("injected fault at step `{step}` (TCPC_FAULT)")));
            }
        }
    }
    let _ = step;
    Ok(())
}
