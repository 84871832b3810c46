//! Prometheus counters of the server (text exposition format 0.0.4).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the commit latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
/// Reasons an authentication or authorization fails.
pub const AUTH_REASONS: [&str; 5] = ["missing", "malformed", "unknown", "revoked", "forbidden"];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    appends: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    auth_failures: [AtomicU64; AUTH_REASONS.len()],
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
        out
    }
}
