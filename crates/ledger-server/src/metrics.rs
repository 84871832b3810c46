//! Prometheus counters of the server (text exposition format 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the commit latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
/// Reasons an authentication or authorization fails.
pub const AUTH_REASONS: [&str; 5] = ["missing", "malformed", "unknown", "revoked", "forbidden"];

/// Reasons a request is refused by the server's limits.
pub const REFUSALS: [&str; 5] = [
    "overloaded",
    "timeout",
    "body_too_large",
    "rate_limited",
    "queue_full",
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    appends: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    auth_failures: [AtomicU64; AUTH_REASONS.len()],
    refusals: [AtomicU64; REFUSALS.len()],
}

impl Metrics {
    /// Counts `events` appended by one commit that took `seconds`.
    pub fn commit(&self, events: u64, seconds: f64) {
        self.appends.fetch_add(events, Ordering::Relaxed);
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        // Whole microseconds: enough for a latency histogram.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let micros = (seconds * 1e6) as u64;
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts an authentication failure for `reason` (one of [`AUTH_REASONS`]).
    pub fn auth_failure(&self, reason: &str) {
        if let Some(i) = AUTH_REASONS.iter().position(|r| *r == reason) {
            self.auth_failures[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a request refused by a limit, for `reason` (one of [`REFUSALS`]).
    pub fn refusal(&self, reason: &str) {
        if let Some(i) = REFUSALS.iter().position(|r| *r == reason) {
            self.refusals[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP ledger_appends_total Events appended through the API."
        );
        let _ = writeln!(out, "# TYPE ledger_appends_total counter");
        let _ = writeln!(out, "ledger_appends_total {}", l(&self.appends));
        let _ = writeln!(
            out,
            "# HELP ledger_commit_seconds Time from submitting a batch to its durable receipts."
        );
        let _ = writeln!(out, "# TYPE ledger_commit_seconds histogram");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "ledger_commit_seconds_bucket{{le=\"{bound}\"}} {}",
                l(&self.buckets[i])
            );
        }
        let count = l(&self.latency_count);
        let _ = writeln!(out, "ledger_commit_seconds_bucket{{le=\"+Inf\"}} {count}");
        #[allow(clippy::cast_precision_loss)]
        let sum = l(&self.latency_sum_micros) as f64 / 1e6;
        let _ = writeln!(out, "ledger_commit_seconds_sum {sum}");
        let _ = writeln!(out, "ledger_commit_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP ledger_auth_failures_total Requests refused with 401 or 403, by reason."
        );
        let _ = writeln!(out, "# TYPE ledger_auth_failures_total counter");
        for (i, reason) in AUTH_REASONS.iter().enumerate() {
            let _ = writeln!(
                out,
                "ledger_auth_failures_total{{reason=\"{reason}\"}} {}",
                l(&self.auth_failures[i])
            );
        }
        let _ = writeln!(
            out,
            "# HELP ledger_refused_total Requests refused by a server limit, by reason."
        );
        let _ = writeln!(out, "# TYPE ledger_refused_total counter");
        for (i, reason) in REFUSALS.iter().enumerate() {
            let _ = writeln!(
                out,
                "ledger_refused_total{{reason=\"{reason}\"}} {}",
                l(&self.refusals[i])
            );
        }
        out
    }
}

/// Gauges read from the ledger when scraped.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LiveGauges {
    /// Records in the log.
    pub log_size: u64,
    /// Events waiting for the writer.
    pub queued_events: u64,
    /// Durability barriers (fsyncs of the log) made since the server started.
    pub syncs: u64,
    /// Time spent in them, in seconds.
    pub sync_seconds: f64,
    /// Age of the newest record the latest signed checkpoint covers (how
    /// stale the signed view is); `None` if nothing is signed.
    pub checkpoint_age_seconds: Option<f64>,
    /// Records appended after the latest signed checkpoint.
    pub unsigned_records: u64,
    /// Age of the oldest record no checkpoint covers yet (0 if none): grows
    /// only when signing has stalled.
    pub oldest_unsigned_age_seconds: Option<f64>,
    /// Rights requests past their deadline; `None` if the model could not
    /// be read.
    pub overdue_requests: Option<u64>,
}

impl LiveGauges {
    /// The exposition text of the gauges.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        metric(
            "ledger_log_size",
            "gauge",
            "Records in the log.",
            self.log_size.to_string(),
        );
        metric(
            "ledger_queue_depth",
            "gauge",
            "Events handed to the writer and not yet committed.",
            self.queued_events.to_string(),
        );
        metric(
            "ledger_fsync_total",
            "counter",
            "Durability barriers (fsyncs of the log, one per group commit).",
            self.syncs.to_string(),
        );
        metric(
            "ledger_fsync_seconds_total",
            "counter",
            "Time spent in the log's durability barriers.",
            self.sync_seconds.to_string(),
        );
        if let Some(age) = self.checkpoint_age_seconds {
            metric(
                "ledger_checkpoint_age_seconds",
                "gauge",
                "Age of the newest record the latest signed checkpoint covers.",
                age.to_string(),
            );
        }
        metric(
            "ledger_unsigned_records",
            "gauge",
            "Records appended after the latest signed checkpoint.",
            self.unsigned_records.to_string(),
        );
        if let Some(age) = self.oldest_unsigned_age_seconds {
            metric(
                "ledger_oldest_unsigned_age_seconds",
                "gauge",
                "Age of the oldest record no signed checkpoint covers yet (0 if none).",
                age.to_string(),
            );
        }
        if let Some(n) = self.overdue_requests {
            metric(
                "ledger_overdue_requests",
                "gauge",
                "Rights requests past their deadline.",
                n.to_string(),
            );
        }
        out
    }
}
