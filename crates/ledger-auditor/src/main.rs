//! `ledger-auditor`: the read-only auditor's tool for a compliance ledger.
//!
//! It needs only a ledger directory (or a snapshot of one, or an export made
//! by `export-log`) and the log's public checkpoint key. It never reads a
//! secret of the ledger (neither the checkpoint signing key nor any key
//! directory) and never appends to the ledger. A witness keeps its own key
//! and state in a directory of its own.
//!
//! Exit codes: 0 = ok; 1 = verification failed, or a finding (a refused
//! checkpoint, a proof that does not verify); 2 = usage or I/O error.
//!
//! Each subcommand lives in its own module under `cmd/`; adding one means
//! adding a module there and a variant to [`Command`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod export;
mod files;
mod keys;
mod open;
mod output;
mod progress;
mod proof;

use output::Context;

/// Read-only auditor for the compliance ledger: verify a ledger or an
/// export, print checkpoints, witness (cosign) checkpoints, produce and
/// check proofs, export the log.
///
/// Needs only the ledger directory (or a snapshot or export) and the log's
/// public key; never a secret of the ledger, and never writes to it.
/// Exit codes: 0 = ok, 1 = verification failed or a finding, 2 = usage or
/// I/O error.
#[derive(Parser, Debug)]
#[command(name = "ledger-auditor", version, about, long_about)]
struct Cli {
    /// Hide progress bars and notes on stderr (results still go to stdout).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Machine-readable JSON on stdout instead of text, where the command
    /// reports something; errors too are one JSON object (on stderr).
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify a ledger (fully, or from a trusted checkpoint) or an export.
    Verify(cmd::verify::Args),
    /// Print the latest (or a given) signed checkpoint note, byte for byte.
    Checkpoint(cmd::checkpoint::Args),
    /// Witness the log: check the new checkpoint against the one kept in the
    /// state directory and cosign it (C2SP cosignature/v1).
    Witness(cmd::witness::Args),
    /// Inclusion proof of one record against a signed checkpoint.
    Prove(cmd::prove::Args),
    /// Consistency proof between two tree sizes, as JSON.
    Consistency(cmd::consistency::Args),
    /// Check a proof offline: the checkpoint's signature, then the proof.
    CheckProof(cmd::check_proof::Args),
    /// Export the log as NDJSON (docs/FORMAT.md §11) for independent verification.
    ExportLog(cmd::export_log::Args),
    /// The GDPR Art. 30 record of processing activities, derived from the log (JSON or CSV).
    Ropa(cmd::ropa::Args),
    /// Write an ISO/IEC 27001:2022 and GDPR evidence bundle (or re-check one with --check).
    Evidence(cmd::evidence::Args),
}

fn main() -> ExitCode {
    ledger_report::quiet_broken_pipe();
    // Usage errors exit with clap's code 2; `--help` and `--version` with 0.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = ledger_report::wants_json(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, json),
    };
    let ctx = Context {
        quiet: cli.quiet,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Verify(args) => cmd::verify::run(args, &ctx),
        Command::Checkpoint(args) => cmd::checkpoint::run(args, &ctx),
        Command::Witness(args) => cmd::witness::run(args, &ctx),
        Command::Prove(args) => cmd::prove::run(args, &ctx),
        Command::Consistency(args) => cmd::consistency::run(args, &ctx),
        Command::CheckProof(args) => cmd::check_proof::run(args, &ctx),
        Command::ExportLog(args) => cmd::export_log::run(args, &ctx),
        Command::Evidence(args) => cmd::evidence::run(args, &ctx),
        Command::Ropa(args) => cmd::ropa::run(args, &ctx),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(e) if ledger_report::is_broken_pipe(&e) => {
            ExitCode::from(ledger_report::EXIT_BROKEN_PIPE)
        }
        Err(e) => {
            ledger_report::print_error(&e, ctx.json, 2);
            ExitCode::from(2)
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
    let value =
        serde_json::json!({ "error": message, "causes": [message], "exit": 2, "usage": rendered });
    eprintln!("{value}");
    ExitCode::from(2)
}
