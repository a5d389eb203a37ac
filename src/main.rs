//! The `tcpc` command line: parse arguments, call the library, map outcomes to exit codes.
//!
//! Exit codes (README): 0 success; 1 invalid input, or (`check`) stale output or lock — the
//! convention of `kubectl diff` and `cargo fmt --check`, so CI needs no table; 2 usage or IO
//! error; 3 unused (it meant "stale" in earlier releases); 4 a certificate expires within
//! `check.failDays` (`check`); 5 some tenants need
//! new key material and no identity was given (`render` renders all others; `check`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

use clap::{Parser, Subcommand, ValueEnum};
use tcpc::emit;
use tcpc::intent::Intent;
use tcpc::model::Bundle;
use tcpc::repo_lock::{self, Locks};
use tcpc::source::Sources;
use tcpc::{Compiled, commit, discover, fault};

/// `tcpc --version`: the release and the commit it was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TCPC_COMMIT"), ")");

#[derive(Parser)]
#[command(
    name = "tcpc",
    version = VERSION,
    about = "TenantControlPlane compiler: Kamaji-compatible specs in Git -> deterministic Kubernetes manifests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How long to wait for another tcpc process using the same repository or output
    /// directory before giving up (exit 2).
    #[arg(long, global = true, value_name = "SECS", env = "TCPC_LOCK_TIMEOUT", default_value_t = 120)]
    lock_timeout: u64,
    /// Print only warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Also print every file a render changes.
    #[arg(short, long, global = true)]
    verbose: bool,
}

/// 0 quiet, 1 normal, 2 verbose.
static VERBOSITY: AtomicU8 = AtomicU8::new(1);

fn verbosity() -> u8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Prints an informational line on stderr unless `-q`.
macro_rules! info {
    ($($arg:tt)*) => {
        if verbosity() >= 1 {
            eprintln!($($arg)*);
        }
    };
}

mod cli;

/// `--tenant NS/NAME` (repeatable, globs) and `--bundle`: which tenants and bundles a command
/// looks at. Every spec is still parsed and checked; a filtered render keeps everything else.
#[derive(clap::Args)]
struct FilterArgs {
    /// Only the TenantControlPlane(s) NS/NAME; repeatable; `*`, `?`, `[..]` globs (quote them).
    #[arg(long = "tenant", value_name = "NS/NAME")]
    tenants: Vec<String>,
    /// Only the management or the tenant bundle.
    #[arg(long, value_enum)]
    bundle: Option<BundleArg>,
}

