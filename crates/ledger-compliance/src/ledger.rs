//! [`ComplianceLedger`]: records typed events through the vault after the
//! rules accept them, and erases subjects with everything that belongs to
//! them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ledger_core::record::RecordRef;
use ledger_core::{Clock, Receipt, ScopeId};
use ledger_vault::{runtime, ErasureReceipt, ErasureRequest, Vault, VaultEvent};
use tokio::sync::{Mutex, MutexGuard};

use crate::codec::{self, Encoded};
use crate::error::{OpenError, RecordError, ValidationError};
use crate::event::{ComplianceEvent, Decoded, Facts, Idempotency, Scope, TicketId};
use crate::model::{Model, Undo};
use crate::projection::Projections;
use crate::ropa::RopaConfig;
use crate::vocab::Right;

/// How the compliance layer behaves.
#[derive(Clone, Debug)]
pub struct ComplianceOptions {
    /// Check every event against the rules before appending (default on;
    /// off only to measure what the checks cost).
    pub validate: bool,
    /// How long a closed ticket is kept (default 2 years = 730 days).
    pub ticket_retention: chrono::Duration,
    /// Controller, DPO and organisational measures for the record of
    /// processing activities.
    pub ropa: RopaConfig,
}

impl Default for ComplianceOptions {
    fn default() -> Self {
        ComplianceOptions {
            validate: true,
            ticket_retention: chrono::Duration::days(730),
            ropa: RopaConfig::default(),
        }
    }
}

/// The compliance layer over a vault.
pub struct ComplianceLedger {
    vault: Vault,
    options: ComplianceOptions,
    state: Mutex<WriteState>,
    projections: Projections,
    failed: AtomicBool,
    /// Held for a whole retention sweep: two overlapping sweeps would both
    /// record the expiry of the same scope and the second erasure fail.
    sweeping: Mutex<()>,
}

impl std::fmt::Debug for ComplianceLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComplianceLedger")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// How long an idempotency key is honoured after its first recording: 48
/// hours (at least the 24 promised to producers). An older key is
/// forgotten, and a re-sent event is recorded again.
pub const IDEMPOTENCY_KEEP: chrono::Duration = chrono::Duration::hours(48);

/// Builds the write model from the whole log (no keys needed).
pub fn model_from_log(ledger: &dyn ledger_core::RecordSource) -> Result<Model, OpenError> {
    scan_log(ledger, None).map(|(model, _)| model)
}

/// The write model and, with `keep_since`, the idempotency keys of the
/// records stamped at or after it.
fn scan_log(
    ledger: &dyn ledger_core::RecordSource,
    keep_since: Option<DateTime<Utc>>,
) -> Result<(Model, IdemIndex), OpenError> {
    let mut model = Model::default();
    let mut keys = IdemIndex::default();
    let mut error = None;
    let len = ledger.len();
    let result = ledger.visit_records(0..len, &mut |seq, bytes| {
        let record = match RecordRef::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                error = Some(OpenError::Read(ledger_core::ReadError::Corrupt {
                    seq,
                    source: e,
                }));
                return false;
            }
        };
        match codec::decode_stamped(&record) {
            Ok((decoded, stamp)) => {
                model.apply(Some(seq), codec::effective_time(&record, &stamp), &decoded);
                if let (Some(since), Some(idem)) = (keep_since, stamp.idempotency) {
                    if record.timestamp() >= since {
                        keys.committed(idem, seq, record.timestamp());
                    }
                }
                true
            }
            Err(source) => {
                error = Some(OpenError::Decode { seq, source });
                false
            }
        }
    });
    result?;
    if let Some(e) = error {
        return Err(e);
    }
    Ok((model, keys))
}

/// The idempotency keys recorded in the last [`IDEMPOTENCY_KEEP`], and
/// those of batches being committed.
#[derive(Debug, Default)]
struct IdemIndex {
    keys: HashMap<[u8; 32], IdemEntry>,
}

