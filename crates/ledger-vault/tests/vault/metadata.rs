//! Clear audit metadata: bound to its ciphertext, protected by the chain,
//! refused when it is not made of codes, and readable without any key,
//! also after the subject's erasure.

use ledger_core::storage::WriteBatch;
use ledger_core::{layout, Ledger, OpenError, ScopeId, Violation};
use ledger_vault::seal::{self, PAYLOAD_OVERHEAD};
use ledger_vault::VaultEvent;
use ledger_vault::{
    AuditMetadata, AuditMetadataError, ErasureStatus, OpenPayloadError, Payload, SealError,
};
use proptest::prelude::*;

use crate::support::{contains, ledger_options, open, open_ledger, request, sealed};

fn support() -> AuditMetadata {
    AuditMetadata::new()
        .with_purpose("support")
        .with_lawful_basis("art6-1b")
        .with_actor_role("role:agent")
}

fn billing() -> AuditMetadata {
    AuditMetadata::new()
        .with_purpose("billing")
        .with_lawful_basis("art6-1c")
        .with_recipient("processor:payments")
        .with_extra("retention", "p10y")
}

/// Replaces the first `from` in `bytes` by `to` (same length).
fn replace(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    bytes[at..at + to.len()].copy_from_slice(to);
}

#[test]
fn metadata_is_bound_to_its_ciphertext_and_chained() {
    let tmp = tempfile::tempdir().unwrap();
    // A sled ledger, whose records can be rewritten key by key below.
    let options = ledger_core::LedgerOptions {
        engine: ledger_core::Engine::Sled,
        ..ledger_options()
    };
    drop(Ledger::open(tmp.path().join("ledger"), options).unwrap());
    let vault = open(tmp.path(), None);
    let s = vault.create_scope(None).unwrap();
    let r1 = vault
        .append_blocking(VaultEvent::sealed_with(sealed(s, b"ticket one"), support()))
        .unwrap();
    let r2 = vault
        .append_blocking(VaultEvent::sealed_with(
            sealed(s, b"invoice two"),
            billing(),
        ))
        .unwrap();
    let r3 = vault
        .append_blocking(VaultEvent::sealed(sealed(s, b"bare")))
        .unwrap();

    let (stored1, payload) = vault.read(r1.seq).unwrap();
    assert_eq!(payload.plain().unwrap(), b"ticket one");
    assert_eq!(payload.audit_metadata(), Some(&support()));
    assert!(matches!(&payload, Payload::Plain { metadata: Some(m), .. } if *m == support()));
    let debug = format!("{payload:?}");
    assert!(
        debug.contains("art6-1b") && !debug.contains("ticket"),
        "{debug}"
    );
    let (stored2, payload) = vault.read(r2.seq).unwrap();
    assert_eq!(payload.audit_metadata(), Some(&billing()));
    let (stored3, payload) = vault.read(r3.seq).unwrap();
    assert_eq!(payload.plain().unwrap(), b"bare");
    assert_eq!(payload.audit_metadata(), None);
    assert_eq!(stored3.record.payload.len(), 4 + PAYLOAD_OVERHEAD);
    // The metadata is in clear in the record; the plaintext is not.
    let p1 = &stored1.record.payload;
    assert!(contains(p1, br#""purpose":"support""#));
    assert!(!contains(p1, b"ticket"));
    assert_eq!(seal::audit_metadata(p1).unwrap(), Some(support()));

    // Altered metadata (still valid, canonical codes) fails authentication.
    let mut altered = stored1.clone();
    replace(&mut altered.record.payload, b"art6-1b", b"art6-1a");
    assert_eq!(
        seal::audit_metadata(&altered.record.payload)
            .unwrap()
            .unwrap()
            .lawful_basis
            .as_deref(),
        Some("art6-1a")
    );
    assert!(matches!(
        vault.open_payload(&altered),
        Err(OpenPayloadError::Tampered { seq, subject }) if seq == r1.seq && subject == s
    ));
    // Metadata of record 2 spliced onto the ciphertext of record 1.
    let meta2_len = stored2.record.payload.len() - PAYLOAD_OVERHEAD - b"invoice two".len();
    let meta1_len = p1.len() - PAYLOAD_OVERHEAD - b"ticket one".len();
    let mut spliced = stored1.clone();
    spliced.record.payload = stored2.record.payload[..5 + meta2_len].to_vec();
    spliced
        .record
        .payload
        .extend_from_slice(&p1[5 + meta1_len..]);
    assert!(matches!(
        vault.open_payload(&spliced),
        Err(OpenPayloadError::Tampered { .. })
    ));
    // Metadata stripped (length set to zero, section removed).
    let mut stripped = stored1.clone();
    stripped.record.payload = [&[2u8, 0, 0, 0, 0][..], &p1[5 + meta1_len..]].concat();
    assert!(matches!(
        vault.open_payload(&stripped),
        Err(OpenPayloadError::Tampered { .. })
    ));
    // Metadata damaged beyond decoding is a typed error, for readers with
    // keys and without.
    let mut broken = stored1.clone();
    replace(&mut broken.record.payload, b"{\"purpose", b"[\"purpose");
    assert!(matches!(
        vault.open_payload(&broken),
        Err(OpenPayloadError::Metadata {
            source: AuditMetadataError::NotJson { .. },
            ..
        })
    ));
    assert!(matches!(
        seal::audit_metadata(&broken.record.payload),
        Err(AuditMetadataError::NotJson { .. })
    ));
    drop(vault);

    // The same alteration in the store: the chain catches it without keys.
    let ledger = open_ledger(&tmp.path().join("ledger"));
    ledger.verify().unwrap();
    let storage = std::sync::Arc::clone(ledger.storage());
    let key = layout::record_key(r1.seq);
    let mut value = storage.get(layout::RECORDS, &key).unwrap().unwrap();
    replace(&mut value, b"art6-1b", b"art6-1a");
    let mut batch = WriteBatch::new();
    batch.put(layout::RECORDS, key.to_vec(), value);
    storage.write(batch).unwrap();
    storage.sync().unwrap();
    drop(storage);
    drop(ledger);
    // Opening verifies the unsigned tail and refuses to append after it.
    match Ledger::open(tmp.path().join("ledger"), ledger_options()) {
        Err(OpenError::Damaged { seq, violation }) => {
            assert_eq!(seq, r1.seq);
            assert!(
                matches!(violation, Violation::HashMismatch { .. }),
                "{violation:?}"
            );
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(ledger) => assert!(ledger.verify().is_err(), "altered metadata went unnoticed"),
    }
}

#[test]
fn metadata_that_is_not_made_of_codes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open(tmp.path(), None);
    let s = vault.create_scope(None).unwrap();
    let before = vault.ledger().len();
    let cases = [
        (
            AuditMetadata::new().with_recipient("Jane Doe\n1 Main Street"),
            AuditMetadataError::NotACode { field: "recipient" },
        ),
        (
            AuditMetadata::new().with_purpose(""),
            AuditMetadataError::NotACode { field: "purpose" },
        ),
        (
            AuditMetadata::new().with_actor_role("é"),
            AuditMetadataError::NotACode {
                field: "actor_role",
            },
        ),
        (
            AuditMetadata::new().with_lawful_basis("x".repeat(129)),
            AuditMetadataError::NotACode {
                field: "lawful_basis",
            },
        ),
        (
            AuditMetadata::new().with_extra("note", "line\tbreak"),
            AuditMetadataError::NotACodeInExtra {
                index: 0,
                part: "value",
            },
        ),
        (
            (0..33).fold(AuditMetadata::new(), |m, i| {
                m.with_extra(format!("k{i:02}"), "v")
            }),
            AuditMetadataError::TooManyEntries { count: 33, max: 32 },
        ),
    ];
    for (metadata, want) in cases {
        let err = vault
            .append_blocking(VaultEvent::sealed_with(
                sealed(s, b"secret"),
                metadata.clone(),
            ))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, SealError::Metadata(e) if *e == want),
            "{err:?}"
        );
        assert!(!text.contains("Jane") && !text.contains("secret"), "{text}");
    }
    // Refused before the subject is even looked at.
    assert!(matches!(
        vault.append_blocking(VaultEvent::sealed_with(
            sealed(ScopeId::random(), b"p"),
            AuditMetadata::new().with_purpose("a\u{7f}")
        )),
        Err(SealError::Metadata(_))
    ));
    assert_eq!(
        vault.ledger().len(),
        before,
        "a refused append wrote something"
    );
    // The async form refuses the same way.
    let err = futures_executor::block_on(vault.append(VaultEvent::sealed_with(
        sealed(s, b"p"),
        AuditMetadata::new().with_purpose(""),
    )))
    .unwrap_err();
    assert!(matches!(
        err,
        SealError::Metadata(AuditMetadataError::NotACode { .. })
    ));
}

