//! KEK rotation, the step that completes erasures, and key-destruction
//! certificates.
//!
//! Two phases around a durable rotation record (`docs/ERASURE.md` has the
//! crash analysis):
//!
//! - **re-wrap** (phase 1): record `{old, new, covers}`; create KEK `new`
//!   (durable); re-wrap every live DEK and the blind-index key not yet under
//!   `new`; switch the in-memory KEK to `new`; then, in one batch, set
//!   `kek_version = new` and phase 2; sync.
//! - **destroy** (phase 2): re-run the re-wrap (a no-op unless a straggler
//!   appeared); append `vault.kek_rotated` (once); check every key is under
//!   `new` ([`RotateError::NotRewrapped`] otherwise); destroy every
//!   KEK version but `new`; for each covered erasure, check its stale wrapped
//!   DEK opens with no remaining KEK, store a certificate, append
//!   `vault.erasure_certified` with its hash (once), mark the fence
//!   `Certified`; delete the rotation record; sync.
//!
//! Every step is idempotent, so a resumed rotation repeats what a crash may
//! have cut short. No KEK is destroyed before every live key is re-wrapped
//! under its successor and that is durable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ledger_core::storage::WriteBatch;
use ledger_core::{Event, ScopeId};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{KekError, KeyError, RotateError, StoreError};
use crate::kek::{Kek, KekProvider};
use crate::seal;
use crate::store::{self, Fence, FenceState, RotationState, WrappedKey};
use crate::vault::Vault;

/// Event type recording a completed re-wrap (clear JSON payload).
pub const KEK_ROTATED_EVENT: &str = "vault.kek_rotated";
/// Event type recording a key-destruction certificate's hash.
pub const ERASURE_CERTIFIED_EVENT: &str = "vault.erasure_certified";
/// Certificate format name.
pub const CERTIFICATE_FORMAT: &str = "ledger-vault/key-destruction-certificate/v1";

/// Live keys re-wrapped per write batch.
const REWRAP_BATCH: usize = 8192;

/// What a rotation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationReport {
    /// KEK version live keys were under before.
    pub old_version: u32,
    /// KEK version they are under now.
    pub new_version: u32,
    /// Keys re-wrapped by this call (DEKs and the blind-index key).
    pub rewrapped: u64,
    /// KEK versions destroyed.
    pub destroyed: Vec<u32>,
    /// Seq of the `vault.kek_rotated` record.
    pub event_seq: u64,
    /// Erasures completed, with their certificate hashes.
    pub certificates: Vec<(ScopeId, [u8; 32])>,
    /// True when this call finished a rotation a crash had interrupted.
    pub resumed: bool,
    /// Wall time of the call.
    pub elapsed: Duration,
}

/// The clear payload of a `vault.kek_rotated` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedEventPayload {
    /// Random id of the rotation, 32 hex digits.
    pub rotation_id: String,
    /// KEK version before.
    pub old_version: u32,
    /// KEK version after.
    pub new_version: u32,
    /// Live DEKs under the new version.
    pub live_keys: u64,
    /// Erasures this rotation completes (subject pseudonyms).
    pub completes: Vec<String>,
}

/// The clear payload of a `vault.erasure_certified` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedEventPayload {
    /// Subject pseudonym.
    pub subject: String,
    /// blake3 of the stored certificate bytes, 64 hex digits.
    pub certificate_hash: String,
}

/// How the destruction was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateVerification {
    /// What was tried.
    pub method: String,
    /// KEK versions that still exist and were tried.
    pub remaining_kek_versions: Vec<u32>,
    /// Whether the subject still had a live wrapped DEK (must be false).
    pub live_key_present: bool,
    /// `"undecryptable"` when every check passed.
    pub result: String,
}

