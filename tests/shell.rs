//! What a platform engineer's shell sees: `tcpc --version` names the commit the binary was
//! built from, and the completion scripts complete tcpc's real subcommands and flags — bash's
//! is sourced into a real bash and asked, the way bash-completion asks it.

mod common;

use std::process::Command;

use common::{root, run, tcpc};

/// The subcommands `tcpc --help` lists (the source of truth the scripts must agree with).
fn subcommands() -> Vec<String> {
    let help = run(tcpc().arg("--help")).expect_code(0, "tcpc --help").stdout;
    let commands = help.split("Commands:\n").nth(1).expect("`tcpc --help` lists its commands");
    commands
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn version_names_the_commit() {
    let out = run(tcpc().arg("--version")).expect_code(0, "tcpc --version").stdout;
    let expected_release = format!("tcpc {} (", env!("CARGO_PKG_VERSION"));
    assert!(out.starts_with(&expected_release), "{out:?} does not start with {expected_release:?}");
    if std::env::var_os("TCPC_BUILD_COMMIT").is_some() {
        return; // a packager's value: nothing to compare it with
    }
    let head = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(root()).output();
    match head {
        Ok(h) if h.status.success() => {
            let hash = String::from_utf8_lossy(&h.stdout).trim().to_owned();
            assert!(out.contains(&format!("({hash} ")), "{out:?} does not name HEAD {hash}");
        }
        // Built outside Git (a source tarball): the version says so instead of guessing.
        _ => assert!(out.contains("(unknown commit)"), "{out:?}"),
    }
}

/// Asks bash's completion function for the words after `line` (completing its last word).
fn bash_complete(script: &str, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "{script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE={line:?}\nCOMP_POINT=${{#COMP_LINE}}\n\
         _tcpc tcpc {cur:?} {prev:?}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" "),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = Command::new("bash").args(["--norc", "--noprofile", "-c", &program]).output().expect("running bash");
    assert!(out.status.success(), "bash failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let script = run(tcpc().args(["completions", "bash"])).expect_code(0, "completions bash").stdout;
    let all = subcommands();
    assert!(all.iter().any(|c| c == "render") && all.len() >= 10, "unexpected command list {all:?}");
    let mut offered = bash_complete(&script, "tcpc ");
    offered.retain(|w| !w.starts_with('-'));
    for command in &all {
        assert!(offered.contains(command), "`tcpc <TAB>` does not offer {command}: {offered:?}");
    }
    assert_eq!(bash_complete(&script, "tcpc ren"), ["render"]);
    assert_eq!(bash_complete(&script, "tcpc render --bun"), ["--bundle"]);
    assert_eq!(bash_complete(&script, "tcpc check --format j"), ["json"]);
    let mut installs = bash_complete(&script, "tcpc install ");
    installs.retain(|w| !w.starts_with('-') && w != "help");
    installs.sort();
    assert_eq!(installs, ["argocd-applicationset", "argocd-plugin", "companion", "flux"]);
}

#[test]
fn zsh_and_fish_scripts_know_every_subcommand() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = run(tcpc().args(["completions", shell])).expect_code(0, shell).stdout;
        for command in subcommands() {
            assert!(script.contains(&command), "{shell} completions miss {command}");
        }
    }
    let r = run(tcpc().args(["completions", "tcsh"]));
    assert_eq!(r.code, 2, "an unknown shell is a usage error\n{}", r.describe());
    assert!(r.stderr.contains("bash") && r.stderr.contains("zsh"), "the error lists the shells: {}", r.stderr);
}
