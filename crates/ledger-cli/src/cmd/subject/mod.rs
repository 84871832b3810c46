//! `ledger subject ...`: answers to a data subject.
//!
//! `export` writes the Art. 15 access answer (`access.json`, `access.html`)
//! and the Art. 20 portability subset (`portability.json`): `ledger_usecases`
//! builds them (`package`), renders the page (`html`) and words the codes.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Global;

mod export;
pub(crate) use ledger_usecases::{html, package};

pub(crate) use export::{write_package, Written};

/// `ledger subject` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Write a subject's access package (GDPR Art. 15 and 20) to a directory.
    #[command(long_about = export::LONG_ABOUT)]
    Export(export::Args),
}

/// Runs `command`.
pub(crate) fn run(command: &Command, global: &Global) -> anyhow::Result<ExitCode> {
    match command {
        Command::Export(args) => export::run(args, global),
    }
}