/// A key-destruction certificate in the manner of NIST SP 800-88 Rev. 1
/// (Appendix G), stored as JSON in the `x` keyspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// [`CERTIFICATE_FORMAT`].
    pub format: String,
    /// Ledger id, 32 hex digits.
    pub ledger_id: String,
    /// Subject pseudonym (the random subject id), 32 hex digits.
    pub subject: String,
    /// `"cryptographic erase"`.
    pub method: String,
    /// The guideline followed.
    pub standard: String,
    /// Destroyed DEK id, 32 hex digits.
    pub key_id: String,
    /// Destroyed DEK version.
    pub key_version: u32,
    /// KEK version the last wrapped copy of the DEK was under, now destroyed.
    pub kek_version_destroyed: u32,
    /// KEK versions the completing rotation destroyed (or, if it was resumed
    /// after a crash, found destroyed): the old version and the one the
    /// stale copy was under are always listed and always checked absent.
    pub kek_versions_destroyed_by_rotation: Vec<u32>,
    /// The KEK now in use.
    pub kek_version_current: u32,
    /// Where KEKs live.
    pub kek_provider: String,
    /// Random id of the completing rotation.
    pub rotation_id: String,
    /// Seq of the `vault.subject_erased` record.
    pub erasure_record_seq: u64,
    /// When erasure was requested.
    pub requested_at: String,
    /// When the erasure record was written.
    pub erased_at: String,
    /// When this certificate was issued.
    pub completed_at: String,
    /// Pseudonymous operator who requested the erasure.
    pub operator: String,
    /// Reason code.
    pub reason: String,
    /// Request reference.
    pub request_ref: String,
    /// The check made before issuing.
    pub verification: CertificateVerification,
}

/// A `k` entry: the subject it belongs to and its wrapped DEK.
fn decode_key_entry(key: &[u8], value: &[u8]) -> Result<(ScopeId, WrappedKey), StoreError> {
    let subject = store::scope_from_key(key).ok_or_else(|| StoreError::Damaged {
        what: "key-store key",
        detail: format!("{} bytes", key.len()),
    })?;
    let wrapped = WrappedKey::decode(value).ok_or_else(|| StoreError::Damaged {
        what: "wrapped key",
        detail: format!("subject {subject}"),
    })?;
    Ok((subject, wrapped))
}

/// The blind-index key as stored, wrapped under some KEK version.
fn wrapped_index_key(
    storage: &dyn ledger_core::storage::Storage,
) -> Result<WrappedKey, RotateError> {
    let bytes = storage
        .get(store::VAULT_META, store::META_INDEX_KEY)?
        .ok_or_else(|| RotateError::Inconsistent {
            detail: "blind-index key missing".into(),
        })?;
    Ok(
        WrappedKey::decode(&bytes).ok_or_else(|| StoreError::Damaged {
            what: "wrapped key",
            detail: "blind-index key".into(),
        })?,
    )
}

