//! `access.html`: the access answer as one self-contained page for the
//! person it is about. No script, no external asset (the style is inline),
//! plain language; every value goes through [`esc`].

use std::fmt::Write as _;

use super::package::{AccessAnswer, ErasureFacts, Integrity, Processing};
use super::wording;

/// `text` with the five HTML-significant characters replaced by entities,
/// safe inside element content and inside double- or single-quoted
/// attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` escaped, or a dash.
fn opt(value: Option<&str>) -> String {
    value.map_or_else(|| "&ndash;".to_owned(), esc)
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.5}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f4f4f4}code,pre{font-family:ui-monospace,monospace;font-size:.85rem}pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
.note{background:#eef6ee;border-left:4px solid #5a5;padding:.5rem 1rem}.muted{color:#666}";

/// A table of already-escaped cells.
fn table(out: &mut String, head: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>\n");
        return;
    }
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn para(out: &mut String, text: &str) {
    let _ = writeln!(out, "<p>{}</p>", esc(text));
}

fn heading(out: &mut String, text: &str) {
    let _ = writeln!(out, "<h2>{}</h2>", esc(text));
}

/// The page for `answer`.
pub fn render(answer: &AccessAnswer) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Your personal data at {}</title><style>{STYLE}</style></head><body>\n",
        esc(&answer.controller.name)
    );
    let _ = writeln!(
        out,
        "<h1>Your personal data at {}</h1>",
        esc(&answer.controller.name)
    );
    let _ = writeln!(
        out,
        "<p class=\"muted\">Answer to your access request (GDPR Art. 15), made {}. Your reference: <code>{}</code>.</p>",
        esc(&answer.generated_at),
        esc(&answer.subject)
    );
    let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(&answer.confirmation));

    heading(&mut out, "Who we are");
    table(
        &mut out,
        &["", "Name", "Address", "Email"],
        [
            ("Controller", &answer.controller),
            ("Data Protection Officer", &answer.dpo),
        ]
        .into_iter()
        .map(|(what, p)| vec![esc(what), esc(&p.name), esc(&p.address), esc(&p.email)])
        .collect(),
    );

    if let Some(p) = &answer.processing {
        processing(&mut out, p);
    }
    if let Some(e) = &answer.erasure {
        erasure(&mut out, e);
    }

    heading(&mut out, "Your rights");
    table(
        &mut out,
        &["Right", "What it means"],
        answer
            .rights
            .iter()
            .map(|r| vec![esc(r.title), esc(r.description)])
            .collect(),
    );
    para(
        &mut out,
        "To use any of them, write to our Data Protection Officer at the address above. We answer within 30 days.",
    );
    heading(&mut out, "If you are not satisfied");
    para(&mut out, answer.complaint.statement);
    let _ = writeln!(
        out,
        "<p>Supervisory authority: {} ({}).</p>",
        esc(&answer.complaint.supervisory_authority),
        esc(answer.complaint.website)
    );

    integrity(&mut out, &answer.integrity);
    out.push_str("</body></html>\n");
    out
}

