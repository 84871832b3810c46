//! Erasure by crypto-shredding: fence, record, destroy the DEK.
//!
//! Order (each step durable before the next, see `docs/ERASURE.md`):
//! 1. under the subject's exclusive lock, write the fence (state `Pending`,
//!    with the stale wrapped DEK) and delete the blind-index entries;
//! 2. append the `vault.subject_erased` record;
//! 3. mark the fence `Erased { seq }` and delete the wrapped DEK, in one batch;
//! 4. rotate the KEK (inline, later, or on demand) to finish it.
//!
//! A crash after 1 is finished on open: the record is appended unless it is
//! found in the subject's records after the fence's ledger size.

use chrono::{DateTime, Utc};
use ledger_core::storage::WriteBatch;
use ledger_core::{Event, KeyRef, ScopeId};
use serde::{Deserialize, Serialize};

use crate::blind;
use crate::error::{EraseError, StoreError, VaultOpenError};
use crate::rotate::RotationReport;
use crate::runtime;
use crate::store::{self, Fence, FenceState};
use crate::vault::Vault;

/// Event type of the record an erasure appends (clear payload: [`ErasedEventPayload`]).
pub const SCOPE_ERASED_EVENT: &str = "vault.subject_erased";

/// Who asks for an erasure and why. Every field is a code or pseudonym:
/// 1..=128 bytes of printable ASCII, never personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureRequest {
    /// Reason code, e.g. `gdpr-art17-1a` or `retention-expired`.
    pub reason: String,
    /// Reference of the request in the request register, e.g. `DSR-2026-0042`.
    pub request_ref: String,
    /// Pseudonymous id of the operator (recorded as the actor).
    pub operator: String,
}

/// The clear JSON payload of a `vault.subject_erased` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasedEventPayload {
    /// Subject pseudonym, 32 hex digits.
    pub subject: String,
    /// Destroyed DEK id, 32 hex digits.
    pub key_id: String,
    /// Destroyed DEK version.
    pub key_version: u32,
    /// When the erasure was requested (RFC 3339, UTC).
    pub requested_at: String,
    /// Reason code.
    pub reason: String,
    /// Request reference.
    pub request_ref: String,
}

/// Where a subject's erasure stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErasureStatus {
    /// Never erased.
    NotErased,
    /// Fence written, record or DEK deletion not yet done (finished on open).
    Pending,
    /// DEK deleted and record at `seq`; residual copies remain decryptable
    /// by the current KEK until the next rotation completes.
    AwaitingRotation {
        /// Seq of the `vault.subject_erased` record.
        seq: u64,
    },
    /// Complete: the KEK every copy of the DEK was wrapped under is destroyed
    /// and a certificate is stored.
    Complete {
        /// Seq of the `vault.subject_erased` record.
        seq: u64,
        /// blake3 of the stored certificate.
        certificate_hash: [u8; 32],
    },
}

impl From<FenceState> for ErasureStatus {
    fn from(state: FenceState) -> Self {
        match state {
            FenceState::Pending => ErasureStatus::Pending,
            FenceState::Erased { seq } => ErasureStatus::AwaitingRotation { seq },
            FenceState::Certified {
                seq,
                certificate_hash,
            } => ErasureStatus::Complete {
                seq,
                certificate_hash,
            },
        }
    }
}

/// What `erase_scope` did.
#[derive(Clone, Debug)]
pub struct ErasureReceipt {
    /// The subject.
    pub subject: ScopeId,
    /// The destroyed DEK.
    pub key_ref: KeyRef,
    /// Seq of the `vault.subject_erased` record.
    pub seq: u64,
    /// Status when the call returned.
    pub status: ErasureStatus,
    /// The inline rotation that completed it, if one ran.
    pub rotation: Option<RotationReport>,
}