impl FilterArgs {
    fn filter(&self) -> Result<tcpc::filter::Filter, Failure> {
        tcpc::filter::Filter::new(&self.tenants, self.bundle.and_then(BundleArg::single)).map_err(Failure::Io)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Write a new repository: tcpc.yaml (every setting at its default), a .gitignore that keeps
    /// keys and identities out of Git, an example TenantControlPlane and DataStore.
    #[command(
        after_help = "Example:\n  tcpc identity -o ~/.config/tcpc/identity.txt\n  tcpc init platform --identity ~/.config/tcpc/identity.txt"
    )]
    Init {
        /// Directory of the new repository (created if missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// age identity file whose recipient goes into `pki.recipients` (only the public part is read out).
        #[arg(long, env = "TCPC_AGE_IDENTITY_FILE")]
        identity: Option<PathBuf>,
        /// age recipient (`age1…`) to put into `pki.recipients`; repeatable.
        #[arg(long)]
        recipient: Vec<String>,
    },
    /// Render every TenantControlPlane under DIR into a manifest tree (or one YAML stream).
    ///
    /// Tenants that need new key material while no identity is given are not rendered (their
    /// previous output and lock entry stay) and listed; every other tenant renders; exit code 5.
    #[command(
        after_help = "Example:\n  tcpc render                                  # needs no identity when nothing must be issued\n  tcpc render . --identity ~/.config/tcpc/identity.txt\n  tcpc render . --stdout --bundle tenant | less"
    )]
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
        /// Only these bundles (with --stdout the default is `management`; a tree render
        /// keeps the other bundle's files as they are).
        #[arg(long, value_enum)]
        bundle: Option<BundleArg>,
        /// Only the TenantControlPlane(s) NS/NAME (repeatable, globs); every other tenant's
        /// files and lock entry stay exactly as they are.
        #[arg(long = "tenant", value_name = "NS/NAME")]
        tenants: Vec<String>,
        /// Let the TenantControlPlane NS/NAME, recorded in tcpc.lock but gone from the inputs,
        /// leave the output (repeatable). Without it such a render fails.
        #[arg(long, value_name = "NS/NAME")]
        allow_removal: Vec<String>,
        /// Allow the output, state and lock outside the repository (never settable in tcpc.yaml).
        #[arg(long)]
        allow_outside: bool,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Re-key on purpose (the only way tcpc ever replaces a tenant's CA).
    #[command(after_help = "Example:\n  tcpc rotate ca tenants/minimal --identity ~/.config/tcpc/identity.txt")]
    Rotate {
        #[command(subcommand)]
        what: RotateCommand,
    },
    /// Parse, resolve and type-check without writing anything.
    #[command(after_help = "Example:\n  tcpc validate platform\n  tcpc validate platform --format json | jq '.tenants[].tenant'")]
    Validate {
        /// Repository directory holding tcpc.yaml and the specs.
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        filter: FilterArgs,
        /// `json`: one report on stdout (schema: docs/json-output.md).
        #[arg(long, value_enum, default_value_t = cli::diff::Format::Text)]
        format: cli::diff::Format,
        /// Render every tenant's templates. Without it, a tenant whose resolved spec this build
        /// already rendered successfully (the output tree's marker records its fingerprint) is
        /// parsed and resolved only.
        #[arg(long)]
        full: bool,
    },
    /// Show what `render` would change in the tree and the lock: a unified diff grouped by
    /// tenant and object, each change naming the input file that caused it. Needs no key;
    /// exit 0 whatever would change.
    #[command(
        after_help = "Example:\n  tcpc diff platform\n  tcpc diff platform --tenant 'tenants/*' --bundle tenant\n  tcpc diff --format json | jq '.changes[] | {tenant, change, cause}'"
    )]
    Diff(ReviewArgs),
    /// Fail when the rendered tree or the lock differs from what `render` would write (exit 1),
    /// a certificate expires within `check.failDays` (exit 4), or renewal or issuance is due
    /// and needs the identity (exit 5). Needs no key.
    #[command(
        after_help = "Example:\n  tcpc check platform     # in CI, after every change\n  tcpc check platform --format json > tcpc-report.json"
    )]
    Check(ReviewArgs),
    /// Print the manifests that wire tcpc into Argo CD or Flux (never applied by tcpc).
    #[command(
        after_help = "Example:\n  tcpc install argocd-plugin --only patch\n  tcpc install flux platform --url https://git.example.com/platform.git"
    )]
    Install {
        #[command(subcommand)]
        what: InstallCommand,
    },
    /// Helpers run by Argo CD's config-management plugin server.
    #[command(hide = true)]
    Plugin {
        #[command(subcommand)]
        what: PluginCommand,
    },
    /// What each tenant is, offline: version, endpoint, exposure, replicas, DataStore and the
    /// certificate expiry timeline from the lock (needs no key).
    #[command(
        after_help = "Example:\n  tcpc status platform\n  tcpc status platform --tenant tenants/minimal\n  tcpc status --format json | jq '.[] | {tenant, version}'"
    )]
    Status {
        /// Repository directory holding tcpc.yaml and the specs.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Only the TenantControlPlane(s) NS/NAME; repeatable; `*`, `?`, `[..]` globs (quote them).
        #[arg(long = "tenant", value_name = "NS/NAME")]
        tenants: Vec<String>,
        /// `json`: the same data for scripts.
        #[arg(long, value_enum, default_value_t = cli::diff::Format::Text)]
        format: cli::diff::Format,
    },
    /// Write a self-contained HTML page about the fleet: versions, endpoints, exposure and a
    /// certificate-expiry chart (offline, needs no key; no script, nothing loaded from elsewhere).
    #[command(after_help = "Example:\n  tcpc report platform -o report.html")]
    Report {
        /// Repository directory holding tcpc.yaml and the specs.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Only the TenantControlPlane(s) NS/NAME; repeatable; `*`, `?`, `[..]` globs (quote them).
        #[arg(long = "tenant", value_name = "NS/NAME")]
        tenants: Vec<String>,
        /// The page to write (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print the `kubeadm join` command for a tenant's workers (offline: the CA pin comes
    /// from the lock; needs no key). With `--create-token`, first create a bootstrap token in
    /// the tenant and print the whole command, like `kubeadm token create --print-join-command`.
    #[command(
        name = "join-command",
        after_help = "Examples:\n  tcpc join-command tenants/minimal platform\n  tcpc kubeconfig tenants/minimal platform --identity ~/.config/tcpc/identity.txt -o admin.conf\n  tcpc join-command tenants/minimal platform --create-token --kubeconfig admin.conf --ttl 2h\n\nThe token is printed on stdout only: it never reaches a file, the repository or a log."
    )]
    JoinCommand {
        /// The tenant, NS/NAME.
        #[arg(value_name = "NS/NAME")]
        tenant: String,
        /// Repository directory holding tcpc.yaml and the specs.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Create a bootstrap token (kube-system Secret, kubeadm's default node group) in the
        /// tenant through the API server of `--kubeconfig`, and print the command with it.
        #[arg(long, requires = "kubeconfig")]
        create_token: bool,
        /// A kubeconfig of the tenant allowed to create Secrets in kube-system (its admin.conf).
        #[arg(long, value_name = "FILE")]
        kubeconfig: Option<PathBuf>,
        /// How long the token lives: `24h`, `90m`, `1h30m`; `0` never expires.
        #[arg(long, default_value = "24h", requires = "create_token")]
        ttl: String,
        /// The token's description (kept in the Secret).
        #[arg(long, requires = "create_token")]
        description: Option<String>,
    },
    /// Print a shell completion script on stdout.
    #[command(
        after_help = "Example:\n  tcpc completions bash > /etc/bash_completion.d/tcpc\n  tcpc completions zsh > \"${fpath[1]}/_tcpc\"\n  tcpc completions fish > ~/.config/fish/completions/tcpc.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Import key material into the encrypted state (never into the specs).
    #[command(after_help = "Example:\n  tcpc import datastore-ca default --cert etcd-ca.crt --key etcd-ca.key")]
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Generate an age identity for `pki.recipients` (identity on stdout or into a file,
    /// recipient on stderr).
    #[command(after_help = "Example:\n  tcpc identity -o ~/.config/tcpc/identity.txt   # mode 0600, parent directories created")]
    Identity {
        /// Write the identity into this new file (mode 0600) instead of stdout; never overwrites.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Write a tenant's admin or super-admin kubeconfig from the encrypted state (needs the identity).
    #[command(
        after_help = "Example:\n  tcpc kubeconfig tenants/minimal --user super-admin --identity ~/.config/tcpc/identity.txt -o super-admin.conf"
    )]
    Kubeconfig {
        /// `<namespace>/<name>` of the TenantControlPlane.
        tenant: String,
        #[arg(long, value_enum, default_value_t = UserArg::Admin)]
        user: UserArg,
        /// File to write (mode 0600); `-` or absent: stdout, which must not be a terminal.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        dir: RepoDir,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Print the JSON Schemas of TenantControlPlane, DataStore and tcpc.yaml, or write them.
    #[command(after_help = "Example:\n  tcpc schema --write schemas")]
    Schema {
        /// Write `<name>.schema.json` files into this directory instead of printing.
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// The CA of a DataStore, which signs each tenant's etcd client certificate.
    #[command(after_help = "Example:\n  tcpc import datastore-ca default platform --cert etcd-ca.crt --key etcd-ca.key")]
    DatastoreCa {
        /// DataStore name.
        name: String,
        #[command(flatten)]
        dir: RepoDir,
        /// The CA certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// The CA private key (PEM); stored age-encrypted, never in Git. Needed for etcd
        /// DataStores; MySQL, PostgreSQL and NATS ones only need the certificate.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// The admin credentials of a MySQL, PostgreSQL or NATS DataStore (what its `basicAuth`
    /// Secret references hold): the setup Job creates each tenant's database and user with them.
    #[command(
        after_help = "Example:\n  tcpc import datastore-credentials postgres platform --username kamaji --password-file pg-password.txt"
    )]
    DatastoreCredentials {
        /// DataStore name.
        name: String,
        #[command(flatten)]
        dir: RepoDir,
        /// The admin user name.
        #[arg(long)]
        username: String,
        /// A file holding the password (`-` reads standard input); stored age-encrypted, never in Git.
        #[arg(long)]
        password_file: PathBuf,
    },
    /// The client certificate a MySQL, PostgreSQL or NATS DataStore's `tlsConfig.clientCertificate`
    /// references: each tenant's kine presents it to the database server (sealed into the tenant's
    /// datastore-certificate Secret).
    #[command(after_help = "Example:\n  tcpc import datastore-client-certificate postgresql-gold platform --cert root.crt --key root.key")]
    DatastoreClientCertificate {
        /// DataStore name.
        name: String,
        #[command(flatten)]
        dir: RepoDir,
        /// The client certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Its private key (PEM); stored age-encrypted, never in Git.
        #[arg(long)]
        key: PathBuf,
    },
    /// Bring your own CA for a TenantControlPlane (e.g. an intermediate of the corporate PKI).
    #[command(after_help = "Example:\n  tcpc import ca tenants/minimal platform --cert ca.crt --key ca.key --chain chain.pem")]
    Ca {
        /// `<namespace>/<name>` of the TenantControlPlane.
        tenant: String,
        #[command(flatten)]
        dir: RepoDir,
        /// The CA certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// The CA private key (PEM); stored age-encrypted, never in Git.
        #[arg(long)]
        key: PathBuf,
        /// PEM chain from the CA up to the root, published with it so clients can verify.
        #[arg(long)]
        chain: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum InstallCommand {
    /// The Argo CD ConfigManagementPlugin (plugin.yaml in a ConfigMap), the argocd-repo-server
    /// sidecar patch and an example Application.
    #[command(after_help = "Example:\n  tcpc install argocd-plugin --only plugin > plugin.yaml")]
    ArgocdPlugin {
        /// Namespace of Argo CD.
        #[arg(long, default_value = "argocd")]
        namespace: String,
        /// Sidecar image: any image with `tcpc` on its PATH.
        #[arg(long, default_value = concat!("tcpc:", env!("CARGO_PKG_VERSION")))]
        image: String,
        /// Print only one of the documents.
        #[arg(long, value_enum)]
        only: Option<cli::install::ArgoPart>,
    },
    /// An Argo CD ApplicationSet syncing every tenant bundle into its tenant cluster, through
    /// the cluster Secrets `delivery.argocd` renders (one Application per tenant).
    #[command(after_help = "Example:\n  tcpc install argocd-applicationset platform --url https://git.example.com/platform.git")]
    ArgocdApplicationset {
        /// Repository directory holding tcpc.yaml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// URL Argo CD clones.
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "HEAD")]
        revision: String,
        /// Name of the ApplicationSet.
        #[arg(long, default_value = "tcpc-tenants")]
        name: String,
    },
    /// A Flux GitRepository and Kustomization applying the rendered tree (with SOPS
    /// decryption when tcpc.yaml chooses the SOPS backend).
    #[command(after_help = "Example:\n  tcpc install flux platform --url ssh://git@git.example.com/platform.git --branch main")]
    Flux {
        /// Repository directory holding tcpc.yaml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// URL Flux clones.
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "main")]
        branch: String,
        /// Name of the GitRepository and Kustomization.
        #[arg(long, default_value = "tcpc")]
        name: String,
        /// Namespace of Flux.
        #[arg(long, default_value = "flux-system")]
        namespace: String,
    },
    /// The companion: the RenderedControlPlane CRD, its ServiceAccount, least-privilege RBAC,
    /// Deployment (two replicas, one leader), metrics Service and PDB. Tenants rendered with
    /// `companion:` in tcpc.yaml get their status from it (`kubectl get rcp -A`).
    #[command(after_help = "Example:
  tcpc install companion | kubectl apply --server-side -f -")]
    Companion {
        /// Repository directory holding tcpc.yaml (its `companion.namespace` is used).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The companion's image: any image with `tcpc-companion` as its entrypoint.
        #[arg(long, default_value = concat!("tcpc-companion:", env!("CARGO_PKG_VERSION")))]
        image: String,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// The parameters announced to Argo CD (plugin.yaml `parameters.dynamic`), as JSON.
    Parameters {
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum RotateCommand {
    /// Re-issue the tenant's CA, front-proxy CA and service-account key, and everything they
    /// sign, then render. Every client of the tenant must trust the new CA afterwards.
    #[command(after_help = "Example:\n  tcpc rotate ca tenants/minimal --identity ~/.config/tcpc/identity.txt")]
    Ca {
        /// `<namespace>/<name>` of the TenantControlPlane.
        tenant: String,
        #[command(flatten)]
        dir: RepoDir,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Take the next step of the tenant's service-account key rotation, then render: `add` (a
    /// new key verifies beside the current one), `sign` (the new key signs, the old one still
    /// verifies), `retire` (the old key is dropped, once `--min-overlap` has passed since
    /// `sign`). Apply after each step; tokens stay valid throughout.
    #[command(
        name = "sa-key",
        after_help = "Example (three runs, each followed by a commit and an apply):\n  tcpc rotate sa-key tenants/minimal --identity ~/.config/tcpc/identity.txt"
    )]
    SaKey {
        /// `<namespace>/<name>` of the TenantControlPlane.
        tenant: String,
        /// How long the old key must have verified since it stopped signing before `retire`
        /// drops it: tokens it signed stop working then. Kubelets renew projected tokens
        /// within an hour; tokens kept elsewhere (CI secrets) may live longer.
        #[arg(long, default_value = "24h")]
        min_overlap: String,
        #[command(flatten)]
        dir: RepoDir,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// The repository directory of commands whose first argument is something else: positional
/// like everywhere else, `--dir` still accepted (hidden) for scripts written before.
#[derive(clap::Args)]
struct RepoDir {
    /// Repository directory holding tcpc.yaml.
    #[arg(id = "repo_dir", value_name = "DIR", conflicts_with = "dir_option")]
    dir: Option<PathBuf>,
    #[arg(long = "dir", id = "dir_option", value_name = "DIR", hide = true)]
    dir_option: Option<PathBuf>,
}

impl RepoDir {
    fn path(self) -> PathBuf {
        self.dir.or(self.dir_option).unwrap_or_else(|| PathBuf::from("."))
    }
}

#[derive(clap::Args)]
struct KeyArgs {
    /// age identity file; needed only when key material must be issued or sealed anew.
    #[arg(long, env = "TCPC_AGE_IDENTITY_FILE")]
    identity: Option<PathBuf>,
}

/// What `diff` and `check` compare (they differ only in how a difference ends the run).
#[derive(clap::Args)]
struct ReviewArgs {
    /// Repository directory holding tcpc.yaml and the specs.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Rendered tree to compare (default: `output` of tcpc.yaml, relative to DIR).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    /// `json`: one report on stdout (schema: docs/json-output.md).
    #[arg(long, value_enum, default_value_t = cli::diff::Format::Text)]
    format: cli::diff::Format,
}

impl ReviewArgs {
    fn run(self, command: cli::diff::Command, timeout: std::time::Duration) -> Result<(), Failure> {
        let filter = self.filter.filter()?;
        cli::diff::run(&self.dir, self.output, &filter, self.format, command, timeout)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum UserArg {
    Admin,
    SuperAdmin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BundleArg {
    Management,
    Tenant,
    All,
}

impl BundleArg {
    fn single(self) -> Option<Bundle> {
        match self {
            BundleArg::Management => Some(Bundle::Management),
            BundleArg::Tenant => Some(Bundle::Tenant),
            BundleArg::All => None,
        }
    }

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
    Stale,
    Expiring,
    NeedsIdentity,
}

fn main() -> ExitCode {
    // Like any Unix filter: a closed pipe (`tcpc schema | head`) ends the process quietly.
    // SAFETY: called before any thread starts; restores the default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let timeout = std::time::Duration::from_secs(cli.lock_timeout);
    VERBOSITY.store(
        if cli.quiet {
            0
        } else if cli.verbose {
            2
        } else {
            1
        },
        Ordering::Relaxed,
    );
    let result = match cli.command {
        Command::Init { dir, identity, recipient } => init(&dir, identity.as_deref(), recipient),
        Command::Render { dir, output: _, stdout: true, bundle, tenants, keys, .. } if cli::argocd::active() => {
            cli::argocd::generate(&dir, tenants, bundle, keys.identity.as_deref(), timeout)
        }
        Command::Render { dir, output, stdout, bundle, tenants, allow_removal, allow_outside, keys } => {
            let intent = Intent { allow_removal: allow_removal.into_iter().collect(), ..Intent::default() };
            let write = Write { output: output.clone(), stdout, allow_outside };
            let stdout_bundle = stdout.then(|| bundle.unwrap_or(BundleArg::Management));
            let filter = if stdout { FilterArgs { tenants, bundle: None } } else { FilterArgs { tenants, bundle } };
            filter
                .filter()
                .and_then(|filter| render(&dir, output, stdout_bundle, keys.identity.as_deref(), &intent, Some(write), &filter, timeout))
        }
        Command::Rotate { what } => rotate(what, timeout),
        Command::Validate { dir, filter, format, full } => validate(&dir, &filter, format, full),
        Command::Diff(args) => args.run(cli::diff::Command::Diff, timeout),
        Command::Import { what } => import(what, timeout),
        Command::Identity { output } => identity(output.as_deref()),
        Command::Kubeconfig { tenant, user, output, dir, keys } => kubeconfig(&dir.path(), &tenant, user, output, keys.identity.as_deref()),
        Command::Check(args) => args.run(cli::diff::Command::Check, timeout),
        Command::Install { what } => install(what),
        Command::Plugin { what: PluginCommand::Parameters { dir } } => cli::argocd::announce(&dir),
        Command::Schema { write } => schema(write),
        Command::JoinCommand { tenant, dir, create_token, kubeconfig, ttl, description } => {
            let token = create_token.then(|| TokenArgs { kubeconfig: kubeconfig.unwrap_or_default(), ttl, description });
            join_command(&dir, &tenant, token.as_ref())
        }
        Command::Status { dir, tenants, format } => status(&dir, &tenants, format),
        Command::Report { dir, tenants, output } => report(&dir, &tenants, output.as_deref()),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "tcpc", &mut out);
            out.flush().map_err(|e| Failure::Io(format!("writing the completion script: {e}")))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid) => ExitCode::from(1),
        Err(Failure::Io(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Stale) => ExitCode::from(1),
        Err(Failure::Expiring) => ExitCode::from(4),
        Err(Failure::NeedsIdentity) => ExitCode::from(5),
    }
}

struct Repo {
    output: PathBuf,
    lock_path: PathBuf,
    state_dir: PathBuf,
    lock: tcpc::lock::Lock,
    /// The lock's files as read (the root and each tenant's shard), to rewrite only those whose
    /// text changes.
    lock_files: tcpc::lock::LockFiles,
    config: tcpc_spec::Config,
    /// The output tree as the previous render left it, when the mode asked for it.
    previous: Option<emit::Previous>,
    /// Every file the compile read, hashed (`tcpc::stamp`); states only in `Mode::Render`.
    inputs: tcpc::stamp::InputFiles,
    /// Reading the repository warned (the stamp is for renders that say nothing).
    warned: bool,
    /// What the incremental render kept (`cli/incremental.rs`), if it applied.
    plan: Option<cli::incremental::Plan>,
    /// The tenants of each file of tenants only, by path (for the index), when known.
    tcp_only: Option<std::collections::BTreeMap<String, Vec<(String, String)>>>,
}

/// Opens the output tree to write, given the output directory `tcpc.yaml` names: applies `-o`,
/// takes the output lock, and says where it is.
type OpenOutput<'a> = &'a mut dyn FnMut(&Path) -> Result<PathBuf, Failure>;

/// Reads the previous output tree, given the output directory `tcpc.yaml` names (the caller
/// applies its `-o` and takes the output lock first).
type ReadPrevious<'a> = &'a mut dyn FnMut(&Path) -> Result<emit::Previous, Failure>;

/// The output tree a render compares with.
enum Output<'a> {
    /// To be written: the compile reads of it what it needs (all, or all but kept tenants').
    Write(OpenOutput<'a>),
    /// Only read, as it is.
    Read(ReadPrevious<'a>),
}

enum Mode<'a> {
    /// Parse, resolve, render; no key material. Unless `full`, tenants the output's marker
    /// vouches for are not rendered (`tcpc::compile_with`).
    Validate { full: bool },
    /// Full render; `identity` is read only if given. `write`: where the render will write,
    /// checked (`tcpc::paths`) before anything else happens.
    /// `open`: the output tree is read (for the render cache and to compare with) and written;
    /// `incremental`: tenants may be kept as they are (`cli/incremental.rs`).
    Render { identity: Option<&'a Path>, intent: &'a Intent, write: Option<Write>, output: Option<Output<'a>>, incremental: bool },
}

/// What `render` was asked to write.
struct Write {
    output: Option<PathBuf>,
    stdout: bool,
    allow_outside: bool,
}

/// Reads the repository (IO edge) and runs the pure compile.
fn load_and_compile(dir: &Path, mode: Mode<'_>) -> Result<(Repo, Compiled), Failure> {
    if !dir.is_dir() {
        return Err(Failure::Io(format!("{} is not a directory", dir.display())));
    }
    let io = |e: discover::DiscoverError| Failure::Io(e.to_string());
    let mut sources = Sources::default();
    // tcpc.yaml decides what to walk, so parse it on its own first (under the default limits).
    let mut cfg_diags = tcpc::diag::Diagnostics::default();
    let config_id = discover::read_config_into(dir, &mut sources, &mut cfg_diags).map_err(io)?;
    let parsed = (!cfg_diags.has_errors()).then(|| tcpc::parse::ConfigFile::parse(&sources, config_id, &mut cfg_diags));
    if let Some(c) = &parsed
        && std::env::var_os("TCPC_ALLOW_TEST_ONLY").is_none_or(|v| v != "1")
    {
        c.refuse_test_only(&mut cfg_diags);
    }
    let Some(config_file) = parsed.filter(|_| !cfg_diags.has_errors()) else {
        eprint!("{}", cfg_diags.render(&sources));
        return Err(Failure::Invalid);
    };
    let config = &config_file.config;
    let output = dir.join(config.output_dir());
    let lock_path = dir.join(config.lock_file());
    let state_dir = dir.join(config.state_dir());
    if let Mode::Render { write: Some(w), .. } = &mode {
        check_write_paths(dir, w, &output, &state_dir, &lock_path, &config_file, &sources)?;
    }
    let warnings = discover::read_inputs(dir, &config, &not_inputs(config), &mut sources, &mut cfg_diags).map_err(io)?;
    if cfg_diags.has_errors() {
        eprint!("{}", cfg_diags.render(&sources));
        return Err(Failure::Invalid);
    }
    let warned = !warnings.is_empty();
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let vouched = match mode {
        Mode::Validate { full: false } => {
            std::fs::read_to_string(output.join(emit::MARKER)).ok().map(|marker| tcpc::cache::recorded_specs(&marker))
        }
        _ => None,
    };
    let (identity, intent, out_mode, incremental) = match mode {
        Mode::Validate { .. } => (None, None, None, false),
        Mode::Render { identity, intent, output, incremental, .. } => (identity, Some(intent), output, incremental),
    };
    // `validate` compiles without keys: the lock (render's own record) plays no part.
    let render = intent.is_some();
    let now = if render { now()? } else { time::OffsetDateTime::UNIX_EPOCH };
    let (out, read) = match out_mode {
        Some(Output::Write(open)) => (Some(open(&output)?), None),
        Some(Output::Read(read)) => (None, Some(read(&output)?)),
        None => (None, None),
    };
    // Most tenants of a render may be kept as they are (`cli/incremental.rs`): that takes the
    // resolved tenants before the lock is read. With errors in the specs, the usual order.
    let mut prepared = None;
    let mut plan = None;
    let mut tcp_only = None;
    let mut spec_errors = None;
    if let (true, Some(out)) = (incremental, &out) {
        match cli::incremental::prepare_and_plan(dir, &config_file, out, &sources, now.unix_timestamp()) {
            Ok((p, pl)) => {
                let by_path = p.tcp_only_files().into_iter().map(|(id, tenants)| (sources.get(id).display.clone(), tenants));
                tcp_only = Some(by_path.collect::<std::collections::BTreeMap<_, _>>());
                (prepared, plan) = (Some(p), pl);
            }
            // Reported where the compile reports them, after the lock and keys are read.
            Err(diags) => spec_errors = Some(diags),
        }
    }
    let kept = |key: &str| plan.as_ref().is_some_and(|p| p.kept.contains_key(key));
    let (lock_files, lock) = if !render {
        (tcpc::lock::LockFiles::default(), tcpc::lock::Lock::new())
    } else {
        let lock_files = tcpc::lock::LockFiles::read_except(&lock_path, kept).map_err(|e| Failure::Io(e.to_string()))?;
        let lock = lock_files.parse(config.lock_file()).map_err(|e| {
            let (sources, d) = tcpc::limits::json_file_error(&e.file, &e.text, &e.message);
            eprint!("{}", d.help("restore the lock from Git; tcpc writes it, nobody edits it").render(&sources));
            Failure::Invalid
        })?;
        (lock_files, lock)
    };
    let keys_io = match render {
        true => Some(KeysIo::load(dir, config, &state_dir, identity, now, |key| key.strip_prefix("tenants/").is_some_and(kept))?),
        false => None,
    };
    let previous = match (plan.as_mut(), &out) {
        (Some(p), _) => Some(std::mem::take(&mut p.previous)),
        (None, Some(out)) => Some(emit::read_previous(out).map_err(|e| Failure::Io(format!("reading {}: {e}", out.display())))?),
        (None, None) => read,
    };
    let mut inputs = tcpc::stamp::InputFiles::default();
    inputs.insert_sources(&sources);
    match &plan {
        // Every lock, state and sealer file, by the index or hashed: kept tenants' were not read.
        Some(p) => {
            for (label, sha) in &p.digests {
                inputs.insert(label.clone(), *sha);
            }
        }
        None => {
            for (label, text) in lock_files.labelled() {
                inputs.insert_bytes(label, text.as_bytes());
            }
            if let Some(k) = &keys_io {
                inputs.insert_states(&k.states);
                if let Some(path) = sealer_certificate(dir, config) {
                    let bytes = std::fs::read(&path).map_err(|e| Failure::Io(format!("reading {}: {e}", path.display())))?;
                    inputs.insert_bytes("sealer".into(), &bytes);
                }
            }
        }
    }
    let cache = previous.as_ref().map(|p| tcpc::cache::RenderCache::from_previous(&p.marker, &p.tree));
    let no_intent = Intent::default();
    let keys = keys_io.as_ref().map(|k| tcpc::Keys {
        lock: &lock,
        now: k.now,
        seed: k.seed,
        identities: &k.identities,
        states: &k.states,
        sealer: k.sealer.as_ref(),
        intent: intent.unwrap_or(&no_intent),
        cache: cache.as_ref(),
        digests: &inputs,
        kept: plan.as_ref().map(|p| &p.kept),
    });
    if let Some(diags) = spec_errors {
        eprint!("{}", diags.render(&sources));
        return Err(Failure::Invalid);
    }
    let result = with_progress_bar(|progress| match prepared {
        Some(p) => tcpc::compile_prepared(&sources, p, keys.as_ref(), vouched.as_ref(), progress),
        None => tcpc::compile_with(&sources, &config_file, keys.as_ref(), vouched.as_ref(), progress),
    });
    drop(keys);
    drop(cache);
    match result {
        Ok(c) => {
            if !c.diagnostics.is_empty() {
                eprint!("{}", c.diagnostics.render(&sources));
            }
            Ok((
                Repo {
                    output,
                    lock_path,
                    state_dir,
                    lock,
                    lock_files,
                    config: config_file.config,
                    previous,
                    inputs,
                    warned,
                    plan,
                    tcp_only,
                },
                c,
            ))
        }
        Err(diags) => {
            eprint!("{}", diags.render(&sources));
            Err(Failure::Invalid)
        }
    }
}

/// Refuses (before anything is read or written) output, state or lock paths a render may not
/// write to: see `tcpc::paths`.
fn check_write_paths(
    dir: &Path,
    w: &Write,
    config_output: &Path,
    state_dir: &Path,
    lock_path: &Path,
    config: &tcpc::parse::ConfigFile,
    sources: &Sources,
) -> Result<(), Failure> {
    use tcpc::paths::{Origin, Target};
    let output = match (&w.output, w.stdout) {
        (_, true) => None,
        (Some(o), false) => Some(Target { path: o.clone(), origin: Origin::CommandLine("-o/--output"), what: "output directory" }),
        (None, false) => Some(Target { path: config_output.to_path_buf(), origin: Origin::Config("/output"), what: "output directory" }),
    };
    let state = Target { path: state_dir.to_path_buf(), origin: Origin::Config("/pki/stateDir"), what: "state directory" };
    let lock = Target { path: lock_path.to_path_buf(), origin: Origin::Config("/pki/lockFile"), what: "lock file" };
    let problems = tcpc::paths::check(dir, output.as_ref(), &state, &lock, w.allow_outside)
        .map_err(|e| Failure::Io(format!("resolving the output paths: {e}")))?;
    if problems.is_empty() {
        return Ok(());
    }
    let diags = tcpc::paths::diagnostics(&problems, config.doc.as_ref(), config.id);
    eprint!("{}", diags.render(sources));
    let from_cli = problems.iter().all(|(o, ..)| matches!(o, Origin::CommandLine(_)));
    Err(if from_cli { Failure::Io("refusing to write there".into()) } else { Failure::Invalid })
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
    /// `skip`: state keys not to read (kept tenants').
    fn load(
        dir: &Path,
        config: &tcpc_spec::Config,
        state_dir: &Path,
        identity: Option<&Path>,
        now: time::OffsetDateTime,
        skip: impl Fn(&str) -> bool,
    ) -> Result<KeysIo, Failure> {
        use rand_core::RngCore as _;
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
        Ok(KeysIo { now, seed, identities, states: read_states(state_dir, skip)?, sealer: sealer(dir, config)? })
    }
}

/// "Now" for issuance, renewal and expiry: `SOURCE_DATE_EPOCH` when set, else the clock.
fn now() -> Result<time::OffsetDateTime, Failure> {
    match std::env::var("SOURCE_DATE_EPOCH").ok().filter(|v| !v.trim().is_empty()) {
        Some(v) => tcpc::limits::source_date_epoch(&v).map_err(Failure::Io),
        None => Ok(time::OffsetDateTime::now_utc()),
    }
}

/// Every `*.age` file under the state directory (`state_files`), with its text.
fn read_states(state_dir: &Path, skip: impl Fn(&str) -> bool) -> Result<std::collections::BTreeMap<String, String>, Failure> {
    let files = state_files(state_dir).map_err(|e| Failure::Io(format!("reading {}: {e}", state_dir.display())))?;
    files
        .into_iter()
        .filter(|(key, _)| !skip(key))
        .map(|(key, path)| {
            let text = std::fs::read_to_string(&path).map_err(|e| Failure::Io(format!("reading {}: {e}", path.display())))?;
            Ok((key, text))
        })
        .collect()
}

/// Every `*.age` file under the state directory, keyed by its relative path without `.age`,
/// in name order (none when the directory does not exist).
fn state_files(state_dir: &Path) -> Result<Vec<(String, PathBuf)>, walkdir::Error> {
    let mut out = Vec::new();
    if !state_dir.exists() {
        return Ok(out);
    }
    for entry in walkdir::WalkDir::new(state_dir).sort_by_file_name() {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|e| e == "age") {
            let rel = path.strip_prefix(state_dir).unwrap_or(path).with_extension("");
            let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            out.push((key, entry.into_path()));
        }
    }
    Ok(out)
}

/// The sealed-secrets certificate a render reads, if the sealing mode has one.
fn sealer_certificate(dir: &Path, config: &tcpc_spec::Config) -> Option<PathBuf> {
    match config.sealing_mode() {
        Some(tcpc_spec::config::SealingMode::SealedSecrets) => {
            config.sealing.as_ref().and_then(|s| s.sealed_secrets.as_ref()).map(|ss| dir.join(&ss.certificate))
        }
        _ => None,
    }
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

/// Locks `dir` (the repository, or the directory holding the output tree) for this process.
fn lock_dir(locks: &mut Locks, dir: &Path, mode: repo_lock::Mode, timeout: std::time::Duration) -> Result<(), Failure> {
    locks
        .acquire(dir, mode, timeout, |d| {
            eprintln!("waiting for another tcpc process using {} (up to {}s)…", d.display(), timeout.as_secs())
        })
        .map_err(|e| Failure::Io(e.to_string()))
}

/// Restricts a render to the selected tenants and bundles: everything else keeps its previous
/// files, lock entry and state (`tcpc::filter`).
fn apply_filter(
    filter: &tcpc::filter::Filter,
    compiled: &mut Compiled,
    repo: &Repo,
    previous: &tcpc::model::Tree,
    stdout: bool,
) -> Result<(), Failure> {
    let selected_state = |key: &str| key.strip_prefix("tenants/").is_none_or(|t| filter.tenant(t));
    compiled.new_states.retain(|k, _| selected_state(k));
    compiled.pending.retain(|p| filter.tenant(&tcpc::model::tenant_key(&p.namespace, &p.name)));
    let new_lock = tcpc::filter::merge_lock(filter, compiled.lock.as_ref(), &repo.lock);
    if filter.bundle.is_some() && !stdout {
        // Key material lives in both bundles (Secrets here, the CA bundle there): issue it
        // for both or not at all.
        let changed: Vec<&String> = new_lock
            .as_ref()
            .map(|l| {
                l.tenants
                    .iter()
                    .filter(|(k, v)| {
                        filter.tenant(k)
                            && repo.lock.tenants.get(*k).is_none_or(|old| serde_json::to_string(old).ok() != serde_json::to_string(v).ok())
                    })
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        if !changed.is_empty() || !compiled.new_states.is_empty() {
            let names: Vec<String> = changed.iter().map(|k| k.to_string()).collect();
            return Err(Failure::Io(format!(
                "--bundle cannot render key material that changes ({}): render both bundles of these tenants",
                names.join(", ")
            )));
        }
    }
    compiled.lock = new_lock;
    if stdout {
        compiled.tree = filter.tree(&compiled.tree);
    } else {
        compiled.tree =
            tcpc::filter::merge_tree(filter, &compiled.tree, previous, &compiled.namespaces, &compiled.component).map_err(Failure::Io)?;
    }
    Ok(())
}

/// The render-cache keys the new marker records: this compile's for the tenants whose files it
/// wrote; the previous marker's for tenants a filter kept as they were (their files are the
/// previous ones); none for a tenant rendered with `--bundle` (one bundle is new, one kept).
fn cache_keys(
    compiled: &Compiled,
    filter: &tcpc::filter::Filter,
    previous: &emit::Previous,
) -> std::collections::BTreeMap<String, tcpc::cache::Entry> {
    if filter.is_all() {
        return compiled.render_keys.clone();
    }
    let mut keys: std::collections::BTreeMap<String, tcpc::cache::Entry> =
        tcpc::cache::recorded_keys(&previous.marker).into_iter().filter(|(t, _)| !filter.tenant(t)).collect();
    if filter.bundle.is_none() {
        keys.extend(compiled.render_keys.iter().filter(|(t, _)| filter.tenant(t)).map(|(t, k)| (t.clone(), k.clone())));
    }
    keys
}

/// Lists the tenants left unrendered for want of the identity.
fn report_pending(pending: &[tcpc::Pending], tenants: usize, dir: &Path, what: &str) {
    for p in pending {
        eprintln!("warning: {}", p.message);
    }
    eprintln!("error: {} of {tenants} TenantControlPlane(s) {what}: new key material is due, which needs the age identity", pending.len());
    eprintln!(
        "  = help: run `tcpc render {} --identity FILE` (or set TCPC_AGE_IDENTITY_FILE, a path, or TCPC_AGE_IDENTITY, the identity)",
        dir.display()
    );
}

/// Takes the repository's writer lock and completes an interrupted commit, if any.
fn lock_repo_for_writing(dir: &Path, timeout: std::time::Duration) -> Result<Locks, Failure> {
    if !dir.is_dir() {
        return Err(Failure::Io(format!("{} is not a directory", dir.display())));
    }
    let mut locks = Locks::default();
    lock_dir(&mut locks, dir, repo_lock::Mode::Exclusive, timeout)?;
    let r = commit::recover(dir).map_err(|e| Failure::Io(format!("recovering {}: {e}", dir.display())))?;
    if r.replayed > 0 {
        eprintln!("completed an interrupted commit ({} file(s) from {})", r.replayed, commit::JOURNAL);
    }
    Ok(locks)
}

fn render(
    dir: &Path,
    output: Option<PathBuf>,
    stdout: Option<BundleArg>,
    identity: Option<&Path>,
    intent: &Intent,
    write: Option<Write>,
    filter: &tcpc::filter::Filter,
    timeout: std::time::Duration,
) -> Result<(), Failure> {
    let mut locks = lock_repo_for_writing(dir, timeout)?;
    if stdout.is_none()
        && filter.is_all()
        && intent.is_empty()
        && let Some(up) = cli::uptodate::check(dir, output.as_deref(), &mut locks, repo_lock::Mode::Exclusive, timeout)?
    {
        // As the compile path does: temp files and trees of killed runs go, even with nothing to write.
        up.remove_temps().map_err(|e| Failure::Io(format!("removing temp files of a killed run: {e}")))?;
        let (out, stamp) = (up.output, up.stamp);
        if verbosity() >= 2 {
            let n = stamp.tenants;
            eprintln!(
                "render cache: {n} of {n} tenant(s) unchanged since the last render ({n} without their PKI stage; {n} kept unread, {n} unparsed)"
            );
        }
        info!("{}: up to date ({} tenant(s), {} files)", out.display(), stamp.tenants, cli::summary::thousands(stamp.files));
        return Ok(());
    }
    // Writing a tree: the previous one is read (under the output lock) before the compile, for
    // the render cache and to compare with.
    let mut open_output = |config_output: &Path| -> Result<PathBuf, Failure> {
        let out = output.clone().unwrap_or_else(|| config_output.to_path_buf());
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Failure::Io(format!("creating {}: {e}", parent.display())))?;
        lock_dir(&mut locks, parent, repo_lock::Mode::Exclusive, timeout)?;
        Ok(out)
    };
    let output_mode = if stdout.is_none() { Some(Output::Write(&mut open_output)) } else { None };
    let incremental = stdout.is_none() && filter.is_all() && intent.is_empty();
    let (mut repo, mut compiled) = load_and_compile(dir, Mode::Render { identity, intent, write, output: output_mode, incremental })?;
    check_filter(filter, &compiled)?;
    for line in &compiled.report {
        info!("{line}");
    }
    if verbosity() >= 2 && stdout.is_none() {
        eprintln!(
            "render cache: {} of {} tenant(s) unchanged since the last render ({} without their PKI stage; {} kept unread, {} unparsed)",
            compiled.cache_hits,
            compiled.tenants,
            compiled.pki_skips,
            compiled.kept.len(),
            compiled.unparsed
        );
    }
    let out = output.unwrap_or(repo.output.clone());
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if stdout.is_some() && parent.is_dir() {
        lock_dir(&mut locks, parent, repo_lock::Mode::Exclusive, timeout)?;
    }
    let previous = match repo.previous.take() {
        Some(p) => p,
        None if !compiled.pending.is_empty() => {
            emit::read_previous(&out).map_err(|e| Failure::Io(format!("reading {}: {e}", out.display())))?
        }
        None => emit::Previous::default(),
    };
    if !compiled.pending.is_empty() {
        // Tenants that need the identity stay exactly as they were rendered last.
        compiled.tree = tcpc::keep_previous(std::mem::take(&mut compiled.tree), &previous.tree, &compiled).map_err(Failure::Io)?;
    }
    if !filter.is_all() {
        apply_filter(filter, &mut compiled, &repo, &previous.tree, stdout.is_some())?;
    }
    let finish = |compiled: &tcpc::Compiled| {
        if compiled.pending.is_empty() {
            Ok(())
        } else {
            report_pending(&compiled.pending, compiled.tenants, dir, "not rendered");
            Err(Failure::NeedsIdentity)
        }
    };
    let temps = |e: std::io::Error| Failure::Io(format!("removing temp files of a killed run: {e}"));
    commit::remove_temps(&repo.state_dir, usize::MAX).map_err(temps)?;
    commit::remove_temps(repo.lock_path.parent().unwrap_or(dir), 1).map_err(temps)?;
    commit::remove_temps(&tcpc::lock::shard_dir(&repo.lock_path), 2).map_err(temps)?;
    // State and lock move together (commit.rs); the tree, a function of both, follows.
    let mut files: Vec<(PathBuf, String)> =
        compiled.new_states.iter().map(|(key, text)| (repo.state_dir.join(format!("{key}.age")), text.clone())).collect();
    let mut removed = Vec::new();
    let mut written: std::collections::BTreeSet<String> = compiled.new_states.keys().map(|k| format!("state/{k}")).collect();
    {
        // Only the shards of entries this compile made can differ: every other entry is the
        // previous lock's (a filter keeps the unselected tenants' entries as they were). An
        // unchanged lock may still be written: in the single-file format of earlier releases.
        let new_lock = compiled.lock.as_ref().unwrap_or(&repo.lock);
        let write = repo.lock_files.plan(&repo.lock_path, new_lock, Some(&compiled.lock_changed));
        // The stamp vouches for the lock as committed (hashed here: it is serialised once).
        for (label, path, text) in write.files {
            repo.inputs.insert_bytes(label.clone(), text.as_bytes());
            written.insert(label);
            files.push((path, text));
        }
        for (label, path) in write.removed {
            repo.inputs.remove(&label);
            removed.push(path);
        }
    }
    commit::commit_with_removals(dir, &files, &removed).map_err(|e| Failure::Io(format!("committing state and lock: {e}")))?;
    if let Some(bundle) = stdout {
        let text = emit::stream(&compiled.tree, bundle.bundles());
        std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))?;
        return finish(&compiled);
    }
    let mut changes = cli::summary::Changes::between(&previous.tree, &compiled.tree);
    let keys = cache_keys(&compiled, filter, &previous);
    // The same tree under the same keys has the same marker: no need to hash every file again.
    let same_marker = previous.tree == compiled.tree && tcpc::cache::recorded_keys(&previous.marker) == keys;
    let stamped = filter.is_all() && intent.is_empty() && compiled.pending.is_empty() && compiled.diagnostics.is_empty() && !repo.warned;
    // Each file hashed once (on every core), for the marker's entries and the stamp alike; kept
    // tenants' groups by the digests the incremental render found them to have.
    let mut leaves = (stamped || !same_marker).then(|| tcpc::stamp::TreeDigest::of(&compiled.tree)).unwrap_or_default();
    let plan = repo.plan.take();
    let (kept_digests, kept_until) = match &plan {
        Some(p) => {
            for (group, (digest, files)) in &p.kept_groups {
                leaves.add_group(group.clone(), *digest, *files);
            }
            (p.kept_files.clone(), p.kept_until)
        }
        None => Default::default(),
    };
    let kept_files: usize = plan.as_ref().map_or(0, |p| p.kept_groups.values().map(|g| g.1).sum());
    changes.unchanged += kept_files;
    let files = compiled.tree.len() + kept_files;
    let marker = if same_marker {
        tcpc::stamp::without_stamp(&previous.marker).to_string()
    } else {
        tcpc::cache::marker_text_kept(&keys, &leaves, &kept_digests)
    };
    let groups = stamped.then(|| leaves.groups());
    let stamp = stamped.then(|| stamp(&mut repo, &compiled, &mut leaves, kept_until));
    let marker = tcpc::stamp::with_stamp(&marker, stamp.as_ref());
    match emit::write_tree_with(&out, &compiled.tree, &marker, Some(&previous), &compiled.kept) {
        Ok(emit::WriteOutcome::Unchanged) => {
            let rendered = compiled.tenants - compiled.pending.len();
            info!("{}: up to date ({rendered} tenant(s), {} files)", out.display(), cli::summary::thousands(files))
        }
        Ok(emit::WriteOutcome::Written { .. }) => {
            info!("{}: {}", out.display(), changes.line());
            if verbosity() >= 2 {
                for line in changes.details() {
                    eprintln!("{line}");
                }
            }
        }
        Err(e) => return Err(Failure::Io(format!("writing {}: {e}", out.display()))),
    }
    if let Some(groups) = groups
        && let Ok(items) = cli::incremental::input_files(dir, &repo.config)
    {
        // The local index of what is on disk now, for the next render (best effort).
        let written = cli::incremental::Written {
            dir,
            out: &out,
            marker: &marker,
            inputs: &repo.inputs,
            items,
            written,
            groups,
            kept: &compiled.kept,
            lock: compiled.lock.as_ref().unwrap_or(&repo.lock),
            config: &repo.config,
            tcp_only: repo.tcp_only.as_ref(),
        };
        let _ = cli::incremental::record(written, plan);
    }
    fault::point("done").map_err(|e| Failure::Io(e.to_string()))?;
    finish(&compiled)
}

/// The up-to-date stamp of a full render that wrote `compiled` (`tcpc::stamp`): its inputs as
/// they are now (the lock and states it committed), its tree's digest, and when the first
/// certificate falls due.
fn stamp(repo: &mut Repo, compiled: &Compiled, leaves: &mut tcpc::stamp::TreeDigest, kept_until: Option<i64>) -> tcpc::stamp::Stamp {
    for (key, text) in &compiled.new_states {
        repo.inputs.insert_bytes(format!("state/{key}"), text.as_bytes());
    }
    // Hashed again even when the tree did not change: the stamp vouches for exactly this tree.
    let files = leaves.len();
    let tree = leaves.finish();
    let config = &repo.config;
    // Without the kept tenants' entries (never read): their `until`s are the index's.
    let lock = compiled.lock.as_ref().unwrap_or(&repo.lock);
    let until =
        tcpc::stamp::valid_until(lock, config.renew_before_fraction(), config.check_warn_days() as i64, config.check_fail_days() as i64);
    tcpc::stamp::Stamp {
        sources: repo.inputs.sources_digest(),
        inputs: repo.inputs.digest(),
        tree,
        until: until.into_iter().chain(kept_until).min(),
        tenants: compiled.tenants,
        files,
    }
}

/// `tcpc validate`: parse, resolve, render and type-check; report the selected tenants.
fn validate(dir: &Path, filter: &FilterArgs, format: cli::diff::Format, full: bool) -> Result<(), Failure> {
    let result = filter.filter().and_then(|f| {
        let (_, c) = load_and_compile(dir, Mode::Validate { full })?;
        check_filter(&f, &c)?;
        Ok((f, c))
    });
    match (result, format) {
        (Ok((_, c)), cli::diff::Format::Text) => {
            match c.vouched.len() {
                0 => info!("ok: {} TenantControlPlane(s) valid", c.tenants),
                n => info!(
                    "ok: {} TenantControlPlane(s) valid ({n} resolved as this build last rendered them, not rendered again; --full renders all)",
                    c.tenants
                ),
            }
            Ok(())
        }
        (Ok((f, c)), cli::diff::Format::Json) => {
            let report = tcpc::review::Report {
                schema_version: tcpc::review::SCHEMA_VERSION,
                command: "validate",
                status: "ok",
                exit_code: 0,
                tenants: tcpc::review::tenants_of(&c, &f),
                changes: &[],
                pending: &[],
                certificates: &[],
            };
            std::io::stdout().lock().write_all(report.to_json().as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))
        }
        (Err(e), cli::diff::Format::Json) => {
            cli::diff::print_failure_json("validate", &e);
            Err(e)
        }
        (Err(e), cli::diff::Format::Text) => Err(e),
    }
}

/// Every `<ns>/<name>` a compile knows (rendered, or left for want of the identity).
fn tenant_keys(compiled: &Compiled) -> std::collections::BTreeSet<String> {
    let mut keys: std::collections::BTreeSet<String> = compiled
        .tree
        .keys()
        .filter_map(|p| match tcpc::filter::owner(p) {
            tcpc::filter::Owner::Tenant { namespace, name, .. } => Some(tcpc::model::tenant_key(namespace, name)),
            tcpc::filter::Owner::Shared => None,
        })
        .collect();
    keys.extend(compiled.pending.iter().map(|p| tcpc::model::tenant_key(&p.namespace, &p.name)));
    keys.extend(compiled.vouched.keys().cloned());
    keys
}

/// A `--tenant` pattern that selects nothing is a usage error (a typo must not look like
/// "nothing to do").
fn check_filter(filter: &tcpc::filter::Filter, compiled: &Compiled) -> Result<(), Failure> {
    let keys = tenant_keys(compiled);
    let unmatched = filter.unmatched(keys.iter().map(String::as_str));
    if unmatched.is_empty() {
        Ok(())
    } else {
        Err(Failure::Io(format!(
            "--tenant {} matches no TenantControlPlane (there are {}: {})",
            unmatched.join(", "),
            keys.len(),
            keys.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        )))
    }
}

/// `tcpc install`: prints manifests, never applies them.
fn install(what: InstallCommand) -> Result<(), Failure> {
    let text = match what {
        InstallCommand::ArgocdPlugin { namespace, image, only } => cli::install::argocd(&namespace, &image, only),
        InstallCommand::ArgocdApplicationset { dir, url, revision, name } => {
            let config = install_config(&dir)?;
            let Some(argo) = config.delivery.as_ref().and_then(|d| d.argocd.as_ref()) else {
                eprintln!(
                    "error: tcpc.yaml has no `delivery.argocd`\n  = help: the ApplicationSet targets the cluster Secrets it renders: add `delivery: {{argocd: {{}}}}` and re-render with --identity"
                );
                return Err(Failure::Invalid);
            };
            let path = git_relative(&dir.join(config.output_dir()));
            cli::install::argocd_applicationset(&cli::install::ApplicationSetSettings {
                name: &name,
                namespace: argo.namespace.as_deref().unwrap_or("argocd"),
                project: argo.project.as_deref().unwrap_or("default"),
                url: &url,
                revision: &revision,
                path,
            })
        }
        InstallCommand::Flux { dir, url, branch, name, namespace } => {
            let config = install_config(&dir)?;
            let path = git_relative(&dir.join(config.output_dir()));
            // The tenants' own Kustomizations (delivery.flux) must name the same place and source.
            if let Some(base) = tcpc::resolve::delivery::flux_base(&config) {
                let (sname, sns) = tcpc::resolve::delivery::flux_source(&config);
                if base != path || sname != name || sns != namespace {
                    eprintln!(
                        "warning: delivery.flux in tcpc.yaml points the tenants' Kustomizations at GitRepository {sns}/{sname}, path {base}; \
                         this prints {namespace}/{name}, path {path}: make them agree (delivery.flux.sourceRef, delivery.flux.path)"
                    );
                }
            }
            let sops = matches!(config.sealing_mode(), Some(tcpc_spec::config::SealingMode::Sops));
            cli::install::flux(&cli::install::FluxSettings { name: &name, namespace: &namespace, url: &url, branch: &branch, path, sops })
        }
        InstallCommand::Companion { dir, image } => {
            // Without tcpc.yaml (or without `companion`), the default namespace.
            let config = if dir.join("tcpc.yaml").exists() { install_config(&dir)? } else { tcpc_spec::Config::empty() };
            let namespace =
                config.companion.as_ref().and_then(|c| c.namespace.as_deref()).unwrap_or(tcpc_spec::config::DEFAULT_COMPANION_NAMESPACE);
            cli::install::companion(namespace, &image)
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))
}

/// `tcpc rotate ca|sa-key`: a whole render (never filtered) with the rotation in the intent,
/// written to the configured output.
fn rotate(what: RotateCommand, timeout: std::time::Duration) -> Result<(), Failure> {
    let (intent, dir, keys) = match what {
        RotateCommand::Ca { tenant, dir, keys } => (Intent { rotate_ca: [tenant].into(), ..Intent::default() }, dir, keys),
        RotateCommand::SaKey { tenant, min_overlap, dir, keys } => {
            let overlap = tcpc::join::parse_duration("--min-overlap", &min_overlap, true).map_err(Failure::Io)?;
            let sa_min_overlap = time::Duration::seconds(overlap as i64);
            (Intent { rotate_sa: [tenant].into(), sa_min_overlap, ..Intent::default() }, dir, keys)
        }
    };
    let write = Write { output: None, stdout: false, allow_outside: false };
    render(&dir.path(), None, None, keys.identity.as_deref(), &intent, Some(write), &tcpc::filter::Filter::default(), timeout)
}

/// tcpc.yaml of `dir`, checked (its errors printed).
fn install_config(dir: &Path) -> Result<tcpc_spec::Config, Failure> {
    load_config(dir).map(|loaded| loaded.config.config)
}

/// tcpc.yaml of `dir`, parsed: the configuration, the sources it was read into and the
/// diagnostics so far.
struct LoadedConfig {
    config: tcpc::parse::ConfigFile,
    sources: Sources,
    diags: tcpc::diag::Diagnostics,
}

/// tcpc.yaml of `dir`, checked (its errors printed).
fn load_config(dir: &Path) -> Result<LoadedConfig, Failure> {
    let io = |e: discover::DiscoverError| Failure::Io(e.to_string());
    let mut sources = Sources::default();
    let config_id = discover::read_config(dir).map_err(io)?.map(|text| sources.add(discover::CONFIG_FILE.into(), text));
    let mut diags = tcpc::diag::Diagnostics::default();
    let config = tcpc::parse::ConfigFile::parse(&sources, config_id, &mut diags);
    if diags.has_errors() {
        eprint!("{}", diags.render(&sources));
        return Err(Failure::Invalid);
    }
    Ok(LoadedConfig { config, sources, diags })
}

/// `./<path>` of `path` inside its Git work tree (the directory holding `.git`), for Flux's
/// `spec.path`; `path` as given when it is in no work tree.
fn git_relative(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    let rel =
        clean.ancestors().skip(1).find(|a| a.join(".git").exists()).and_then(|root| clean.strip_prefix(root).ok().map(Path::to_path_buf));
    match rel {
        Some(r) if r.as_os_str().is_empty() => "./".into(),
        Some(r) => format!("./{}", r.display()),
        None => path.display().to_string(),
    }
}

fn import(what: ImportCommand, timeout: std::time::Duration) -> Result<(), Failure> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Failure::Io(format!("reading {}: {e}", p.display())));
    let (dir, key_file, key, plaintext) = match what {
        ImportCommand::DatastoreCa { name, cert, key: key_file, dir } => {
            let dir = dir.path();
            let cert_pem = read(&cert)?;
            let key_pem = match &key_file {
                Some(k) => {
                    let pem = zeroize::Zeroizing::new(read(k)?);
                    validate_ca(&cert_pem, &pem)?;
                    pem
                }
                None => {
                    tcpc_pki::CertInfo::parse(&cert_pem).map_err(|e| Failure::Io(format!("invalid certificate: {e}")))?;
                    zeroize::Zeroizing::new(String::new())
                }
            };
            let state = tcpc::pki::DataStoreState { cert: cert_pem, key: key_pem.to_string() };
            (
                dir,
                key_file.unwrap_or(cert),
                tcpc::pki::datastore_state_key(&name),
                zeroize::Zeroizing::new(serde_json::to_vec(&state).expect("serialises")),
            )
        }
        ImportCommand::DatastoreClientCertificate { name, dir, cert, key } => {
            let dir = dir.path();
            let cert_pem = read(&cert)?;
            let key_pem = zeroize::Zeroizing::new(read(&key)?);
            tcpc_pki::CertInfo::parse(&cert_pem).map_err(|e| Failure::Io(format!("invalid certificate: {e}")))?;
            let parsed = tcpc_pki::PrivateKey::from_pem(&key_pem).map_err(|e| Failure::Io(format!("invalid private key: {e}")))?;
            if !tcpc_pki::key_matches_cert(&cert_pem, &parsed) {
                return Err(Failure::Io(format!("the key in {} is not the certificate's", key.display())));
            }
            let state = tcpc::pki::DataStoreState { cert: cert_pem, key: key_pem.to_string() };
            (
                dir,
                key,
                tcpc::pki::datastore_client_certificate_key(&name),
                zeroize::Zeroizing::new(serde_json::to_vec(&state).expect("serialises")),
            )
        }
        ImportCommand::DatastoreCredentials { name, dir, username, password_file } => {
            let dir = dir.path();
            let mut password = zeroize::Zeroizing::new(if password_file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| Failure::Io(format!("reading the password from stdin: {e}")))?;
                s
            } else {
                read(&password_file)?
            });
            // One trailing newline is the file's, not the password's.
            if password.ends_with('\n') {
                password.pop();
                if password.ends_with('\r') {
                    password.pop();
                }
            }
            if password.is_empty() || username.is_empty() {
                return Err(Failure::Io("the user name and the password must not be empty".into()));
            }
            let creds = tcpc::pki::DataStoreCredentials { username, password: password.to_string() };
            (
                dir,
                password_file,
                tcpc::pki::datastore_credentials_key(&name),
                zeroize::Zeroizing::new(serde_json::to_vec(&creds).expect("serialises")),
            )
        }
        ImportCommand::Ca { tenant, cert, key, chain, dir } => {
            let dir = dir.path();
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
            (dir, key, format!("tenants/{ns}/{name}"), zeroize::Zeroizing::new(serde_json::to_vec(&state).expect("serialises")))
        }
    };
    let _locks = lock_repo_for_writing(&dir, timeout)?;
    let mut sources = Sources::default();
    let config_id =
        discover::read_config(&dir).map_err(|e| Failure::Io(e.to_string()))?.map(|t| sources.add(discover::CONFIG_FILE.into(), t));
    let mut diags = tcpc::diag::Diagnostics::default();
    let config = tcpc::parse::ConfigFile::parse(&sources, config_id, &mut diags).config;
    if diags.has_errors() {
        eprint!("{}", diags.render(&sources));
        return Err(Failure::Invalid);
    }
    if config.pki_recipients().is_empty() {
        return Err(Failure::Io(
            "tcpc.yaml lists no `pki.recipients` to encrypt the state to: add the recipient `tcpc identity` printed (age1…)".into(),
        ));
    }
    let armored = tcpc_seal::state::encrypt_to_recipients(&plaintext, config.pki_recipients()).map_err(|e| Failure::Io(e.to_string()))?;
    let path = dir.join(config.state_dir()).join(format!("{key}.age"));
    commit::commit(&dir, &[(path.clone(), armored)]).map_err(|e| Failure::Io(format!("writing {}: {e}", path.display())))?;
    info!("imported into {} (encrypted to {} recipient(s))", path.display(), config.pki_recipients().len());
    cli::keyfiles::warn_exposed_key(&dir, &key_file);
    Ok(())
}

