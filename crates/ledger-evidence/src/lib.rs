//! Evidence bundles for auditors: ISO/IEC 27001:2022 Annex A (with 2013
//! aliases) and GDPR facts derived from the ledger with **no secret key** —
//! only the log and the public checkpoint key.
//!
//! A bundle is a directory:
//!
//! | file | what |
//! |---|---|
//! | `manifest.json` | every other file with its size, blake3 and SHA-256; the ledger id, origin, the signed checkpoint the bundle covers, the period; `lacks`, what this copy of the ledger could not supply (empty when complete) |
//! | `MANIFEST.hash` | blake3 and SHA-256 of `manifest.json` |
//! | `checkpoint.txt` | the signed checkpoint note (C2SP) |
//! | `verification.json` | result of verifying the whole log |
//! | `controls.json` | one section per control: facts, samples, exceptions |
//! | `requests.json` | rights requests: statistics and each request's turnaround |
//! | `retention.json` | tickets and backups against their retention limits |
//! | `register.json` | recipients, shares, transfers with safeguards, disclosures |
//! | `key-lifecycle.json` | KEK rotations, erasures and their certificates |
//! | `erasure-certificates/*.json` | the key-destruction certificates as stored |
//! | `proofs.json` | inclusion proofs of sampled records against the checkpoint |
//! | `events-by-month.json` | record counts per month and type |
//! | `ropa.json`, `ropa.csv` | the GDPR Art. 30(1) record of processing activities, derived from the events |
//! | `report.html` | the same for a person: no script, no external asset, inline SVG |
//! | `oscal/assessment-plan.json`, `oscal/assessment-results.json` | NIST OSCAL 1.1.2 |
//!
//! A bundle is written only into a new or empty directory.
//! [`check_bundle`] re-checks a bundle later: every file against the
//! manifest (a file it does not list is a problem), the manifest against `MANIFEST.hash`, the checkpoint's
//! signature, and (given the ledger) that the ledger still has that root.

mod bundle;
pub mod controls;
pub mod facts;
mod html;
mod oscal;

pub use bundle::{
    check_bundle, write_bundle, BundleOptions, BundleSummary, CheckReport, BUNDLE_FORMAT,
};

/// Building or checking a bundle failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A record could not be read.
    #[error("record {seq}: {detail}")]
    Record {
        /// Seq.
        seq: u64,
        /// What.
        detail: String,
    },
    /// Reading the ledger failed.
    #[error(transparent)]
    Read(#[from] ledger_core::ReadError),
    /// The ledger has no signed checkpoint to bind the bundle to.
    #[error("the ledger has no signed checkpoint; the operator must make one (`ledger` checkpoints automatically)")]
    NoCheckpoint,
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The output directory exists and is not empty (or is not a
    /// directory): a bundle is written only into a fresh directory.
    #[error("{path} already exists and is not an empty directory; a bundle is written only into a new or empty directory")]
    NotFresh {
        /// The directory.
        path: std::path::PathBuf,
    },
    /// The bundle is malformed.
    #[error("bundle: {0}")]
    Bundle(String),
}
