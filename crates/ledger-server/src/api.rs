//! The handlers and the router.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger_compliance::retention::{deadlines, SweepOptions};
use ledger_compliance::vocab::{Purpose, Role as ReaderRole};
use ledger_compliance::{ComplianceLedger, Idempotency, RecordError, Scope};
use ledger_core::ScopeId;
use ledger_usecases::access::{self, Reader};
use ledger_usecases::wire::{self, Names, Request, Resolver};
use ledger_vault::{CreateScopeError, ErasureRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::limits::{self, Limits, RateLimiter};
use crate::metrics::Metrics;
use crate::routes;
use crate::tokens::{hash_token, Principal, Role, TokenCache, TOKEN_PREFIX};

/// What every handler shares.
pub struct AppState {
    /// The ledger.
    pub compliance: Arc<ComplianceLedger>,
    /// The ledger directory (token file).
    pub dir: PathBuf,
    /// Counters.
    pub metrics: Metrics,
    /// The principals, re-read when `tokens.json` changes.
    pub tokens: TokenCache,
    /// What callers may ask.
    pub limits: Limits,
    /// Integrity routes answer without a token.
    pub public_integrity: bool,
    /// Slots for requests handled at once ([`Limits::max_in_flight`]).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// Per-principal rate ([`Limits::rate_per_second`]).
    pub(crate) rate: Option<RateLimiter>,
    /// Idempotency keys of the requests being answered (the keys of those
    /// answered are in the log's records).
    pub keys_in_flight: std::sync::Mutex<HashSet<[u8; 32]>>,
}

/// Holds an idempotency key in [`AppState::keys_in_flight`] until dropped.
struct InFlight<'a> {
    state: &'a AppState,
    key: [u8; 32],
}

impl<'a> InFlight<'a> {
    /// Marks `key` in flight, or `None` if it already is.
    fn take(state: &'a AppState, key: [u8; 32]) -> Option<Self> {
        let mut keys = state
            .keys_in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        keys.insert(key).then_some(InFlight { state, key })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state
            .keys_in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

type Shared = State<Arc<AppState>>;
type ApiResult<T> = Result<T, ApiError>;

impl AppState {
    /// The state of a server over `compliance` at `dir`: the token file is
    /// read now, and re-read whenever it changes.
    pub fn new(
        compliance: Arc<ComplianceLedger>,
        dir: PathBuf,
        settings: crate::Settings,
    ) -> Result<AppState, crate::ServeError> {
        let crate::Settings {
            limits,
            public_integrity,
        } = settings;
        limits.validate()?;
        let tokens = TokenCache::open(&dir)?;
        Ok(AppState {
            compliance,
            metrics: Metrics::default(),
            keys_in_flight: std::sync::Mutex::default(),
            tokens,
            in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight)),
            rate: limits
                .rate_per_second
                .map(|rate| RateLimiter::new(rate, limits.rate_burst)),
            limits,
            public_integrity,
            dir,
        })
    }

    /// [`AppState::authorize`] for an integrity route: without a token it
    /// is allowed when the server makes integrity public.
    async fn authorize_integrity(
        self: &Arc<Self>,
        headers: &HeaderMap,
        method: &str,
        path: &str,
    ) -> ApiResult<()> {
        if self.public_integrity && !headers.contains_key(header::AUTHORIZATION) {
            return Ok(());
        }
        self.authorize(headers, method, path).await.map(drop)
    }