fn validate_ca(cert_pem: &str, key_pem: &str) -> Result<(), Failure> {
    let key = tcpc_pki::PrivateKey::from_pem(key_pem).map_err(|e| Failure::Io(format!("invalid private key: {e}")))?;
    tcpc_pki::Issuer::new(cert_pem, key).map_err(|e| Failure::Io(format!("cannot use this CA: {e}")))?;
    Ok(())
}

fn identity(output: Option<&Path>) -> Result<(), Failure> {
    use age::secrecy::ExposeSecret as _;
    let id = age::x25519::Identity::generate();
    let text = zeroize::Zeroizing::new(format!(
        "# created by tcpc identity\n# public key: {}\n{}\n",
        id.to_public(),
        id.to_string().expose_secret()
    ));
    match output {
        Some(path) => {
            cli::keyfiles::write_identity(path, &text).map_err(Failure::Io)?;
            info!("wrote {} (mode 0600)", path.display());
        }
        None => std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))?,
    }
    eprintln!("recipient: {}", id.to_public());
    Ok(())
}

fn init(dir: &Path, identity: Option<&Path>, mut recipients: Vec<String>) -> Result<(), Failure> {
    if let Some(path) = identity {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| Failure::Io(format!("reading identity {}: {e}", path.display())))?,
        );
        let ids = tcpc_seal::state::parse_identity_file(&text).map_err(|e| Failure::Io(format!("invalid age identity: {e}")))?;
        recipients.extend(ids.iter().map(|i| i.to_public().to_string()));
    }
    if !recipients.is_empty() {
        tcpc_seal::state::parse_recipients(&recipients).map_err(|e| Failure::Io(format!("--recipient: {e}")))?;
    }
    let written = cli::init::init(dir, &recipients).map_err(Failure::Io)?;
    info!("initialised {}: {}", dir.display(), written.join(", "));
    let d = dir.display();
    let mut steps = Vec::new();
    if recipients.is_empty() {
        steps.push(
            "tcpc identity -o ~/.config/tcpc/identity.txt    # then put the recipient it prints into tcpc.yaml pki.recipients".to_string(),
        );
    }
    steps.push(format!("kubeseal --fetch-cert > {}", dir.join("sealed-secrets.crt").display()));
    steps.push(format!("tcpc import datastore-ca default {d} --cert etcd-ca.crt --key etcd-ca.key   # your management etcd's CA"));
    steps.push(format!("edit {} (or add more TenantControlPlanes)", dir.join("tenants/example.yaml").display()));
    steps.push(format!("tcpc render {d} --identity ~/.config/tcpc/identity.txt"));
    info!("next:");
    for (i, step) in steps.iter().enumerate() {
        info!("  {}. {step}", i + 1);
    }
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

