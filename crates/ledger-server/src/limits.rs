//! What one caller, or all of them together, may ask of the server: the
//! largest body, how many requests are handled at once, how long a read
//! may take, and how many requests a principal may make per second.
//! Every refusal is a typed JSON error (docs/API.md, "Limits"); the
//! overload and rate refusals carry `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The limits of a server.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests handled at once; more get 503 `overloaded` with
    /// `Retry-After` (health, readiness and metrics are never refused).
    pub max_in_flight: usize,
    /// Longest a read-only request (`GET`) may take before it gets 503
    /// `timeout`. Writes are never cut short: an append whose answer was
    /// lost is found again with its `Idempotency-Key`.
    pub read_timeout: Duration,
    /// Requests per second each principal may make on average, with bursts
    /// of [`Limits::rate_burst`]; `None`: unlimited.
    pub rate_per_second: Option<f64>,
    /// Requests a principal may make at once after being idle.
    pub rate_burst: u32,
    /// Events that may wait for the ledger's writer; while more wait,
    /// appends get 503 `queue_full` with `Retry-After` instead of queueing.
    pub max_queued_events: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_in_flight: 256,
            read_timeout: Duration::from_secs(30),
            rate_per_second: None,
            rate_burst: 100,
            max_queued_events: 100_000,
        }
    }
}

/// Why limits are not valid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid server limits: {0}")]
pub struct LimitsError(&'static str);

impl Limits {
    /// Checks that every limit lets some request through.
    pub fn validate(&self) -> Result<(), LimitsError> {
        if self.max_body_bytes == 0 {
            return Err(LimitsError("the body limit must be at least 1 byte"));
        }
        if self.max_in_flight == 0 {
            return Err(LimitsError("at least one request must be handled at once"));
        }
        if self.read_timeout.is_zero() {
            return Err(LimitsError("the read timeout must be positive"));
        }
        if let Some(rate) = self.rate_per_second {
            if !rate.is_finite() || rate <= 0.0 {
                return Err(LimitsError("the rate must be a positive number per second"));
            }
        }
        if self.rate_burst == 0 {
            return Err(LimitsError("the burst must be at least 1"));
        }
        if self.max_queued_events == 0 {
            return Err(LimitsError(
                "at least one event must be able to wait for the writer",
            ));
        }
        Ok(())
    }
}

/// 503 `overloaded`.
pub(crate) fn overloaded() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "the server is handling as many requests as it may; retry later",
    )
    .retry_after(1)
    .into_response()
}

/// 503 `timeout`.
pub(crate) fn timed_out(limit: Duration) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        format!(
            "the request took longer than the server's {} s limit",
            limit.as_secs_f64()
        ),
    )
    .retry_after(1)
    .into_response()
}

/// The answer of `handler`, or 503 `timeout` if it takes longer than
/// `limit` (the handler is then dropped).
pub(crate) async fn bounded(
    limit: Duration,
    handler: impl std::future::Future<Output = Response>,
) -> Response {
    match tokio::time::timeout(limit, handler).await {
        Ok(response) => response,
        Err(_) => timed_out(limit),
    }
}

/// 413 `body_too_large`.
pub(crate) fn too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is larger than the server's limit of {limit} bytes"),
    )
    .into_response()
}

/// 503 `queue_full`.
pub(crate) fn queue_full() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_full",
        "the ledger's writer has as many events waiting as it may; nothing was appended, retry later",
    )
    .retry_after(1)
}

/// 429 `rate_limited`.
pub(crate) fn rate_limited(wait: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "this principal is making more requests than the server allows; retry later",
    )
    .retry_after(wait)
}

/// Token buckets, one per principal.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before idle full ones are dropped.
const MAX_BUCKETS: usize = 10_000;

impl RateLimiter {
    pub(crate) fn new(rate: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            rate,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `who`'s bucket at `now`: `Ok` if there was
    /// one, else the whole seconds until there is.
    pub(crate) fn take(&self, who: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(who) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(who.to_owned()).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.rate;
            // At most a day: the cast below cannot overflow.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Err(wait.min(86_400.0).ceil() as u64)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("a", t0), Ok(()));
        }
        assert_eq!(limiter.take("a", t0), Err(1));
        // Another principal has its own bucket.
        assert_eq!(limiter.take("b", t0), Ok(()));
        // Half a second at 2/s is one request.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.take("a", t1), Ok(()));
        assert_eq!(limiter.take("a", t1), Err(1));
        // Idle long enough, the bucket is full again, never fuller.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limiter.take("a", t2), Ok(()));
        }
        assert!(limiter.take("a", t2).is_err());
    }

    #[test]
    fn a_slow_rate_says_how_long_to_wait() {
        let limiter = RateLimiter::new(0.1, 1);
        let t0 = Instant::now();
        assert_eq!(limiter.take("a", t0), Ok(()));
        assert_eq!(limiter.take("a", t0), Err(10));
    }

    #[tokio::test]
    async fn a_handler_past_the_limit_gets_a_typed_503_with_retry_after() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        };
        let response = bounded(Duration::from_millis(20), slow).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "timeout");

        let fast = async { StatusCode::OK.into_response() };
        let response = bounded(Duration::from_secs(5), fast).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn limits_that_let_nothing_through_are_refused() {
        assert!(Limits::default().validate().is_ok());
        for bad in [
            Limits {
                max_body_bytes: 0,
                ..Limits::default()
            },
            Limits {
                max_in_flight: 0,
                ..Limits::default()
            },
            Limits {
                read_timeout: Duration::ZERO,
                ..Limits::default()
            },
            Limits {
                rate_per_second: Some(0.0),
                ..Limits::default()
            },
            Limits {
                rate_per_second: Some(f64::NAN),
                ..Limits::default()
            },
            Limits {
                rate_burst: 0,
                ..Limits::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