fn rfc3339_micros(micros: i64) -> String {
    ledger_core::record::micros_to_datetime(micros)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Vault {
    /// Rotates the KEK (or finishes a rotation a crash interrupted): every
    /// live DEK and the blind-index key are re-wrapped under a new KEK
    /// version, every older KEK is destroyed, and every erasure waiting for
    /// this gets a key-destruction certificate.
    ///
    /// Blocks creations and erasures (not appends of existing subjects)
    /// while it runs.
    pub fn rotate_kek(&self) -> Result<RotationReport, RotateError> {
        let started = Instant::now();
        let inner = &self.inner;
        let _keys = inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let storage = inner.storage.as_ref();
        let (state, resumed) = match storage.get(store::ROTATION, store::ROTATION_STATE)? {
            Some(bytes) => (
                store::decode::<RotationState>("rotation state", &bytes)?,
                true,
            ),
            None => (self.begin_rotation()?, false),
        };
        if resumed {
            tracing::warn!(
                old = state.old_version,
                new = state.new_version,
                phase = state.phase,
                "resuming an interrupted KEK rotation"
            );
        }
        let mut state = state;
        if state.phase != store::PHASE_REWRAP && state.phase != store::PHASE_DESTROY {
            return Err(RotateError::Inconsistent {
                detail: format!("unknown rotation phase {}", state.phase),
            });
        }
        // Phase 1, and again on a resumed phase 2: re-wrap every key not
        // under `new` (none, unless something wrapped a key under an older
        // KEK after the switch) and switch the in-memory KEK with the
        // durable one. Idempotent; nothing is destroyed before it succeeds.
        let (rewrapped, live) = self.rewrap_all(&state)?;
        let live_keys = Some(live);
        state.phase = store::PHASE_DESTROY;

        let event_seq = self.record_rotation(&state, live_keys)?;
        // Last check before anything is destroyed (the exclusive key lock
        // is held since the re-wrap, so nothing can have changed).
        self.check_all_under(state.new_version)?;
        let mut destroyed = Vec::new();
        for v in inner.provider.versions()? {
            if v != state.new_version {
                inner.provider.destroy(v)?;
                destroyed.push(v);
            }
        }
        let remaining = inner.provider.versions()?;
        if remaining != vec![state.new_version] {
            return Err(RotateError::Inconsistent {
                detail: format!("KEK versions after destruction: {remaining:?}"),
            });
        }
        let mut certificates = Vec::new();
        for subject in &state.covers {
            if let Some(hash) = self.certify(subject, &state, &destroyed, &remaining)? {
                certificates.push((*subject, hash));
            }
        }
        let mut batch = WriteBatch::new();
        batch.delete(store::ROTATION, store::ROTATION_STATE);
        storage.write(batch)?;
        storage.sync()?;
        tracing::info!(
            old = state.old_version,
            new = state.new_version,
            rewrapped,
            certified = certificates.len(),
            "KEK rotation complete"
        );
        Ok(RotationReport {
            old_version: state.old_version,
            new_version: state.new_version,
            rewrapped,
            destroyed,
            event_seq,
            certificates,
            resumed,
            elapsed: started.elapsed(),
        })
    }

    /// Starts a rotation: picks the new KEK version, lists the erasures it
    /// covers and durably records the rotation state (phase 1). The caller
    /// holds the key lock.
    fn begin_rotation(&self) -> Result<RotationState, RotateError> {
        let inner = &self.inner;
        let storage = inner.storage.as_ref();
        if !inner.provider.can_rotate() {
            return Err(KekError::Unsupported { op: "rotate" }.into());
        }
        let old = inner.current_kek().version;
        let newest = inner.provider.versions()?.last().copied().unwrap_or(old);
        let new = newest
            .max(old)
            .checked_add(1)
            .ok_or_else(|| RotateError::Inconsistent {
                detail: "KEK versions exhausted".into(),
            })?;
        let mut covers = Vec::new();
        for entry in storage.range(store::FENCES, &[], None) {
            let (key, value) = entry?;
            let fence: Fence = store::decode("fence", &value)?;
            if let (FenceState::Erased { .. }, Some(s)) = (fence.state, store::scope_from_key(&key))
            {
                covers.push(s);
            }
        }
        let mut rotation_id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut rotation_id);
        let state = RotationState {
            format: 1,
            rotation_id,
            old_version: old,
            new_version: new,
            phase: store::PHASE_REWRAP,
            ledger_size_at_start: inner.ledger.len(),
            started_micros: inner.ledger.clock().now().timestamp_micros(),
            covers,
        };
        let mut batch = WriteBatch::new();
        batch.put(
            store::ROTATION,
            store::ROTATION_STATE,
            store::encode(&state),
        );
        storage.write(batch)?;
        storage.sync()?;
        Ok(state)
    }

    /// Test hook: starts a rotation and stops right after recording its
    /// state, as a crash there would leave it. Not part of the API; only
    /// with the `test-hooks` feature.
    #[doc(hidden)]
    #[cfg(feature = "test-hooks")]
    pub fn begin_rotation_for_tests(&self) -> Result<(), RotateError> {
        let _keys = self
            .inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.begin_rotation().map(drop)
    }

    pub(crate) fn rotation_in_progress(&self) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .storage
            .get(store::ROTATION, store::ROTATION_STATE)?
            .is_some())
    }

    /// Phase 1: create the new KEK, re-wrap every key not under it, switch.
    /// Returns (keys re-wrapped, live DEKs).
    fn rewrap_all(&self, state: &RotationState) -> Result<(u64, u64), RotateError> {
        let inner = &self.inner;
        let storage = inner.storage.as_ref();
        let provider = inner.provider.as_ref();
        let new_kek = match provider.load(state.new_version) {
            Ok(k) => k,
            // Only phase 1 may create it: in phase 2 keys are already under it.
            Err(KekError::NotFound { .. }) if state.phase == store::PHASE_REWRAP => {
                provider.create(state.new_version)?
            }
            Err(e) => return Err(e.into()),
        };
        let mut keks: HashMap<u32, Kek> = HashMap::new();
        keks.insert(new_kek.version, new_kek.clone());
        let new = state.new_version;
        let mut rewrapped = 0u64;
        let mut batch = WriteBatch::new();
        // The blind-index key.
        let index = wrapped_index_key(storage)?;
        if index.kek_version != new {
            load_kek(provider, &mut keks, index.kek_version)?;
        }
        // Collect first: the iterator must not see its own writes.
        let mut work = Vec::new();
        let mut live = 0u64;
        for entry in storage.range(store::KEYS, &[], None) {
            let (key, value) = entry?;
            live += 1;
            let (subject, wrapped) = decode_key_entry(&key, &value)?;
            if wrapped.kek_version != new {
                load_kek(provider, &mut keks, wrapped.kek_version)?;
                work.push((subject, wrapped));
            }
        }
        // The AEAD work is independent per key: spread it over the cores.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        let chunk = work.len().div_ceil(threads).max(1);
        let keks = &keks;
        let ledger_id = &inner.ledger_id;
        let results: Vec<Result<Rewrapped, KeyError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = work
                .chunks(chunk)
                .map(|part| scope.spawn(move || rewrap_chunk(ledger_id, keks, new, part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(KeyError::Store(StoreError::Damaged {
                            what: "re-wrap worker",
                            detail: "panicked".into(),
                        }))
                    })
                })
                .collect()
        });
        for part in results {
            for (subject, value) in part? {
                batch.put(store::KEYS, subject.as_bytes().to_vec(), value);
                rewrapped += 1;
                if batch.len() >= REWRAP_BATCH {
                    storage.write(std::mem::take(&mut batch))?;
                }
            }
        }
        if index.kek_version != new {
            let old_kek = kek_in(keks, index.kek_version)?;
            let ad = seal::index_wrap_ad(&inner.ledger_id, &index.key_ref, index.kek_version);
            let key = seal::unwrap(&old_kek.key, &ad, &index.wrapped).map_err(|_| {
                KeyError::Unauthentic {
                    owner: ScopeId([0; 16]),
                    key_ref: index.key_ref,
                    kek_version: index.kek_version,
                }
            })?;
            let new_ad = seal::index_wrap_ad(&inner.ledger_id, &index.key_ref, new);
            let w = WrappedKey {
                key_ref: index.key_ref,
                kek_version: new,
                wrapped: seal::wrap(&new_kek.key, &new_ad, &key).map_err(KeyError::from)?,
            };
            batch.put(store::VAULT_META, store::META_INDEX_KEY, w.encode());
            rewrapped += 1;
        }
        let mut next = state.clone();
        next.phase = store::PHASE_DESTROY;
        // Every key this process creates from now on is wrapped under `new`,
        // even if the durable switch below fails half-way (the KEK `new` is
        // durable already): a key under `old` created after the switch would
        // be lost when phase 2 destroys `old`.
        *inner
            .kek
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new_kek.clone();
        batch.put(
            store::VAULT_META,
            store::META_KEK_VERSION,
            new.to_be_bytes(),
        );
        batch.put(store::ROTATION, store::ROTATION_STATE, store::encode(&next));
        storage.write(batch)?;
        storage.sync()?;
        Ok((rewrapped, live))
    }

    /// Refuses (before any KEK is destroyed) if a live DEK or the blind-index
    /// key is not wrapped under `new`.
    fn check_all_under(&self, new: u32) -> Result<(), RotateError> {
        let storage = self.inner.storage.as_ref();
        let index = wrapped_index_key(storage)?;
        if index.kek_version != new {
            return Err(RotateError::NotRewrapped {
                owner: ScopeId([0; 16]),
                kek_version: index.kek_version,
                new_version: new,
            });
        }
        for entry in storage.range(store::KEYS, &[], None) {
            let (key, value) = entry?;
            let (subject, wrapped) = decode_key_entry(&key, &value)?;
            if wrapped.kek_version != new {
                return Err(RotateError::NotRewrapped {
                    owner: subject,
                    kek_version: wrapped.kek_version,
                    new_version: new,
                });
            }
        }
        Ok(())
    }

    /// Appends `vault.kek_rotated` unless a crashed attempt already did.
    fn record_rotation(
        &self,
        state: &RotationState,
        live_keys: Option<u64>,
    ) -> Result<u64, RotateError> {
        let inner = &self.inner;
        let rotation_id = hex::encode(state.rotation_id);
        let damaged = |e: ledger_core::ReadError| StoreError::Damaged {
            what: "ledger record",
            detail: e.to_string(),
        };
        for stored in inner
            .ledger
            .range(state.ledger_size_at_start..inner.ledger.len())
        {
            let stored = stored.map_err(damaged)?;
            if stored.record.event_type == KEK_ROTATED_EVENT {
                if let Ok(p) = serde_json::from_slice::<RotatedEventPayload>(&stored.record.payload)
                {
                    if p.rotation_id == rotation_id {
                        return Ok(stored.seq);
                    }
                }
            }
        }
        let live_keys = match live_keys {
            Some(n) => n,
            None => {
                let mut n = 0u64;
                for entry in inner.storage.range(store::KEYS, &[], None) {
                    entry?;
                    n += 1;
                }
                n
            }
        };
        let payload = RotatedEventPayload {
            rotation_id,
            old_version: state.old_version,
            new_version: state.new_version,
            live_keys,
            completes: state.covers.iter().map(|s| s.to_string()).collect(),
        };
        let event = Event::new(KEK_ROTATED_EVENT, inner.options.actor.clone())
            .with_payload(serde_json::to_vec(&payload).unwrap_or_default());
        Ok(inner
            .ledger
            .append_blocking(event)
            .map_err(|source| RotateError::Append {
                what: KEK_ROTATED_EVENT,
                source,
            })?
            .seq)
    }

    /// Checks, certifies and records one covered erasure; `None` if it was
    /// certified before.
    fn certify(
        &self,
        subject: &ScopeId,
        state: &RotationState,
        destroyed: &[u32],
        remaining: &[u32],
    ) -> Result<Option<[u8; 32]>, RotateError> {
        let inner = &self.inner;
        let storage = inner.storage.as_ref();
        let Some(fence) = store::fence(storage, subject)? else {
            return Err(RotateError::Inconsistent {
                detail: format!("covered subject {subject} has no fence"),
            });
        };
        let seq = match fence.state {
            FenceState::Erased { seq } => seq,
            FenceState::Certified { .. } => return Ok(None),
            FenceState::Pending => {
                return Err(RotateError::Inconsistent {
                    detail: format!("covered subject {subject} is still pending"),
                })
            }
        };
        let bytes = match storage.get(store::CERTIFICATES, subject.as_bytes())? {
            Some(bytes) => bytes,
            None => {
                let stale = WrappedKey::decode(&fence.stale_wrapped).ok_or_else(|| {
                    StoreError::Damaged {
                        what: "stale wrapped key",
                        detail: format!("subject {subject}"),
                    }
                })?;
                let live_key_present = storage.get(store::KEYS, subject.as_bytes())?.is_some();
                for v in [state.old_version, stale.kek_version] {
                    if remaining.contains(&v) {
                        return Err(RotateError::StaleKeyStillOpens {
                            subject: *subject,
                            kek_version: v,
                        });
                    }
                }
                for &v in remaining {
                    let kek = inner.provider.load(v)?;
                    for ad_version in [stale.kek_version, v] {
                        let ad = seal::dek_wrap_ad(
                            &inner.ledger_id,
                            subject,
                            &stale.key_ref,
                            ad_version,
                        );
                        if seal::unwrap(&kek.key, &ad, &stale.wrapped).is_ok() {
                            return Err(RotateError::StaleKeyStillOpens {
                                subject: *subject,
                                kek_version: v,
                            });
                        }
                    }
                }
                if live_key_present {
                    return Err(RotateError::Inconsistent {
                        detail: format!("erased subject {subject} still has a wrapped DEK"),
                    });
                }
                let erased_at = inner
                    .ledger
                    .get(seq)
                    .map(|r| rfc3339_micros(r.record.timestamp_micros))
                    .unwrap_or_default();
                let cert = Certificate {
                    format: CERTIFICATE_FORMAT.into(),
                    ledger_id: hex::encode(inner.ledger_id),
                    subject: subject.to_string(),
                    method: "cryptographic erase".into(),
                    standard: "NIST SP 800-88 Rev. 1, section 2.6 (cryptographic erase)".into(),
                    key_id: hex::encode(stale.key_ref.key_id),
                    key_version: stale.key_ref.version,
                    kek_version_destroyed: stale.kek_version,
                    kek_versions_destroyed_by_rotation: {
                        // A resumed rotation may have destroyed some before
                        // the crash; every one listed is checked absent below.
                        let mut v = destroyed.to_vec();
                        v.extend([state.old_version, stale.kek_version]);
                        v.sort_unstable();
                        v.dedup();
                        v
                    },
                    kek_version_current: state.new_version,
                    kek_provider: inner.provider.describe(),
                    rotation_id: hex::encode(state.rotation_id),
                    erasure_record_seq: seq,
                    requested_at: rfc3339_micros(fence.requested_micros),
                    erased_at,
                    completed_at: rfc3339_micros(
                        inner.ledger.clock().now().timestamp_micros(),
                    ),
                    operator: fence.operator.clone(),
                    reason: fence.reason.clone(),
                    request_ref: fence.request_ref.clone(),
                    verification: CertificateVerification {
                        method: "stale wrapped DEK tried against every remaining KEK version; KEK versions it was wrapped under are absent from the provider".into(),
                        remaining_kek_versions: remaining.to_vec(),
                        live_key_present,
                        result: "undecryptable".into(),
                    },
                };
                let bytes = serde_json::to_vec_pretty(&cert).unwrap_or_default();
                let mut batch = WriteBatch::new();
                batch.put(
                    store::CERTIFICATES,
                    subject.as_bytes().to_vec(),
                    bytes.clone(),
                );
                storage.write(batch)?;
                storage.sync()?;
                bytes
            }
        };
        let hash = *blake3::hash(&bytes).as_bytes();
        if self
            .find_scope_event(subject, state.ledger_size_at_start, ERASURE_CERTIFIED_EVENT)?
            .is_none()
        {
            let payload = CertifiedEventPayload {
                subject: subject.to_string(),
                certificate_hash: hex::encode(hash),
            };
            let event = Event::new(ERASURE_CERTIFIED_EVENT, inner.options.actor.clone())
                .with_scope(*subject)
                .with_payload(serde_json::to_vec(&payload).unwrap_or_default());
            inner
                .ledger
                .append_blocking(event)
                .map_err(|source| RotateError::Append {
                    what: ERASURE_CERTIFIED_EVENT,
                    source,
                })?;
        }
        let mut done = fence;
        done.state = FenceState::Certified {
            seq,
            certificate_hash: hash,
        };
        let mut batch = WriteBatch::new();
        batch.put(
            store::FENCES,
            subject.as_bytes().to_vec(),
            store::encode(&done),
        );
        storage.write(batch)?;
        storage.sync()?;
        tracing::info!(%subject, "erasure complete; key-destruction certificate stored");
        Ok(Some(hash))
    }

    /// Every stored key-destruction certificate as `(subject, exact bytes)`;
    /// the bytes are what the `vault.erasure_certified` event's hash covers.
    pub fn certificates(&self) -> Result<Vec<(ScopeId, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.inner.storage.range(store::CERTIFICATES, &[], None) {
            let (key, value) = entry?;
            if let Some(subject) = store::scope_from_key(&key) {
                out.push((subject, value));
            }
        }
        Ok(out)
    }

    /// The certificate of `subject`'s erasure, parsed, if the erasure is complete.
    pub fn certificate(&self, subject: &ScopeId) -> Result<Option<Certificate>, StoreError> {
        match self
            .inner
            .storage
            .get(store::CERTIFICATES, subject.as_bytes())?
        {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Damaged {
                        what: "certificate",
                        detail: e.to_string(),
                    })
            }
        }
    }
}

