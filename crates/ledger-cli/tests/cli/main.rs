//! End-to-end tests of the `ledger` binary: one test binary made of modules.

#![allow(clippy::unwrap_used, missing_docs)]

mod append;
mod checkpoint;
mod demo;
mod erase;
mod errors;
mod force;
mod import;
mod output;
mod postgres;
mod retention;
mod serve;
mod subject;
mod support;