    /// Authenticates the bearer token of `headers` and checks that its
    /// role may call the route `method path` of [`routes::ROUTES`], and
    /// that the principal is within its rate. The token file is checked
    /// for a change on each call (off the async threads), so a revocation
    /// applies to the next request.
    async fn authorize(
        self: &Arc<Self>,
        headers: &HeaderMap,
        method: &str,
        path: &str,
    ) -> ApiResult<Principal> {
        let fail = |status, code: &'static str, reason: &'static str, message: &str| {
            self.metrics.auth_failure(reason);
            tracing::warn!(route = %format!("{method} {path}"), reason, "request refused");
            ApiError::new(status, code, message)
        };
        let Some(route) = routes::route(method, path) else {
            return Err(ApiError::not_found("no_route", "no such route"));
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                "token_missing",
                "missing",
                "send Authorization: Bearer <token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() == TOKEN_PREFIX.len() + 64);
        let Some(token) = token else {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                "token_malformed",
                "malformed",
                "the Authorization header is not Bearer lgr_<64 hex>",
            ));
        };
        let hash = hash_token(token);
        let state = Arc::clone(self);
        let file = tokio::task::spawn_blocking(move || state.tokens.get())
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|e| ApiError::internal(&e))?;
        let Some(principal) = file.by_hash(&hash) else {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                "token_unknown",
                "unknown",
                "no principal has this token",
            ));
        };
        if principal.revoked.is_some() {
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                "token_revoked",
                "revoked",
                "this token was revoked",
            ));
        }
        if !route.allows(principal.role) {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "role_forbidden",
                "forbidden",
                &format!(
                    "the {} role may not call this route",
                    principal.role.as_str()
                ),
            ));
        }
        if let Some(rate) = &self.rate {
            if let Err(wait) = rate.take(&principal.id, Instant::now()) {
                self.metrics.refusal("rate_limited");
                return Err(limits::rate_limited(wait));
            }
        }
        Ok(principal.clone())
    }
}

/// The router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/subjects", post(post_subject))
        .route("/v1/subjects/lookup", post(post_lookup))
        .route("/v1/subjects/{id}", get(get_subject))
        .route("/v1/subjects/{id}/access", get(get_access))
        .route("/v1/subjects/{id}/access.html", get(get_access_html))
        .route("/v1/subjects/{id}/erase", post(post_erase))
        .route("/v1/requests", get(get_requests))
        .route("/v1/retention/sweep", post(post_sweep))
        .route("/v1/checkpoint", get(get_checkpoint))
        .route("/v1/tlog/checkpoint", get(get_tlog_checkpoint))
        .route("/v1/tlog/tile/{*path}", get(get_tile))
        .route("/v1/proof/inclusion", get(get_inclusion))
        .route("/v1/proof/consistency", get(get_consistency))
        .route("/v1/ropa", get(get_ropa))
        .route("/v1/principals", get(get_principals))
        .route(
            "/v1/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no_route", "no such route") })
        .layer(axum::extract::DefaultBodyLimit::max(
            state.limits.max_body_bytes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            guard,
        ))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// Probes that are answered however busy the server is.
const NEVER_REFUSED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The server-wide limits ([`Limits`]): a body declared larger than the
/// limit is refused before it is read, a request beyond
/// [`Limits::max_in_flight`] gets 503 `overloaded`, a read beyond
/// [`Limits::read_timeout`] gets 503 `timeout`, and a body found too large
/// while reading gets the same typed 413 as a declared one.
async fn guard(
    State(s): Shared,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if NEVER_REFUSED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max = s.limits.max_body_bytes;
    if declared.is_some_and(|n| n > max as u64) {
        s.metrics.refusal("body_too_large");
        return limits::too_large(max);
    }
    let Ok(_permit) = Arc::clone(&s.in_flight).try_acquire_owned() else {
        s.metrics.refusal("overloaded");
        return limits::overloaded();
    };
    let response = if request.method() == axum::http::Method::GET {
        let response = limits::bounded(s.limits.read_timeout, next.run(request)).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            s.metrics.refusal("timeout");
        }
        response
    } else {
        next.run(request).await
    };
    // axum's own refusal of a body that outgrew the limit while it was
    // read is plain text; answer it as every other error.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        s.metrics.refusal("body_too_large");
        return limits::too_large(max);
    }
    response
}

/// No answer is kept by a cache or a browser: several carry personal data,
/// and proofs and checkpoints go stale as the log grows.
async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// Runs blocking `f` off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))?
}

/// The query of a request, or 400 `bad_query` in the API's error form.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(q)| q).map_err(|_| {
        ApiError::bad_request(
            "bad_query",
            "the query string lacks a parameter or has one of the wrong type (docs/API.md)",
        )
    })
}

