//! The `tcpc` command line: parse arguments, call the library, map outcomes to exit codes.
//!
//! Exit codes: 0 success; 1 invalid input, or stale output for `check`; 2 usage or IO error.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tcpc::emit::{self, Bundle};
use tcpc::source::Sources;
use tcpc::{Compiled, discover};

#[derive(Parser)]
#[command(name = "tcpc", version, about = "TenantControlPlane compiler: Kamaji-compatible specs in Git -> deterministic Kubernetes manifests")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render every TenantControlPlane under DIR into a manifest tree (or one YAML stream).
    Render {
        /// Repository directory holding tcpc.yaml and the specs.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Output directory (default: `output` of tcpc.yaml, relative to DIR).
        #[arg(short, long, conflicts_with = "stdout")]
        output: Option<PathBuf>,
        /// Write one YAML stream to stdout instead of a tree.
        #[arg(long)]
        stdout: bool,
        /// With --stdout: which bundles to print.
        #[arg(long, value_enum, default_value_t = BundleArg::Management, requires = "stdout")]
        bundle: BundleArg,
    },
    /// Parse, resolve and type-check without writing anything.
    Validate {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Fail (exit 1) when the rendered tree on disk differs from what `render` would write.
    Check {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Rendered tree to compare (default: `output` of tcpc.yaml, relative to DIR).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print the JSON Schemas of TenantControlPlane, DataStore and tcpc.yaml, or write them.
    Schema {
        /// Write `<name>.schema.json` files into this directory instead of printing.
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BundleArg {
    Management,
    Tenant,
    All,
}

impl BundleArg {
    fn bundles(self) -> &'static [Bundle] {
        match self {
            BundleArg::Management => &[Bundle::Management],
            BundleArg::Tenant => &[Bundle::Tenant],
            BundleArg::All => &[Bundle::Management, Bundle::Tenant],
        }
    }
}

/// A failure that ends the run, with its exit code.
enum Failure {
    Invalid,
    Io(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render { dir, output, stdout, bundle } => render(&dir, output, stdout.then_some(bundle)),
        Command::Validate { dir } => load_and_compile(&dir).map(|(_, c)| {
            eprintln!("ok: {} TenantControlPlane(s) valid", c.tenants);
        }),
        Command::Check { dir, output } => check(&dir, output),
        Command::Schema { write } => schema(write),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid) => ExitCode::from(1),
        Err(Failure::Io(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

struct Repo {
    output: PathBuf,
}

/// Reads the repository (IO edge) and runs the pure compile.
fn load_and_compile(dir: &Path) -> Result<(Repo, Compiled), Failure> {
    if !dir.is_dir() {
        return Err(Failure::Io(format!("{} is not a directory", dir.display())));
    }
    let io = |e: discover::DiscoverError| Failure::Io(e.to_string());
    let mut sources = Sources::default();
    let config_id = discover::read_config(dir).map_err(io)?.map(|text| sources.add(discover::CONFIG_FILE.into(), text));
    // tcpc.yaml decides what to walk, so parse it on its own first.
    let mut cfg_diags = tcpc::diag::Diagnostics::default();
    let config = tcpc::parse::parse(&sources, config_id, &mut cfg_diags).config;
    if cfg_diags.has_errors() {
        eprint!("{}", cfg_diags.render(&sources));
        return Err(Failure::Invalid);
    }
    let output = dir.join(config.output_dir());
    discover::read_inputs(dir, config.exclude_globs(), &[PathBuf::from(config.output_dir())], &mut sources).map_err(io)?;
    match tcpc::compile(&sources, config_id) {
        Ok(c) => {
            if !c.diagnostics.is_empty() {
                eprint!("{}", c.diagnostics.render(&sources));
            }
            Ok((Repo { output }, c))
        }
        Err(diags) => {
            eprint!("{}", diags.render(&sources));
            Err(Failure::Invalid)
        }
    }
}

fn render(dir: &Path, output: Option<PathBuf>, stdout: Option<BundleArg>) -> Result<(), Failure> {
    let (repo, compiled) = load_and_compile(dir)?;
    if let Some(bundle) = stdout {
        let text = emit::stream(&compiled.tree, bundle.bundles());
        std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))?;
        return Ok(());
    }
    let out = output.unwrap_or(repo.output);
    match emit::write_tree(&out, &compiled.tree) {
        Ok(emit::WriteOutcome::Unchanged) => eprintln!("{}: up to date ({} tenant(s))", out.display(), compiled.tenants),
        Ok(emit::WriteOutcome::Written { files }) => eprintln!("{}: wrote {files} files for {} tenant(s)", out.display(), compiled.tenants),
        Err(e) => return Err(Failure::Io(format!("writing {}: {e}", out.display()))),
    }
    Ok(())
}

fn check(dir: &Path, output: Option<PathBuf>) -> Result<(), Failure> {
    let (repo, compiled) = load_and_compile(dir)?;
    let out = output.unwrap_or(repo.output);
    let on_disk = if out.exists() { emit::read_tree(&out).map_err(|e| Failure::Io(format!("reading {}: {e}", out.display())))? } else { Default::default() };
    let stale = tcpc::diff::tree_diff(&on_disk, &compiled.tree);
    if stale.is_empty() {
        eprintln!("{}: up to date", out.display());
        return Ok(());
    }
    eprint!("{stale}");
    eprintln!("error: {} is stale: run `tcpc render {}`", out.display(), dir.display());
    Err(Failure::Invalid)
}

fn schema(write: Option<PathBuf>) -> Result<(), Failure> {
    let schemas = tcpc_spec::schemas();
    match write {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| Failure::Io(format!("creating {}: {e}", dir.display())))?;
            for (name, schema) in &schemas {
                let path = dir.join(name);
                std::fs::write(&path, tcpc::schema_text(schema)).map_err(|e| Failure::Io(format!("writing {}: {e}", path.display())))?;
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            for (name, schema) in &schemas {
                writeln!(out, "# {name}").and_then(|_| out.write_all(tcpc::schema_text(schema).as_bytes())).map_err(|e| Failure::Io(e.to_string()))?;
            }
        }
    }
    Ok(())
}
