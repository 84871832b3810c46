//! The events appended and the equivalent raw values written by the baseline.

use ledger_core::record::Record;
use ledger_core::{Event, ScopeId};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// Distinct payloads (and subjects) cycled through; enough that nothing is
/// suspiciously cache-friendly, small enough to build up front.
const POOL: usize = 1024;

/// Event type of every benchmark event.
pub(crate) const EVENT_TYPE: &str = "bench.event";
/// Actor of every benchmark event.
pub(crate) const ACTOR: &str = "svc:bench";

/// Pre-generated random payloads, subject ids and raw baseline values.
#[derive(Debug)]
pub(crate) struct Workload {
    payloads: Vec<Vec<u8>>,
    subjects: Vec<ScopeId>,
    values: Vec<Vec<u8>>,
    /// Bytes of each event payload.
    pub(crate) payload_len: usize,
    /// Bytes the ledger stores per record under its record key
    /// (chain hash + encoded record); the baseline writes values of this size.
    pub(crate) value_len: usize,
}

impl Workload {
    /// Random payloads of `payload_len` bytes, each event with a subject id.
    pub(crate) fn new(payload_len: usize) -> anyhow::Result<Workload> {
        let mut rng = StdRng::seed_from_u64(0x1ed9e7);
        let mut random_bytes = |len: usize| {
            let mut v = vec![0u8; len];
            rng.fill_bytes(&mut v);
            v
        };
        let payloads: Vec<Vec<u8>> = (0..POOL).map(|_| random_bytes(payload_len)).collect();
        let mut rng = StdRng::seed_from_u64(0x5ab1ec7);
        let subjects: Vec<ScopeId> = (0..POOL).map(|_| ScopeId(rng.gen())).collect();
        let mut workload = Workload {
            payloads,
            subjects,
            values: Vec::new(),
            payload_len,
            value_len: 0,
        };
        let sample = Record::from_event(workload.event(0), u64::MAX, chrono::Utc::now()).encode();
        anyhow::ensure!(!sample.is_empty(), "sample record did not encode");
        workload.value_len = 32 + sample.len();
        let mut rng = StdRng::seed_from_u64(0xba5e);
        workload.values = (0..POOL)
            .map(|_| {
                let mut v = vec![0u8; workload.value_len];
                rng.fill_bytes(&mut v);
                v
            })
            .collect();
        Ok(workload)
    }

    /// The `i`-th event (cycling through the pool).
    pub(crate) fn event(&self, i: usize) -> Event {
        let k = i % POOL;
        Event::new(EVENT_TYPE, ACTOR)
            .with_scope(self.subjects[k])
            .with_payload(self.payloads[k].clone())
    }

    /// `n` consecutive events starting at `start`.
    pub(crate) fn events(&self, start: usize, n: usize) -> Vec<Event> {
        (start..start + n).map(|i| self.event(i)).collect()
    }

    /// Subject id of the `i`-th event.
    pub(crate) fn subject(&self, i: usize) -> &ScopeId {
        &self.subjects[i % POOL]
    }

    /// The `i`-th raw baseline value, [`Workload::value_len`] bytes.
    pub(crate) fn value(&self, i: usize) -> &[u8] {
        &self.values[i % POOL]
    }
}
