//! Reads of a subject's decrypted data, each preceded by a durable access
//! event (`data_accessed`, with the reader's pseudonym, role and purpose),
//! so every read shows in the subject's own Art. 15 access log.

use ledger_compliance::query::{QueryError, SubjectReport};
use ledger_compliance::vocab::{Purpose, Role};
use ledger_compliance::{ComplianceEvent, ComplianceLedger, Facts, RecordError};
use ledger_core::ScopeId;

use crate::error::PackageError;
use crate::package::{self, Package};

/// Who reads, in what role and why.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The reader's pseudonym (the actor of the access event).
    pub actor: String,
    /// The role the reader acts in.
    pub role: Role,
    /// Why the data is read.
    pub purpose: Purpose,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The projections cannot be read.
    #[error("reading the subject's records")]
    Query(#[from] QueryError),
    /// The access event cannot be recorded (then nothing is read).
    #[error("recording the access")]
    Record(#[from] RecordError),
    /// The package cannot be built.
    #[error(transparent)]
    Package(#[from] PackageError),
}

/// The subject report of `subject` (None: the log knows no such subject),
/// its decrypted current data read only after `reader`'s access is durable.
/// An erased subject's report holds no personal data and records nothing.
pub async fn subject_report(
    compliance: &ComplianceLedger,
    subject: &ScopeId,
    reader: &Reader,
) -> Result<Option<SubjectReport>, AccessError> {
    // Whether there is anything to read, from the projections alone: no
    // key is touched before the access is durable.
    let now = ledger_core::Clock::now(compliance.clock().as_ref());
    let keyless = compliance
        .query(|q| q.subject_report(subject, compliance.options(), now))
        .map_err(QueryError::from)?;
    let Some(report) = keyless else {
        return Ok(None);
    };
    if report.erased {
        return Ok(Some(report));
    }
    record_access(compliance, *subject, reader).await?;
    Ok(compliance.subject_report(subject)?)
}

/// The access package of `subject` (Art. 15 and 20), built after `reader`'s
/// access is durable, so the package's own access log lists this read.
/// Signs a checkpoint with [`ledger_core::Ledger::checkpoint_blocking`], so
/// from async code call [`subject_report`] and then [`package::build`] off
/// the async threads.
pub async fn access_package(
    compliance: &ComplianceLedger,
    subject: &ScopeId,
    reader: &Reader,
) -> Result<Option<Package>, AccessError> {
    let Some(report) = subject_report(compliance, subject, reader).await? else {
        return Ok(None);
    };
    Ok(Some(package::build(compliance, &report)?))
}

/// Records `reader`'s access to `subject`'s data; returns once durable.
pub async fn record_access(
    compliance: &ComplianceLedger,
    subject: ScopeId,
    reader: &Reader,
) -> Result<(), RecordError> {
    compliance
        .record(ComplianceEvent::subject(
            subject,
            reader.actor.clone(),
            Facts::DataAccessed {
                role: reader.role,
                purpose: reader.purpose,
            },
        ))
        .await?;
    Ok(())
}
