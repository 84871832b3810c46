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