fn subject_id(id: &str) -> ApiResult<ScopeId> {
    id.parse()
        .map_err(|_| ApiError::bad_request("bad_subject_id", "a subject id is 32 hex digits"))
}

fn dpo_reader(p: &Principal) -> Reader {
    Reader {
        actor: p.actor(),
        role: ReaderRole::Dpo,
        purpose: Purpose::RightsRequest,
    }
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> ApiResult<T> {
    if body.is_empty() {
        return serde_json::from_str("{}")
            .map_err(|_| ApiError::bad_request("bad_body", "a JSON body is required"));
    }
    let shape = |e: serde_json::Error| {
        ApiError::bad_request(
            "bad_body",
            format!(
                "the body is not JSON of the documented shape: {}",
                wire::redact(&e.to_string())
            ),
        )
    };
    // An object, and nothing else: serde would also read a struct from an
    // array of its fields.
    match serde_json::from_slice::<Value>(body).map_err(shape)? {
        object @ Value::Object(_) => serde_json::from_value(object).map_err(shape),
        _ => Err(ApiError::bad_request(
            "bad_body",
            "the body is a JSON object",
        )),
    }
}

/// `snake_case` name of the rule a [`ledger_compliance::ValidationError`] names.
fn rule_code(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

struct VaultResolver<'a>(&'a ComplianceLedger);

impl Resolver for VaultResolver<'_> {
    fn find_by_email(&self, email: &str) -> Result<Option<ScopeId>, ledger_vault::StoreError> {
        self.0.vault().find_by_email(email)
    }
}

/// Splits a body into event values: an NDJSON body (by content type or
/// several lines), a JSON array or one object.
fn event_values(headers: &HeaderMap, body: &Bytes) -> ApiResult<Vec<Value>> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("bad_body", "the body is not UTF-8"))?;
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    let parse = |s: &str, index: usize| -> ApiResult<Value> {
        serde_json::from_str(s).map_err(|_| {
            let mut e = ApiError::bad_request("bad_json", format!("event {index} is not JSON"));
            e.index = Some(index);
            e
        })
    };
    let values = if ndjson {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| parse(l, i))
            .collect::<ApiResult<Vec<_>>>()?
    } else {
        match parse(text, 0)? {
            Value::Array(items) => items,
            one => vec![one],
        }
    };
    if values.is_empty() {
        return Err(ApiError::bad_request("empty_batch", "no event in the body"));
    }
    Ok(values)
}

/// 503 `queue_full` while [`Limits::max_queued_events`] wait for the writer.
fn writer_has_room(s: &AppState) -> ApiResult<()> {
    if s.compliance.vault().ledger().stats().queued_events >= s.limits.max_queued_events {
        s.metrics.refusal("queue_full");
        return Err(limits::queue_full());
    }
    Ok(())
}

async fn post_events(State(s): Shared, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let p = s.authorize(&headers, "POST", "/v1/events").await?;
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                ApiError::bad_request(
                    "bad_idempotency_key",
                    "the Idempotency-Key header is not ASCII",
                )
            })
        })
        .transpose()?;
    let Some(key) = key else {
        writer_has_room(&s)?;
        let (status, body) = append(&s, &p, &headers, &body, None).await;
        return Ok((status, Json(body)).into_response());
    };
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "bad_idempotency_key",
            "an Idempotency-Key is 1 to 255 characters",
        ));
    }
    // Keys are per principal; the record keeps only their hash.
    let idem = Idempotency::new(&p.id, &key, &body);
    let Some(_held) = InFlight::take(&s, idem.key) else {
        return Err(key_in_flight());
    };
    match s.compliance.recorded(&idem).await {
        Ok(Some(receipts)) => return replayed(&s, &headers, &body, receipts).await,
        Ok(None) => {}
        Err(e) => return Err(key_error(e)),
    }
    // A replay is answered however full the writer's queue is; a new
    // append is not queued behind too many others.
    writer_has_room(&s)?;
    // In a task of its own: a client that goes away does not abandon the
    // batch, whose keys then settle and answer the retry.
    let task = {
        let (s, p, headers, body) = (Arc::clone(&s), p.clone(), headers.clone(), body.clone());
        tokio::spawn(async move { try_append(&s, &p, &headers, &body, Some(idem)).await })
    };
    match task.await.map_err(|e| ApiError::internal(&e))? {
        Ok(v) => Ok((StatusCode::OK, Json(v)).into_response()),
        Err(Replay(receipts)) => replayed(&s, &headers, &body, receipts).await,
        Err(Refused(e)) => Ok((e.status, Json(e.body())).into_response()),
    }
}