/// Parses and resolves the repository at `dir`: its configuration, sources and tenants (for
/// the commands that read it without rendering).
fn load_resolved(dir: &Path) -> Result<(tcpc_spec::Config, Sources, Vec<tcpc::resolve::Tenant>), Failure> {
    if !dir.is_dir() {
        return Err(Failure::Io(format!("{} is not a directory", dir.display())));
    }
    let io = |e: discover::DiscoverError| Failure::Io(e.to_string());
    let LoadedConfig { config, mut sources, mut diags } = load_config(dir)?;
    discover::read_inputs(dir, &config.config, &not_inputs(&config.config), &mut sources, &mut diags).map_err(io)?;
    if diags.has_errors() {
        eprint!("{}", diags.render(&sources));
        return Err(Failure::Invalid);
    }
    match tcpc::kubeconfig::resolve_all(&sources, &config) {
        Ok(tenants) => Ok((config.config, sources, tenants)),
        Err(diags) => {
            eprint!("{}", diags.render(&sources));
            Err(Failure::Invalid)
        }
    }
}

/// The repository's configuration and the tenant `NS/NAME`.
fn load_tenant(dir: &Path, tenant: &str) -> Result<(tcpc_spec::Config, tcpc::resolve::Tenant), Failure> {
    let Some((ns, name)) = tenant.split_once('/') else {
        return Err(Failure::Io(format!("expected <namespace>/<name>, got `{tenant}`")));
    };
    let (config, _, tenants) = load_resolved(dir)?;
    match tenants.into_iter().find(|t| t.namespace == ns && t.name == name) {
        Some(t) => Ok((config, t)),
        None => Err(Failure::Io(format!("no TenantControlPlane {ns}/{name} in {}", dir.display()))),
    }
}

