//! `ledger`: the operator's command-line tool for the compliance ledger.
//!
//! One module per command under `cmd/`; opening a ledger (and saying who
//! holds it when it is busy) in `open.rs`; the marker `init` and `demo`
//! leave in a ledger directory, and what `demo --force` may delete, in
//! `marker.rs`; errors, a closed stdout and colour in `report.rs`; the
//! NDJSON wire form of events in `ledger_usecases::wire`. Exit codes: 0 ok, 1 a finding (verification failed, a line
//! refused, an overdue request), 2 usage or I/O error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

mod cmd;
mod email_input;
mod marker;
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
    /// Ledger directory (or `$LEDGER_DIR`); required by every command but
    /// `demo`, whose default is `demo-ledger`. Its key-encryption keys live
    /// in the sibling directory `<DIR>.kek`.
    #[arg(
        long,
        visible_alias = "ledger",
        global = true,
        env = "LEDGER_DIR",
        value_name = "DIR"
    )]
    dir: Option<PathBuf>,
    /// Keep the ledger's records and state in PostgreSQL instead of in
    /// --dir (or `$LEDGER_STORE`): `postgres://USER@HOST:PORT/DB[?schema=NAME]`.
    /// --dir then holds only the local files: the lock, the checkpoint
    /// signing key and, beside it in `<DIR>.kek`, the key-encryption keys;
    /// no key ever goes to the database.
    #[arg(long, global = true, env = "LEDGER_STORE", value_name = "URL")]
    store: Option<String>,
    /// Machine-readable JSON on stdout instead of text; errors too are one
    /// JSON object (on stderr).
    #[arg(long, global = true)]
    json: bool,
    /// Hide progress bars and notes on stderr (results, refusals and errors
    /// still go out).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: cmd::Command,
}

/// What every command gets.
#[derive(Debug)]
pub(crate) struct Global {
    /// Ledger directory, if given (`--dir` or `$LEDGER_DIR`).
    dir: Option<PathBuf>,
    /// PostgreSQL store URL, if given (`--store` or `$LEDGER_STORE`).
    store: Option<String>,
    /// JSON output.
    pub(crate) json: bool,
    /// No progress bars or notes.
    pub(crate) quiet: bool,
}

impl Global {
    /// The ledger directory: an operator command names it explicitly, so
    /// none writes to a default place by accident.
    pub(crate) fn dir(&self) -> anyhow::Result<&Path> {
        self.dir.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "no ledger directory given: pass --dir DIR (or set LEDGER_DIR); only `ledger demo` has a default"
            )
        })
    }

    /// How a command opens the ledger by default: on `--store` if given.
    pub(crate) fn spec(&self) -> open::OpenSpec {
        open::OpenSpec {
            store: self.store.clone(),
            ..open::OpenSpec::default()
        }
    }

    /// The PostgreSQL store URL, if given.
    pub(crate) fn store(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// The ledger directory of `demo`: as given, else `demo-ledger`.
    pub(crate) fn demo_dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("demo-ledger"))
    }
}

fn main() -> ExitCode {
    ledger_report::quiet_broken_pipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_ansi(ledger_report::stderr_colour())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = ledger_report::wants_json(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, json),
    };
    progress::set_quiet(cli.quiet);
    let global = Global {
        dir: cli.dir,
        store: cli.store,
        json: cli.json,
        quiet: cli.quiet,
    };
    match cmd::run(cli.command, &global) {
        Ok(code) => code,
        Err(e) if ledger_report::is_broken_pipe(&e) => {
            ExitCode::from(ledger_report::EXIT_BROKEN_PIPE)
        }
        Err(e) => {
            ledger_report::print_error(&e, global.json, EXIT_ERROR);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Help and version as clap prints them; a usage error as clap prints it,
/// or as one JSON object on stderr when `--json` was given.
fn usage_error(e: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !json || informational {
        e.exit();
    }
    let rendered = e.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    let value = serde_json::json!({ "error": message, "causes": [message], "exit": EXIT_ERROR, "usage": rendered });
    eprintln!("{value}");
    ExitCode::from(EXIT_ERROR)
}