fn key_in_flight() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_flight",
        "a request with this Idempotency-Key is still being answered; retry once it is",
    )
}

/// The answer to an idempotency refusal of the layer.
fn key_error(e: RecordError) -> ApiError {
    match e {
        RecordError::IdempotencyKeyReused { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used before for a different request body",
        ),
        RecordError::IdempotencyKeyInFlight { .. } => key_in_flight(),
        other => ApiError::internal(&other),
    }
}

/// The receipts' JSON, with the tickets created (by event index).
fn receipts_json(receipts: &[ledger_core::Receipt], tickets: &[(usize, String)]) -> Value {
    let receipts: Vec<Value> = receipts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut v = json!({
                "seq": r.seq,
                "hash": hex::encode(r.hash),
                "timestamp": r.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            });
            if let Some((_, t)) = tickets.iter().find(|(j, _)| *j == i) {
                v["ticket"] = json!(t);
            }
            v
        })
        .collect();
    json!({ "receipts": receipts })
}

/// The first answer to a request recorded before: its receipts, and the
/// tickets its `ticket_opened` events without `"ticket"` created, read
/// back from their records.
async fn replayed(
    s: &Arc<AppState>,
    headers: &HeaderMap,
    body: &Bytes,
    receipts: Vec<ledger_core::Receipt>,
) -> ApiResult<Response> {
    let values = event_values(headers, body)?;
    let compliance = Arc::clone(&s.compliance);
    let answer = blocking(move || {
        let mut tickets = Vec::new();
        for (i, (value, receipt)) in values.iter().zip(&receipts).enumerate() {
            let opens = value
                .get("facts")
                .and_then(|f| f.get("type"))
                .and_then(Value::as_str)
                == Some("ticket_opened");
            if opens && value.get("ticket").is_none() {
                let stored = compliance
                    .vault()
                    .ledger()
                    .get(receipt.seq)
                    .map_err(|e| ApiError::internal(&e))?;
                if let Some(scope) = stored.record.subject {
                    tickets.push((i, scope.to_string()));
                }
            }
        }
        Ok(receipts_json(&receipts, &tickets))
    })
    .await?;
    let mut response = (StatusCode::OK, Json(answer)).into_response();
    response.headers_mut().insert(
        "idempotent-replay",
        header::HeaderValue::from_static("true"),
    );
    Ok(response)
}

/// Appends the body's events as one atomic batch.
async fn append(
    s: &Arc<AppState>,
    p: &Principal,
    headers: &HeaderMap,
    body: &Bytes,
    idem: Option<Idempotency>,
) -> (StatusCode, Value) {
    match try_append(s, p, headers, body, idem).await {
        Ok(v) => (StatusCode::OK, v),
        Err(Refused(e)) => (e.status, e.body()),
        Err(Replay(receipts)) => (StatusCode::OK, receipts_json(&receipts, &[])),
    }
}

/// Why an append did not record the request.
enum NotAppended {
    /// Refused with this answer.
    Refused(ApiError),
    /// Recorded before under its idempotency key: these are its receipts.
    Replay(Vec<ledger_core::Receipt>),
}
use NotAppended::{Refused, Replay};

impl From<ApiError> for NotAppended {
    fn from(e: ApiError) -> Self {
        Refused(e)
    }
}

