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
#[command(
    name = "tcpc",
    version,
    about = "TenantControlPlane compiler: Kamaji-compatible specs in Git -> deterministic Kubernetes manifests"
)]
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
        #[command(flatten)]
        keys: KeyArgs,
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
    /// Import key material into the encrypted state (never into the specs).
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Generate an age identity for `pki.recipients` (identity on stdout, recipient on stderr).
    Identity,
    /// Print the JSON Schemas of TenantControlPlane, DataStore and tcpc.yaml, or write them.
    Schema {
        /// Write `<name>.schema.json` files into this directory instead of printing.
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// The CA of a DataStore, which signs each tenant's etcd client certificate.
    DatastoreCa {
        /// DataStore name.
        name: String,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Bring your own CA for a TenantControlPlane (e.g. an intermediate of the corporate PKI).
    Ca {
        /// `<namespace>/<name>` of the TenantControlPlane.
        tenant: String,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// PEM chain from the CA up to the root, published with it so clients can verify.
        #[arg(long)]
        chain: Option<PathBuf>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct KeyArgs {
    /// age identity file; needed only when key material must be issued or sealed anew.
    #[arg(long, env = "TCPC_AGE_IDENTITY_FILE")]
    identity: Option<PathBuf>,
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
        Command::Render { dir, output, stdout, bundle, keys } => render(&dir, output, stdout.then_some(bundle), keys.identity.as_deref()),
        Command::Validate { dir } => load_and_compile(&dir, Mode::Validate).map(|(_, c)| {
            eprintln!("ok: {} TenantControlPlane(s) valid", c.tenants);
        }),
        Command::Import { what } => import(what),
        Command::Identity => identity(),
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
    lock_path: PathBuf,
    state_dir: PathBuf,
    lock: tcpc::lock::Lock,
    /// The lock file as read (empty when absent), to rewrite it only when its text changes.
    lock_text: String,
    config: tcpc_spec::Config,
}

enum Mode<'a> {
    /// Parse, resolve, render; no key material.
    Validate,
    /// Full render; `identity` is read only if given.
    Render { identity: Option<&'a Path> },
}

/// Reads the repository (IO edge) and runs the pure compile.
fn load_and_compile(dir: &Path, mode: Mode<'_>) -> Result<(Repo, Compiled), Failure> {
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
    let lock_path = dir.join(config.lock_file());
    let state_dir = dir.join(config.state_dir());
    let lock_text = match std::fs::read_to_string(&lock_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Failure::Io(format!("reading {}: {e}", lock_path.display()))),
    };
    let lock = tcpc::lock::Lock::parse(&lock_text).map_err(|e| Failure::Io(format!("{}: {e}", lock_path.display())))?;
    let keys_io = match mode {
        Mode::Validate => None,
        Mode::Render { identity } => Some(KeysIo::load(dir, &config, &state_dir, identity)?),
    };
    let keys = keys_io.as_ref().map(|k| tcpc::Keys {
        lock: &lock,
        now: k.now,
        seed: k.seed,
        identities: &k.identities,
        states: &k.states,
        sealer: k.sealer.as_ref(),
    });
    let result = tcpc::compile(&sources, config_id, keys.as_ref());
    match result {
        Ok(c) => {
            if !c.diagnostics.is_empty() {
                eprint!("{}", c.diagnostics.render(&sources));
            }
            Ok((Repo { output, lock_path, state_dir, lock, lock_text, config }, c))
        }
        Err(diags) => {
            eprint!("{}", diags.render(&sources));
            Err(Failure::Invalid)
        }
    }
}

/// Key material and time, read at the edge.
struct KeysIo {
    now: time::OffsetDateTime,
    seed: [u8; 32],
    identities: Vec<age::x25519::Identity>,
    states: std::collections::BTreeMap<String, String>,
    sealer: Option<tcpc::pki::Sealer>,
}

impl KeysIo {
    fn load(dir: &Path, config: &tcpc_spec::Config, state_dir: &Path, identity: Option<&Path>) -> Result<KeysIo, Failure> {
        use rand_core::RngCore as _;
        let now = now()?;
        let mut seed = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut seed);
        let identity_text = match (identity, std::env::var("TCPC_AGE_IDENTITY")) {
            (Some(path), _) => Some(zeroize::Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| Failure::Io(format!("reading identity {}: {e}", path.display())))?,
            )),
            (None, Ok(text)) => Some(zeroize::Zeroizing::new(text)),
            (None, Err(_)) => None,
        };
        let identities = match identity_text {
            Some(text) => tcpc_seal::state::parse_identity_file(&text).map_err(|e| Failure::Io(format!("invalid age identity: {e}")))?,
            None => Vec::new(),
        };
        Ok(KeysIo { now, seed, identities, states: read_states(state_dir)?, sealer: sealer(dir, config)? })
    }
}

