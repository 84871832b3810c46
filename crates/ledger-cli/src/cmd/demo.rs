//! placeholder
use std::process::ExitCode;
use crate::Global;
/// Arguments of `ledger demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}
pub(crate) fn run(_args: &Args, _global: &Global) -> anyhow::Result<ExitCode> { Ok(ExitCode::SUCCESS) }