async fn try_append(
    s: &Arc<AppState>,
    p: &Principal,
    headers: &HeaderMap,
    body: &Bytes,
    idem: Option<Idempotency>,
) -> Result<Value, NotAppended> {
    let values = event_values(headers, body)?;
    let compliance = Arc::clone(&s.compliance);
    let principal = p.clone();
    let (events, tickets) = blocking(move || {
        let mut names = Names::default();
        let mut events = Vec::with_capacity(values.len());
        let mut tickets = Vec::new();
        for (index, mut value) in values.into_iter().enumerate() {
            let at = |code: &'static str, message: String| {
                let mut e = ApiError::bad_request(code, message);
                e.index = Some(index);
                e
            };
            let Value::Object(map) = &mut value else {
                return Err(at(
                    "bad_event",
                    format!("event {index} is not a JSON object"),
                ));
            };
            if map.contains_key("id") {
                return Err(at(
                    "bad_event",
                    format!("event {index}: send the request's id as the Idempotency-Key header, not as \"id\""),
                ));
            }
            if map.contains_key("new_subject") {
                return Err(at(
                    "bad_event",
                    format!("event {index}: create subjects with POST /v1/subjects"),
                ));
            }
            if principal.role == Role::Service {
                let kind = map
                    .get("facts")
                    .and_then(|f| f.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !principal.kinds.iter().any(|k| k == kind) {
                    let mut e = ApiError::new(
                        StatusCode::FORBIDDEN,
                        "kind_forbidden",
                        format!("event {index}: this service was not granted that event type"),
                    );
                    e.index = Some(index);
                    return Err(e);
                }
            }
            // Every principal appends as itself, whatever the body says.
            map.insert("actor".into(), Value::String(principal.actor()));
            let text = value.to_string();
            let request = wire::parse(&text, &names, &VaultResolver(&compliance))
                .map_err(|m| at("bad_event", format!("event {index}: {m}")))?;
            let Request::Event {
                mut event,
                create_ticket,
                name,
                ..
            } = request
            else {
                return Err(at(
                    "bad_event",
                    format!("event {index}: create subjects with POST /v1/subjects"),
                ));
            };
            if create_ticket {
                let ticket = compliance
                    .new_ticket()
                    .map_err(|e| ApiError::internal(&e))?;
                event.scope = Scope::Ticket(ticket);
                if let Some(name) = name {
                    names.insert(name, ticket.0, index as u64);
                }
                tickets.push((index, ticket.0.to_string()));
            }
            event.idempotency = idem;
            events.push(event);
        }
        Ok((events, tickets))
    })
    .await?;
    let count = events.len() as u64;
    let started = Instant::now();
    let receipts = match s.compliance.record_batch(events).await {
        Ok(r) => r,
        Err(RecordError::Invalid { index, source }) => {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule_refused",
                format!("event {index}: {source}"),
            );
            e.index = Some(index);
            e.rule = Some(rule_code(&format!("{source:?}")));
            return Err(e.into());
        }
        Err(RecordError::Encode { index, source }) => {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_event",
                format!("event {index}: {source}"),
            );
            e.index = Some(index);
            return Err(e.into());
        }
        Err(RecordError::AlreadyRecorded { receipts, .. }) => return Err(Replay(receipts)),
        Err(
            e @ (RecordError::IdempotencyKeyReused { .. }
            | RecordError::IdempotencyKeyInFlight { .. }),
        ) => return Err(key_error(e).into()),
        Err(e) => return Err(ApiError::internal(&e).into()),
    };
    s.metrics.commit(count, started.elapsed().as_secs_f64());
    Ok(receipts_json(&receipts, &tickets))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    #[serde(default)]
    email: Option<String>,
}

async fn post_subject(State(s): Shared, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    s.authorize(&headers, "POST", "/v1/subjects").await?;
    let b: EmailBody = json_body(&body)?;
    let compliance = Arc::clone(&s.compliance);
    let id =
        blocking(move || match compliance.new_subject(b.email.as_deref()) {
            Ok(id) => Ok(id),
            // The caller may create subjects without being allowed to look
            // them up: the answer does not say which subject holds the address.
            Err(RecordError::Create(CreateScopeError::EmailAlreadyIndexed { .. })) => {
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "email_registered",
                    "that email is already registered to a subject".to_string(),
                ))
            }
            Err(RecordError::Create(e @ CreateScopeError::InvalidEmail { .. })) => Err(
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_email", e.to_string()),
            ),
            Err(e) => Err(ApiError::internal(&e)),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"subject": id.to_string()})),
    )
        .into_response())
}