#[derive(Debug)]
struct IdemEntry {
    body: [u8; 32],
    /// Records carrying the key, in seq order; empty while in flight.
    seqs: Vec<u64>,
    /// Id of the batch being committed with the key.
    in_flight: Option<u64>,
    /// Timestamp of the first record.
    first: DateTime<Utc>,
}

/// What an idempotency key is to the layer.
enum KeyState<'a> {
    Unknown,
    InFlight,
    Reused,
    Recorded(&'a [u64]),
}

impl IdemIndex {
    fn committed(&mut self, idem: Idempotency, seq: u64, at: DateTime<Utc>) {
        let entry = self.keys.entry(idem.key).or_insert(IdemEntry {
            body: idem.body,
            seqs: Vec::new(),
            in_flight: None,
            first: at,
        });
        // A record that reuses a key for another body never exists (the
        // layer refuses it); if one did, the first recording stands.
        if entry.body == idem.body {
            entry.seqs.push(seq);
            entry.in_flight = None;
        }
    }

    fn state(&self, idem: &Idempotency, now: DateTime<Utc>) -> KeyState<'_> {
        match self.keys.get(&idem.key) {
            None => KeyState::Unknown,
            Some(e) if e.in_flight.is_some() => KeyState::InFlight,
            Some(e) if e.first + IDEMPOTENCY_KEEP < now => KeyState::Unknown,
            Some(e) if e.body != idem.body => KeyState::Reused,
            Some(e) => KeyState::Recorded(&e.seqs),
        }
    }
}

impl ComplianceLedger {
    /// Opens the layer over `vault`: builds the write model from the log
    /// and opens the projections at `<ledger dir>/projections/`, catching
    /// them up (or rebuilding them if they are not this ledger's).
    pub fn open(vault: Vault, options: ComplianceOptions) -> Result<Self, OpenError> {
        let keep_since = vault.ledger().clock().now() - IDEMPOTENCY_KEEP;
        let (model, keys) = scan_log(vault.ledger(), Some(keep_since))?;
        let projections = Projections::open(vault.ledger())?;
        Ok(ComplianceLedger {
            vault,
            options,
            state: Mutex::new(WriteState {
                model,
                keys,
                pending: VecDeque::new(),
                next_id: 0,
            }),
            projections,
            failed: AtomicBool::new(false),
            sweeping: Mutex::new(()),
        })
    }

    /// The projection store. Appends do not update it; queries
    /// ([`ComplianceLedger::query`]) catch it up first.
    pub fn projections(&self) -> &Projections {
        &self.projections
    }

    /// The vault underneath.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The options in force.
    pub fn options(&self) -> &ComplianceOptions {
        &self.options
    }