/// Whether a progress bar may be drawn: a person watches stderr (a terminal, not `-q`), and it
/// is neither CI nor Argo CD's plugin server (both keep stderr as a log).
fn progress_bar_wanted() -> bool {
    use std::io::IsTerminal as _;
    verbosity() >= 1
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("ARGOCD_APP_NAME").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Runs `work`, drawing `[=====>    ] 512/1000 tenants` on stderr while it runs longer than
/// half a second (when [`progress_bar_wanted`]); the line is erased when it ends.
fn with_progress_bar<T>(work: impl FnOnce(&tcpc::Progress) -> T) -> T {
    let progress = tcpc::Progress::default();
    if !progress_bar_wanted() {
        return work(&progress);
    }
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let drawer = scope.spawn(|| {
            let started = std::time::Instant::now();
            let mut drawn = false;
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                let (done, total) = (progress.done.load(Ordering::Relaxed), progress.total.load(Ordering::Relaxed));
                if total == 0 || started.elapsed() < std::time::Duration::from_millis(500) {
                    continue;
                }
                let filled = (done * 30 / total).min(30);
                let bar = format!("{}{}", "=".repeat(filled), " ".repeat(30 - filled));
                eprint!("\r[{bar}] {done}/{total} tenants");
                drawn = true;
            }
            if drawn {
                eprint!("\r\x1b[2K");
            }
        });
        let out = work(&progress);
        finished.store(true, Ordering::Relaxed);
        let _ = drawer.join();
        out
    })
}