async fn post_lookup(State(s): Shared, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    s.authorize(&headers, "POST", "/v1/subjects/lookup").await?;
    let b: EmailBody = json_body(&body)?;
    let Some(email) = b.email else {
        return Err(ApiError::bad_request("bad_body", "give \"email\""));
    };
    let found = s
        .compliance
        .vault()
        .find_by_email(&email)
        .map_err(|e| ApiError::internal(&e))?;
    match found {
        Some(id) => Ok(Json(json!({"subject": id.to_string()}))),
        None => Err(ApiError::not_found(
            "no_subject",
            "no live subject is registered under that email",
        )),
    }
}

async fn get_subject(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = s.authorize(&headers, "GET", "/v1/subjects/{id}").await?;
    let subject = subject_id(&id)?;
    let report = access::subject_report(&s.compliance, &subject, &dpo_reader(&p))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            ApiError::not_found("no_subject", "the log knows nothing of that subject")
        })?;
    Ok(Json(
        serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?,
    ))
}

async fn package(
    s: &Arc<AppState>,
    p: Principal,
    id: &str,
) -> ApiResult<ledger_usecases::package::Package> {
    let subject = subject_id(id)?;
    let report = access::subject_report(&s.compliance, &subject, &dpo_reader(&p))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            ApiError::not_found("no_subject", "the log knows nothing of that subject")
        })?;
    // Building signs a checkpoint with a blocking call: off the async threads.
    let compliance = Arc::clone(&s.compliance);
    blocking(move || {
        ledger_usecases::package::build(&compliance, &report).map_err(|e| ApiError::internal(&e))
    })
    .await
}

async fn get_access(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = s
        .authorize(&headers, "GET", "/v1/subjects/{id}/access")
        .await?;
    let pkg = package(&s, p, &id).await?;
    Ok(Json(
        json!({"access": pkg.access, "portability": pkg.portability}),
    ))
}

async fn get_access_html(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let p = s
        .authorize(&headers, "GET", "/v1/subjects/{id}/access.html")
        .await?;
    let pkg = package(&s, p, &id).await?;
    let html = ledger_usecases::html::render(&pkg.access);
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseBody {
    request_ref: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn post_erase(
    State(s): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let p = s
        .authorize(&headers, "POST", "/v1/subjects/{id}/erase")
        .await?;
    let subject = subject_id(&id)?;
    let b: EraseBody = json_body(&body)?;
    let request = ErasureRequest {
        reason: b.reason.unwrap_or_else(|| "gdpr-art17-1a".into()),
        request_ref: b.request_ref,
        operator: p.actor(),
    };
    let receipts = match s.compliance.erase_subject(subject, &request).await {
        Ok(r) => Ok(r),
        Err(RecordError::Invalid { source, .. }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_erasable",
            source.to_string(),
        )),
        Err(RecordError::Erase(e)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_erasable",
            e.to_string(),
        )),
        // Durable erasures are said, not hidden behind a bare 500.
        Err(e @ RecordError::ErasedButRequestNotRecorded { .. }) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "erased_request_not_recorded",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::internal(&e)),
    }?;
    let receipts: Vec<Value> = receipts
        .iter()
        .map(|r| json!({"scope": r.subject.to_string(), "seq": r.seq, "status": format!("{:?}", r.status)}))
        .collect();
    Ok(Json(json!({"erased": receipts})))
}

#[derive(Deserialize)]
struct StateQuery {
    state: String,
}

