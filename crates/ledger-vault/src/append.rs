//! Appending through the vault: sealed under the subject's key, or clear.

use ledger_core::{Event, PendingAppend, Receipt, ScopeId};
use zeroize::Zeroizing;

use crate::audit::AuditMetadata;
use crate::error::SealError;
use crate::seal::{self, Dek};
use crate::store;
use crate::vault::Vault;

/// An event for [`Vault::append`] or [`Vault::submit_batch`].
#[derive(Debug)]
pub enum VaultEvent {
    /// The event's payload is sealed under its subject's DEK (it must name
    /// a subject and no key reference). `metadata`, if given, is stored in
    /// clear beside the ciphertext and bound to it (`docs/FORMAT.md` §9.1):
    /// anyone with the log can read it, keys or not, also after the
    /// subject's erasure, so every value must be a code, never personal data.
    Sealed {
        /// The event; its payload is the plaintext.
        event: Event,
        /// Clear audit metadata.
        metadata: Option<AuditMetadata>,
    },
    /// The event is appended as given, its payload in clear.
    Clear(Event),
}

impl VaultEvent {
    /// `event` to be sealed, without audit metadata.
    pub fn sealed(event: Event) -> Self {
        VaultEvent::Sealed {
            event,
            metadata: None,
        }
    }

    /// `event` to be sealed, with `metadata` in clear beside it.
    pub fn sealed_with(event: Event, metadata: AuditMetadata) -> Self {
        VaultEvent::Sealed {
            event,
            metadata: Some(metadata),
        }
    }
}

impl Vault {
    /// Appends one event (see [`VaultEvent`]); resolves once durable.
    ///
    /// A sealed event is refused with [`SealError::ScopeErased`] once its
    /// subject's erasure fence exists: an erasure waits for sealed appends
    /// of the subject being queued, and none is queued after it. Invalid
    /// metadata is refused with [`SealError::Metadata`] before anything is
    /// written. A sealed plaintext is zeroed once sealed (or refused).
    pub async fn append(&self, event: VaultEvent) -> Result<Receipt, SealError> {
        let mut receipts = self.submit_batch(vec![event]).await?.await?;
        receipts
            .pop()
            .ok_or(SealError::Append(ledger_core::AppendError::EmptyBatch))
    }

    /// Blocking form of [`Vault::append`] (parks the calling thread on a
    /// small executor of its own, like [`Ledger::append_blocking`]).
    pub fn append_blocking(&self, event: VaultEvent) -> Result<Receipt, SealError> {
        futures_executor::block_on(self.append(event))
    }

    /// Queues `events` as one atomic batch and returns once queued: await
    /// the [`PendingAppend`] for the receipts. Sealed events are sealed like
    /// [`Vault::append`]'s; clear ones are queued as given. Batches are
    /// committed in the order their calls return (see
    /// [`Ledger::submit_batch`]). Nothing is queued if any event is refused.
    pub async fn submit_batch(&self, events: Vec<VaultEvent>) -> Result<PendingAppend, SealError> {
        let mut sealed = Vec::with_capacity(events.len());
        let mut subjects: Vec<ScopeId> = Vec::with_capacity(events.len());
        let mut prepared = Vec::with_capacity(events.len());
        // Every plaintext moves into zeroizing storage before anything can fail.
        let events: Vec<(VaultEvent, Zeroizing<Vec<u8>>)> = events
            .into_iter()
            .map(|mut event| {
                let plaintext = match &mut event {
                    VaultEvent::Sealed { event, .. } => std::mem::take(&mut event.payload),
                    VaultEvent::Clear(_) => Vec::new(),
                };
                (event, Zeroizing::new(plaintext))
            })
            .collect();
        for (event, plaintext) in events {
            let (event, metadata) = match event {
                VaultEvent::Clear(event) => {
                    prepared.push((event, None, plaintext));
                    continue;
                }
                VaultEvent::Sealed { event, metadata } => (event, metadata),
            };
            let encoded = match metadata {
                Some(metadata) => metadata.encode()?,
                None => Vec::new(),
            };
            let subject = event.subject.ok_or(SealError::MissingScope)?;
            if event.key_ref.is_some() {
                return Err(SealError::KeyRefGiven);
            }
            subjects.push(subject);
            prepared.push((event, Some(encoded), plaintext));
        }
        // Shard locks in a fixed order, each once, so batches cannot deadlock.
        let mut shards: Vec<usize> = subjects.iter().map(|s| self.inner.shard_index(s)).collect();
        shards.sort_unstable();
        shards.dedup();
        let mut guards = Vec::with_capacity(shards.len());
        for index in shards {
            guards.push(self.inner.shard_at(index).read().await);
        }
        for (mut event, encoded, plaintext) in prepared {
            let Some(encoded) = encoded else {
                sealed.push(event);
                continue;
            };
            let subject = event.subject.ok_or(SealError::MissingScope)?;
            let dek = self.dek_for_append(&subject)?;
            event.payload = seal::seal_payload_encoded(
                &dek.key,
                &self.inner.ledger_id,
                &subject,
                &dek.key_ref,
                &event.event_type,
                &encoded,
                &plaintext,
            )?;
            event.key_ref = Some(dek.key_ref);
            sealed.push(event);
        }
        let pending = self.inner.ledger.submit_batch(sealed).await?;
        drop(guards);
        Ok(pending)
    }

    /// The DEK to seal an append of `subject` with; the caller holds the
    /// subject's shard lock (shared).
    fn dek_for_append(&self, subject: &ScopeId) -> Result<Dek, SealError> {
        // A cached DEK proves there is no fence: erasure evicts the DEK
        // right after writing the fence, under this shard's exclusive lock,
        // and only this path (after checking the fence) refills the cache.
        if let Some(dek) = self.inner.cached_dek(subject) {
            return Ok(dek);
        }
        if store::fence(self.inner.storage.as_ref(), subject)?.is_some() {
            return Err(SealError::ScopeErased { subject: *subject });
        }
        let dek = self
            .inner
            .load_dek(subject)?
            .ok_or(SealError::UnknownScope { subject: *subject })?;
        self.inner.cache_insert(*subject, dek.clone());
        Ok(dek)
    }
}
