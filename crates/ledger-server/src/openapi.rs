//! The OpenAPI 3.1 document, built from [`crate::routes::ROUTES`].

use serde_json::{json, Map, Value};

use crate::routes::{Access, ROUTES};

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths
            .entry(r.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let (status, content) = success(r.path);
        let mut op = json!({
            "summary": r.summary,
            "operationId": operation_id(r.method, r.path),
            "responses": {
                status: {"description": "OK", "content": content},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "409": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"},
                "429": {"$ref": "#/components/responses/Limited"},
                "500": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Limited"}
            }
        });
        match r.access {
            Access::Public => op["security"] = json!([]),
            Access::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|x| x.as_str()).collect();
                op["security"] = json!([{"token": []}]);
                op["x-roles"] = json!(names);
            }
            Access::Integrity => {
                let names: Vec<&str> = crate::routes::INTEGRITY
                    .iter()
                    .map(|x| x.as_str())
                    .collect();
                // A token, or none when the server makes integrity public.
                op["security"] = json!([{"token": []}, {}]);
                op["x-roles"] = json!(names);
                op["x-public-with"] = json!("--public-integrity");
            }
        }
        if let Some(body) = request_body(r.path) {
            op["requestBody"] = body;
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| {
                let name = seg.strip_prefix('{')?.split('}').next()?;
                let schema = match name {
                    // A tlog-tiles path below `tile/` (FORMAT.md §4.1).
                    "path" => json!({"type": "string", "pattern": "^(entries|[0-9]+)/(x[0-9]{3}/)*[0-9]{3}(\\.p/[0-9]+)?$"}),
                    _ => json!({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
                };
                Some(json!({"name": name, "in": "path", "required": true, "schema": schema}))
            })
            .chain(query_params(r.path))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if r.path == "/v1/events" {
            // A replay is marked, and names the first answer's receipts.
            op["responses"]["200"] = json!({
                "description": "The receipts, once durable (a replay: the first request's)",
                "headers": {"Idempotent-Replay": {"description": "`true` when the receipts are those of an earlier request with the same Idempotency-Key", "schema": {"type": "string", "enum": ["true"]}}}
            });
        }
        if let Value::Object(m) = entry {
            m.insert(r.method.to_ascii_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Compliance ledger API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error with a typed code", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}, "Limited": {"description": "Refused by a server limit; retry after Retry-After seconds", "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {"Event": {"type": "object", "description": "An event in the wire form of docs/CLI.md (subject, actor, facts with its type, personal fields); the compliance rules decide whether it is accepted (422 otherwise)", "required": ["facts"], "properties": {"subject": {"type": "string"}, "ticket": {"type": "string"}, "actor": {"type": "string"}, "facts": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}, "personal": {"type": "object"}}}, "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "index": {"type": "integer"}, "rule": {"type": "string"}}}}}}
        }
    })
}

/// The success status and its content of the route at `path`.
fn success(path: &str) -> (&'static str, Value) {
    let json_any = json!({"application/json": {"schema": {"type": "object"}}});
    let text = json!({"text/plain": {"schema": {"type": "string"}}});
    match path {
        "/v1/subjects" => (
            "201",
            json!({"application/json": {"schema": {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}}}}),
        ),
        "/v1/events" => (
            "200",
            json!({"application/json": {"schema": {"type": "object", "required": ["receipts"], "properties": {"receipts": {"type": "array", "items": {"type": "object", "required": ["seq", "hash", "timestamp"], "properties": {"seq": {"type": "integer", "minimum": 0}, "hash": {"type": "string"}, "timestamp": {"type": "string"}, "ticket": {"type": "string"}}}}}}}}),
        ),
        "/v1/subjects/{id}/access.html" => {
            ("200", json!({"text/html": {"schema": {"type": "string"}}}))
        }
        "/v1/checkpoint" | "/v1/tlog/checkpoint" | "/metrics" => ("200", text),
        "/v1/tlog/tile/{path}" => (
            "200",
            json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}),
        ),
        _ => ("200", json_any),
    }
}

/// The request body the route at `path` takes, if any.
fn request_body(path: &str) -> Option<Value> {
    let object = |required: bool, props: Value, names: &[&str]| json!({"required": required, "content": {"application/json": {"schema": {"type": "object", "properties": props, "required": names, "additionalProperties": false}}}});
    match path {
        "/v1/events" => Some(json!({"required": true, "content": {
            "application/json": {"schema": {"oneOf": [
                {"$ref": "#/components/schemas/Event"},
                {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
            ]}},
            "application/x-ndjson": {"schema": {"type": "string"}}
        }})),
        "/v1/subjects" => Some(object(
            false,
            json!({"email": {"type": ["string", "null"]}}),
            &[],
        )),
        "/v1/subjects/lookup" => Some(object(
            true,
            json!({"email": {"type": "string"}}),
            &["email"],
        )),
        "/v1/subjects/{id}/erase" => Some(object(
            true,
            json!({"request_ref": {"type": "string"}, "reason": {"type": "string"}}),
            &["request_ref"],
        )),
        "/v1/retention/sweep" => Some(object(false, json!({"dry_run": {"type": "boolean"}}), &[])),
        _ => None,
    }
}

fn query_params(path: &str) -> Vec<Value> {
    let q = |name: &str, ty: &str, required: bool| json!({"name": name, "in": "query", "required": required, "schema": {"type": ty}});
    match path {
        "/v1/requests" => vec![
            json!({"name": "state", "in": "query", "required": true, "schema": {"type": "string", "enum": ["open", "due", "overdue"]}}),
        ],
        "/v1/proof/inclusion" => vec![q("seq", "integer", true), q("size", "integer", false)],
        "/v1/proof/consistency" => vec![q("from", "integer", true), q("to", "integer", true)],
        "/v1/events" => vec![json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Records the request once per principal and key for 48 hours: a retry with the same body gets the first receipts (409 idempotency_key_in_flight while the first is being answered), another body 422 idempotency_key_reused",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255}
        })],
        _ => Vec::new(),
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            id.push('_');
            id.push_str(part);
        }
    }
    id
}