    /// The clock rules and retention read "now" from: the ledger's own
    /// ([`ledger_core::Ledger::clock`]), the one that stamps the records.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.vault.ledger().clock()
    }

    /// Serializes retention sweeps (see [`crate::retention`]).
    pub(crate) async fn sweep_lock(&self) -> MutexGuard<'_, ()> {
        self.sweeping.lock().await
    }

    /// A copy of the write model (for reports and tests). Events of
    /// batches still being committed carry the time the rules checked them
    /// at; once committed, every event carries its record's timestamp.
    pub async fn model(&self) -> Model {
        self.state.lock().await.model.clone()
    }

    /// Blocking form of [`ComplianceLedger::model`], for plain threads (on
    /// a runtime thread, await [`ComplianceLedger::model`]: this one would
    /// wait there for a lock that a task of the same thread may hold).
    pub fn model_blocking(&self) -> Model {
        futures_executor::block_on(self.model())
    }

    /// Runs `read` on the write model under its lock, without copying it.
    pub(crate) async fn read_model<R>(&self, read: impl FnOnce(&Model) -> R) -> R {
        read(&self.state.lock().await.model)
    }

    /// Creates a data subject (a key scope), indexed by `email` if given.
    pub fn new_subject(&self, email: Option<&str>) -> Result<ScopeId, RecordError> {
        Ok(self.vault.create_scope(email)?)
    }

    /// Creates a data subject once per idempotency key: a retry with the
    /// same key and request within [`IDEMPOTENCY_KEEP`] returns the subject
    /// the first call created ([`ledger_vault::ScopeCreated::first`] false).
    /// A key used for another request is refused
    /// ([`ledger_vault::CreateScopeError::KeyReused`]).
    pub fn new_subject_once(
        &self,
        email: Option<&str>,
        idem: &Idempotency,
    ) -> Result<ledger_vault::ScopeCreated, RecordError> {
        let once = ledger_vault::CreateOnce {
            key: idem.key,
            body: idem.body,
            now: self.clock().now(),
            keep: IDEMPOTENCY_KEEP,
        };
        Ok(self.vault.create_scope_once(email, &once)?)
    }

    /// Creates a ticket's key scope; record [`Facts::TicketOpened`] on it next.
    pub fn new_ticket(&self) -> Result<TicketId, RecordError> {
        Ok(TicketId(self.vault.create_scope(None)?))
    }

    /// Records one event; resolves once durable.
    pub async fn record(&self, event: ComplianceEvent) -> Result<Receipt, RecordError> {
        let mut receipts = self.record_batch(vec![event]).await?;
        receipts.pop().ok_or(RecordError::EmptyBatch)
    }

    /// Blocking form of [`ComplianceLedger::record`], for plain threads;
    /// refused inside an async runtime ([`RecordError::Runtime`]), where
    /// waiting for the write model's lock could deadlock.
    pub fn record_blocking(&self, event: ComplianceEvent) -> Result<Receipt, RecordError> {
        runtime::ensure_blocking_allowed("record_blocking")?;
        futures_executor::block_on(self.record(event))
    }

    /// Records `events` atomically, in order: each is checked against the
    /// state the previous ones leave, and either all are appended or none.
    pub async fn record_batch(
        &self,
        mut events: Vec<ComplianceEvent>,
    ) -> Result<Vec<Receipt>, RecordError> {
        if events.is_empty() {
            return Err(RecordError::EmptyBatch);
        }
        // Stored to the microsecond: the live model holds what a rebuild reads.
        for at in events.iter_mut().filter_map(|e| e.at.as_mut()) {
            *at = chrono::SubsecRound::trunc_subsecs(*at, 6);
        }
        let mut encoded = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let e = codec::encode(event).map_err(|source| RecordError::Encode { index, source })?;
            encoded.push(e);
        }
        let (settling, pending) = {
            let mut state = self.lock().await?;
            let now = self.clock().now();
            self.check_keys(&state, &events, now)?;
            let mut undo = Vec::with_capacity(events.len());
            let mut applied = Vec::with_capacity(events.len());
            let mut refused = None;
            for (index, event) in events.iter().enumerate() {
                let decoded = Decoded::Event {
                    scope: event.scope,
                    facts: event.facts.clone(),
                };
                let at = event.at.unwrap_or(now);
                let checked = state
                    .model
                    .check_time(event.at, now)
                    .and_then(|()| self.check(&state.model, event, at));
                if let Err(source) = checked {
                    refused = Some(RecordError::Invalid { index, source });
                    break;
                }
                undo.push(state.model.undo_for(&decoded));
                state.model.apply(None, at, &decoded);
                applied.push(decoded);
            }
            let submitted = match refused {
                Some(e) => Err(e),
                None => self.submit(encoded).await,
            };
            match submitted {
                Ok(pending) => {
                    let stamps = events.iter().map(|e| (e.at, e.idempotency)).collect();
                    (state.push(applied, undo, stamps, now), pending)
                }
                Err(e) => {
                    for u in undo.into_iter().rev() {
                        state.model.undo(u);
                    }
                    return Err(e);
                }
            }
        };
        match pending.await {
            Ok(receipts) => {
                self.state.lock().await.settle(settling.id, &receipts);
                settling.done();
                Ok(receipts)
            }
            Err(e) => {
                // The model already holds the batch's effects; the ledger is
                // poisoned, so refuse everything until reopened.
                self.failed.store(true, Ordering::SeqCst);
                let mut state = self.state.lock().await;
                state.pending.retain(|b| b.id != settling.id);
                state
                    .keys
                    .keys
                    .retain(|_, k| k.in_flight != Some(settling.id));
                drop(state);
                settling.done();
                Err(RecordError::Seal(e.into()))
            }
        }
    }

    /// Blocking form of [`ComplianceLedger::record_batch`]; refused inside
    /// an async runtime like [`ComplianceLedger::record_blocking`].
    pub fn record_batch_blocking(
        &self,
        events: Vec<ComplianceEvent>,
    ) -> Result<Vec<Receipt>, RecordError> {
        runtime::ensure_blocking_allowed("record_batch_blocking")?;
        futures_executor::block_on(self.record_batch(events))
    }

    /// The receipts of the events first recorded under `idem`, if it was
    /// recorded in the last [`IDEMPOTENCY_KEEP`] with the same request;
    /// `None` if the key is unknown (or older). A key used for another
    /// request is [`RecordError::IdempotencyKeyReused`], one whose batch is
    /// being committed [`RecordError::IdempotencyKeyInFlight`] (index 0).
    /// The keys of a batch whose caller stopped waiting stay in flight
    /// until the layer is reopened (their seqs are known only from the log).
    pub async fn recorded(&self, idem: &Idempotency) -> Result<Option<Vec<Receipt>>, RecordError> {
        let state = self.state.lock().await;
        match state.keys.state(idem, self.clock().now()) {
            KeyState::Unknown => Ok(None),
            KeyState::InFlight => Err(RecordError::IdempotencyKeyInFlight { index: 0 }),
            KeyState::Reused => Err(RecordError::IdempotencyKeyReused { index: 0 }),
            KeyState::Recorded(seqs) => self.receipts_of(seqs).map(Some),
        }
    }

    /// Blocking form of [`ComplianceLedger::recorded`], for plain threads
    /// (like [`ComplianceLedger::model_blocking`]).
    pub fn recorded_blocking(
        &self,
        idem: &Idempotency,
    ) -> Result<Option<Vec<Receipt>>, RecordError> {
        runtime::ensure_blocking_allowed("recorded_blocking")?;
        futures_executor::block_on(self.recorded(idem))
    }

    /// The receipts of the records at `seqs`, read back from the log.
    fn receipts_of(&self, seqs: &[u64]) -> Result<Vec<Receipt>, RecordError> {
        seqs.iter()
            .map(|&seq| {
                let stored = self.vault.ledger().get(seq).map_err(RecordError::Read)?;
                Ok(Receipt {
                    seq,
                    hash: stored.hash,
                    timestamp: stored.record.timestamp(),
                })
            })
            .collect()
    }

    /// Refuses a batch one of whose events carries a key already recorded
    /// (with its first receipts), reused for another request, or in flight.
    fn check_keys(
        &self,
        state: &WriteState,
        events: &[ComplianceEvent],
        now: DateTime<Utc>,
    ) -> Result<(), RecordError> {
        for (index, event) in events.iter().enumerate() {
            let Some(idem) = &event.idempotency else {
                continue;
            };
            // The events of one batch may share a key (one request), with
            // one body.
            let earlier = events[..index]
                .iter()
                .filter_map(|e| e.idempotency.as_ref())
                .find(|e| e.key == idem.key);
            if let Some(earlier) = earlier {
                if earlier.body != idem.body {
                    return Err(RecordError::IdempotencyKeyReused { index });
                }
                continue;
            }
            match state.keys.state(idem, now) {
                KeyState::Unknown => {}
                KeyState::InFlight => return Err(RecordError::IdempotencyKeyInFlight { index }),
                KeyState::Reused => return Err(RecordError::IdempotencyKeyReused { index }),
                KeyState::Recorded(seqs) => {
                    return Err(RecordError::AlreadyRecorded {
                        index,
                        receipts: self.receipts_of(seqs)?,
                    })
                }
            }
        }
        Ok(())
    }

    async fn lock(&self) -> Result<MutexGuard<'_, WriteState>, RecordError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(RecordError::Failed);
        }
        Ok(self.state.lock().await)
    }

    fn check(
        &self,
        model: &Model,
        event: &ComplianceEvent,
        now: DateTime<Utc>,
    ) -> Result<(), ValidationError> {
        if let (Some(declared), Some(personal)) =
            (event.facts.declared_categories(), &event.personal)
        {
            if personal.fields.keys().any(|c| !declared.contains(c)) {
                return Err(ValidationError::UndeclaredCategory);
            }
        }
        if !self.options.validate {
            // Erased scopes are refused by the vault in any case.
            return Ok(());
        }
        model.validate(
            &event.scope,
            &event.facts,
            now,
            self.options.ticket_retention,
        )
    }

    async fn submit(
        &self,
        encoded: Vec<Encoded>,
    ) -> Result<ledger_core::PendingAppend, RecordError> {
        let batch: Vec<VaultEvent> = encoded
            .into_iter()
            .map(|e| match e {
                Encoded::Sealed {
                    mut event,
                    metadata,
                    mut plaintext,
                } => {
                    // Moved, not copied: the vault zeroizes it after sealing.
                    event.payload = std::mem::take(&mut *plaintext);
                    VaultEvent::sealed_with(event, metadata)
                }
                Encoded::Clear(event) => VaultEvent::Clear(event),
            })
            .collect();
        Ok(self.vault.submit_batch(batch).await?)
    }

    /// Erases `subject` (Art. 17 or retention): destroys its key and the keys
    /// of all its tickets, then, if `request.request_ref` names an open
    /// erasure request of the subject, records it fulfilled. If that last
    /// record fails, the erasures stand:
    /// [`RecordError::ErasedButRequestNotRecorded`] carries their receipts.
    ///
    /// Runs under the write model's lock, awaited like any append's, and
    /// hands its fsyncs to tokio's blocking pool: it never blocks the
    /// runtime, so it may run beside appends on a current-thread runtime.
    /// Needs a tokio runtime.
    pub async fn erase_subject(
        &self,
        subject: ScopeId,
        request: &ErasureRequest,
    ) -> Result<Vec<ErasureReceipt>, RecordError> {
        let mut state = self.lock().await?;
        let model = &mut state.model;
        if model.erased.contains(&subject) {
            return Err(RecordError::Invalid {
                index: 0,
                source: ValidationError::SubjectErased { scope: subject },
            });
        }
        let tickets: Vec<TicketId> = model
            .subjects
            .get(&subject)
            .map(|s| {
                s.tickets
                    .iter()
                    .copied()
                    .filter(|t| !model.erased.contains(&t.0))
                    .collect()
            })
            .unwrap_or_default();
        let mut receipts = Vec::with_capacity(tickets.len() + 1);
        for ticket in tickets {
            receipts.push(self.erase_scope(model, ticket.0, request).await?);
        }
        receipts.push(self.erase_scope(model, subject, request).await?);
        let fulfils = model.requests.get(&request.request_ref).is_some_and(|r| {
            r.subject == subject
                && r.right == Right::Erasure
                && r.status == crate::model::RequestStatus::Open
        });
        drop(state);
        if fulfils {
            let event = ComplianceEvent::subject(
                subject,
                request.operator.clone(),
                Facts::RequestFulfilled {
                    request: request.request_ref.clone(),
                },
            );
            if let Err(e) = self.record(event).await {
                return Err(RecordError::ErasedButRequestNotRecorded {
                    receipts,
                    source: Box::new(e),
                });
            }
        }
        Ok(receipts)
    }

    /// Blocking form of [`ComplianceLedger::erase_subject`], for plain
    /// threads. Must not be called from inside an async runtime (it would
    /// wait for tasks that need its thread): there it returns
    /// [`RecordError::Runtime`] and does nothing.
    pub fn erase_subject_blocking(
        &self,
        subject: ScopeId,
        request: &ErasureRequest,
    ) -> Result<Vec<ErasureReceipt>, RecordError> {
        runtime::block_on(
            "erase_subject_blocking",
            self.erase_subject(subject, request),
        )
    }

    /// Erases one key scope (a ticket) under the model lock; never blocks
    /// the runtime (see [`ComplianceLedger::erase_subject`]).
    pub async fn erase_ticket(
        &self,
        ticket: TicketId,
        request: &ErasureRequest,
    ) -> Result<ErasureReceipt, RecordError> {
        let mut state = self.lock().await?;
        let model = &mut state.model;
        if let Some(scope) = model.is_erased(&Scope::Ticket(ticket)) {
            return Err(RecordError::Invalid {
                index: 0,
                source: ValidationError::SubjectErased { scope },
            });
        }
        if !model.tickets.contains_key(&ticket) {
            return Err(RecordError::Invalid {
                index: 0,
                source: ValidationError::UnknownTicket { ticket },
            });
        }
        self.erase_scope(model, ticket.0, request).await
    }

    /// Blocking form of [`ComplianceLedger::erase_ticket`]; refused inside
    /// an async runtime like [`ComplianceLedger::erase_subject_blocking`].
    pub fn erase_ticket_blocking(
        &self,
        ticket: TicketId,
        request: &ErasureRequest,
    ) -> Result<ErasureReceipt, RecordError> {
        runtime::block_on("erase_ticket_blocking", self.erase_ticket(ticket, request))
    }

    async fn erase_scope(
        &self,
        model: &mut Model,
        scope: ScopeId,
        request: &ErasureRequest,
    ) -> Result<ErasureReceipt, RecordError> {
        match self.vault.erase_scope(scope, request).await {
            Ok(receipt) => {
                model.mark_erased(scope);
                // The erasure may have appended more than its record (the
                // rotation's and the certificate's): the model has seen the
                // log up to its head, as a rebuild would.
                let head = self.vault.ledger().len().saturating_sub(1).max(receipt.seq);
                model.last_seq = Some(model.last_seq.map_or(head, |s| s.max(head)));
                Ok(receipt)
            }
            Err(e) => {
                if matches!(e, ledger_vault::EraseError::AlreadyErased { .. }) {
                    model.mark_erased(scope);
                }
                Err(e.into())
            }
        }
    }
}

