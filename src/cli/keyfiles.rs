//! Files that hold secrets, outside tcpc's encrypted state: age identity files, and key files
//! handed to `tcpc import`.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;

/// Writes a new identity file readable by its owner only (0600), creating missing parent
/// directories (0700). Never overwrites: an identity may be the only key to the state.
pub fn write_identity(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} already exists; tcpc never overwrites an identity (it may be the only key to your state)", path.display())
        } else {
            format!("creating {}: {e}", path.display())
        }
    })?;
    file.write_all(text.as_bytes()).and_then(|_| file.sync_all()).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// What Git would do with a file inside the repository.
#[derive(Debug, PartialEq, Eq)]
pub enum Exposure {
    /// Outside the repository directory, or ignored by Git.
    Safe,
    /// Inside the repository and not ignored: `git add .` would commit it.
    NotIgnored,
    /// Inside the repository directory, which is not (yet) a Git work tree.
    NoGit,
}

/// Whether `file` sits inside `repo` where `git add .` would pick it up.
pub fn exposure(repo: &Path, file: &Path) -> Exposure {
    let (Ok(repo), Ok(file)) = (repo.canonicalize(), file.canonicalize()) else { return Exposure::Safe };
    if !file.starts_with(&repo) {
        return Exposure::Safe;
    }
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["check-ignore", "-q", "--"])
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status.map(|s| s.code()) {
        Ok(Some(0)) => Exposure::Safe,
        Ok(Some(1)) => Exposure::NotIgnored,
        _ => Exposure::NoGit,
    }
}

/// Warns about a private key file `import` just read that Git could commit, and offers (on a
/// terminal) to delete it: its content is now in the encrypted state.
pub fn warn_exposed_key(repo: &Path, key: &Path) {
    let why = match exposure(repo, key) {
        Exposure::Safe => return,
        Exposure::NotIgnored => "is inside the repository and not ignored by Git: `git add .` would commit it in plaintext",
        Exposure::NoGit => {
            "is inside the repository directory (not a Git work tree yet): make sure .gitignore covers it before `git add .`"
        }
    };
    eprintln!("warning: the private key {} {why}", key.display());
    eprintln!("  = help: its content is now in the encrypted state; delete the file, or add it to .gitignore (tcpc init writes one)");
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        eprint!("delete {} now? [y/N] ", key.display());
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes") {
            match std::fs::remove_file(key) {
                Ok(()) => eprintln!("deleted {}", key.display()),
                Err(e) => eprintln!("error: deleting {}: {e}", key.display()),
            }
        }
    }
}
