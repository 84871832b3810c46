//! The NDJSON wire form of compliance events (`ledger append`), documented
//! in `docs/CLI.md`.
//!
//! One JSON object per line, either a subject to create:
//!
//! ```json
//! {"new_subject":{"email":"ada@example.test"},"ref":"ada"}
//! ```
//!
//! or an event: its scope (`"subject"` or `"ticket"`, each a 32-hex id, a
//! `{"ref":NAME}` given to a scope created earlier in the same input, or,
//! for a subject, `{"email":ADDR}` looked up in the blind index), the
//! pseudonymous `"actor"`, the clear `"facts"` (a `"type"` and the same
//! field codes as the stored facts) and the optional sealed `"personal"`
//! data:
//!
//! ```json
//! {"subject":{"ref":"ada"},"actor":"svc:crm","facts":{"type":"data_collected","categories":"name,company-email","channel":"contact-form","purpose":"contract","lawful_basis":"art6-1b"},"personal":{"fields":{"name":"Ada L."}}}
//! ```
//!
//! Any line may carry an `"id"` (the producer's idempotency id, 1..=255
//! printable ASCII bytes): a line re-sent with the same id is recorded once
//! and answered with its first receipt. An event may carry `"at"`, the RFC
//! 3339 time it happened, for historical imports.
//!
//! A `ticket_opened` event without `"ticket"` creates the ticket's key scope
//! (its id is in the receipt, and `"ref"` names it); its `"subject"` is the
//! customer when `facts.customer` is left out.
//!
//! Error messages never quote a value from the input: only field names,
//! codes the vocabulary defines and line numbers.

use std::collections::HashMap;

use ledger_compliance::{ComplianceEvent, Facts, PersonalData, Scope, TicketId};
use ledger_core::ScopeId;
use serde::Deserialize;
use serde_json::Value;

/// One input line, before its scopes are resolved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    new_subject: Option<NewSubject>,
    #[serde(default)]
    subject: Option<ScopeRef>,
    #[serde(default)]
    ticket: Option<ScopeRef>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default, rename = "ref")]
    name: Option<String>,
    #[serde(default)]
    facts: Option<Value>,
    #[serde(default)]
    personal: Option<Value>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSubject {
    #[serde(default)]
    email: Option<String>,
}

/// How a line names a scope.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ScopeRef {
    /// 32 hex digits.
    Id(String),
    /// A name given with `"ref"` earlier in the same input.
    Ref {
        #[serde(rename = "ref")]
        name: String,
    },
    /// A subject's email, looked up in the blind index.
    Email { email: String },
}

/// What a line asks for.
// One lives per line being parsed, moved once: boxing the event buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Request {
    /// Create a subject (indexed by `email` if given), named `name` for later lines.
    NewSubject {
        /// Email to index the subject under.
        email: Option<String>,
        /// Name for later lines.
        name: Option<String>,
        /// The producer's idempotency id.
        id: Option<String>,
    },
    /// Record an event.
    Event {
        /// The event (its scope resolved, except a ticket to create).
        event: ComplianceEvent,
        /// True when the ticket scope is to be created (`ticket_opened` without `"ticket"`).
        create_ticket: bool,
        /// Name for the created ticket.
        name: Option<String>,
        /// The producer's idempotency id.
        id: Option<String>,
    },
}

/// Longest idempotency id, in bytes.
pub const MAX_ID_LEN: usize = 255;

/// Checks an idempotency id: 1..=[`MAX_ID_LEN`] bytes of printable ASCII.
pub fn check_id(id: &str) -> Result<(), String> {
    if (1..=MAX_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(format!(
            "\"id\" must be 1..={MAX_ID_LEN} bytes of printable ASCII without spaces"
        ))
    }
}

/// Parses the `"at"` of a line: RFC 3339 with an offset.
fn parse_at(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            "\"at\" must be an RFC 3339 time with an offset, e.g. 2025-03-01T09:30:00Z".to_string()
        })
}