/// Batches in flight past this many are settled even while older ones wait
/// for their commit, so that the list stays short under any load.
const MAX_PENDING: usize = 1024;

/// The write model and the batches applied to it ahead of their commit.
///
/// The rules must see each batch's effects as soon as it is queued (the
/// next batch is checked against them), but the time the core records is
/// known only from the receipts. So a batch is applied at once with the time
/// it was checked at and kept here with its undo records; once it and every
/// batch before it are durable, they are all undone and applied again in
/// seq order with their receipts' timestamps (the later ones still pending
/// with their check time). The model therefore equals the fold of the log
/// ([`model_from_log`]) whenever nothing is in flight, under any clock. A
/// batch whose caller stopped waiting keeps its check time (its receipts
/// never arrive); it no longer holds up the batches after it.
#[derive(Debug)]
struct WriteState {
    model: Model,
    /// Idempotency keys, committed and in flight.
    keys: IdemIndex,
    /// In queue order, which is seq order.
    pending: VecDeque<PendingBatch>,
    next_id: u64,
}

#[derive(Debug)]
struct PendingBatch {
    id: u64,
    events: Vec<Decoded>,
    /// One per event, in apply order.
    undo: Vec<Undo>,
    /// Per event: the effective time it gave, and its idempotency key.
    stamps: Vec<(Option<DateTime<Utc>>, Option<Idempotency>)>,
    checked_at: DateTime<Utc>,
    receipts: Option<Vec<Receipt>>,
    /// Set when its caller stopped waiting (its future was dropped) before
    /// the batch was settled: its receipts will never come, so it is
    /// settled with its check time.
    abandoned: Arc<AtomicBool>,
}