async fn get_requests(
    State(s): Shared,
    headers: HeaderMap,
    q: Result<Query<StateQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    s.authorize(&headers, "GET", "/v1/requests").await?;
    let q = query(q)?;
    let today = s.compliance.clock().now().date_naive();
    let compliance = Arc::clone(&s.compliance);
    let state = q.state;
    blocking(move || {
        let v = match state.as_str() {
            "open" => serde_json::to_value(
                compliance
                    .query(|x| x.open_requests(today))
                    .map_err(|e| ApiError::internal(&e))?,
            ),
            "overdue" => serde_json::to_value(
                compliance
                    .query(|x| x.overdue_requests(today))
                    .map_err(|e| ApiError::internal(&e))?,
            ),
            "due" => serde_json::to_value(deadlines(&compliance.model_blocking(), today, 7).0),
            _ => {
                return Err(ApiError::bad_request(
                    "bad_state",
                    "state is open, due or overdue",
                ))
            }
        }
        .map_err(|e| ApiError::internal(&e))?;
        Ok(Json(json!({"requests": v})))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SweepBody {
    #[serde(default)]
    dry_run: bool,
}

async fn post_sweep(State(s): Shared, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let p = s.authorize(&headers, "POST", "/v1/retention/sweep").await?;
    let b: SweepBody = json_body(&body)?;
    let options = SweepOptions {
        dry_run: b.dry_run,
        operator: p.actor(),
        ..SweepOptions::default()
    };
    let report = s
        .compliance
        .sweep(&options)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?,
    ))
}

/// The latest signed checkpoint. A read never signs: the server signs
/// the head at start, and then every second while appends come
/// ([`crate::CHECKPOINT_INTERVAL`]), so a checkpoint lags the log by about
/// a second at most.
fn current_checkpoint(s: &AppState) -> ApiResult<ledger_core::SignedCheckpoint> {
    s.compliance
        .vault()
        .ledger()
        .latest_checkpoint()
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("no_checkpoint", "nothing is signed yet").retry_after(1))
}

async fn get_checkpoint(State(s): Shared, headers: HeaderMap) -> ApiResult<Response> {
    s.authorize_integrity(&headers, "GET", "/v1/checkpoint")
        .await?;
    let cp = current_checkpoint(&s)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cp.note,
    )
        .into_response())
}

async fn get_tlog_checkpoint(State(s): Shared, headers: HeaderMap) -> ApiResult<Response> {
    s.authorize_integrity(&headers, "GET", "/v1/tlog/checkpoint")
        .await?;
    let cp = current_checkpoint(&s)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cp.note,
    )
        .into_response())
}

