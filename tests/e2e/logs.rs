//! No personal data in logs: a subject's whole life (creation, sealed
//! appends, reads, erasure, rotation, failed operations) runs with every
//! tracing event at TRACE level captured, and none of its plaintext, its
//! email or its key appears in what was logged or in any error message.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use ledger_core::{Event, Ledger, LedgerOptions, ScopeId};
use ledger_vault::VaultEvent;
use ledger_vault::{ErasureRequest, KekSource, Vault, VaultOptions};

/// Everything logged by this test binary, process-wide.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || SinkWriter(Arc::clone(&sink)))
            .finish();
        // Other tests of this binary may log too; that only adds text.
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

struct SinkWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_subjects_life_leaves_no_personal_data_in_logs_or_errors() {
    let buffer = captured();
    let dir = tempfile::tempdir().unwrap();
    let tag = ScopeId::random().to_string();
    let email = format!("log.probe.{}@example.test", &tag[..12]);
    let secret_text = format!("ticket text that must never be logged {tag}");

    let ledger = Ledger::open(dir.path().join("ledger"), LedgerOptions::default()).unwrap();
    let options = VaultOptions {
        kek_source: KekSource::Dir(dir.path().join("keks")),
        ..VaultOptions::default()
    };
    let vault = Vault::open(ledger.clone(), options).unwrap();
    let subject = vault.create_scope(Some(&email)).unwrap();
    let dek = vault.dek_bytes_for_tests(&subject).unwrap();
    let mut errors = Vec::new();
    // A duplicate email is refused; its message must not echo the address.
    errors.push(vault.create_scope(Some(&email)).unwrap_err().to_string());
    for i in 0..5 {
        vault
            .append_blocking(VaultEvent::sealed(
                Event::new("ticket.note_added", "svc:helpdesk")
                    .with_scope(subject)
                    .with_payload(format!("{secret_text} #{i}").into_bytes()),
            ))
            .unwrap();
    }
    for seq in ledger.scope_seqs(&subject).unwrap() {
        let (_, payload) = vault.read(seq).unwrap();
        assert!(payload.plain().is_some());
        let _ = format!("{payload:?}");
    }
    let request = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-LOG-1".into(),
        operator: "op:dpo".into(),
    };
    vault.erase_scope_blocking(subject, &request).unwrap();
    errors.push(
        vault
            .erase_scope_blocking(subject, &request)
            .unwrap_err()
            .to_string(),
    );
    errors.push(
        vault
            .append_blocking(VaultEvent::sealed(
                Event::new("ticket.note_added", "svc:helpdesk")
                    .with_scope(subject)
                    .with_payload(secret_text.clone().into_bytes()),
            ))
            .unwrap_err()
            .to_string(),
    );
    ledger.verify().unwrap();
    drop(vault);
    drop(ledger);

    let logged = buffer.lock().unwrap().clone();
    assert!(
        contains(&logged, subject.to_string().as_bytes()),
        "the capture works: the subject pseudonym is logged"
    );
    let needles: Vec<Vec<u8>> = vec![
        email.as_bytes().to_vec(),
        email.to_lowercase().into_bytes(),
        secret_text.as_bytes().to_vec(),
        hex::encode(dek.as_ref()).into_bytes(),
        dek.to_vec(),
    ];
    for needle in &needles {
        assert!(
            !contains(&logged, needle),
            "personal data or a key was logged"
        );
        for e in &errors {
            assert!(
                !contains(e.as_bytes(), needle),
                "an error message leaks: {e}"
            );
        }
    }
}