/// Held by `record_batch` from queueing to settling; marks the batch
/// abandoned if dropped before [`Settling::done`].
struct Settling {
    id: u64,
    abandoned: Arc<AtomicBool>,
    armed: bool,
}

impl Settling {
    fn done(mut self) {
        self.armed = false;
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        if self.armed {
            self.abandoned.store(true, Ordering::SeqCst);
        }
    }
}

impl WriteState {
    /// Registers a batch just applied at `checked_at` and queued.
    fn push(
        &mut self,
        events: Vec<Decoded>,
        undo: Vec<Undo>,
        stamps: Vec<(Option<DateTime<Utc>>, Option<Idempotency>)>,
        checked_at: DateTime<Utc>,
    ) -> Settling {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        for idem in stamps.iter().filter_map(|(_, k)| k.as_ref()) {
            self.keys.keys.insert(
                idem.key,
                IdemEntry {
                    body: idem.body,
                    seqs: Vec::new(),
                    in_flight: Some(id),
                    first: checked_at,
                },
            );
        }
        let abandoned = Arc::new(AtomicBool::new(false));
        self.pending.push_back(PendingBatch {
            id,
            events,
            undo,
            stamps,
            checked_at,
            receipts: None,
            abandoned: Arc::clone(&abandoned),
        });
        Settling {
            id,
            abandoned,
            armed: true,
        }
    }

