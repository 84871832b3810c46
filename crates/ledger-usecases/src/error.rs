//! Why a use case failed. Messages name steps, record numbers and codes,
//! never a value read from the input or a decrypted field.

/// Why an access package cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A step failed (signing the checkpoint, reading or proving a record,
    /// opening a sealed payload).
    #[error("{step}")]
    Step {
        /// What was being done.
        step: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading the log failed.
    #[error("reading the log")]
    Read(#[from] ledger_core::ReadError),
    /// Reading the key store failed.
    #[error("reading the key store")]
    Store(#[from] ledger_vault::StoreError),
    /// A decrypted payload does not parse as personal data.
    #[error("record {seq}: the decrypted payload is not personal data in the stored form")]
    NotPersonalData {
        /// The record.
        seq: u64,
    },
}

/// Names the step of a failed result, like `anyhow::Context` does.
pub(crate) trait Context<T> {
    /// Wraps the error with `step`.
    fn context(self, step: &str) -> Result<T, PackageError>;
    /// Wraps the error with the step `step()` names.
    fn with_context(self, step: impl FnOnce() -> String) -> Result<T, PackageError>;
}

impl<T, E> Context<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn context(self, step: &str) -> Result<T, PackageError> {
        self.map_err(|e| PackageError::Step {
            step: step.to_owned(),
            source: Box::new(e),
        })
    }

    fn with_context(self, step: impl FnOnce() -> String) -> Result<T, PackageError> {
        self.map_err(|e| PackageError::Step {
            step: step(),
            source: Box::new(e),
        })
    }
}
