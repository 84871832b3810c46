//! `ledger`: the operator's command-line tool for the compliance ledger.
//!
//! One module per command under `cmd/`; opening a ledger (and saying who
//! holds it when it is busy) in `open.rs`; the NDJSON wire form of events in
//! `ledger_usecases::wire`. Exit codes: 0 ok, 1 a finding (verification failed, a line
//! refused, an overdue request), 2 usage or I/O error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod cmd;
mod open;
mod progress;
pub(crate) use ledger_usecases::wire;

/// Exit code of a finding: verification failed, a line was refused, a
/// request is overdue.
pub(crate) const EXIT_FINDING: u8 = 1;
/// Exit code of a usage or I/O error (clap uses it for bad arguments too).
pub(crate) const EXIT_ERROR: u8 = 2;

/// Operator tool for the compliance ledger: run the demo, create a ledger,
/// append events, erase subjects, rotate keys, run retention, snapshot,
/// export a subject's access answer.
///
/// Exit codes: 0 ok; 1 a finding (verification failed, a line refused, a
/// request overdue); 2 usage or I/O error (including a ledger held by another
/// process, which is named, and an unknown subject).
#[derive(Parser, Debug)]
#[command(name = "ledger", version, about, long_about)]
struct Cli {
    /// Ledger directory. Its key-encryption keys live in the sibling
    /// directory `<DIR>.kek`.
    #[arg(long, global = true, env = "LEDGER_DIR", default_value = "demo-ledger")]
    dir: PathBuf,
    /// Machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: cmd::Command,
}

/// What every command gets.
#[derive(Debug)]
pub(crate) struct Global {
    /// Ledger directory.
    pub(crate) dir: PathBuf,
    /// JSON output.
    pub(crate) json: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let global = Global {
        dir: cli.dir,
        json: cli.json,
    };
    match cmd::run(cli.command, &global) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