fn processing(out: &mut String, p: &Processing) {
    heading(out, "Your data as we hold it now");
    table(
        out,
        &["What", "Value", "Collected", "Last corrected"],
        p.data
            .current
            .iter()
            .map(|d| {
                vec![
                    esc(d.label),
                    esc(&d.value),
                    opt(d.collected_at.as_deref()),
                    opt(d.rectified_at.as_deref()),
                ]
            })
            .collect(),
    );
    heading(out, "Your data, record by record");
    para(
        out,
        "Each entry of our log that holds personal data about you, as it was recorded (and encrypted with your key).",
    );
    table(
        out,
        &["Record", "When", "What happened", "Support ticket", "Data"],
        p.data
            .records
            .iter()
            .map(|r| {
                let mut data = String::new();
                for (category, value) in &r.fields {
                    let _ = write!(
                        data,
                        "{}: {}<br>",
                        esc(wording::category(*category)),
                        esc(value)
                    );
                }
                if let Some(text) = &r.text {
                    let _ = write!(data, "<pre>{}</pre>", esc(text));
                }
                vec![
                    r.seq.to_string(),
                    esc(&r.at),
                    esc(r.event_type.trim_start_matches("dp.")),
                    opt(r.ticket.as_deref()),
                    data,
                ]
            })
            .collect(),
    );

    heading(out, "Why we use it");
    table(
        out,
        &["Purpose", "Lawful basis", "Since"],
        p.purposes
            .iter()
            .map(|x| {
                vec![
                    esc(x.description),
                    esc(x.lawful_basis_description),
                    esc(&x.since),
                ]
            })
            .collect(),
    );
    heading(out, "Your consents");
    table(
        out,
        &["Purpose", "Consent", "Given", "Withdrawn"],
        p.consents
            .iter()
            .map(|c| {
                vec![
                    esc(wording::purpose(c.purpose)),
                    esc(if c.given { "given" } else { "withdrawn" }),
                    opt(c.given_at.as_deref()),
                    opt(c.withdrawn_at.as_deref()),
                ]
            })
            .collect(),
    );
    let m = &p.marketing;
    para(
        out,
        &format!(
            "Marketing: we contacted you {} time(s){}. {}",
            m.contacts,
            m.last_contacted_at
                .as_ref()
                .map(|t| format!(", last on {t}"))
                .unwrap_or_default(),
            if m.objected {
                format!(
                    "You objected to marketing{}: we no longer contact you for it.",
                    m.objected_at
                        .as_ref()
                        .map(|t| format!(" on {t}"))
                        .unwrap_or_default()
                )
            } else {
                "You can object at any time, with the unsubscribe link or in your account.".into()
            }
        ),
    );

    heading(out, "What kinds of data we hold");
    let _ = writeln!(
        out,
        "<ul>{}</ul>",
        p.categories
            .iter()
            .map(|c| format!("<li>{}</li>", esc(c.label)))
            .collect::<String>()
    );
    heading(out, "Where it came from");
    let _ = writeln!(
        out,
        "<ul>{}</ul>",
        p.sources
            .iter()
            .map(|s| format!("<li>{}</li>", esc(s.description)))
            .collect::<String>()
    );

    heading(out, "Who received it");
    table(
        out,
        &[
            "Organisation",
            "Country",
            "Role",
            "Contract",
            "What",
            "When",
        ],
        p.recipients
            .iter()
            .map(|r| {
                vec![
                    esc(r.name.as_deref().unwrap_or(&r.recipient)),
                    opt(r.country.as_deref()),
                    opt(r.role_description),
                    opt(r.contract.as_deref()),
                    esc(&r
                        .categories
                        .iter()
                        .map(|c| wording::category(*c))
                        .collect::<Vec<_>>()
                        .join(", ")),
                    esc(&format!(
                        "{} time(s), {} to {}",
                        r.times, r.first_at, r.last_at
                    )),
                ]
            })
            .collect(),
    );
    heading(out, "Transfers outside the European Economic Area");
    table(
        out,
        &["Organisation", "Country", "Safeguard", "What", "When"],
        p.transfers_outside_eea
            .iter()
            .map(|t| {
                vec![
                    esc(t.recipient_name.as_deref().unwrap_or(&t.recipient)),
                    esc(&t.country),
                    esc(t.safeguard_description),
                    esc(&t
                        .categories
                        .iter()
                        .map(|c| wording::category(*c))
                        .collect::<Vec<_>>()
                        .join(", ")),
                    esc(&format!(
                        "{} time(s), {} to {}",
                        t.count, t.first_at, t.last_at
                    )),
                ]
            })
            .collect(),
    );

    heading(out, "How long we keep it");
    table(
        out,
        &["What", "How long"],
        p.retention
            .iter()
            .map(|r| vec![esc(r.applies_to), esc(&r.period)])
            .collect(),
    );

    heading(out, "Your support tickets");
    table(
        out,
        &[
            "Ticket",
            "Opened",
            "Closed",
            "Notes",
            "Kept until",
            "Erased",
        ],
        p.tickets
            .iter()
            .map(|t| {
                vec![
                    format!("<code>{}</code>", esc(&t.ticket)),
                    esc(&t.opened_at),
                    opt(t.closed_at.as_deref()),
                    t.notes.to_string(),
                    opt(t.retention_deadline.as_deref()),
                    opt(t.erased_at.as_deref()),
                ]
            })
            .collect(),
    );
    heading(out, "Your requests");
    table(
        out,
        &[
            "Reference",
            "Right",
            "Received",
            "Due",
            "Status",
            "Answered",
        ],
        p.requests
            .iter()
            .map(|r| {
                vec![
                    esc(&r.request),
                    esc(wording::right(r.right).0),
                    esc(&r.received),
                    esc(&r.due),
                    esc(match r.status {
                        ledger_compliance::RequestStatus::Open => "open",
                        ledger_compliance::RequestStatus::Fulfilled => "answered",
                        ledger_compliance::RequestStatus::Refused => "refused",
                    }),
                    opt(r.answered.as_deref()),
                ]
            })
            .collect(),
    );

    heading(out, "When your data was consulted");
    para(
        out,
        "Every time someone at our company looked at your data or worked on your tickets: when, why, and in which role (not who).",
    );
    table(
        out,
        &["When", "Why", "Role"],
        p.access_log
            .iter()
            .map(|l| {
                vec![
                    esc(&l.at),
                    esc(wording::purpose(l.purpose)),
                    esc(wording::role(l.role)),
                ]
            })
            .collect(),
    );
}