#[test]
fn metadata_stays_readable_after_erasure_without_any_key() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open(tmp.path(), Some(std::time::Duration::ZERO));
    let target = vault.create_scope(Some("gone@example.test")).unwrap();
    let other = vault.create_scope(None).unwrap();
    let metas = [support(), billing(), AuditMetadata::new()];
    for (i, m) in metas.iter().enumerate() {
        vault
            .append_blocking(VaultEvent::sealed_with(
                sealed(target, format!("private {i}").as_bytes()),
                m.clone(),
            ))
            .unwrap();
        vault
            .append_blocking(VaultEvent::sealed_with(sealed(other, b"kept"), m.clone()))
            .unwrap();
    }
    let seqs = vault.ledger().scope_seqs(&target).unwrap();
    let receipt = vault.erase_scope_blocking(target, &request(7)).unwrap();
    assert!(matches!(receipt.status, ErasureStatus::Complete { .. }));

    for (seq, m) in seqs.iter().zip(&metas) {
        let (_, payload) = vault.read(*seq).unwrap();
        assert!(payload.is_erased(), "{payload:?}");
        assert_eq!(payload.plain(), None);
        let expected = (!m.is_empty()).then_some(m);
        assert_eq!(payload.audit_metadata(), expected, "seq {seq}");
        assert!(matches!(
            &payload,
            Payload::Erased { subject, metadata, .. } if *subject == target && metadata.as_ref() == expected
        ));
    }
    drop(vault);

    // No vault and no key directory at all: the metadata is still there.
    std::fs::remove_dir_all(tmp.path().join("keks")).unwrap();
    let ledger = open_ledger(&tmp.path().join("ledger"));
    ledger.verify().unwrap();
    let mut read = Vec::new();
    for seq in ledger.scope_seqs(&target).unwrap() {
        let record = ledger.get(seq).unwrap().record;
        if record.key_ref.is_some() {
            read.push(
                seal::audit_metadata(&record.payload)
                    .unwrap()
                    .unwrap_or_default(),
            );
        }
    }
    assert_eq!(read, metas);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn sealed_append_with_metadata_round_trips(
        items in proptest::collection::vec((
            proptest::collection::vec(any::<u8>(), 0..2048),
            proptest::option::of("[ -~]{1,128}"),
            proptest::option::of("[a-z0-9:-]{1,16}"),
            proptest::collection::btree_map("[!-~]{1,32}", "[ -~]{1,64}", 0..4),
        ), 1..4)
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let vault = open(tmp.path(), None);
        let s = vault.create_scope(None).unwrap();
        for (payload, purpose, basis, extra) in &items {
            let metadata = AuditMetadata {
                purpose: purpose.clone(),
                lawful_basis: basis.clone(),
                extra: extra.clone(),
                ..AuditMetadata::default()
            };
            let r = vault
                .append_blocking(VaultEvent::sealed_with(sealed(s, payload), metadata.clone()))
                .unwrap();
            let (stored, opened) = vault.read(r.seq).unwrap();
            let encoded = metadata.encode().unwrap();
            prop_assert_eq!(
                stored.record.payload.len(),
                payload.len() + encoded.len() + PAYLOAD_OVERHEAD
            );
            prop_assert_eq!(opened.plain().unwrap(), &payload[..]);
            let expected = (!metadata.is_empty()).then_some(&metadata);
            prop_assert_eq!(opened.audit_metadata(), expected);
            let keyless = seal::audit_metadata(&stored.record.payload).unwrap();
            prop_assert_eq!(keyless.as_ref(), expected);
        }
    }
}