/// Loads KEK `version` into `keks` unless it is there already.
fn load_kek(
    provider: &dyn KekProvider,
    keks: &mut HashMap<u32, Kek>,
    version: u32,
) -> Result<(), KeyError> {
    if let std::collections::hash_map::Entry::Vacant(slot) = keks.entry(version) {
        slot.insert(provider.load(version).map_err(|source| KeyError::Kek {
            kek_version: version,
            source,
        })?);
    }
    Ok(())
}

/// KEK `version` from `keks`, which [`load_kek`] filled.
fn kek_in(keks: &HashMap<u32, Kek>, version: u32) -> Result<&Kek, KeyError> {
    keks.get(&version).ok_or(KeyError::Kek {
        kek_version: version,
        source: KekError::NotFound { version },
    })
}

/// Subjects and their re-wrapped, encoded DEKs.
type Rewrapped = Vec<(ScopeId, Vec<u8>)>;

/// Re-wraps one slice of live DEKs from their KEK to KEK `new`; returns the encoded values.
fn rewrap_chunk(
    ledger_id: &[u8; 16],
    keks: &HashMap<u32, Kek>,
    new: u32,
    part: &[(ScopeId, WrappedKey)],
) -> Result<Rewrapped, KeyError> {
    let new_kek = kek_in(keks, new)?;
    let mut out = Vec::with_capacity(part.len());
    for (subject, wrapped) in part {
        let old_kek = kek_in(keks, wrapped.kek_version)?;
        let ad = seal::dek_wrap_ad(ledger_id, subject, &wrapped.key_ref, wrapped.kek_version);
        let dek = seal::unwrap(&old_kek.key, &ad, &wrapped.wrapped).map_err(|_| {
            KeyError::Unauthentic {
                owner: *subject,
                key_ref: wrapped.key_ref,
                kek_version: wrapped.kek_version,
            }
        })?;
        let new_ad = seal::dek_wrap_ad(ledger_id, subject, &wrapped.key_ref, new);
        let value = WrappedKey {
            key_ref: wrapped.key_ref,
            kek_version: new,
            wrapped: seal::wrap(&new_kek.key, &new_ad, &dek)?,
        };
        out.push((*subject, value.encode()));
    }
    Ok(out)
}
