//! Reading a record's payload: decrypted, erased, or clear.

use std::fmt;

use ledger_core::{KeyRef, ScopeId, StoredRecord};
use zeroize::Zeroizing;

use crate::audit::AuditMetadata;
use crate::error::{AuditMetadataError, OpenPayloadError, StoreError};
use crate::seal::{self, OpenFailure};
use crate::store::{self, FenceState};
use crate::vault::Vault;

/// What a record's payload turned out to be.
pub enum Payload {
    /// A sealed payload, decrypted, with its clear audit metadata.
    Plain {
        /// The plaintext. Zeroed when dropped.
        plaintext: Zeroizing<Vec<u8>>,
        /// The audit metadata it was sealed with, if any.
        metadata: Option<AuditMetadata>,
    },
    /// A sealed payload of an erased subject: its key no longer exists; its
    /// audit metadata (no personal data) is still readable.
    Erased {
        /// The subject.
        subject: ScopeId,
        /// The destroyed key the payload was sealed with.
        key_ref: KeyRef,
        /// Where the erasure stands.
        erasure: FenceState,
        /// The audit metadata it was sealed with, if any. Not authenticated
        /// any more (the key is gone); the chain still protects it.
        metadata: Option<AuditMetadata>,
    },
    /// A payload stored in clear (no key reference): metadata only.
    Clear(Vec<u8>),
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Plain {
                plaintext,
                metadata,
            } => f
                .debug_struct("Plain")
                .field(
                    "plaintext",
                    &format_args!("<{} bytes redacted>", plaintext.len()),
                )
                .field("metadata", metadata)
                .finish(),
            Payload::Erased {
                subject,
                key_ref,
                erasure,
                metadata,
            } => f
                .debug_struct("Erased")
                .field("subject", subject)
                .field("key_ref", key_ref)
                .field("erasure", erasure)
                .field("metadata", metadata)
                .finish(),
            Payload::Clear(p) => write!(f, "Clear({} bytes)", p.len()),
        }
    }
}

impl Payload {
    /// The decrypted bytes, if this is [`Payload::Plain`].
    pub fn plain(&self) -> Option<&[u8]> {
        match self {
            Payload::Plain { plaintext, .. } => Some(plaintext),
            _ => None,
        }
    }

    /// The clear audit metadata of a sealed payload (plain or erased), if
    /// it was sealed with any.
    pub fn audit_metadata(&self) -> Option<&AuditMetadata> {
        match self {
            Payload::Plain { metadata, .. } | Payload::Erased { metadata, .. } => metadata.as_ref(),
            Payload::Clear(_) => None,
        }
    }

    /// True for [`Payload::Erased`].
    pub fn is_erased(&self) -> bool {
        matches!(self, Payload::Erased { .. })
    }
}

impl Vault {
    /// Opens a record's payload: [`Payload::Plain`] for a sealed payload of a
    /// live subject, [`Payload::Erased`] once the subject was erased,
    /// [`Payload::Clear`] for a record without a key reference. The audit
    /// metadata of a sealed payload comes with the first two.
    pub fn open_payload(&self, stored: &StoredRecord) -> Result<Payload, OpenPayloadError> {
        let record = &stored.record;
        let seq = stored.seq;
        let Some(record_key) = record.key_ref else {
            return Ok(Payload::Clear(record.payload.clone()));
        };
        let subject = record
            .subject
            .ok_or(OpenPayloadError::MissingScope { seq })?;
        let parts =
            seal::split_payload(&record.payload).map_err(|f| open_error(seq, subject, f))?;
        let metadata = AuditMetadata::decode(parts.metadata)
            .map_err(|source| OpenPayloadError::Metadata { seq, source })?;
        if let Some(fence) = store::fence(self.inner.storage.as_ref(), &subject)? {
            return Ok(Payload::Erased {
                subject,
                key_ref: record_key,
                erasure: fence.state,
                metadata,
            });
        }
        let dek = match self.inner.cached_dek(&subject) {
            Some(dek) => dek,
            // Readers do not fill the cache: only appends, which exclude
            // erasure, may, so no erased key can linger in memory.
            None => self
                .inner
                .load_dek(&subject)?
                .ok_or(OpenPayloadError::UnknownKey { seq, subject })?,
        };
        if dek.key_ref != record_key {
            return Err(OpenPayloadError::WrongKey {
                seq,
                subject,
                record: record_key,
                stored: dek.key_ref,
            });
        }
        match seal::open_payload(
            &dek.key,
            &self.inner.ledger_id,
            &subject,
            &record_key,
            &record.event_type,
            &record.payload,
        ) {
            Ok(plaintext) => Ok(Payload::Plain {
                plaintext,
                metadata,
            }),
            Err(f) => Err(open_error(seq, subject, f)),
        }
    }

    /// Reads record `seq` and opens its payload.
    pub fn read(&self, seq: u64) -> Result<(StoredRecord, Payload), crate::VaultError> {
        let stored = self
            .inner
            .ledger
            .get(seq)
            .map_err(|e| StoreError::Damaged {
                what: "record",
                detail: e.to_string(),
            })?;
        let payload = self.open_payload(&stored)?;
        Ok((stored, payload))
    }
}

fn open_error(seq: u64, subject: ScopeId, failure: OpenFailure) -> OpenPayloadError {
    match failure {
        OpenFailure::Unauthentic => OpenPayloadError::Tampered { seq, subject },
        OpenFailure::UnknownFormat { format } => OpenPayloadError::UnknownFormat { seq, format },
        OpenFailure::Truncated { len } => OpenPayloadError::Truncated { seq, len },
        OpenFailure::MetadataTooLarge { len } => OpenPayloadError::Metadata {
            seq,
            source: AuditMetadataError::TooLarge {
                len,
                max: seal::MAX_METADATA_LEN,
            },
        },
    }
}
