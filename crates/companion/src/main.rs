//! `tcpc-companion`: reports the live status of tenants rendered by tcpc. See the library's
//! documentation (`src/lib.rs`) for what it does and why it is a binary of its own.

use std::process::ExitCode;

const USAGE: &str = "usage: tcpc-companion [run | crd | --version | --help]

  (no argument), run   watch RenderedControlPlanes and report their status
  crd                  print the RenderedControlPlane CRD generated from the types, as JSON
  --version            print the version

environment: WATCH_NAMESPACE, TCPC_COMPANION_RESYNC_SECONDS (5), TCPC_COMPANION_LEADER_ELECTION (true),
             POD_NAMESPACE, POD_NAME, TCPC_COMPANION_LISTEN (0.0.0.0:8080), RUST_LOG (info)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        [] | ["run"] => run(),
        ["--version" | "-V" | "version"] => {
            println!("tcpc-companion {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        ["crd"] => match serde_json::to_string_pretty(&tcpc_companion::crd::crd()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        ["--help" | "-h" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().json().flatten_event(true).with_current_span(false).with_span_list(false).with_env_filter(filter).init();
    let settings = match tcpc_companion::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), ?settings, "tcpc-companion starting");
    match runtime.block_on(tcpc_companion::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
