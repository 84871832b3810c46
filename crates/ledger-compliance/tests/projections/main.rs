//! Projections and queries: transitions of each projection, due dates,
//! the record of processing, erasure, reopening, and incremental = rebuilt.

#![allow(clippy::unwrap_used)]

mod harness;
mod incremental;
mod queries;
mod retention;
mod store;
mod transitions;
