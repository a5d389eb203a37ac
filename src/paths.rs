//! Where a render may write (IO edge: it resolves symbolic links of the paths that exist).
//!
//! A repository is not trusted to choose where tcpc writes. Before anything is written:
//! * the output directory may not be the input directory, nor contain it (the tree is swapped in
//!   as a whole, which would replace the inputs), nor be or contain the state directory or the
//!   lock, nor lie inside `.git`;
//! * output, state directory and lock must lie inside the repository — the Git work tree holding
//!   the input directory, or the input directory itself outside Git — unless `--allow-outside` is
//!   given on the command line (there is no way to allow it from `tcpc.yaml`).
//!
//! Paths are compared after resolving symbolic links of every existing prefix, so a link inside
//! the repository pointing out of it does not escape either.

use std::path::{Component, Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics};
use crate::parse::Doc;
use crate::source::SourceId;

/// Where a path to write came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `tcpc.yaml`, at this JSON pointer (or its default, when the key is absent).
    Config(&'static str),
    /// A command-line argument.
    CommandLine(&'static str),
}

/// One path a render writes.
#[derive(Debug, Clone)]
pub struct Target {
    pub path: PathBuf,
    pub origin: Origin,
    pub what: &'static str,
}

/// An absolute path with every symbolic link of its existing prefix resolved and `.`/`..`
/// removed; the part that does not exist yet is taken lexically.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                match std::fs::canonicalize(&out) {
                    Ok(real) => out = real,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(out)
}

/// The Git work tree holding `dir` (nearest ancestor with a `.git`), or `dir` itself.
pub fn repository_root(dir: &Path) -> PathBuf {
    dir.ancestors().find(|a| a.join(".git").exists()).unwrap_or(dir).to_path_buf()
}

/// Checks the output directory, state directory and lock of a render against the rules of this
/// module. `output` is `None` when nothing is written to a tree (`--stdout`).
pub fn check(
    dir: &Path,
    output: Option<&Target>,
    state_dir: &Target,
    lock: &Target,
    allow_outside: bool,
) -> std::io::Result<Vec<(Origin, String, String)>> {
    let dir = resolve(dir)?;
    let repo = repository_root(&dir);
    let state = resolve(&state_dir.path)?;
    let lock_path = resolve(&lock.path)?;
    let mut problems = Vec::new();
    let mut refuse = |t: &Target, msg: String, help: String| problems.push((t.origin, msg, help));
    let outside_help = "keep it inside the repository, or pass `--allow-outside` on the command line".to_string();
    for t in [state_dir, lock] {
        let p = resolve(&t.path)?;
        if !allow_outside && !p.starts_with(&repo) {
            refuse(t, format!("the {} {} is outside the repository {}", t.what, p.display(), repo.display()), outside_help.clone());
        }
    }
    if let Some(t) = output {
        let out = resolve(&t.path)?;
        let shown = out.display();
        if out == dir {
            refuse(t, format!("the {} {shown} is the input directory", t.what), "render into a subdirectory, e.g. `rendered`".into());
        } else if dir.starts_with(&out) {
            refuse(t, format!("the {} {shown} contains the input directory", t.what), "render into a subdirectory, e.g. `rendered`".into());
        } else if !allow_outside && !out.starts_with(&repo) {
            refuse(t, format!("the {} {shown} is outside the repository {}", t.what, repo.display()), outside_help.clone());
        } else if state.starts_with(&out) || lock_path.starts_with(&out) {
            refuse(t, format!("the {} {shown} would replace the PKI state or the lock", t.what), "choose another directory".into());
        } else if out.starts_with(repo.join(".git")) {
            refuse(t, format!("the {} {shown} is inside .git", t.what), "choose another directory".into());
        }
    }
    Ok(problems)
}

/// Turns the problems of [`check`] into diagnostics: located at the key of `tcpc.yaml` they
/// came from (or at the file when the key is absent and its default was used).
pub fn diagnostics(problems: &[(Origin, String, String)], config: Option<&Doc<()>>, config_file: Option<SourceId>) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for (origin, msg, help) in problems {
        let mut d = Diagnostic::error(msg.clone()).help(help.clone());
        match (origin, config, config_file) {
            (Origin::Config(pointer), Some(doc), _) => d = d.at(doc.file, doc.span(pointer), "set here"),
            (Origin::Config(_), None, Some(file)) => d = d.at(file, tcpc_yaml::Span::default(), "the default applies"),
            (Origin::Config(_), None, None) => d = d.note("the default applies (there is no tcpc.yaml)"),
            (Origin::CommandLine(flag), ..) => d = d.note(format!("given on the command line as {flag}")),
        }
        diags.push(d);
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: PathBuf, what: &'static str) -> Target {
        Target { path, origin: Origin::Config("/output"), what }
    }

    fn problems(repo: &Path, dir: &Path, out: Option<&str>, state: &str, allow: bool) -> Vec<String> {
        let output = out.map(|o| target(dir.join(o), "output directory"));
        let state = target(dir.join(state), "state directory");
        let lock = target(dir.join("tcpc.lock"), "lock file");
        let _ = repo;
        check(dir, output.as_ref(), &state, &lock, allow).unwrap().into_iter().map(|(_, m, _)| m).collect()
    }

    #[test]
    fn output_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let dir = repo.join("specs");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(tmp.path(), dir.join("link")).unwrap();
        let ok = |out: &str| problems(&repo, &dir, Some(out), ".tcpc/state", false);
        assert_eq!(ok("rendered"), Vec::<String>::new());
        assert_eq!(ok("../golden"), Vec::<String>::new(), "inside the Git work tree");
        for (out, expect) in [
            (".", "is the input directory"),
            ("./x/..", "is the input directory"),
            ("..", "contains the input directory"),
            ("../..", "contains the input directory"),
            ("../../escape", "outside the repository"),
            ("/", "contains the input directory"),
            ("link/escape", "outside the repository"),
            (".tcpc", "would replace the PKI state"),
            ("../.git/x", "inside .git"),
        ] {
            let got = ok(out);
            assert!(got.len() == 1 && got[0].contains(expect), "{out}: {got:?}");
        }
        // --allow-outside allows outside, never the input directory or its ancestors
        assert_eq!(problems(&repo, &dir, Some("../../escape"), ".tcpc/state", true), Vec::<String>::new());
        assert!(problems(&repo, &dir, Some(".."), ".tcpc/state", true)[0].contains("contains the input"));
        // state outside the repository, even without a tree output
        let got = problems(&repo, &dir, None, "../../state", false);
        assert!(got.len() == 1 && got[0].contains("state directory"), "{got:?}");
    }
}
