//! The compliance ledger's use cases, called by both the command-line tool
//! (`ledger`) and the HTTP server (`ledger serve`):
//!
//! - [`wire`]: the JSON/NDJSON wire form of events;
//! - [`package`], [`html`], [`wording`]: the Art. 15 access answer and the
//!   Art. 20 portability subset of one subject;
//! - [`access`]: reads of decrypted data, each preceded by a durable access
//!   event;
//! - [`proof`]: the one JSON form of an inclusion proof;
//! - [`config`]: the controller's details, read from a file.

pub mod access;
pub mod config;
pub mod error;
pub mod html;
pub mod package;
pub mod proof;
pub mod wire;
pub mod wording;

pub use error::PackageError;