/// The lock at `config`'s lock path in `dir` (empty when there is none yet).
fn read_lock(dir: &Path, config: &tcpc_spec::Config) -> Result<tcpc::lock::Lock, Failure> {
    tcpc::lock::read(&dir.join(config.lock_file())).map_err(Failure::Io)
}

/// What the walk for input files skips besides hidden directories: the output tree and the
/// lock's shards.
fn not_inputs(config: &tcpc_spec::Config) -> [PathBuf; 2] {
    [PathBuf::from(config.output_dir()), tcpc::lock::shard_dir(Path::new(config.lock_file()))]
}

/// The status rows of the selected tenants, and the `check` thresholds.
fn status_rows(dir: &Path, tenants: &[String]) -> Result<(Vec<tcpc::status::TenantStatus>, i64, i64), Failure> {
    let filter = tcpc::filter::Filter::new(tenants, None).map_err(Failure::Io)?;
    let (config, sources, tenants) = load_resolved(dir)?;
    let lock = read_lock(dir, &config)?;
    let (warn, fail) = (config.check_warn_days() as i64, config.check_fail_days() as i64);
    let rows = tcpc::status::status(&tenants, |t| sources.get(t.file).display.clone(), &lock, &filter, now()?, warn, fail);
    if rows.is_empty() {
        return Err(Failure::Io("no TenantControlPlane matches".into()));
    }
    Ok((rows, warn, fail))
}

