//! The DOMAIN.md customer journey through HTTP only, as the company runs it:
//! three services (the CRM, the helpdesk, the mailing tool), the DPO and an
//! auditor, each a principal with its own token and role. A customer signs
//! up, subscribes, gets a newsletter, opens a ticket whose data goes to the
//! US helpdesk processor under SCCs, objects to marketing, asks for access
//! and then for erasure. After each step the test checks what each
//! principal may see and do, and at the end the auditor proves every
//! record against the signed checkpoint with an RFC 6962 check written
//! here from the RFC.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{init_ledger, start, Running};
use ledger_server::tokens::{Role, TokenFile};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

const NAME: &str = "Wilhelmina Oosterhuis-Tan";
const EMAIL: &str = "w.oosterhuis@tulip-insights.example";
const TICKET_TEXT: &str = "The panel export drops the last wave since the upgrade";

/// The company's principals.
struct Principals {
    crm: String,
    helpdesk: String,
    mailing: String,
    dpo: String,
    auditor: String,
}

fn principals(dir: &std::path::Path) -> Principals {
    let mut file = TokenFile::default();
    let mut service = |name: &str, kinds: &[&str]| {
        file.create(
            Role::Service,
            name,
            kinds.iter().map(|k| (*k).to_owned()).collect(),
        )
        .unwrap()
        .1
    };
    let crm = service(
        "crm",
        &["data_collected", "consent_given", "data_rectified"],
    );
    let helpdesk = service(
        "helpdesk",
        &[
            "ticket_opened",
            "ticket_note_added",
            "ticket_closed",
            "data_shared",
            "transfer_made",
        ],
    );
    let mailing = service("mailing", &["marketing_contacted", "marketing_objected"]);
    let dpo = file.create(Role::Dpo, "dpo-office", Vec::new()).unwrap().1;
    let auditor = file
        .create(Role::Auditor, "audit-firm", Vec::new())
        .unwrap()
        .1;
    file.save(dir).unwrap();
    Principals {
        crm,
        helpdesk,
        mailing,
        dpo,
        auditor,
    }
}