/// "Now" for issuance, renewal and expiry: `SOURCE_DATE_EPOCH` when set, else the clock.
fn now() -> Result<time::OffsetDateTime, Failure> {
    match std::env::var("SOURCE_DATE_EPOCH").ok().filter(|v| !v.trim().is_empty()) {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
            .ok_or_else(|| Failure::Io(format!("invalid SOURCE_DATE_EPOCH `{v}`"))),
        None => Ok(time::OffsetDateTime::now_utc()),
    }
}

/// Every `*.age` file under the state directory, keyed by its relative path without `.age`.
fn read_states(state_dir: &Path) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let mut states = std::collections::BTreeMap::new();
    if !state_dir.exists() {
        return Ok(states);
    }
    for entry in walkdir::WalkDir::new(state_dir).sort_by_file_name() {
        let entry = entry.map_err(|e| Failure::Io(format!("reading {}: {e}", state_dir.display())))?;
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|e| e == "age") {
            let rel = path.strip_prefix(state_dir).unwrap_or(path).with_extension("");
            let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            let text = std::fs::read_to_string(path).map_err(|e| Failure::Io(format!("reading {}: {e}", path.display())))?;
            states.insert(key, text);
        }
    }
    Ok(states)
}

fn sealer(dir: &Path, config: &tcpc_spec::Config) -> Result<Option<tcpc::pki::Sealer>, Failure> {
    use tcpc_seal::sealedsecrets::{ControllerCert, Scope};
    use tcpc_spec::config::{SealedSecretsScope, SealingMode};
    let sealing = config.sealing.as_ref();
    match config.sealing_mode() {
        None => Ok(None),
        Some(SealingMode::SealedSecrets) => {
            let ss = sealing
                .and_then(|s| s.sealed_secrets.as_ref())
                .ok_or_else(|| Failure::Io("tcpc.yaml: sealing.sealedSecrets is required for mode sealedSecrets".into()))?;
            let path = dir.join(&ss.certificate);
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| Failure::Io(format!("reading the sealed-secrets certificate {}: {e}", path.display())))?;
            let cert = ControllerCert::from_pem(&pem).map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?;
            let scope = match config.sealed_secrets_scope() {
                SealedSecretsScope::Strict => Scope::Strict,
                SealedSecretsScope::NamespaceWide => Scope::NamespaceWide,
                SealedSecretsScope::ClusterWide => Scope::ClusterWide,
            };
            let cert_sha256 = tcpc_seal::fingerprint::sha256_hex(cert.spki_der());
            Ok(Some(tcpc::pki::Sealer::SealedSecrets { cert, scope, cert_sha256 }))
        }
        Some(SealingMode::Sops) => {
            let r = sealing.and_then(|s| s.sops.as_ref()).map(|s| s.age_recipients.clone()).unwrap_or_default();
            let recipients =
                tcpc_seal::state::parse_recipients(&r).map_err(|e| Failure::Io(format!("tcpc.yaml: sealing.sops.ageRecipients: {e}")))?;
            Ok(Some(tcpc::pki::Sealer::Sops { recipients, recipient_strings: r }))
        }
    }
}

/// Writes `content` to `path` atomically (temp file + rename).
fn write_atomic(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tcpc-tmp-{}", std::process::id()));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)
}

fn render(dir: &Path, output: Option<PathBuf>, stdout: Option<BundleArg>, identity: Option<&Path>) -> Result<(), Failure> {
    let (repo, compiled) = load_and_compile(dir, Mode::Render { identity })?;
    for line in &compiled.report {
        eprintln!("{line}");
    }
    // Key material first: a run killed after this point re-renders from the new state.
    for (key, text) in &compiled.new_states {
        let path = repo.state_dir.join(format!("{key}.age"));
        write_atomic(&path, text).map_err(|e| Failure::Io(format!("writing {}: {e}", path.display())))?;
    }
    if let Some(lock_text) = compiled.lock.as_ref().map(tcpc::lock::Lock::to_text).filter(|t| *t != repo.lock_text) {
        write_atomic(&repo.lock_path, &lock_text).map_err(|e| Failure::Io(format!("writing {}: {e}", repo.lock_path.display())))?;
    }
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
    // No identity: an up-to-date repository never needs one.
    let (repo, compiled) = load_and_compile(dir, Mode::Render { identity: None })?;
    let expiring = expiry(&repo);
    let out = output.unwrap_or(repo.output.clone());
    let on_disk = if out.exists() {
        emit::read_tree(&out).map_err(|e| Failure::Io(format!("reading {}: {e}", out.display())))?
    } else {
        Default::default()
    };
    let stale = tcpc::diff::tree_diff(&on_disk, &compiled.tree);
    let lock_stale = compiled.lock.as_ref().is_some_and(|l| l.to_text() != repo.lock_text);
    if stale.is_empty() && !lock_stale {
        eprintln!("{}: up to date", out.display());
        return if expiring { Err(Failure::Invalid) } else { Ok(()) };
    }
    if lock_stale {
        eprintln!("error: {} is stale", repo.lock_path.display());
    }
    eprint!("{stale}");
    eprintln!("error: {} is stale: run `tcpc render {}`", out.display(), dir.display());
    Err(Failure::Invalid)
}