/// `tcpc report`: the HTML page, to stdout or written atomically to `output`.
fn report(dir: &Path, tenants: &[String], output: Option<&Path>) -> Result<(), Failure> {
    let (rows, warn, fail) = status_rows(dir, tenants)?;
    let page = tcpc::report::html(&rows, now()?, warn, fail);
    match output {
        None => std::io::stdout().lock().write_all(page.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}"))),
        Some(path) => {
            // Atomic (a reader never sees half a page); 0600 like every file tcpc writes for a person.
            write_private(path, page.as_bytes()).map_err(|e| Failure::Io(format!("writing {}: {e}", path.display())))?;
            info!("wrote {} ({} tenant(s))", path.display(), rows.len());
            Ok(())
        }
    }
}

/// `tcpc status`: every selected tenant in a table (one tenant: its certificate timeline too).
fn status(dir: &Path, tenants: &[String], format: cli::diff::Format) -> Result<(), Failure> {
    let (rows, _, _) = status_rows(dir, tenants)?;
    let text = match format {
        cli::diff::Format::Json => serde_json::to_string_pretty(&rows).expect("status serialises") + "\n",
        cli::diff::Format::Text if rows.len() == 1 => format!("{}\n{}", tcpc::status::table(&rows), tcpc::status::timeline(&rows[0])),
        cli::diff::Format::Text => tcpc::status::table(&rows),
    };
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")))
}

