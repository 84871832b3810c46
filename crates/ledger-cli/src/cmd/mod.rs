//! The commands, one module each.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Global;

mod append;
pub(crate) mod checkpoint;
mod demo;
mod erase;
mod init;
mod retention;
mod rotate;
mod serve;
mod snapshot;
pub(crate) mod subject;

/// The commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Simulate a year of a software company's data protection in a new
    /// ledger, then verify and checkpoint it.
    ///
    /// Creates the ledger (default `./demo-ledger`, keys in
    /// `./demo-ledger.kek`), follows the company's privacy policy for N
    /// customers through a simulated year (sign-ups, consents, newsletters,
    /// unsubscribes, tickets, escalations, remote access, processors and
    /// transfers, backups, rights requests, erasures on request and by
    /// retention), verifies the whole log, signs a checkpoint and prints a
    /// summary. Deterministic for a given seed: same events, same counts.
    Demo(demo::Args),
    /// Create a ledger and its key store; print its id, origin and verifier key path.
    Init(init::Args),
    /// Append events read as NDJSON on stdin; print one receipt per line.
    #[command(long_about = append::LONG_ABOUT)]
    Append(append::Args),
    /// Erase a subject (and its tickets) by crypto-shredding; print the receipts.
    Erase(erase::Args),
    /// Rotate the key-encryption key: re-wrap every live key, destroy the
    /// old KEK, complete pending erasures with certificates.
    RotateKeys(rotate::Args),
    /// Retention: erase what is kept past its limit, report request deadlines.
    #[command(subcommand)]
    Retention(retention::Command),
    /// Sign a checkpoint of the current head now; print its size, root and
    /// signed note. (Every command that appends signs one before it exits.)
    Checkpoint(checkpoint::Args),
    /// Write a consistent copy of the ledger (no secret keys) for auditors.
    Snapshot(snapshot::Args),
    /// Answer a data subject: `subject export` writes their access package
    /// (GDPR Art. 15 answer with inclusion proofs, Art. 20 portability subset).
    #[command(subcommand)]
    Subject(subject::Command),
    /// Serve the ledger over HTTP(S) with API tokens and roles (docs/API.md).
    Serve(serve::Args),
    /// Manage the API's principals and tokens (create, list, revoke).
    #[command(subcommand)]
    Token(serve::TokenCommand),
}

/// Runs `command`.
pub(crate) fn run(command: Command, global: &Global) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(args) => demo::run(&args, global),
        Command::Init(args) => init::run(&args, global),
        Command::Append(args) => append::run(&args, global),
        Command::Erase(args) => erase::run(&args, global),
        Command::RotateKeys(args) => rotate::run(&args, global),
        Command::Retention(command) => retention::run(&command, global),
        Command::Checkpoint(args) => checkpoint::run(&args, global),
        Command::Snapshot(args) => snapshot::run(&args, global),
        Command::Subject(command) => subject::run(&command, global),
        Command::Serve(args) => serve::run(&args, global),
        Command::Token(command) => serve::run_token(&command, global),
    }
}

/// Prints `value` as one line of JSON on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