/// Posts `events` as `token`; the status and the answer.
async fn post(s: &Running, token: &str, events: Value) -> (StatusCode, Value) {
    let r = s
        .req(Method::POST, "/v1/events", Some(token))
        .json(&events)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// Posts `events` as `token`, which must be accepted; the receipts.
async fn append(s: &Running, token: &str, events: Value) -> Vec<Value> {
    let (status, answer) = post(s, token, events).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["receipts"].as_array().unwrap().clone()
}

async fn get_json(s: &Running, token: &str, path: &str) -> (StatusCode, Value) {
    let r = s.req(Method::GET, path, Some(token)).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

/// RFC 9162 §2.1.3.2: the root an inclusion proof of leaf `index` in a tree
/// of `size` leaves gives.
fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    path: &[Vec<u8>],
) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    let node = |left: &[u8], right: &[u8]| -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(left);
        h.update(right);
        h.finalize().into()
    };
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in path {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_from_sign_up_to_erasure_through_http() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    init_ledger(&dir);
    let p = principals(&dir);
    let s = start(&dir).await;

    // The DPO registers the US helpdesk processor (Art. 28 contract).
    append(
        &s,
        &p.dpo,
        json!({"actor": "op:dpo", "facts": {"type": "recipient_registered", "recipient": "helpdesk-us", "name": "Helpdesk Cloud Inc.", "country": "US", "contract": "DPA-2026-07", "recipient_role": "processor"}}),
    )
    .await;

    // The CRM: the contact form creates the customer and records the data
    // and the newsletter consent, in one atomic batch.
    let r = s
        .req(Method::POST, "/v1/subjects", Some(&p.crm))
        .json(&json!({"email": EMAIL}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let subject = r.json::<Value>().await.unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    append(
        &s,
        &p.crm,
        json!([
            {"subject": subject, "actor": "svc:crm", "facts": {"type": "data_collected", "categories": "name,company-email", "channel": "contact-form", "purpose": "contract", "lawful_basis": "art6-1b"}, "personal": {"fields": {"name": NAME, "company-email": EMAIL}}},
            {"subject": subject, "actor": "svc:crm", "facts": {"type": "consent_given", "purpose": "marketing", "channel": "contact-form"}}
        ]),
    )
    .await;
    // A service appends only its own kinds.
    let (status, answer) = post(
        &s,
        &p.crm,
        json!({"subject": subject, "actor": "svc:crm", "facts": {"type": "marketing_contacted", "campaign": "nl-2026-12", "channel": "email"}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["code"], "kind_forbidden");

    // The mailing tool sends the December newsletter.
    append(
        &s,
        &p.mailing,
        json!({"subject": subject, "actor": "svc:mailing", "facts": {"type": "marketing_contacted", "campaign": "nl-2026-12", "channel": "email"}}),
    )
    .await;

    // The helpdesk: a ticket by email, its note, the copy to the US
    // processor under SCCs, then closed.
    let receipts = append(
        &s,
        &p.helpdesk,
        json!({"subject": subject, "actor": "svc:helpdesk", "facts": {"type": "ticket_opened", "channel": "email"}, "personal": {"text": TICKET_TEXT}}),
    )
    .await;
    let ticket = receipts[0]["ticket"].as_str().unwrap().to_owned();
    append(
        &s,
        &p.helpdesk,
        json!([
            {"ticket": ticket, "actor": "svc:helpdesk", "facts": {"type": "ticket_note_added", "role": "support"}, "personal": {"text": "Reproduced with the customer's export settings"}},
            {"subject": subject, "actor": "svc:helpdesk", "facts": {"type": "data_shared", "recipient": "helpdesk-us", "categories": "name,ticket-content", "purpose": "support"}},
            {"subject": subject, "actor": "svc:helpdesk", "facts": {"type": "transfer_made", "recipient": "helpdesk-us", "country": "US", "safeguard": "scc-2021-914", "categories": "name,ticket-content"}},
            {"ticket": ticket, "actor": "svc:helpdesk", "facts": {"type": "ticket_closed", "resolution": "solved"}}
        ]),
    )
    .await;
    // A transfer that claims another country than the registered one is
    // refused, and nothing of its batch is appended.
    let before = s.log_size().await;
    let (status, answer) = post(
        &s,
        &p.helpdesk,
        json!([
            {"subject": subject, "actor": "svc:helpdesk", "facts": {"type": "data_shared", "recipient": "helpdesk-us", "categories": "name", "purpose": "support"}},
            {"subject": subject, "actor": "svc:helpdesk", "facts": {"type": "transfer_made", "recipient": "helpdesk-us", "country": "IE", "categories": "name"}}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["index"], 1, "{answer}");
    assert_eq!(s.log_size().await, before);

    // The customer objects to marketing: the next newsletter is refused.
    append(
        &s,
        &p.mailing,
        json!({"subject": subject, "actor": "svc:mailing", "facts": {"type": "marketing_objected", "channel": "email"}}),
    )
    .await;
    let (status, answer) = post(
        &s,
        &p.mailing,
        json!({"subject": subject, "actor": "svc:mailing", "facts": {"type": "marketing_contacted", "campaign": "nl-2027-01", "channel": "email"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // An Art. 15 request: the DPO records it, reads the access package and
    // answers. Services and the auditor cannot read personal data.
    append(
        &s,
        &p.dpo,
        json!({"subject": subject, "actor": "op:dpo", "facts": {"type": "request_received", "request": "DSR-2026-0417", "right": "access-art15", "channel": "email"}}),
    )
    .await;
    let access = format!("/v1/subjects/{subject}/access");
    for token in [&p.crm, &p.helpdesk, &p.mailing, &p.auditor] {
        let (status, _) = get_json(&s, token, &access).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, package) = get_json(&s, &p.dpo, &access).await;
    assert_eq!(status, StatusCode::OK, "{package}");
    let answer = &package["access"];
    let text = answer.to_string();
    assert!(
        text.contains(NAME) && text.contains(TICKET_TEXT),
        "the copy of the data"
    );
    let transfers = &answer["processing"]["transfers_outside_eea"];
    assert_eq!(transfers[0]["recipient"], "helpdesk-us");
    assert_eq!(transfers[0]["country"], "US");
    assert_eq!(transfers[0]["safeguard"], "scc-2021-914");
    assert_eq!(answer["processing"]["marketing"]["objected"], true);
    // The DPO's read is in the subject's access log, by role and purpose,
    // never with who; so is the helpdesk's work on the ticket.
    let log = answer["processing"]["access_log"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|l| l["role"] == "dpo" && l["purpose"] == "rights-request"),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l["role"] == "support"), "{log:?}");
    assert!(!answer.to_string().contains("dpo-office"));
    append(
        &s,
        &p.dpo,
        json!({"subject": subject, "actor": "op:dpo", "facts": {"type": "request_fulfilled", "request": "DSR-2026-0417"}}),
    )
    .await;
    let (status, report) = get_json(&s, &p.dpo, &format!("/v1/subjects/{subject}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        report["access_log"].as_array().unwrap().len() > log.len(),
        "the report's read is logged too"
    );

    // The auditor proves every record of the subject's package against the
    // signed checkpoint, with nothing but the proofs and the note.
    let proofs = answer["integrity"]["proofs"].as_array().unwrap();
    assert!(!proofs.is_empty());
    for proof in proofs {
        let leaf: [u8; 32] = {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(unhex(proof["record_hash"].as_str().unwrap()));
            h.finalize().into()
        };
        assert_eq!(hex::encode(leaf), proof["leaf_hash"]);
        let path: Vec<Vec<u8>> = proof["audit_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| unhex(h.as_str().unwrap()))
            .collect();
        let root = root_from_inclusion(
            proof["leaf_index"].as_u64().unwrap(),
            proof["tree_size"].as_u64().unwrap(),
            leaf,
            &path,
        )
        .expect("a well-formed proof");
        assert_eq!(hex::encode(root), proof["root"], "seq {}", proof["seq"]);
    }

    // Erasure: the request, then crypto-shredding by the DPO.
    append(
        &s,
        &p.dpo,
        json!({"subject": subject, "actor": "op:dpo", "facts": {"type": "request_received", "request": "DSR-2026-0502", "right": "erasure-art17", "channel": "email"}}),
    )
    .await;
    for token in [&p.crm, &p.auditor] {
        let r = s
            .req(
                Method::POST,
                &format!("/v1/subjects/{subject}/erase"),
                Some(token),
            )
            .json(&json!({"request_ref": "DSR-2026-0502"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = s
        .req(
            Method::POST,
            &format!("/v1/subjects/{subject}/erase"),
            Some(&p.dpo),
        )
        .json(&json!({"request_ref": "DSR-2026-0502"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Nothing more is accepted about the erased customer, and the email no
    // longer finds anyone.
    let (status, _) = post(
        &s,
        &p.crm,
        json!({"subject": subject, "actor": "svc:crm", "facts": {"type": "data_rectified", "categories": "name", "channel": "email"}, "personal": {"fields": {"name": NAME}}}),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    let r = s
        .req(Method::POST, "/v1/subjects/lookup", Some(&p.crm))
        .json(&json!({"email": EMAIL}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (status, erased) = get_json(&s, &p.dpo, &access).await;
    assert_eq!(status, StatusCode::OK);
    let erased = erased.to_string();
    assert!(
        !erased.contains(NAME) && !erased.contains(TICKET_TEXT),
        "{erased}"
    );

    // The auditor: the RoPA names the processor; the whole log is signed
    // and every record proves against the latest checkpoint.
    let (status, ropa) = get_json(&s, &p.auditor, "/v1/ropa").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ropa.to_string().contains("helpdesk-us"));
    let note = s.signed_note(&p.auditor).await;
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    for seq in 0..size {
        let (status, proof) =
            get_json(&s, &p.auditor, &format!("/v1/proof/inclusion?seq={seq}")).await;
        assert_eq!(status, StatusCode::OK, "{proof}");
        assert_eq!(proof["tree_size"], size);
    }
    s.stop().await;

    // Nothing the customer typed is in clear in any file the server wrote.
    for entry in walk(&dir) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in [NAME, EMAIL, TICKET_TEXT] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds personal data in clear",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
