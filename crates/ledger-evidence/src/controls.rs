//! Per-control sections: ISO/IEC 27001:2022 Annex A ids with their 2013
//! aliases (DOMAIN.md §5), each with the facts that show the control
//! working, samples, and the exceptions found.

use serde::Serialize;
use serde_json::Value;

/// Whether the evidence shows the control working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// No exception found.
    Effective,
    /// At least one exception.
    Finding,
}

/// One control's section.
#[derive(Clone, Debug, Serialize)]
pub struct ControlSection {
    /// 2022 id, e.g. `8.15`.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// 2013 aliases.
    pub aliases_2013: &'static [&'static str],
    /// Status.
    pub status: Status,
    /// What the ledger shows for it.
    pub summary: String,
    /// Counts and figures.
    pub facts: Value,
    /// A few examples (seqs, references).
    pub samples: Vec<Value>,
    /// Exceptions found (each a finding).
    pub exceptions: Vec<String>,
}

/// The controls of DOMAIN.md §5, in its order.
pub const CONTROLS: &[(&str, &str, &[&str])] = &[
    ("8.15", "Logging", &["A.12.4.1", "A.12.4.2", "A.12.4.3"]),
    ("8.17", "Clock synchronization", &["A.12.4.4"]),
    ("5.28", "Collection of evidence", &["A.16.1.7"]),
    ("5.33", "Protection of records", &["A.18.1.3"]),
    ("5.34", "Privacy and protection of PII", &["A.18.1.4"]),
    ("8.10", "Information deletion", &["A.8.3.2", "A.11.2.7"]),
    ("8.24", "Use of cryptography", &["A.10.1.1", "A.10.1.2"]),
    ("8.13", "Information backup", &["A.12.3.1"]),
    (
        "5.19-5.22",
        "Supplier relationships",
        &["A.15.1.1", "A.15.1.2", "A.15.1.3", "A.15.2.1", "A.15.2.2"],
    ),
    (
        "5.14",
        "Information transfer",
        &["A.13.2.1", "A.13.2.2", "A.13.2.3"],
    ),
    (
        "5.15-5.18",
        "Access control, identity, authentication, access rights",
        &["A.9.1.1", "A.9.2.1", "A.9.2.2", "A.9.2.3", "A.9.4.2"],
    ),
];

/// Builds a section for control `id` (one of [`CONTROLS`]).
pub fn section(
    id: &'static str,
    summary: String,
    facts: Value,
    samples: Vec<Value>,
    exceptions: Vec<String>,
) -> ControlSection {
    let (title, aliases) = CONTROLS
        .iter()
        .find(|(i, _, _)| *i == id)
        .map(|(_, t, a)| (*t, *a))
        .unwrap_or(("", &[]));
    ControlSection {
        id,
        title,
        aliases_2013: aliases,
        status: if exceptions.is_empty() {
            Status::Effective
        } else {
            Status::Finding
        },
        summary,
        facts,
        samples,
        exceptions,
    }
}
