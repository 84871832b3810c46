//! Every way a payload can fail to open is a typed error.

use std::os::unix::fs::PermissionsExt;

use ledger_core::{Event, KeyRef, ScopeId};
use ledger_vault::VaultEvent;
use ledger_vault::{
    CreateScopeError, EraseError, ErasureRequest, KekError, KekSource, OpenPayloadError, SealError,
    Vault, VaultOpenError, VaultOptions,
};
use proptest::prelude::*;

use crate::support::{open, open_ledger, request, sealed};

#[test]
fn tampered_moved_and_wrong_version_payloads_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open(tmp.path(), None);
    let a = vault.create_scope(None).unwrap();
    let b = vault.create_scope(None).unwrap();
    let ra = vault
        .append_blocking(VaultEvent::sealed(sealed(a, b"alpha secret")))
        .unwrap();
    let rb = vault
        .append_blocking(VaultEvent::sealed(sealed(b, b"beta secret")))
        .unwrap();
    let good = vault.ledger().get(ra.seq).unwrap();
    let b_key = vault.ledger().get(rb.seq).unwrap().record.key_ref.unwrap();
    assert_eq!(
        vault.open_payload(&good).unwrap().plain().unwrap(),
        b"alpha secret"
    );
    // Stored ciphertext holds no plaintext.
    assert!(!crate::support::contains(&good.record.payload, b"alpha"));

    let mut tampered = good.clone();
    let last = tampered.record.payload.len() - 1;
    tampered.record.payload[last] ^= 1;
    assert!(matches!(
        vault.open_payload(&tampered),
        Err(OpenPayloadError::Tampered { seq, subject }) if seq == ra.seq && subject == a
    ));
    // Byte 5 starts the nonce (no metadata here).
    let mut nonce = good.clone();
    nonce.record.payload[5 + 3] ^= 0x80;
    assert!(matches!(
        vault.open_payload(&nonce),
        Err(OpenPayloadError::Tampered { .. })
    ));
    // Bytes 1..5 are the metadata length: a declared metadata section
    // beyond the limit or the payload is refused before any decryption.
    let mut length = good.clone();
    length.record.payload[3] ^= 0x80;
    assert!(matches!(
        vault.open_payload(&length),
        Err(OpenPayloadError::Metadata {
            source: ledger_vault::AuditMetadataError::TooLarge { .. },
            ..
        })
    ));
    let mut length = good.clone();
    length.record.payload[1] = 200;
    assert!(matches!(
        vault.open_payload(&length),
        Err(OpenPayloadError::Truncated { .. })
    ));
    length.record.payload[1] = 1;
    assert!(matches!(
        vault.open_payload(&length),
        Err(OpenPayloadError::Metadata { .. } | OpenPayloadError::Tampered { .. })
    ));

    // Moved to subject b, still naming a's key: the key does not match b's.
    let mut moved = good.clone();
    moved.record.subject = Some(b);
    assert!(matches!(
        vault.open_payload(&moved),
        Err(OpenPayloadError::WrongKey { subject, .. }) if subject == b
    ));
    // Moved to b and relabelled with b's key: the associated data does not match.
    moved.record.key_ref = Some(b_key);
    assert!(matches!(
        vault.open_payload(&moved),
        Err(OpenPayloadError::Tampered { subject, .. }) if subject == b
    ));

    let mut version = good.clone();
    let key = version.record.key_ref.unwrap();
    version.record.key_ref = Some(KeyRef {
        version: key.version + 1,
        ..key
    });
    assert!(matches!(
        vault.open_payload(&version),
        Err(OpenPayloadError::WrongKey { record, stored, .. })
            if record.version == 2 && stored.version == 1
    ));

    let mut format = good.clone();
    format.record.payload[0] = 9;
    assert!(matches!(
        vault.open_payload(&format),
        Err(OpenPayloadError::UnknownFormat { format: 9, .. })
    ));
    let mut short = good.clone();
    short.record.payload.truncate(20);
    assert!(matches!(
        vault.open_payload(&short),
        Err(OpenPayloadError::Truncated { len: 20, .. })
    ));
    let mut orphan = good.clone();
    orphan.record.subject = None;
    assert!(matches!(
        vault.open_payload(&orphan),
        Err(OpenPayloadError::MissingScope { .. })
    ));
    let mut unknown = good;
    unknown.record.subject = Some(ScopeId::random());
    assert!(matches!(
        vault.open_payload(&unknown),
        Err(OpenPayloadError::UnknownKey { .. })
    ));
    // The error text names seqs and subjects, never payloads.
    let text = vault.open_payload(&tampered).unwrap_err().to_string();
    assert!(!text.contains("alpha"));
}

