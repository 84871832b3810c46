//! After erasure and rotation nothing of the subject is readable anywhere:
//! not in any file of the ledger or key directory, not in a copy taken
//! before the erasure, while the chain verifies and others still decrypt.

use ledger_core::ScopeId;
use ledger_vault::store::{self, WrappedKey};
use ledger_vault::VaultEvent;
use ledger_vault::{
    seal, AuditMetadata, DirKekProvider, ErasureStatus, KekProvider, KekSource, Payload, SealError,
    Vault, VaultOptions, ERASURE_CERTIFIED_EVENT, KEK_ROTATED_EVENT, SCOPE_ERASED_EVENT,
};

use crate::support::{contains, copy_dir, files_under, open_ledger, request, sealed};

fn unique(tag: &str) -> String {
    format!("{tag}{}", ScopeId::random())
}

#[test]
fn erased_subject_leaves_no_readable_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger_dir = tmp.path().join("ledger");
    let kek_dir = tmp.path().join("ledger.kek"); // the default location
    let open = || {
        let ledger = open_ledger(&ledger_dir);
        Vault::open(ledger, VaultOptions::default()).unwrap()
    };
    let vault = open();
    assert!(kek_dir.join("kek-0000000001.key").exists());

    let email = format!("{}@example.test", unique("Shred.Me."));
    let name = unique("Name-");
    let street = unique("Street-");
    let ticket = unique("Ticket text about a broken license ");
    let target = vault.create_scope(Some(&email)).unwrap();
    let other_email = format!("{}@example.test", unique("keep."));
    let other = vault.create_scope(Some(&other_email)).unwrap();
    let plaintexts = [
        format!("{{\"name\":\"{name}\",\"email\":\"{email}\"}}"),
        format!("{{\"address\":\"{street}\"}}"),
        ticket.clone(),
        format!("phone +31 6 {name}"),
    ];
    // Audit metadata: codes, not personal data, kept in clear on purpose.
    let metadata = AuditMetadata::new()
        .with_purpose("support")
        .with_lawful_basis("art6-1b")
        .with_actor_role("role:agent")
        .with_extra("case-type", "licence-issue");
    let codes: [&str; 4] = ["support", "art6-1b", "role:agent", "licence-issue"];
    for p in &plaintexts {
        vault
            .append_blocking(VaultEvent::sealed_with(
                sealed(target, p.as_bytes()),
                metadata.clone(),
            ))
            .unwrap();
        vault
            .append_blocking(VaultEvent::sealed(sealed(
                other,
                format!("other {p}").as_bytes(),
            )))
            .unwrap();
    }
    assert_eq!(
        vault.find_by_email(&email.to_uppercase()).unwrap(),
        Some(target)
    );
    let dek = vault.dek_bytes_for_tests(&target).unwrap();
    let seqs = vault.ledger().scope_seqs(&target).unwrap();
    assert_eq!(seqs.len(), plaintexts.len());
    for (seq, p) in seqs.iter().zip(&plaintexts) {
        let (_, payload) = vault.read(*seq).unwrap();
        assert_eq!(payload.plain().unwrap(), p.as_bytes());
    }

    // A backup of the ledger directory taken before the erasure.
    let backup = tmp.path().join("backup");
    copy_dir(&ledger_dir, &backup);

    let receipt = vault.erase_scope_blocking(target, &request(1)).unwrap();
    assert!(
        matches!(receipt.status, ErasureStatus::Complete { .. }),
        "{receipt:?}"
    );
    let rotation = receipt.rotation.clone().unwrap();
    assert_eq!(rotation.destroyed, vec![1]);
    assert_eq!(rotation.certificates.len(), 1);
    assert_eq!(vault.find_by_email(&email).unwrap(), None);
    assert_eq!(vault.find_by_email(&other_email).unwrap(), Some(other));
    drop(vault);

    // No file anywhere holds a plaintext, the email (any case), or the DEK.
    let mut needles: Vec<Vec<u8>> = plaintexts.iter().map(|p| p.as_bytes().to_vec()).collect();
    for s in [&email, &email.to_lowercase(), &name, &street, &ticket] {
        needles.push(s.as_bytes().to_vec());
    }
    needles.push(dek.to_vec());
    // The metadata codes are not personal data and are not searched for:
    // no needle is, or contains, one of them.
    for code in codes {
        assert!(
            !needles.iter().any(|n| contains(n, code.as_bytes())),
            "metadata code {code} must not be a plaintext needle"
        );
    }
    let mut files = files_under(&ledger_dir);
    files.extend(files_under(&kek_dir));
    let mut subject_id_seen = false;
    let mut metadata_seen = false;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle),
                "{} holds plaintext or key bytes of the erased subject",
                file.display()
            );
        }
        subject_id_seen |= contains(&bytes, target.as_bytes());
        metadata_seen |= contains(&bytes, br#""lawful_basis":"art6-1b""#);
    }
    // Control: the scan does see what is stored in clear (the pseudonym and
    // the audit metadata).
    assert!(subject_id_seen, "scanner found not even the subject id");
    assert!(
        metadata_seen,
        "scanner found not even the clear audit metadata"
    );

    // The pre-erasure backup holds the wrapped DEK, but no current KEK opens it.
    {
        let copy = open_ledger(&backup);
        let stale = store::wrapped_dek(copy.storage().as_ref(), &target)
            .unwrap()
            .expect("the backup still has the wrapped DEK");
        let provider = DirKekProvider::open(&kek_dir).unwrap();
        assert!(provider.load(stale.kek_version).is_err());
        for v in provider.versions().unwrap() {
            let kek = provider.load(v).unwrap();
            for ad_version in [stale.kek_version, v] {
                let ad = seal::dek_wrap_ad(&copy.ledger_id(), &target, &stale.key_ref, ad_version);
                assert!(seal::unwrap(&kek.key, &ad, &stale.wrapped).is_err());
            }
        }
        let raw = copy
            .storage()
            .get(store::KEYS, target.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(WrappedKey::decode(&raw).unwrap(), stale);
        // Opening a vault on the backup with today's keys fails outright.
        let opened = Vault::open(
            copy,
            VaultOptions {
                kek_source: KekSource::Dir(kek_dir.clone()),
                rotate_after_erasure: None,
                ..VaultOptions::default()
            },
        );
        assert!(opened.is_err());
    }

    // Reopened: the chain verifies, the erased subject reads as Erased, the other decrypts.
    let vault = open();
    vault.ledger().verify().unwrap();
    for seq in vault.ledger().scope_seqs(&target).unwrap() {
        let (stored, payload) = vault.read(seq).unwrap();
        match stored.record.event_type.as_str() {
            SCOPE_ERASED_EVENT | ERASURE_CERTIFIED_EVENT => {
                assert!(matches!(payload, Payload::Clear(_)))
            }
            _ => {
                assert!(payload.is_erased(), "seq {seq}: {payload:?}");
                // Erased, yet its audit metadata reads, with or without keys.
                assert_eq!(payload.audit_metadata(), Some(&metadata));
                assert_eq!(
                    seal::audit_metadata(&stored.record.payload).unwrap(),
                    Some(metadata.clone())
                );
            }
        }
    }
    for (seq, p) in vault
        .ledger()
        .scope_seqs(&other)
        .unwrap()
        .iter()
        .zip(&plaintexts)
    {
        let (_, payload) = vault.read(*seq).unwrap();
        assert_eq!(payload.plain().unwrap(), format!("other {p}").as_bytes());
    }
    // Fenced forever; erasing again changes nothing.
    assert!(matches!(
        vault.append_blocking(VaultEvent::sealed(sealed(target, b"again"))),
        Err(SealError::ScopeErased { .. })
    ));
    let len = vault.ledger().len();
    assert!(matches!(
        vault.erase_scope_blocking(target, &request(2)),
        Err(ledger_vault::EraseError::AlreadyErased { .. })
    ));
    assert_eq!(vault.ledger().len(), len);

    // The certificate is stored and its hash is in the log.
    let certs = vault.certificates().unwrap();
    assert_eq!(certs.len(), 1);
    let (subject, bytes) = &certs[0];
    assert_eq!(*subject, target);
    let cert = vault.certificate(&target).unwrap().unwrap();
    assert_eq!(cert.method, "cryptographic erase");
    assert_eq!(cert.kek_version_destroyed, 1);
    assert_eq!(cert.kek_versions_destroyed_by_rotation, vec![1]);
    assert_eq!(cert.verification.remaining_kek_versions, vec![2]);
    assert!(!cert.verification.live_key_present);
    assert_eq!(cert.verification.result, "undecryptable");
    assert_eq!(cert.request_ref, "DSR-2026-0001");
    let hash = hex::encode(blake3::hash(bytes).as_bytes());
    let types: Vec<(String, Vec<u8>)> = vault
        .ledger()
        .range(0..vault.ledger().len())
        .map(|r| {
            let r = r.unwrap();
            (r.record.event_type, r.record.payload)
        })
        .collect();
    assert!(types
        .iter()
        .any(|(t, p)| t == ERASURE_CERTIFIED_EVENT && contains(p, hash.as_bytes())));
    assert_eq!(
        types.iter().filter(|(t, _)| t == KEK_ROTATED_EVENT).count(),
        1
    );
    assert_eq!(
        types
            .iter()
            .filter(|(t, _)| t == SCOPE_ERASED_EVENT)
            .count(),
        1
    );
    assert!(matches!(
        vault.erasure_status(&target).unwrap(),
        ErasureStatus::Complete { .. }
    ));
}