/// A C2SP tlog-tiles resource: `tile/L/N[.p/W]` or `tile/entries/N[.p/W]`
/// (docs/FORMAT.md §4.1), of the committed tree.
async fn get_tile(
    State(s): Shared,
    headers: HeaderMap,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    s.authorize_integrity(&headers, "GET", "/v1/tlog/tile/{path}")
        .await?;
    let tile = ledger_core::merkle::tiles::Tile::parse(&format!("tile/{path}"))
        .map_err(|e| ApiError::not_found("no_tile", format!("not a tlog-tiles path: {e}")))?;
    let compliance = Arc::clone(&s.compliance);
    let bytes = blocking(move || {
        compliance
            .vault()
            .ledger()
            .tile(&tile)
            .map_err(|e| match e {
                ledger_core::ReadError::InvalidRequest { .. } => ApiError::not_found(
                    "no_tile",
                    "the tree does not hold that tile (yet): a partial tile is served at the widths a signed size gives",
                ),
                other => ApiError::internal(&other),
            })
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[derive(Deserialize)]
struct InclusionQuery {
    seq: u64,
    #[serde(default)]
    size: Option<u64>,
}

async fn get_inclusion(
    State(s): Shared,
    headers: HeaderMap,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    s.authorize_integrity(&headers, "GET", "/v1/proof/inclusion")
        .await?;
    let q = query(q)?;
    let ledger = s.compliance.vault().ledger();
    let cp = match q.size {
        None => current_checkpoint(&s)?,
        Some(size) => ledger
            .checkpoints()
            .map_err(|e| ApiError::internal(&e))?
            .into_iter()
            .rev()
            .find(|c| c.checkpoint.tree_size == size)
            .ok_or_else(|| {
                ApiError::not_found("no_checkpoint", "no signed checkpoint has that tree size")
            })?,
    };
    let proof = ledger_usecases::proof::inclusion(ledger, &cp, q.seq).map_err(|e| match e {
        ledger_usecases::proof::ProofError::NotCovered { .. } => {
            ApiError::not_found("seq_not_covered", e.to_string()).retry_after(1)
        }
        other => ApiError::internal(&other),
    })?;
    Ok(Json(
        serde_json::to_value(&proof).map_err(|e| ApiError::internal(&e))?,
    ))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn get_consistency(
    State(s): Shared,
    headers: HeaderMap,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    s.authorize_integrity(&headers, "GET", "/v1/proof/consistency")
        .await?;
    let q = query(q)?;
    let ledger = s.compliance.vault().ledger();
    if q.from == 0 || q.from > q.to || q.to > ledger.len() {
        return Err(ApiError::bad_request(
            "bad_sizes",
            "0 < from <= to <= the log's size",
        ));
    }
    let proof = ledger
        .consistency_proof(q.from, q.to)
        .map_err(|e| ApiError::internal(&e))?;
    let root = |n| {
        ledger
            .root_at(n)
            .map(hex::encode)
            .map_err(|e| ApiError::internal(&e))
    };
    Ok(Json(json!({
        "proof": "consistency",
        "old_size": proof.old_size,
        "new_size": proof.new_size,
        "old_root": root(q.from)?,
        "new_root": root(q.to)?,
        "path": proof.path.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

async fn get_ropa(State(s): Shared, headers: HeaderMap) -> ApiResult<Json<Value>> {
    s.authorize(&headers, "GET", "/v1/ropa").await?;
    let compliance = Arc::clone(&s.compliance);
    blocking(move || {
        let options = compliance.options();
        let ropa = compliance
            .query(|q| q.ropa(&options.ropa, options))
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Json(
            serde_json::to_value(&ropa).map_err(|e| ApiError::internal(&e))?,
        ))
    })
    .await
}

async fn get_principals(State(s): Shared, headers: HeaderMap) -> ApiResult<Json<Value>> {
    s.authorize(&headers, "GET", "/v1/principals").await?;
    let state = Arc::clone(&s);
    let file = blocking(move || state.tokens.get().map_err(|e| ApiError::internal(&e))).await?;
    let list: Vec<Value> = file
        .principals
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name, "role": p.role, "kinds": p.kinds, "created": p.created, "revoked": p.revoked}))
        .collect();
    Ok(Json(json!({"principals": list})))
}

async fn readyz(State(s): Shared) -> Response {
    // The ledger is ready once open, which it is for as long as this state
    // exists; no probe write is made.
    Json(json!({"status": "ready", "log_size": s.compliance.vault().ledger().len()}))
        .into_response()
}

async fn metrics(State(s): Shared) -> Response {
    let state = Arc::clone(&s);
    let live = blocking(move || Ok(live_gauges(&state))).await;
    let mut text = s.metrics.render();
    match live {
        Ok(gauges) => text.push_str(&gauges.render()),
        Err(e) => return e.into_response(),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Gauges read from the ledger at scrape time (blocking).
fn live_gauges(s: &AppState) -> crate::metrics::LiveGauges {
    let ledger = s.compliance.vault().ledger();
    let stats = ledger.stats();
    let now = s.compliance.clock().now();
    let latest = ledger.latest_checkpoint().ok().flatten();
    let overdue = s
        .compliance
        .query(|x| x.overdue_requests(now.date_naive()))
        .map(|v| v.len() as u64)
        .ok();
    let size = ledger.len();
    let signed = latest.map_or(0, |cp| cp.checkpoint.tree_size);
    // Ages from record timestamps (the ledger's clock): the newest record
    // the latest checkpoint covers, and the oldest one it does not.
    let age_of = |seq: u64| {
        ledger.get(seq).ok().map(|r| {
            let micros = now
                .timestamp_micros()
                .saturating_sub(r.record.timestamp_micros)
                .max(0);
            micros as f64 / 1e6
        })
    };
    crate::metrics::LiveGauges {
        log_size: size,
        queued_events: stats.queued_events,
        syncs: stats.syncs,
        sync_seconds: stats.sync_micros as f64 / 1e6,
        checkpoint_age_seconds: signed.checked_sub(1).and_then(age_of),
        unsigned_records: size.saturating_sub(signed),
        oldest_unsigned_age_seconds: if signed < size {
            age_of(signed)
        } else {
            Some(0.0)
        },
        overdue_requests: overdue,
    }
}