#[test]
fn refusals_are_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open(tmp.path(), None);
    let s = vault.create_scope(Some("Dup@Example.test")).unwrap();
    assert!(matches!(
        vault.create_scope(Some(" dup@example.TEST ")),
        Err(CreateScopeError::EmailAlreadyIndexed { subject }) if subject == s
    ));
    // The refusal names no subject: callers decide who may learn it.
    let refused = vault.create_scope(Some("dup@example.test")).unwrap_err();
    assert!(!refused.to_string().contains(&s.to_string()), "{refused}");
    // Not addresses: refused, typed, with the position and without the text.
    for bad in ["", "  ", "not-an-email", "@example.test", "secretname@"] {
        let e = vault.create_scope(Some(bad)).unwrap_err();
        assert!(
            matches!(e, CreateScopeError::InvalidEmail { index: 0, .. }),
            "{bad:?}: {e}"
        );
        assert!(!e.to_string().contains("secretname"), "{e}");
    }
    assert!(matches!(
        vault.create_scopes(&[Some("ok@example.test"), Some("nope")]),
        Err(CreateScopeError::InvalidEmail { index: 1, .. })
    ));
    // Nothing of the refused batch was created.
    assert!(vault.create_scope(Some("ok@example.test")).is_ok());
    assert!(matches!(
        vault.create_scopes(&[Some("one@example.test"), Some("ONE@example.test")]),
        Err(CreateScopeError::EmailRepeatedInBatch {
            first: 0,
            second: 1
        })
    ));
    assert_eq!(vault.find_by_email("one@example.test").unwrap(), None);
    assert!(matches!(
        vault.append_blocking(VaultEvent::sealed(
            Event::new("x", "y").with_payload(b"p".to_vec())
        )),
        Err(SealError::MissingScope)
    ));
    assert!(matches!(
        vault.append_blocking(VaultEvent::sealed(sealed(s, b"p").with_key_ref(KeyRef {
            key_id: [0; 16],
            version: 1
        }))),
        Err(SealError::KeyRefGiven)
    ));
    assert!(matches!(
        vault.append_blocking(VaultEvent::sealed(sealed(ScopeId::random(), b"p"))),
        Err(SealError::UnknownScope { .. })
    ));
    assert!(matches!(
        vault.erase_scope_blocking(ScopeId::random(), &request(1)),
        Err(EraseError::UnknownScope { .. })
    ));
    let bad = ErasureRequest {
        reason: "requested by jane doe".into(),
        ..request(1)
    };
    assert!(matches!(
        vault.erase_scope_blocking(s, &bad),
        Err(EraseError::InvalidRequest { field: "reason" })
    ));
    drop(vault);

    // A KEK file readable by others is refused at open.
    let key = tmp.path().join("keks/kek-0000000001.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let ledger = open_ledger(&tmp.path().join("ledger"));
    let err = Vault::open(
        ledger,
        VaultOptions {
            kek_source: KekSource::Dir(tmp.path().join("keks")),
            ..VaultOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            VaultOpenError::Kek(KekError::Permissions { mode: 0o640, .. })
        ),
        "{err:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn sealed_append_round_trips_arbitrary_payloads(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..4096), 1..4)
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let vault = open(tmp.path(), None);
        let s = vault.create_scope(None).unwrap();
        for p in &payloads {
            let r = vault.append_blocking(VaultEvent::sealed(sealed(s, p))).unwrap();
            let (stored, payload) = vault.read(r.seq).unwrap();
            prop_assert_eq!(stored.record.payload.len(), p.len() + ledger_vault::seal::PAYLOAD_OVERHEAD);
            prop_assert_eq!(payload.plain().unwrap(), &p[..]);
        }
    }
}