fn erasure(out: &mut String, e: &ErasureFacts) {
    heading(out, "What was erased");
    para(out, &e.statement);
    table(
        out,
        &["", ""],
        vec![
            vec![esc("Erased on"), opt(e.erased_at.as_deref())],
            vec![
                esc("Log record of the erasure"),
                e.erasure_seq
                    .map_or_else(|| "&ndash;".into(), |s| s.to_string()),
            ],
            vec![esc("Reason"), opt(e.reason.as_deref())],
            vec![esc("Your request"), opt(e.request_ref.as_deref())],
            vec![
                esc("Kinds of data that were held"),
                esc(&e
                    .categories_held
                    .iter()
                    .map(|c| wording::category(*c))
                    .collect::<Vec<_>>()
                    .join(", ")),
            ],
            vec![
                esc("Log records about you"),
                esc(&format!(
                    "{} ({} of them held encrypted personal data, now unreadable)",
                    e.records, e.sealed_records
                )),
            ],
            vec![esc("Support tickets erased"), e.tickets.to_string()],
            vec![
                esc("Key destroyed"),
                esc(if e.key_destroyed {
                    "yes"
                } else {
                    "not yet complete"
                }),
            ],
            vec![
                esc("Key-destruction certificate (BLAKE3)"),
                e.certificate_hash
                    .as_deref()
                    .map_or_else(|| "&ndash;".into(), |h| format!("<code>{}</code>", esc(h))),
            ],
            vec![
                esc("Method"),
                esc(&format!(
                    "{} ({})",
                    e.certificate_method.as_deref().unwrap_or("-"),
                    e.certificate_standard.as_deref().unwrap_or("-")
                )),
            ],
        ],
    );
}

fn integrity(out: &mut String, i: &Integrity) {
    heading(out, "Check it yourself");
    para(
        out,
        "Our log is append-only: each record is chained to the one before and is a leaf of a Merkle tree whose root we sign. Below, for each record about you, is a proof that it is in the signed log. Anyone can check these proofs offline with our public key; no secret is needed.",
    );
    out.push_str("<ol>");
    for step in &i.how_to_verify {
        let _ = write!(out, "<li>{}</li>", esc(step));
    }
    out.push_str("</ol>\n");
    para(
        out,
        "The proofs are in the file access.json beside this page (integrity.proofs); the key is integrity.verifier_key. For example, with jq: jq '.integrity.proofs[0]' access.json > proof.json; jq -r .integrity.verifier_key access.json > log.vkey.",
    );
    let _ = writeln!(
        out,
        "<p>Verifier key:</p><pre>{}</pre><p>Signed checkpoint (tree of {} records, root <code>{}</code>):</p><pre>{}</pre>",
        esc(&i.verifier_key),
        i.checkpoint.tree_size,
        esc(&i.checkpoint.root),
        esc(&i.checkpoint.note)
    );
    table(
        out,
        &[
            "Record",
            "When",
            "What happened",
            "Record hash",
            "Audit path",
        ],
        i.proofs
            .iter()
            .map(|p| {
                vec![
                    p.seq.to_string(),
                    esc(&p.timestamp),
                    esc(&p.event_type),
                    format!("<code>{}</code>", esc(&p.record_hash)),
                    format!(
                        "<details><summary>{} hashes</summary><code>{}</code></details>",
                        p.audit_path.len(),
                        p.audit_path
                            .iter()
                            .map(|h| esc(h))
                            .collect::<Vec<_>>()
                            .join("<br>")
                    ),
                ]
            })
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn esc_replaces_every_markup_character() {
        assert_eq!(
            esc(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn esc_leaves_plain_text_alone_and_treats_entities_in_input_as_text() {
        assert_eq!(esc("Zoë Ünal, Straße 1"), "Zoë Ünal, Straße 1");
        assert_eq!(esc(""), "");
        // An entity in the input is text, so its ampersand is escaped.
        assert_eq!(esc("&amp;"), "&amp;amp;");
    }

    #[test]
    fn escaped_text_contains_no_markup_characters() {
        let nasty = "\"><img src=x onerror=alert(1)>'<!--&";
        let out = esc(nasty);
        assert!(!out.contains(['<', '>', '"', '\'']));
    }
}