    /// Notes the receipts of batch `id` and, when enough of the oldest
    /// batches are durable, re-applies them with their records' timestamps.
    fn settle(&mut self, id: u64, receipts: &[Receipt]) {
        let Some(batch) = self.pending.iter_mut().find(|b| b.id == id) else {
            return;
        };
        batch.receipts = Some(receipts.to_vec());
        for ((_, idem), receipt) in batch.stamps.iter().zip(receipts) {
            if let Some(idem) = idem {
                if let Some(entry) = self.keys.keys.get_mut(&idem.key) {
                    if entry.in_flight == Some(id) {
                        entry.seqs.clear();
                        entry.in_flight = None;
                        entry.first = receipt.timestamp;
                    }
                }
            }
        }
        for ((_, idem), receipt) in batch.stamps.iter().zip(receipts) {
            if let Some(idem) = idem {
                if let Some(entry) = self.keys.keys.get_mut(&idem.key) {
                    entry.seqs.push(receipt.seq);
                }
            }
        }
        let durable = self
            .pending
            .iter()
            .take_while(|b| b.receipts.is_some() || b.abandoned.load(Ordering::SeqCst))
            .count();
        let len = self.pending.len();
        // Re-applying costs every pending batch: do it when all are durable
        // (the usual case), or at least half, or when the list grew long.
        if durable == 0 || (durable < len && durable * 2 < len && len < MAX_PENDING) {
            return;
        }
        let WriteState { model, pending, .. } = self;
        let mut last_seq = model.last_seq;
        for batch in pending.iter_mut().rev() {
            while let Some(undo) = batch.undo.pop() {
                model.undo(undo);
            }
        }
        for batch in pending.drain(..durable) {
            let Some(receipts) = &batch.receipts else {
                for (event, (at, _)) in batch.events.iter().zip(&batch.stamps) {
                    model.apply(None, at.unwrap_or(batch.checked_at), event);
                }
                continue;
            };
            for ((event, receipt), (at, _)) in batch.events.iter().zip(receipts).zip(&batch.stamps)
            {
                model.apply(Some(receipt.seq), at.unwrap_or(receipt.timestamp), event);
                last_seq = Some(last_seq.map_or(receipt.seq, |s| s.max(receipt.seq)));
            }
        }
        for batch in pending.iter_mut() {
            for (event, (at, _)) in batch.events.iter().zip(&batch.stamps) {
                batch.undo.push(model.undo_for(event));
                model.apply(None, at.unwrap_or(batch.checked_at), event);
            }
        }
        model.last_seq = last_seq;
    }
}