/// Resolves scope names: ids given with `"ref"` and emails.
pub trait Resolver {
    /// The subject registered under `email`, if any.
    fn find_by_email(&self, email: &str) -> Result<Option<ScopeId>, ledger_vault::StoreError>;
}

/// Scopes named with `"ref"` so far, with the line that named each.
#[derive(Debug, Default)]
pub struct Names {
    names: HashMap<String, (ScopeId, u64)>,
}

impl Names {
    /// Names `id` `name` for later lines; `line` created it. A name is
    /// given once: [`parse`] refuses a line that reuses one.
    pub fn insert(&mut self, name: String, id: ScopeId, line: u64) {
        self.names.entry(name).or_insert((id, line));
    }
}

/// Parses one line. `Err` is a message safe to print (no input values).
pub fn parse(text: &str, names: &Names, resolver: &dyn Resolver) -> Result<Request, String> {
    let line: Line = serde_json::from_str(text).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            format!("not JSON: {e}")
        } else {
            redact(&e.to_string())
        }
    })?;
    if let Some(name) = &line.name {
        if !ledger_vault::audit::is_code(name) {
            return Err("\"ref\" must be 1..=128 printable ASCII bytes".into());
        }
        if let Some((_, first)) = names.names.get(name) {
            return Err(format!(
                "\"ref\" already names the scope line {first} created; a ref names one scope, so give this one another"
            ));
        }
    }
    if let Some(id) = &line.id {
        check_id(id)?;
    }
    if let Some(new) = line.new_subject {
        if line.at.is_some() {
            return Err(
                "a \"new_subject\" line takes no \"at\": a subject is created when the line is read"
                    .into(),
            );
        }
        if line.subject.is_some()
            || line.ticket.is_some()
            || line.facts.is_some()
            || line.personal.is_some()
            || line.actor.is_some()
        {
            return Err(
                "a \"new_subject\" line holds only \"new_subject\" and \"ref\"; record its events on later lines"
                    .into(),
            );
        }
        return Ok(Request::NewSubject {
            email: new.email,
            name: line.name,
            id: line.id,
        });
    }
    let at = line.at.as_deref().map(parse_at).transpose()?;
    let Some(mut facts) = line.facts else {
        return Err("a line needs \"facts\" (an event) or \"new_subject\"".into());
    };
    let actor = line
        .actor
        .ok_or_else(|| "an event needs an \"actor\" (a pseudonym such as agent:7)".to_string())?;
    let subject = line
        .subject
        .map(|s| resolve(&s, "subject", names, resolver))
        .transpose()?;
    let ticket = line
        .ticket
        .map(|t| resolve(&t, "ticket", names, resolver))
        .transpose()?;
    let is_ticket_opened = facts.get("type").and_then(Value::as_str) == Some("ticket_opened");
    let mut create_ticket = false;
    let scope = if is_ticket_opened {
        if let (Some(customer), Value::Object(map)) = (subject, &mut facts) {
            if map.contains_key("customer") {
                return Err(
                    "ticket_opened: give the customer either as \"subject\" or as facts.customer, not both"
                        .into(),
                );
            }
            map.insert("customer".into(), Value::String(customer.to_string()));
        }
        match ticket {
            Some(t) => Scope::Ticket(TicketId(t)),
            None => {
                create_ticket = true;
                // Placeholder until the ticket's scope is created.
                Scope::Ticket(TicketId(ScopeId([0; 16])))
            }
        }
    } else {
        match (subject, ticket) {
            (Some(_), Some(_)) => {
                return Err("give \"subject\" or \"ticket\", not both".into());
            }
            (Some(s), None) => Scope::Subject(s),
            (None, Some(t)) => Scope::Ticket(TicketId(t)),
            (None, None) => Scope::None,
        }
    };
    if line.name.is_some() && !create_ticket {
        return Err(
            "\"ref\" names a scope the line creates: only on \"new_subject\" or a ticket_opened without \"ticket\""
                .into(),
        );
    }
    let facts: Facts =
        serde_json::from_value(facts).map_err(|e| format!("facts: {}", redact(&e.to_string())))?;
    let personal = line
        .personal
        .map(serde_json::from_value::<PersonalData>)
        .transpose()
        .map_err(|_| {
            "personal: expected {\"fields\":{CATEGORY:STRING,...},\"text\":STRING} with categories of the vocabulary"
                .to_string()
        })?;
    Ok(Request::Event {
        event: ComplianceEvent {
            scope,
            facts,
            actor,
            personal,
            at,
            idempotency: None,
        },
        create_ticket,
        name: line.name,
        id: line.id,
    })
}

