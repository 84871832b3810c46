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
        let mut op = json!({
            "summary": r.summary,
            "operationId": operation_id(r.method, r.path),
            "responses": {
                "200": {"description": "OK"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "409": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"},
                "500": {"$ref": "#/components/responses/Error"}
            }
        });
        match r.access {
            Access::Public => op["security"] = json!([]),
            Access::Roles(roles) => {
                let names: Vec<&str> = roles.iter().map(|x| x.as_str()).collect();
                op["security"] = json!([{"token": []}]);
                op["x-roles"] = json!(names);
            }
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| {
                let name = seg.strip_prefix('{')?.split('}').next()?;
                Some(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}))
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
            "responses": {"Error": {"description": "An error with a typed code", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "index": {"type": "integer"}, "rule": {"type": "string"}}}}}}
        }
    })
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
