//! `ledger subject export`: the Art. 15 answer of a live subject (decrypted
//! data, proofs that verify offline, an access log without pseudonyms), of
//! an erased one (no plaintext at all), and of an unknown one (exit 2).

use std::path::Path;

use ledger_core::checkpoint::VerifierKey;
use ledger_core::merkle::TreeHash;
use ledger_core::{Hash, InclusionProof};
use predicates::prelude::*;
use serde_json::Value;

use crate::support::{ledger, lines};

const NAME: &str = "Zoë <b>Quill</b> & Co";
const EMAIL: &str = "zoe.quill@example.test";
const PHONE: &str = "+31 20 555 0199";
const NOTE: &str = "My survey export shows other respondents' answers";
/// Staff pseudonyms the input uses; none may reach a package.
const ACTORS: &[&str] = &[
    "svc:crm",
    "svc:helpdesk",
    "agent-7",
    "agent-9",
    "pm:3",
    "dpo:1",
];

/// A ledger with one customer: contact data, a consent, a share and a
/// transfer to a US processor, a ticket with a note, handover and
/// escalation, a staff access and an access request. Returns the subject id.
fn customer(dir: &Path) -> String {
    ledger(dir).arg("init").assert().success();
    let personal = serde_json::json!({
        "fields": {"name": NAME, "company-email": EMAIL, "telephone": PHONE}
    });
    let note = serde_json::json!({ "text": NOTE });
    let input = [
        r#"{"actor":"svc:crm","facts":{"type":"recipient_registered","recipient":"helpdesk-us","name":"Cloud Helpdesk Inc","country":"US","contract":"DPA-7","recipient_role":"processor"}}"#.to_owned(),
        format!(r#"{{"new_subject":{{"email":"{EMAIL}"}},"ref":"z"}}"#),
        format!(
            r#"{{"subject":{{"ref":"z"}},"actor":"svc:crm","facts":{{"type":"data_collected","categories":"name,company-email,telephone","channel":"contact-form","purpose":"contract","lawful_basis":"art6-1b"}},"personal":{personal}}}"#
        ),
        r#"{"subject":{"ref":"z"},"actor":"svc:crm","facts":{"type":"consent_given","purpose":"marketing","channel":"contact-form"}}"#.to_owned(),
        r#"{"subject":{"ref":"z"},"actor":"agent-7","facts":{"type":"data_accessed","role":"support","purpose":"contract"}}"#.to_owned(),
        r#"{"subject":{"ref":"z"},"ref":"t","actor":"svc:helpdesk","facts":{"type":"ticket_opened","channel":"email"}}"#.to_owned(),
        format!(
            r#"{{"ticket":{{"ref":"t"}},"actor":"agent-7","facts":{{"type":"ticket_note_added","role":"support"}},"personal":{note}}}"#
        ),
        r#"{"ticket":{"ref":"t"},"actor":"agent-7","facts":{"type":"ticket_handed_over","from_role":"support","to_role":"third-line-support","to_actor":"agent-9"}}"#.to_owned(),
        r#"{"ticket":{"ref":"t"},"actor":"agent-9","facts":{"type":"ticket_escalated","to":"product-management"}}"#.to_owned(),
        r#"{"subject":{"ref":"z"},"actor":"svc:helpdesk","facts":{"type":"data_shared","recipient":"helpdesk-us","categories":"name,ticket-content","purpose":"support"}}"#.to_owned(),
        r#"{"subject":{"ref":"z"},"actor":"svc:helpdesk","facts":{"type":"transfer_made","recipient":"helpdesk-us","country":"US","safeguard":"scc-2021-914","categories":"name,ticket-content"}}"#.to_owned(),
        r#"{"subject":{"ref":"z"},"actor":"dpo:1","facts":{"type":"request_received","request":"DSR-1","right":"access-art15","channel":"email"}}"#.to_owned(),
    ]
    .join("\n");
    let out = ledger(dir)
        .arg("append")
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out.stdout)[1]["subject"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn hash(text: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap();
    out
}

/// Checks every proof of `access` offline: the note opens under the
/// package's verifier key, the leaf hash is the record hash's, and the
/// audit path leads to the signed root.
fn verify_proofs(access: &Value) -> usize {
    let integrity = &access["integrity"];
    let key = VerifierKey::parse(integrity["verifier_key"].as_str().unwrap()).unwrap();
    let checkpoint = key
        .open(integrity["checkpoint"]["note"].as_str().unwrap())
        .unwrap();
    let proofs = integrity["proofs"].as_array().unwrap();
    for p in proofs {
        let note = key.open(p["checkpoint"].as_str().unwrap()).unwrap();
        assert_eq!(note, checkpoint);
        let record_hash = hash(p["record_hash"].as_str().unwrap());
        let tree = TreeHash::from_name(p["tree_hash"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(tree, TreeHash::Sha256);
        let leaf = tree.leaf_hash(&record_hash);
        assert_eq!(hash(p["leaf_hash"].as_str().unwrap()), leaf);
        assert_eq!(p["tree_size"].as_u64(), Some(checkpoint.tree_size));
        assert_eq!(p["seq"], p["leaf_index"]);
        let proof = InclusionProof {
            index: p["leaf_index"].as_u64().unwrap(),
            tree_size: p["tree_size"].as_u64().unwrap(),
            path: p["audit_path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| hash(h.as_str().unwrap()))
                .collect(),
        };
        tree.verify_inclusion(&leaf, &proof, &checkpoint.root)
            .unwrap_or_else(|e| panic!("proof of record {} fails: {e}", p["seq"]));
    }
    proofs.len()
}

#[test]
fn a_live_subjects_package_holds_their_data_and_proofs_that_verify_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let subject = customer(&dir);
    let out_dir = tmp.path().join("answer");
    let out = ledger(&dir)
        .args(["--json", "subject", "export", "--email", EMAIL, "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in ["Quill", EMAIL, PHONE, "respondents"] {
            assert!(!text.contains(secret), "{secret} printed: {text}");
        }
    }
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["subject"], subject.as_str());
    assert_eq!(summary["state"], "live");
    // The collection and the note carry personal data.
    assert_eq!(summary["records"], 2);

    let access_json = read(&out_dir.join("access.json"));
    let html = read(&out_dir.join("access.html"));
    let portability: Value =
        serde_json::from_str(&read(&out_dir.join("portability.json"))).unwrap();
    let access: Value = serde_json::from_str(&access_json).unwrap();
    assert_eq!(access["state"], "live");
    let processing = &access["processing"];
    let current = processing["data"]["current"].as_array().unwrap();
    assert!(current
        .iter()
        .any(|d| d["category"] == "name" && d["value"] == NAME));
    assert!(access_json.contains(NOTE), "the ticket note is copied");
    assert_eq!(
        processing["recipients"][0]["name"], "Cloud Helpdesk Inc",
        "recipients by identity"
    );
    assert_eq!(
        processing["transfers_outside_eea"][0]["safeguard"],
        "scc-2021-914"
    );
    assert_eq!(processing["consents"][0]["purpose"], "marketing");
    assert!(processing["access_log"].as_array().unwrap().len() >= 3);
    assert_eq!(access["controller"]["name"], "Example Survey Software B.V.");
    assert!(access["complaint"]["supervisory_authority"]
        .as_str()
        .unwrap()
        .contains("Autoriteit Persoonsgegevens"));
    assert!(portability["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["category"] == "telephone" && d["value"] == PHONE));

    // A proof for each of the 10 records of the subject and its ticket
    // (seq 0 registers the processor: about no one) and for the export's own
    // record of the DPO's consultation (seq 11), every one verifying against
    // the signed checkpoint.
    assert_eq!(verify_proofs(&access), 11);
    assert_eq!(summary["proofs"], 11);
    let seqs: Vec<u64> = access["integrity"]["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    // The consultation is in the subject's access log: a date and a purpose.
    assert!(processing["access_log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["purpose"] == "rights-request"));

    // The access log (and everything else) names no one.
    for text in [&access_json, &html] {
        for actor in ACTORS {
            assert!(!text.contains(actor), "pseudonym {actor} in the package");
        }
    }
    // The page escapes values: the name's markup is text.
    assert!(html.contains("Zoë &lt;b&gt;Quill&lt;/b&gt; &amp; Co"));
    assert!(!html.contains("<b>Quill"));
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
}

#[test]
fn an_erased_subjects_package_holds_no_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let subject = customer(&dir);
    ledger(&dir)
        .args(["erase", "--email", EMAIL, "--reason", "gdpr-art17-1a"])
        .args(["--request", "DSR-2"])
        .assert()
        .success();
    // Erased subjects are gone from the email index.
    ledger(&dir)
        .args(["subject", "export", "--email", EMAIL, "--out"])
        .arg(tmp.path().join("x"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no such subject"));

    let out_dir = tmp.path().join("erased");
    let out = ledger(&dir)
        .args([
            "--json",
            "subject",
            "export",
            "--subject",
            &subject,
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["state"], "erased");
    assert_eq!(summary["records"], 0);

    for file in ["access.json", "access.html", "portability.json"] {
        let text = read(&out_dir.join(file));
        for secret in [
            "Quill",
            "Zo\u{eb}",
            "Zo\\u00eb",
            EMAIL,
            "zoe.quill",
            PHONE,
            "555 0199",
            "respondents",
        ] {
            assert!(!text.contains(secret), "{secret} in {file}");
        }
        for actor in ACTORS {
            assert!(!text.contains(actor), "pseudonym {actor} in {file}");
        }
    }
    let access: Value = serde_json::from_str(&read(&out_dir.join("access.json"))).unwrap();
    assert!(
        access.get("processing").is_none(),
        "nothing but the erasure"
    );
    let erasure = &access["erasure"];
    assert_eq!(erasure["reason"], "gdpr-art17-1a");
    assert_eq!(erasure["request_ref"], "DSR-2");
    assert_eq!(erasure["status"], "complete");
    assert_eq!(erasure["key_destroyed"], true);
    assert_eq!(erasure["certificate_hash"].as_str().unwrap().len(), 64);
    assert_eq!(erasure["tickets"], 1);
    assert!(erasure["records"].as_u64().unwrap() >= 10);
    assert!(erasure["erasure_seq"].as_u64().is_some());
    // The erasure and its certification are proven, and nothing else.
    assert_eq!(verify_proofs(&access), 2);
    let portability: Value =
        serde_json::from_str(&read(&out_dir.join("portability.json"))).unwrap();
    assert_eq!(portability["state"], "erased");
    assert_eq!(portability["data"], serde_json::json!([]));
}

#[test]
fn an_unknown_subject_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    customer(&dir);
    let out_dir = tmp.path().join("nobody");
    ledger(&dir)
        .args([
            "subject",
            "export",
            "--subject",
            "00112233445566778899aabbccddeeff",
        ])
        .arg("--out")
        .arg(&out_dir)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no such subject"));
    ledger(&dir)
        .args([
            "subject",
            "export",
            "--email",
            "nobody@example.test",
            "--out",
        ])
        .arg(&out_dir)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no such subject"))
        .stderr(predicates::str::contains("nobody@").not());
    assert!(!out_dir.exists(), "nothing written for no one");
}