fn resolve(
    r: &ScopeRef,
    field: &str,
    names: &Names,
    resolver: &dyn Resolver,
) -> Result<ScopeId, String> {
    match r {
        ScopeRef::Id(hex) => hex
            .parse::<ScopeId>()
            .ok()
            .filter(|_| hex.len() == 32)
            .ok_or_else(|| {
                format!("\"{field}\" must be 32 hex digits, {{\"ref\":NAME}} or {{\"email\":ADDR}}")
            }),
        ScopeRef::Ref { name } => names.names.get(name).map(|(id, _)| *id).ok_or_else(|| {
            format!("\"{field}\": no scope was named with this \"ref\" earlier in the input")
        }),
        ScopeRef::Email { email } => {
            if field != "subject" {
                return Err(format!("\"{field}\" cannot be given by email"));
            }
            match resolver.find_by_email(email) {
                Ok(Some(s)) => Ok(s),
                Ok(None) => {
                    Err("\"subject\": no live subject is registered under that email".into())
                }
                Err(e) => Err(format!("\"subject\": email lookup failed: {e}")),
            }
        }
    }
}

/// Removes input values that serde quotes in its messages (`unknown variant
/// `x``, `unknown field `x``, `invalid type: string "x"`, `integer `1``),
/// keeping the expectations.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        // Each marker precedes a value taken from the input.
        const MARKERS: [(&str, char); 6] = [
            ("variant `", '`'),
            ("unknown field `", '`'),
            ("integer `", '`'),
            ("floating point `", '`'),
            ("string \"", '"'),
            ("character `", '`'),
        ];
        let next = MARKERS
            .iter()
            .filter_map(|(m, close)| rest.find(m).map(|i| (i + m.len(), *close)))
            .min_by_key(|(start, _)| *start);
        let Some((start, close)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        out.push('…');
        let tail = &rest[start..];
        let mut end = tail.len();
        let mut escaped = false;
        for (i, c) in tail.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' && close == '"' {
                escaped = true;
            } else if c == close {
                end = i;
                break;
            }
        }
        rest = &tail[end..];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct NoEmails;
    impl Resolver for NoEmails {
        fn find_by_email(&self, _: &str) -> Result<Option<ScopeId>, ledger_vault::StoreError> {
            Ok(None)
        }
    }

    #[test]
    fn an_event_line_parses_with_the_stored_codes() {
        let names = Names::default();
        let line = r#"{"subject":"000102030405060708090a0b0c0d0e0f","actor":"svc:crm","facts":{"type":"data_collected","categories":"name,company-email","channel":"contact-form","purpose":"contract","lawful_basis":"art6-1b"},"personal":{"fields":{"name":"Ada"}}}"#;
        let Request::Event { event, .. } = parse(line, &names, &NoEmails).unwrap() else {
            panic!("not an event")
        };
        assert!(matches!(event.scope, Scope::Subject(_)));
        assert!(matches!(event.facts, Facts::DataCollected { .. }));
        assert_eq!(event.personal.unwrap().fields.len(), 1);
    }

    #[test]
    fn a_ticket_opened_without_ticket_creates_one_for_the_subject() {
        let mut names = Names::default();
        names.insert("c".into(), ScopeId([7; 16]), 1);
        let line = r#"{"subject":{"ref":"c"},"ref":"t","actor":"svc:helpdesk","facts":{"type":"ticket_opened","channel":"email"}}"#;
        let Request::Event {
            event,
            create_ticket,
            name,
            ..
        } = parse(line, &names, &NoEmails).unwrap()
        else {
            panic!("not an event")
        };
        assert!(create_ticket);
        assert_eq!(name.as_deref(), Some("t"));
        assert!(
            matches!(event.facts, Facts::TicketOpened { customer, .. } if customer == ScopeId([7; 16]))
        );
    }

    #[test]
    fn an_event_takes_its_time_and_an_id_and_a_subject_an_id_only() {
        let names = Names::default();
        let line = r#"{"actor":"dpo:1","facts":{"type":"policy_published","version":"v1","effective":"2025-01-01","material":"yes"},"at":"2025-01-02T10:00:00+01:00","id":"p-1"}"#;
        let Request::Event { event, id, .. } = parse(line, &names, &NoEmails).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(id.as_deref(), Some("p-1"));
        assert_eq!(
            event.at.map(|t| t.to_rfc3339()),
            Some("2025-01-02T09:00:00+00:00".into())
        );
        let line = r#"{"new_subject":{},"id":"s-1"}"#;
        assert!(matches!(
            parse(line, &names, &NoEmails),
            Ok(Request::NewSubject { id: Some(_), .. })
        ));
        for (line, expect) in [
            (
                r#"{"new_subject":{},"at":"2025-01-02T10:00:00Z"}"#,
                "takes no \"at\"",
            ),
            (
                r#"{"actor":"a","facts":{"type":"backup_destroyed","backup":"b","method":"m"},"at":"yesterday"}"#,
                "RFC 3339",
            ),
            (
                r#"{"actor":"a","facts":{"type":"backup_destroyed","backup":"b","method":"m"},"at":"2025-01-02T10:00:00"}"#,
                "RFC 3339",
            ),
            (r#"{"new_subject":{},"id":"has space"}"#, "\"id\" must be"),
            (r#"{"new_subject":{},"id":""}"#, "\"id\" must be"),
        ] {
            let e = parse(line, &names, &NoEmails).map(|_| ()).unwrap_err();
            assert!(e.contains(expect), "{line}: {e}");
        }
    }

    #[test]
    fn errors_never_quote_input_values() {
        let names = Names::default();
        for line in [
            r#"{"actor":"a","facts":{"type":"ada@example.test"}}"#,
            r#"{"actor":"a","facts":{"type":"policy_published","version":"v1","effective":"2025-01-01","material":"ada@example.test"}}"#,
            r#"{"actor":"a","facts":{"type":"marketing_objected","channel":"ada@example.test"},"subject":"000102030405060708090a0b0c0d0e0f"}"#,
            r#"{"actor":"a","facts":{"type":"backup_destroyed","backup":"b","method":"m"},"personal":{"fields":"ada@example.test"}}"#,
            r#"{"subject":{"email":"ada@example.test"},"actor":"a","facts":{"type":"contract_ended","reason":"x"}}"#,
            r#"{"actor":7,"facts":"ada@example.test"}"#,
        ] {
            let e = match parse(line, &names, &NoEmails) {
                Err(e) => e,
                Ok(r) => panic!("accepted {r:?}"),
            };
            assert!(!e.contains("ada@"), "{e}");
        }
        assert_eq!(
            redact(r#"invalid type: string "a \"b\" c", expected x"#),
            "invalid type: string \"…\", expected x"
        );
        // Field names and numbers come from the caller too.
        let e = serde_json::from_str::<Facts>(r#"{"type":"data_collected","ada@example.test":1}"#)
            .map(|_| ())
            .map_err(|e| redact(&e.to_string()));
        assert!(e.as_ref().is_err_and(|m| !m.contains("ada@")), "{e:?}");
        assert_eq!(
            redact("invalid type: integer `31612345678`, expected a string"),
            "invalid type: integer `…`, expected a string"
        );
        assert_eq!(
            redact("unknown field `ada@example.test`, expected one of `a`, `b`"),
            "unknown field `…`, expected one of `a`, `b`"
        );
    }
}
