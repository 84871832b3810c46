//! Knobs of an open ledger.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::OpenError;
use crate::record::MAX_PAYLOAD_LEN;
use crate::storage::Keyspace;

/// Which storage engines a new ledger is created on. An existing ledger
/// keeps the engine found on disk ([`Engine::detect`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// Records in segmented append-only files (`log/`), the rest in an
    /// LSM state store (`state/`, fjall). Not the default: the corruption
    /// fuzz (tests/e2e/corruption.rs) found that fjall 3 aborts the whole
    /// process (an allocation of a size read from a damaged table of
    /// contents) on some damaged state files, which no typed error can
    /// report (docs/BENCHMARKS.md §10).
    Segments,
    /// Records in segmented append-only files (`log/`), the rest in a sled
    /// state store (`state/`): the default. It passes the corruption fuzz
    /// without a panic or an abort, and measured on a par with fjall
    /// except at batch 1000 (docs/BENCHMARKS.md §10).
    #[default]
    SegmentsSled,
    /// Everything in one sled database (`store/`): the layout of ledgers
    /// made before the segmented log.
    Sled,
}

impl Engine {
    /// Every engine, the default first.
    pub const ALL: [Engine; 3] = [Engine::SegmentsSled, Engine::Segments, Engine::Sled];

    /// The engine of the ledger in `dir`, `None` if it holds none.
    pub fn detect(dir: &Path) -> Option<Engine> {
        if dir.join(super::STORE_DIR).join("db").is_file() {
            Some(Engine::Sled)
        } else if dir.join(super::LOG_DIR).is_dir() {
            let state = dir.join(super::STATE_DIR);
            // sled keeps `conf` and `db` at the top of its directory; fjall
            // never writes files of those names.
            if state.join("conf").is_file() || state.join("db").is_file() {
                Some(Engine::SegmentsSled)
            } else {
                Some(Engine::Segments)
            }
        } else {
            None
        }
    }

    /// The engine's name, as `--engine` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Segments => "segments",
            Engine::SegmentsSled => "segments-sled",
            Engine::Sled => "sled",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Engine, String> {
        match s {
            "segments" => Ok(Engine::Segments),
            "segments-sled" => Ok(Engine::SegmentsSled),
            "sled" => Ok(Engine::Sled),
            other => Err(format!(
                "unknown engine {other:?} (segments, segments-sled or sled)"
            )),
        }
    }
}

/// How a ledger is opened. `LedgerOptions::default()` suits a service.
#[derive(Clone, Debug)]
pub struct LedgerOptions {
    /// Appends (single or batch) that may wait for the writer before
    /// `append` starts to wait for room: the backpressure bound.
    pub queue_capacity: usize,
    /// Most events one group commit takes.
    pub max_batch: usize,
    /// How long the writer waits for more appends after the first one of a
    /// group. Zero (the default) commits whatever is queued at once; appends
    /// that arrive during an fsync form the next group by themselves.
    pub max_wait: Duration,
    /// Make a signed checkpoint when this many events were appended since the last one.
    pub checkpoint_every: Option<u64>,
    /// Make a signed checkpoint when this much time passed since the last one
    /// and something was appended.
    pub checkpoint_interval: Option<Duration>,
    /// Largest payload accepted, in bytes (at most [`MAX_PAYLOAD_LEN`]).
    pub max_payload: usize,
    /// Checkpoint origin line for a new ledger; `None` derives
    /// `ledger-core/<ledger id>`. Ignored when the ledger exists.
    pub origin: Option<String>,
    /// Source of record timestamps.
    pub clock: Arc<dyn Clock>,
    /// Bytes of cache the state store may use.
    pub cache_bytes: u64,
    /// Engine of a new ledger (an existing one keeps its own).
    pub engine: Engine,
    /// Keyspaces of layers above that readers need without the state
    /// store (e.g. certificates an evidence bundle carries). On the
    /// segmented engines the writer mirrors them, with the ledger's own
    /// identity and checkpoints, into the log's state journal
    /// (docs/FORMAT.md §2.2), which [`ReadOnlyLedger::open`](super::ReadOnlyLedger::open)
    /// reads.
    pub published: Vec<Keyspace>,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            queue_capacity: 4096,
            max_batch: 1024,
            max_wait: Duration::ZERO,
            checkpoint_every: Some(10_000),
            checkpoint_interval: Some(Duration::from_secs(60)),
            max_payload: 1024 * 1024,
            origin: None,
            clock: Arc::new(SystemClock),
            cache_bytes: 256 * 1024 * 1024,
            engine: Engine::default(),
            published: Vec::new(),
        }
    }
}

impl LedgerOptions {
    pub(crate) fn check(&self) -> Result<(), OpenError> {
        let bad = |detail: &str| {
            Err(OpenError::InvalidOptions {
                detail: detail.to_string(),
            })
        };
        if self.queue_capacity == 0 {
            return bad("queue_capacity must be at least 1");
        }
        if self.max_batch == 0 {
            return bad("max_batch must be at least 1");
        }
        if self.checkpoint_every == Some(0) {
            return bad("checkpoint_every must be at least 1 (or None)");
        }
        if self.checkpoint_interval == Some(Duration::ZERO) {
            return bad("checkpoint_interval must be positive (or None)");
        }
        if let Some(origin) = &self.origin {
            // Checked before anything is stored: the origin is written once
            // and names the signing key, so a bad one must never reach disk.
            if let Err(e) = crate::checkpoint::validate_key_name(origin) {
                return Err(OpenError::InvalidOptions {
                    detail: format!("origin: {e}"),
                });
            }
        }
        if self.max_payload > MAX_PAYLOAD_LEN {
            return bad("max_payload exceeds the format's 8 MiB limit");
        }
        Ok(())
    }
}
