//! `ledger`: the operator's command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;

/// Operator tool for the compliance ledger.
#[derive(Parser, Debug)]
#[command(name = "ledger", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a ledger, append concurrently, checkpoint, prove and verify it.
    Demo {
        /// Ledger directory (created; an existing ledger there is extended).
        #[arg(long, default_value = "demo-ledger")]
        dir: PathBuf,
        /// Number of events to append.
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Number of concurrent appending tasks.
        #[arg(long, default_value_t = 32)]
        tasks: u64,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir, events, tasks } => demo::run(&dir, events, tasks),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
