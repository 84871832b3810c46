//! The one table of routes: method, path, the roles allowed, a summary.
//! The router's authorization, the OpenAPI document, the authorization
//! matrix test and docs/API.md's table all read it.

use crate::tokens::Role;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// A live token of one of these roles.
    Roles(&'static [Role]),
    /// An auditor or DPO token; or anyone, if the server makes integrity
    /// public (`--public-integrity`).
    Integrity,
}

/// One route.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path, with `{name}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does.
    pub summary: &'static str,
}

impl Route {
    /// Whether `role` may call the route.
    pub fn allows(&self, role: Role) -> bool {
        match self.access {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
            Access::Integrity => INTEGRITY.contains(&role),
        }
    }
}

const WRITE: &[Role] = &[Role::Service, Role::Dpo];
const DPO: &[Role] = &[Role::Dpo];
/// Who may read integrity data when it is not public.
pub const INTEGRITY: &[Role] = &[Role::Auditor, Role::Dpo];
const ADMIN: &[Role] = &[Role::Admin];

/// Every route the server answers.
pub const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/v1/events", access: Access::Roles(WRITE), summary: "Append one event, a JSON array or NDJSON, atomically; receipts once durable; Idempotency-Key honoured" },
    Route { method: "POST", path: "/v1/subjects", access: Access::Roles(WRITE), summary: "Create a data subject, indexed by an optional email" },
    Route { method: "POST", path: "/v1/subjects/lookup", access: Access::Roles(WRITE), summary: "The live subject registered under an email (given in the body)" },
    Route { method: "GET", path: "/v1/subjects/{id}", access: Access::Roles(DPO), summary: "The subject report, with current data decrypted after a durable access event" },
    Route { method: "GET", path: "/v1/subjects/{id}/access", access: Access::Roles(DPO), summary: "The Art. 15/20 access package as JSON, after a durable access event" },
    Route { method: "GET", path: "/v1/subjects/{id}/access.html", access: Access::Roles(DPO), summary: "The Art. 15 access answer as an HTML page, after a durable access event" },
    Route { method: "POST", path: "/v1/subjects/{id}/erase", access: Access::Roles(DPO), summary: "Erase the subject and its tickets by crypto-shredding" },
    Route { method: "GET", path: "/v1/requests", access: Access::Roles(DPO), summary: "Rights requests: state=open, due (within 7 days) or overdue" },
    Route { method: "POST", path: "/v1/retention/sweep", access: Access::Roles(DPO), summary: "Run a retention sweep now" },
    Route { method: "GET", path: "/v1/checkpoint", access: Access::Integrity, summary: "The signed checkpoint of the whole log (C2SP signed note, text/plain)" },
    Route { method: "GET", path: "/v1/proof/inclusion", access: Access::Integrity, summary: "Inclusion proof of record seq in a signed tree of size size (default: the latest)" },
    Route { method: "GET", path: "/v1/proof/consistency", access: Access::Integrity, summary: "Consistency proof between tree sizes from and to" },
    Route { method: "GET", path: "/v1/tlog/checkpoint", access: Access::Integrity, summary: "C2SP tlog-tiles: the latest signed checkpoint (text/plain)" },
    Route { method: "GET", path: "/v1/tlog/tile/{path}", access: Access::Integrity, summary: "C2SP tlog-tiles: a Merkle tile (tile/L/N[.p/W]) or entry bundle (tile/entries/N[.p/W]) of the committed tree" },
    Route { method: "GET", path: "/v1/ropa", access: Access::Roles(INTEGRITY), summary: "The Art. 30(1) record of processing activities" },
    Route { method: "GET", path: "/v1/principals", access: Access::Roles(ADMIN), summary: "The principals (no token hashes)" },
    Route { method: "GET", path: "/v1/openapi.json", access: Access::Public, summary: "This API's OpenAPI 3.1 document" },
    Route { method: "GET", path: "/healthz", access: Access::Public, summary: "Liveness" },
    Route { method: "GET", path: "/readyz", access: Access::Public, summary: "Readiness: the ledger is open and accepts writes" },
    Route { method: "GET", path: "/metrics", access: Access::Public, summary: "Prometheus metrics" },
];

/// The route of `method` and `path` (a table path, `{id}` as written).
pub fn route(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}
