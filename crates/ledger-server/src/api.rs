//! The handlers and the router.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger_compliance::retention::{deadlines, SweepOptions};
use ledger_compliance::vocab::{Purpose, Role as ReaderRole};
use ledger_compliance::{ComplianceLedger, RecordError, Scope};
use ledger_core::ScopeId;
use ledger_usecases::access::{self, Reader};
use ledger_usecases::wire::{self, Names, Request, Resolver};
use ledger_vault::{CreateScopeError, ErasureRequest};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::idem::IdemStore;
use crate::metrics::Metrics;
use crate::routes;
use crate::tokens::{hash_token, Principal, Role, TokenFile, TOKEN_PREFIX};

/// What every handler shares.
pub struct AppState {
    /// The ledger.
    pub compliance: Arc<ComplianceLedger>,
    /// The ledger directory (token file, idempotency file).
    pub dir: PathBuf,
    /// Counters.
    pub metrics: Metrics,
    /// Kept answers of idempotent requests; the lock also serializes them.
    pub idem: Mutex<IdemStore>,
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
    /// Authenticates the bearer token of `headers` and checks that its
    /// role may call the route `method path` of [`routes::ROUTES`]. The
    /// token file is read on each call, so a revocation applies at once.
    fn authorize(&self, headers: &HeaderMap, method: &str, path: &str) -> ApiResult<Principal> {
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
        let file = TokenFile::load(&self.dir).map_err(|e| ApiError::internal(&e))?;
        let Some(principal) = file.by_hash(&hash_token(token)) else {
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
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
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
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "bad_body",
            format!(
                "the body is not JSON of the documented shape: {}",
                wire::redact(&e.to_string())
            ),
        )
    })
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

async fn post_events(State(s): Shared, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let p = s.authorize(&headers, "POST", "/v1/events")?;
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
        let (status, body) = append(&s, &p, &headers, &body).await;
        return Ok((status, Json(body)).into_response());
    };
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "bad_idempotency_key",
            "an Idempotency-Key is 1 to 255 characters",
        ));
    }
    let mut idem = s.idem.lock().await;
    if let Some(kept) = idem.get(&p.id, &key) {
        let status = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
        let mut response = (status, Json(kept.body.clone())).into_response();
        response.headers_mut().insert(
            "idempotent-replay",
            header::HeaderValue::from_static("true"),
        );
        return Ok(response);
    }
    let (status, body) = append(&s, &p, &headers, &body).await;
    // Only a durable outcome is kept: a refusal is as final as receipts, a
    // server error is not (the retry may succeed).
    if !status.is_server_error() {
        idem.put(&p.id, &key, status.as_u16(), body.clone())
            .map_err(|e| ApiError::internal(&e))?;
    }
    Ok((status, Json(body)).into_response())
}

/// Appends the body's events as one atomic batch.
async fn append(
    s: &Arc<AppState>,
    p: &Principal,
    headers: &HeaderMap,
    body: &Bytes,
) -> (StatusCode, Value) {
    match try_append(s, p, headers, body).await {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (e.status, e.body()),
    }
}

async fn try_append(
    s: &Arc<AppState>,
    p: &Principal,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Value> {
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
            return Err(e);
        }
        Err(RecordError::Encode { index, source }) => {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_event",
                format!("event {index}: {source}"),
            );
            e.index = Some(index);
            return Err(e);
        }
        Err(e) => return Err(ApiError::internal(&e)),
    };
    s.metrics.commit(count, started.elapsed().as_secs_f64());
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
    Ok(json!({ "receipts": receipts }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    #[serde(default)]
    email: Option<String>,
}

async fn post_subject(State(s): Shared, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    s.authorize(&headers, "POST", "/v1/subjects")?;
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
    s.authorize(&headers, "POST", "/v1/subjects/lookup")?;
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
    let p = s.authorize(&headers, "GET", "/v1/subjects/{id}")?;
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
    let p = s.authorize(&headers, "GET", "/v1/subjects/{id}/access")?;
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
    let p = s.authorize(&headers, "GET", "/v1/subjects/{id}/access.html")?;
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
    let p = s.authorize(&headers, "POST", "/v1/subjects/{id}/erase")?;
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
    Query(q): Query<StateQuery>,
) -> ApiResult<Json<Value>> {
    s.authorize(&headers, "GET", "/v1/requests")?;
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
    let p = s.authorize(&headers, "POST", "/v1/retention/sweep")?;
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

/// The latest checkpoint if it signs the whole log, else a fresh one.
async fn current_checkpoint(s: &AppState) -> ApiResult<ledger_core::SignedCheckpoint> {
    let ledger = s.compliance.vault().ledger();
    let latest = ledger
        .latest_checkpoint()
        .map_err(|e| ApiError::internal(&e))?;
    match latest {
        Some(cp) if cp.checkpoint.tree_size == ledger.len() => Ok(cp),
        _ => ledger
            .checkpoint()
            .await
            .map_err(|e| ApiError::internal(&e)),
    }
}

async fn get_checkpoint(State(s): Shared, headers: HeaderMap) -> ApiResult<Response> {
    s.authorize(&headers, "GET", "/v1/checkpoint")?;
    let cp = current_checkpoint(&s).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cp.note,
    )
        .into_response())
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
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<Value>> {
    s.authorize(&headers, "GET", "/v1/proof/inclusion")?;
    let ledger = s.compliance.vault().ledger();
    let cp = match q.size {
        None => current_checkpoint(&s).await?,
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
            ApiError::not_found("seq_not_covered", e.to_string())
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
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    s.authorize(&headers, "GET", "/v1/proof/consistency")?;
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
    s.authorize(&headers, "GET", "/v1/ropa")?;
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
    s.authorize(&headers, "GET", "/v1/principals")?;
    let file = TokenFile::load(&s.dir).map_err(|e| ApiError::internal(&e))?;
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
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}
