//! End-to-end tests of the `ledger-auditor` binary: ledgers are made with
//! the ledger-core API, the auditor runs as a separate process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod evidence;
mod export;
mod forgeries;
mod live;
mod postgres;
mod proofs;
mod support;
mod verify;
mod witness;