struct TokenArgs {
    kubeconfig: PathBuf,
    ttl: String,
    description: Option<String>,
}

/// `tcpc join-command NS/NAME`: the `kubeadm join` line, from the lock (public data only);
/// with `--create-token`, a fresh bootstrap token created in the tenant, in the line.
fn join_command(dir: &Path, tenant: &str, token: Option<&TokenArgs>) -> Result<(), Failure> {
    let (config, t) = load_tenant(dir, tenant)?;
    let lock = read_lock(dir, &config)?;
    let tenant_lock = lock.tenants.get(tenant);
    let join = tcpc::join::JoinCommand::for_tenant(&t, tenant_lock).map_err(Failure::Io)?;
    let Some(args) = token else {
        println!("{}", join.line(None));
        info!("add `--token <id>.<secret>`: `tcpc join-command {tenant} --create-token --kubeconfig ADMIN.conf` creates one");
        return Ok(());
    };
    let ttl = tcpc::join::parse_ttl(&args.ttl).map_err(Failure::Io)?;
    let access = cli::token::read_kubeconfig(&args.kubeconfig).map_err(Failure::Io)?;
    // The kubeconfig must lead to this tenant: a token made elsewhere would let nobody join it.
    if let (Some(ca), Some(l)) = (&access.ca_pem, tenant_lock) {
        let theirs = tcpc_pki::public_key_pins(&String::from_utf8_lossy(ca)).unwrap_or_default();
        let ours = tcpc_pki::public_key_pins(&l.ca_bundle).unwrap_or_default();
        if !theirs.iter().any(|p| ours.contains(p)) {
            return Err(Failure::Io(format!(
                "{} trusts another CA than {tenant}'s: it does not lead to this tenant (its server: {}); use the tenant's admin kubeconfig (`tcpc kubeconfig {tenant} …`)",
                args.kubeconfig.display(),
                access.server
            )));
        }
    }
    let expiration = (ttl > 0).then(|| time::OffsetDateTime::now_utc() + time::Duration::seconds(ttl as i64));
    let description = args.description.clone().unwrap_or_else(|| format!("kubeadm join for {tenant}, created by tcpc join-command"));
    let mut rng = rand_core::OsRng;
    for _ in 0..3 {
        let token = tcpc::join::BootstrapToken::generate(&mut rng);
        let body = token.secret_object(expiration, &description);
        match cli::token::create_secret(&access, &body, token.secret()).map_err(Failure::Io)? {
            cli::token::Created::Yes => {
                let until = expiration.map_or("never expires".to_string(), |at| format!("expires {}", tcpc::pki::rfc3339(at)));
                info!("created bootstrap token {} in {tenant} ({until})", token.id);
                let line = zeroize::Zeroizing::new(join.line(Some(&token.reveal())));
                let mut out = std::io::stdout().lock();
                return writeln!(out, "{}", line.as_str()).map_err(|e| Failure::Io(format!("writing to stdout: {e}")));
            }
            cli::token::Created::AlreadyExists => continue,
        }
    }
    Err(Failure::Io("three token ids in a row exist already in the tenant; try again".into()))
}

/// `tcpc kubeconfig`: the kubeconfig of a tenant user, from the encrypted state (IO edge of
/// `tcpc::kubeconfig`). Private key material goes to a 0600 file or a redirected stdout only.
fn kubeconfig(dir: &Path, tenant: &str, user: UserArg, output: Option<PathBuf>, identity: Option<&Path>) -> Result<(), Failure> {
    use std::io::IsTerminal as _;
    let output = output.filter(|p| p.as_os_str() != "-");
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::Io("refusing to print a private key to a terminal: pass `-o FILE` or redirect stdout".into()));
    }
    let (config, t) = load_tenant(dir, tenant)?;
    let identity_text = match (identity, std::env::var("TCPC_AGE_IDENTITY")) {
        (Some(path), _) => zeroize::Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| Failure::Io(format!("reading identity {}: {e}", path.display())))?,
        ),
        (None, Ok(text)) => zeroize::Zeroizing::new(text),
        (None, Err(_)) => {
            return Err(Failure::Io("the age identity is needed: pass `--identity FILE` (or set TCPC_AGE_IDENTITY_FILE)".into()));
        }
    };
    let identities =
        tcpc_seal::state::parse_identity_file(&identity_text).map_err(|e| Failure::Io(format!("invalid age identity: {e}")))?;
    let state_path = dir.join(config.state_dir()).join(format!("{}.age", tcpc::pki::tenant_state_key(&t)));
    let state = std::fs::read_to_string(&state_path).map_err(|e| Failure::Io(format!("reading {}: {e}", state_path.display())))?;
    let user = match user {
        UserArg::Admin => tcpc::kubeconfig::User::Admin,
        UserArg::SuperAdmin => tcpc::kubeconfig::User::SuperAdmin,
    };
    let text = tcpc::kubeconfig::kubeconfig(&t, &state, &identities, user, now()?).map_err(Failure::Io)?;
    match output {
        None => std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| Failure::Io(format!("writing to stdout: {e}"))),
        Some(path) => {
            write_private(&path, text.as_bytes()).map_err(|e| Failure::Io(format!("writing {}: {e}", path.display())))?;
            eprintln!("wrote {} (mode 0600)", path.display());
            Ok(())
        }
    }
}

/// Writes `content` to `path` atomically as a new file of mode 0600 (never readable by others,
/// not even for a moment): a fresh temp file next to it, synced, then renamed over it.
fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = path.with_file_name(format!(".{}.tcpc-tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