fn check_field(field: &'static str, value: &str) -> Result<(), EraseError> {
    if value.is_empty() || value.len() > 128 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EraseError::InvalidRequest { field });
    }
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Vault {
    /// Erases `subject`: fences it, appends a `vault.subject_erased` record,
    /// destroys its DEK and its blind-index entries, then (per
    /// [`crate::VaultOptions::rotate_after_erasure`]) rotates the KEK so that
    /// every residual copy of the DEK becomes undecryptable.
    ///
    /// The fsyncs and KEK files run on tokio's blocking pool, so the
    /// runtime's threads never wait: safe on a current-thread runtime, beside
    /// appends of the same subject. Needs a tokio runtime
    /// ([`crate::RuntimeError::NoRuntime`] otherwise).
    /// Erasing twice returns [`EraseError::AlreadyErased`] and changes
    /// nothing, except that an erasure left `Pending` (its record append
    /// failed) is finished by the second call, with the first request.
    pub async fn erase_scope(
        &self,
        subject: ScopeId,
        request: &ErasureRequest,
    ) -> Result<ErasureReceipt, EraseError> {
        let vault = self.clone();
        let request = request.clone();
        runtime::off_runtime("erase_scope", move || vault.erase_now(subject, &request)).await
    }

    /// Blocking form of [`Vault::erase_scope`], for plain threads. Must
    /// not be called from inside an async runtime (its thread would wait
    /// for tasks that need it): there it returns
    /// [`crate::RuntimeError::InsideRuntime`] and does nothing.
    pub fn erase_scope_blocking(
        &self,
        subject: ScopeId,
        request: &ErasureRequest,
    ) -> Result<ErasureReceipt, EraseError> {
        runtime::ensure_blocking_allowed("erase_scope_blocking")?;
        self.erase_now(subject, request)
    }

    /// [`Vault::erase_scope`] on the calling thread, which may block.
    fn erase_now(
        &self,
        subject: ScopeId,
        request: &ErasureRequest,
    ) -> Result<ErasureReceipt, EraseError> {
        check_field("reason", &request.reason)?;
        check_field("request reference", &request.request_ref)?;
        check_field("operator", &request.operator)?;
        let inner = &self.inner;
        let (seq, key_ref) = {
            // Waits for in-flight sealed appends of this subject; none starts after.
            let _shard = futures_executor::block_on(inner.shard(&subject).write());
            let _keys = inner.keys_shared();
            let storage = inner.storage.as_ref();
            match store::fence(storage, &subject)? {
                // An erasure cut short (its record append failed): finish it.
                Some(fence) if fence.state == FenceState::Pending => {
                    tracing::warn!(%subject, "finishing an interrupted erasure");
                    let seq = self.finish_erasure(&subject, &fence)?;
                    (seq, fence.key_ref)
                }
                Some(fence) => {
                    return Err(EraseError::AlreadyErased {
                        subject,
                        state: fence.state,
                    })
                }
                None => self.fence_and_erase(&subject, request)?,
            }
        };
        let mut rotation = None;
        match inner.options.rotate_after_erasure {
            Some(d) if d.is_zero() && inner.provider.can_rotate() => {
                let rotate = || {
                    self.rotate_kek().map_err(|e| EraseError::Rotation {
                        subject,
                        seq,
                        source: Box::new(e),
                    })
                };
                let mut report = rotate()?;
                // That rotation may only have resumed an older one, which
                // does not cover this erasure: rotate once more.
                if !matches!(
                    self.erasure_status(&subject)?,
                    ErasureStatus::Complete { .. }
                ) {
                    report = rotate()?;
                }
                rotation = Some(report);
            }
            Some(_) => inner.notify_erasure(),
            None => {}
        }
        let status = self.erasure_status(&subject)?;
        Ok(ErasureReceipt {
            subject,
            key_ref,
            seq,
            status,
            rotation,
        })
    }

    /// Steps 1 to 3 of a new erasure; the caller holds the subject's shard
    /// exclusively and the key-store lock shared.
    fn fence_and_erase(
        &self,
        subject: &ScopeId,
        request: &ErasureRequest,
    ) -> Result<(u64, KeyRef), EraseError> {
        let subject = *subject;
        let inner = &self.inner;
        let storage = inner.storage.as_ref();
        {
            let wrapped = store::wrapped_dek(storage, &subject)?
                .ok_or(EraseError::UnknownScope { subject })?;
            let fence = Fence {
                format: 1,
                state: FenceState::Pending,
                key_ref: wrapped.key_ref,
                stale_wrapped: wrapped.encode(),
                requested_micros: inner.ledger.clock().now().timestamp_micros(),
                ledger_size_at_fence: inner.ledger.len(),
                reason: request.reason.clone(),
                request_ref: request.request_ref.clone(),
                operator: request.operator.clone(),
            };
            let mut batch = WriteBatch::new();
            batch.put(
                store::FENCES,
                subject.as_bytes().to_vec(),
                store::encode(&fence),
            );
            for entry in storage.range(store::BLIND, &blind::reverse_prefix(&subject), None) {
                let (key, _) = entry.map_err(StoreError::from)?;
                if !key.starts_with(&blind::reverse_prefix(&subject)) {
                    break;
                }
                let mut forward = vec![1u8];
                forward.extend_from_slice(&key[17..]);
                batch.delete(store::BLIND, forward);
                batch.delete(store::BLIND, key);
            }
            storage.write(batch)?;
            storage.sync()?;
            inner.cache_evict(&subject);
            tracing::info!(%subject, "erasure fence written");
            let seq = self.finish_erasure(&subject, &fence)?;
            Ok((seq, wrapped.key_ref))
        }
    }

    /// Steps 2 and 3 of an erasure whose fence is written; idempotent.
    fn finish_erasure(&self, subject: &ScopeId, fence: &Fence) -> Result<u64, EraseError> {
        let inner = &self.inner;
        let existing =
            self.find_scope_event(subject, fence.ledger_size_at_fence, SCOPE_ERASED_EVENT)?;
        let seq = match existing {
            Some(seq) => seq,
            None => {
                let requested = ledger_core::record::micros_to_datetime(fence.requested_micros);
                let payload = ErasedEventPayload {
                    subject: subject.to_string(),
                    key_id: hex::encode(fence.key_ref.key_id),
                    key_version: fence.key_ref.version,
                    requested_at: rfc3339(requested),
                    reason: fence.reason.clone(),
                    request_ref: fence.request_ref.clone(),
                };
                let event = Event::new(SCOPE_ERASED_EVENT, fence.operator.clone())
                    .with_scope(*subject)
                    .with_payload(serde_json::to_vec(&payload).unwrap_or_default());
                inner
                    .ledger
                    .append_blocking(event)
                    .map_err(|source| EraseError::Append {
                        subject: *subject,
                        source,
                    })?
                    .seq
            }
        };
        let mut done = fence.clone();
        done.state = FenceState::Erased { seq };
        let mut batch = WriteBatch::new();
        batch.put(
            store::FENCES,
            subject.as_bytes().to_vec(),
            store::encode(&done),
        );
        batch.delete(store::KEYS, subject.as_bytes().to_vec());
        inner.storage.write(batch)?;
        inner.storage.sync()?;
        inner.cache_evict(subject);
        tracing::info!(%subject, seq, "subject erased; DEK deleted, awaiting KEK rotation");
        Ok(seq)
    }

    /// The seq of the first record of `event_type` about `subject` at or after `from`.
    pub(crate) fn find_scope_event(
        &self,
        subject: &ScopeId,
        from: u64,
        event_type: &str,
    ) -> Result<Option<u64>, StoreError> {
        let ledger = &self.inner.ledger;
        let damaged = |e: ledger_core::ReadError| StoreError::Damaged {
            what: "ledger record",
            detail: e.to_string(),
        };
        for seq in ledger.scope_seqs(subject).map_err(damaged)? {
            if seq < from {
                continue;
            }
            if ledger.get(seq).map_err(damaged)?.record.event_type == event_type {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// Finishes every erasure a crash left between fence and DEK deletion.
    pub(crate) fn recover_pending_erasures(&self) -> Result<(), VaultOpenError> {
        let mut pending = Vec::new();
        for entry in self.inner.storage.range(store::FENCES, &[], None) {
            let (key, value) = entry?;
            let fence: Fence = store::decode("fence", &value)?;
            if fence.state == FenceState::Pending {
                let subject =
                    store::scope_from_key(&key).ok_or_else(|| VaultOpenError::Inconsistent {
                        detail: format!("fence key of {} bytes", key.len()),
                    })?;
                pending.push((subject, fence));
            }
        }
        for (subject, fence) in pending {
            tracing::warn!(%subject, "finishing an erasure interrupted by a crash");
            self.finish_erasure(&subject, &fence)
                .map_err(|e| VaultOpenError::Recovery {
                    subject,
                    source: Box::new(e),
                })?;
        }
        Ok(())
    }

    /// Where `subject`'s erasure stands.
    pub fn erasure_status(&self, subject: &ScopeId) -> Result<ErasureStatus, StoreError> {
        Ok(match store::fence(self.inner.storage.as_ref(), subject)? {
            None => ErasureStatus::NotErased,
            Some(f) => f.state.into(),
        })
    }

    /// The recovery work an open would do now: erasures a crash left
    /// between fence and DEK deletion, a KEK rotation a crash interrupted,
    /// and erasures waiting for a rotation. What an open with
    /// [`crate::VaultOptions::defer_recovery`] left undone.
    pub fn pending_recovery(&self) -> Result<PendingRecovery, StoreError> {
        let mut pending = PendingRecovery {
            rotation_in_progress: self.rotation_in_progress()?,
            ..PendingRecovery::default()
        };
        for entry in self.inner.storage.range(store::FENCES, &[], None) {
            let (_, value) = entry?;
            let fence: Fence = store::decode("fence", &value)?;
            match fence.state {
                FenceState::Pending => pending.interrupted_erasures += 1,
                FenceState::Erased { .. } => pending.erasures_awaiting_rotation += 1,
                FenceState::Certified { .. } => {}
            }
        }
        Ok(pending)
    }

    /// True when some erasure waits for a KEK rotation.
    pub(crate) fn awaiting_rotation(&self) -> Result<bool, StoreError> {
        for entry in self.inner.storage.range(store::FENCES, &[], None) {
            let (_, value) = entry?;
            let fence: Fence = store::decode("fence", &value)?;
            if matches!(fence.state, FenceState::Erased { .. }) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Recovery work waiting in a vault ([`Vault::pending_recovery`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PendingRecovery {
    /// Erasures a crash interrupted between fence and DEK deletion.
    pub interrupted_erasures: usize,
    /// A KEK rotation a crash interrupted (the next open or `rotate_kek` resumes it).
    pub rotation_in_progress: bool,
    /// Erasures done but waiting for a KEK rotation to be certified.
    pub erasures_awaiting_rotation: usize,
}

impl PendingRecovery {
    /// True when there is nothing to recover.
    pub fn is_empty(&self) -> bool {
        self.interrupted_erasures == 0
            && !self.rotation_in_progress
            && self.erasures_awaiting_rotation == 0
    }
}