/// Warns about certificates expiring within `check.warnDays`; true when one expires within
/// `check.failDays`.
fn expiry(repo: &Repo) -> bool {
    let now = now().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let (warn, fail) = (repo.config.check_warn_days() as i64, repo.config.check_fail_days() as i64);
    let mut failed = false;
    for (tenant, t) in &repo.lock.tenants {
        for (name, a) in &t.artefacts {
            let Some(not_after) =
                a.not_after.as_deref().and_then(|v| time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok())
            else {
                continue;
            };
            let days = (not_after - now).whole_days();
            if days < fail {
                eprintln!(
                    "error: {tenant}: certificate {name} expires in {days} day(s) ({not_after}); run `tcpc render --identity …` to renew"
                );
                failed = true;
            } else if days < warn {
                eprintln!("warning: {tenant}: certificate {name} expires in {days} day(s) ({not_after})");
            }
        }
    }
    failed
}

fn import(what: ImportCommand) -> Result<(), Failure> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Failure::Io(format!("reading {}: {e}", p.display())));
    let (dir, key, plaintext) = match what {
        ImportCommand::DatastoreCa { name, cert, key, dir } => {
            let (cert_pem, key_pem) = (read(&cert)?, zeroize::Zeroizing::new(read(&key)?));
            validate_ca(&cert_pem, &key_pem)?;
            let state = tcpc::pki::DataStoreState { cert: cert_pem, key: key_pem.to_string() };
            (dir, tcpc::pki::datastore_state_key(&name), zeroize::Zeroizing::new(serde_json::to_vec(&state).expect("serialises")))
        }
        ImportCommand::Ca { tenant, cert, key, chain, dir } => {
            let Some((ns, name)) = tenant.split_once('/') else {
                return Err(Failure::Io(format!("expected <namespace>/<name>, got `{tenant}`")));
            };
            let (cert_pem, key_pem) = (read(&cert)?, zeroize::Zeroizing::new(read(&key)?));
            validate_ca(&cert_pem, &key_pem)?;
            let mut secret = zeroize::Zeroizing::new([0u8; 32]);
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, secret.as_mut());
            let mut state = tcpc::pki::TenantState::default();
            state.imported_ca = true;
            state.fingerprint_secret = hex::encode(secret.as_ref());
            state.ca_chain = chain.map(|c| read(&c)).transpose()?;
            state.artefacts.insert("ca".into(), tcpc::pki::StoredPair { cert: Some(cert_pem), key: key_pem.to_string() });
            (dir, format!("tenants/{ns}/{name}"), zeroize::Zeroizing::new(serde_json::to_vec(&state).expect("serialises")))
        }
    };
    let mut sources = Sources::default();
    let config_id =
        discover::read_config(&dir).map_err(|e| Failure::Io(e.to_string()))?.map(|t| sources.add(discover::CONFIG_FILE.into(), t));
    let mut diags = tcpc::diag::Diagnostics::default();
    let config = tcpc::parse::parse(&sources, config_id, &mut diags).config;
    if diags.has_errors() {
        eprint!("{}", diags.render(&sources));
        return Err(Failure::Invalid);
    }
    if config.pki_recipients().is_empty() {
        return Err(Failure::Io("tcpc.yaml lists no `pki.recipients` to encrypt the state to".into()));
    }
    let armored = tcpc_seal::state::encrypt_to_recipients(&plaintext, config.pki_recipients()).map_err(|e| Failure::Io(e.to_string()))?;
    let path = dir.join(config.state_dir()).join(format!("{key}.age"));
    write_atomic(&path, &armored).map_err(|e| Failure::Io(format!("writing {}: {e}", path.display())))?;
    eprintln!("imported into {} (encrypted to {} recipient(s))", path.display(), config.pki_recipients().len());
    Ok(())
}

fn validate_ca(cert_pem: &str, key_pem: &str) -> Result<(), Failure> {
    let key = tcpc_pki::PrivateKey::from_pem(key_pem).map_err(|e| Failure::Io(format!("invalid private key: {e}")))?;
    tcpc_pki::Issuer::new(cert_pem, key).map_err(|e| Failure::Io(format!("cannot use this CA: {e}")))?;
    Ok(())
}

fn identity() -> Result<(), Failure> {
    use age::secrecy::ExposeSecret as _;
    let id = age::x25519::Identity::generate();
    println!("# created by tcpc identity\n# public key: {}\n{}", id.to_public(), id.to_string().expose_secret());
    eprintln!("recipient: {}", id.to_public());
    Ok(())
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
                writeln!(out, "# {name}")
                    .and_then(|_| out.write_all(tcpc::schema_text(schema).as_bytes()))
                    .map_err(|e| Failure::Io(e.to_string()))?;
            }
        }
    }
    Ok(())
}
