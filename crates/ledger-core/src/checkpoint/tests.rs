#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;
use sha2::Digest as _;

// ---- Known-answer vectors from docs/tools/checkpoint_vectors.py (Python
// `cryptography`, independent of this code). ----

const NAME: &str = "example.com/ledger";
const KAT_VKEY: &str = "example.com/ledger+23b760d3+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk";
const KAT_SKEY: &str =
    "PRIVATE+KEY+example.com/ledger+23b760d3+AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g";
const KAT_PUBLIC_HEX: &str = "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
const KAT_NOTE: &str = "example.com/ledger\n42\nQEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=\n\n\u{2014} example.com/ledger I7dg0xwF61+lo0C2opT6EYypSVWT/uEmCmlIgmXyF2tcNwRI47BqCCoYuU9JMNGQJrK/GHmTLY9Un6MKxffXUWqbegY=\n";
const KAT_NOTE_EXT: &str = "example.com/ledger\n42\nQEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=\next: hello world\n\n\u{2014} example.com/ledger I7dg0/6rTLPcOLRK+IzCfmacr6mmpuWQU89APk4e4tKD9ckq2GYEZpzqwz5Y/6g+F+uiSZ8Doz1fNHk4XiffafYOOAM=\n";
const WITNESS: &str = "witness.example/w1";
const KAT_WITNESS_VKEY: &str =
    "witness.example/w1+7bede9df+BOfxYqEL7FWa/qGV5NzoS2lWjV0ssJY+tEbAaF4rF/Lw";
const KAT_WITNESS_SKEY: &str =
    "PRIVATE+KEY+witness.example/w1+7bede9df+BCEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9A";
const KAT_COSIG_TIME: u64 = 1_700_000_000;
const KAT_COSIG_LINE: &str = "\u{2014} witness.example/w1 e+3p3wAAAABlU/EAlEDteLzM1JKVxbC1x7AeQsTFJVZcZxomO/dbWTVXybdjE2qril3YbMP6fkBUUf+y8DHBHttcIBKrzzRqw/knAw==\n";

fn seed(start: u8) -> [u8; 32] {
    core::array::from_fn(|i| start + i as u8)
}

fn kat_signer() -> CheckpointSigner {
    CheckpointSigner::from_seed(NAME, &seed(0x01)).unwrap()
}

fn kat_witness() -> CosignerKey {
    CosignerKey::from_seed(WITNESS, &seed(0x21)).unwrap()
}

fn kat_checkpoint() -> Checkpoint {
    Checkpoint::new(NAME, 42, core::array::from_fn(|i| 0x40 + i as u8))
}

#[test]
fn checkpoint_kat_keys() {
    let signer = kat_signer();
    assert_eq!(signer.vkey(), KAT_VKEY);
    assert_eq!(signer.key_id().to_string(), "23b760d3");
    assert_eq!(signer.key_id().to_u32(), 0x23b7_60d3);
    assert_eq!(hex::encode(signer.verifier().public_key()), KAT_PUBLIC_HEX);
    assert_eq!(signer.secret_key().as_str(), KAT_SKEY);
    let parsed = VerifierKey::parse(KAT_VKEY).unwrap();
    assert_eq!(parsed, signer.verifier());
    assert_eq!(parsed.to_string(), KAT_VKEY);
    assert_eq!(parsed.key_type(), KeyType::Ed25519);
    assert_eq!(
        KeyId::compute(NAME, KeyType::Ed25519, &parsed.public_key()),
        signer.key_id()
    );
    let reloaded = CheckpointSigner::from_secret_key(KAT_SKEY).unwrap();
    assert_eq!(reloaded.vkey(), KAT_VKEY);

    let witness = kat_witness();
    assert_eq!(witness.vkey(), KAT_WITNESS_VKEY);
    assert_eq!(witness.secret_key().as_str(), KAT_WITNESS_SKEY);
    let wv: VerifierKey = KAT_WITNESS_VKEY.parse().unwrap();
    assert_eq!(wv.key_type(), KeyType::CosignatureV1);
    assert_eq!(wv, witness.verifier());
}

#[test]
fn checkpoint_kat_signed_note() {
    let signer = kat_signer();
    let cp = kat_checkpoint();
    assert_eq!(
        cp.body(),
        "example.com/ledger\n42\nQEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=\n"
    );
    assert_eq!(signer.sign(&cp).unwrap(), KAT_NOTE);
    let vkey = VerifierKey::parse(KAT_VKEY).unwrap();
    assert_eq!(open(KAT_NOTE, &vkey).unwrap(), cp);

    let mut ext = cp.clone();
    ext.extensions.push("ext: hello world".into());
    assert_eq!(signer.sign(&ext).unwrap(), KAT_NOTE_EXT);
    assert_eq!(open(KAT_NOTE_EXT.as_bytes(), &vkey).unwrap(), ext);
}

#[test]
fn checkpoint_kat_cosignature() {
    let witness = kat_witness();
    let cp = kat_checkpoint();
    let line = witness.cosign(&cp, KAT_COSIG_TIME).unwrap();
    assert_eq!(line, KAT_COSIG_LINE);
    assert_eq!(witness.cosign_note(KAT_NOTE, KAT_COSIG_TIME).unwrap(), line);
    assert_eq!(
        witness.cosign_note(&cp.body(), KAT_COSIG_TIME).unwrap(),
        line
    );
    let note = append_signature(KAT_NOTE, &line).unwrap();
    assert_eq!(note, format!("{KAT_NOTE}{KAT_COSIG_LINE}"));
    let wv = VerifierKey::parse(KAT_WITNESS_VKEY).unwrap();
    let got = verify_cosignature(&note, &wv).unwrap();
    assert_eq!(got.checkpoint, cp);
    assert_eq!(got.timestamp, KAT_COSIG_TIME);
    // The log signature still verifies with the cosignature present.
    assert_eq!(open(&note, &kat_signer().verifier()).unwrap(), cp);
}

// ---- Round trips and rejections. ----

#[test]
fn checkpoint_sign_open_round_trip() {
    let signer = CheckpointSigner::generate("log.example/a").unwrap();
    let mut cp = Checkpoint::new("log.example/a", 0, [7; 32]);
    cp.extensions = vec!["x".into(), "\u{00e9}t\u{00e9} + spaces ok".into()];
    let note = signer.sign(&cp).unwrap();
    assert_eq!(open(&note, &signer.verifier()).unwrap(), cp);
    let vk = VerifierKey::parse(&signer.vkey()).unwrap();
    assert_eq!(open(&note, &vk).unwrap(), cp);
}

#[test]
fn checkpoint_open_wrong_key_fails() {
    let signer = kat_signer();
    let note = signer.sign(&kat_checkpoint()).unwrap();
    // Same name, other key: its key id differs, so no matching line.
    let other = CheckpointSigner::generate(NAME).unwrap();
    assert!(matches!(
        open(&note, &other.verifier()),
        Err(CheckpointError::NoSignatureFromKey { .. })
    ));
    let other_name = CheckpointSigner::from_seed("other.example", &seed(0x01)).unwrap();
    assert!(matches!(
        open(&note, &other_name.verifier()),
        Err(CheckpointError::NoSignatureFromKey { .. })
    ));
    // A cosigner key is the wrong type for `open`, and vice versa.
    assert!(matches!(
        open(&note, &kat_witness().verifier()),
        Err(CheckpointError::WrongKeyType { .. })
    ));
    assert!(matches!(
        verify_cosignature(&note, &signer.verifier()),
        Err(CheckpointError::WrongKeyType { .. })
    ));
}

/// Every single-bit change (two different bits) anywhere in the note must
/// make `open` fail: body, blank line, dash, name, base64, final newline.
#[test]
fn checkpoint_any_flipped_byte_fails() {
    let vk = kat_signer().verifier();
    let note = KAT_NOTE.as_bytes();
    assert!(open(note, &vk).is_ok());
    for i in 0..note.len() {
        for bit in [0x01u8, 0x20] {
            let mut bad = note.to_vec();
            bad[i] ^= bit;
            assert!(
                open(&bad, &vk).is_err(),
                "flip {bit:#x} at byte {i} accepted"
            );
        }
    }
}

#[test]
fn checkpoint_any_flipped_cosignature_byte_fails() {
    let wv = kat_witness().verifier();
    let note = format!("{KAT_NOTE}{KAT_COSIG_LINE}");
    assert!(verify_cosignature(&note, &wv).is_ok());
    let bytes = note.as_bytes();
    // The body plus blank line, and the cosignature line. (The log's own
    // signature line is not covered by the cosignature: `open` checks it.)
    let body_end = KAT_NOTE.find("\n\n").unwrap() + 2;
    let start = KAT_NOTE.len();
    for i in (0..body_end).chain(start..bytes.len()) {
        let mut bad = bytes.to_vec();
        bad[i] ^= 0x01;
        assert!(
            verify_cosignature(&bad, &wv).is_err(),
            "flip at byte {i} accepted"
        );
    }
}

#[test]
fn checkpoint_tampered_cosignature_fails() {
    let witness = kat_witness();
    let wv = witness.verifier();
    let cp = kat_checkpoint();
    // Correct signature, other timestamp claimed.
    let line = witness.cosign(&cp, 1000).unwrap();
    let b64 = line.trim_end().rsplit(' ').next().unwrap();
    let mut blob = BASE64.decode(b64).unwrap();
    blob[11] ^= 1; // last timestamp byte
    let forged = format!("\u{2014} {WITNESS} {}\n", BASE64.encode(&blob));
    let note = append_signature(KAT_NOTE, &forged).unwrap();
    assert!(matches!(
        verify_cosignature(&note, &wv),
        Err(CheckpointError::InvalidSignature { line: 6, .. })
    ));
    // Cosignature over a different checkpoint.
    let other = witness
        .cosign(&Checkpoint::new(NAME, 43, cp.root), 1000)
        .unwrap();
    let note = append_signature(KAT_NOTE, &other).unwrap();
    assert!(verify_cosignature(&note, &wv).is_err());
    // Truncated payload.
    blob.truncate(40);
    let short = format!("\u{2014} {WITNESS} {}\n", BASE64.encode(&blob));
    let note = append_signature(KAT_NOTE, &short).unwrap();
    assert!(verify_cosignature(&note, &wv).is_err());
    // A log signature line is not a cosignature, even with the same seed.
    let log_like = CosignerKey::from_seed(NAME, &seed(0x01)).unwrap();
    assert!(verify_cosignature(KAT_NOTE, &log_like.verifier()).is_err());
    // No cosignature at all.
    assert!(matches!(
        verify_cosignature(KAT_NOTE, &wv),
        Err(CheckpointError::NoSignatureFromKey { .. })
    ));
}

#[test]
fn checkpoint_unknown_signature_lines_are_ignored() {
    let vk = kat_signer().verifier();
    let stranger = CheckpointSigner::from_seed("stranger.example", &seed(0x50)).unwrap();
    let stranger_line = stranger
        .sign(&kat_checkpoint())
        .unwrap()
        .split_once("\n\n")
        .unwrap()
        .1
        .to_owned();
    // An unknown key with a garbage (but well-formed) signature.
    let junk = format!("\u{2014} junk.example {}\n", BASE64.encode([9u8; 20]));
    let (body, sig) = KAT_NOTE.split_once("\n\n").unwrap();
    let note = format!("{body}\n\n{stranger_line}{junk}{sig}");
    assert_eq!(open(&note, &vk).unwrap(), kat_checkpoint());
    // Same name and key id as the verifier, bad signature: rejected.
    let mut blob = BASE64
        .decode(sig.trim_end().rsplit(' ').next().unwrap())
        .unwrap();
    blob[10] ^= 1;
    let bad_line = format!("\u{2014} {NAME} {}\n", BASE64.encode(&blob));
    let note = format!("{KAT_NOTE}{bad_line}");
    assert!(matches!(
        open(&note, &vk),
        Err(CheckpointError::InvalidSignature { line: 6, .. })
    ));
    // Same key id and name, wrong length.
    let short = format!("\u{2014} {NAME} {}\n", BASE64.encode(&blob[..40]));
    assert!(open(format!("{KAT_NOTE}{short}"), &vk).is_err());
}

#[test]
fn checkpoint_malformed_notes_rejected() {
    let vk = kat_signer().verifier();
    let (body, sig) = KAT_NOTE.split_once("\n\n").unwrap();
    let sig_b64 = sig.trim_end().rsplit(' ').next().unwrap();
    let cases: Vec<(String, &str)> = vec![
        (format!("{body}\n{sig}"), "no blank line"),
        (KAT_NOTE.trim_end().to_owned(), "no final newline"),
        (format!("{body}\n\n"), "no signature lines"),
        (format!("{KAT_NOTE}\n"), "trailing blank line"),
        (format!("{body}\n\n- {NAME} {sig_b64}\n"), "ascii dash"),
        (
            format!("{body}\n\n\u{2014}{NAME} {sig_b64}\n"),
            "no space after dash",
        ),
        (
            format!("{body}\n\n\u{2014} {NAME}  {sig_b64}\n"),
            "double space",
        ),
        (
            format!("{body}\n\n\u{2014} {NAME} {sig_b64} \n"),
            "trailing space",
        ),
        (
            format!(
                "{body}\n\n\u{2014} {NAME} {}\n",
                &sig_b64[..sig_b64.len() - 1]
            ),
            "bad base64",
        ),
        (
            format!("{body}\n\n\u{2014} {NAME} AAAA\n"),
            "signature too short",
        ),
        (
            format!("{body}\n\n\u{2014} a+b {sig_b64}\n"),
            "plus in name",
        ),
        (format!("{body}\n\n\u{2014} {NAME}\n"), "no signature"),
        (KAT_NOTE.replace('\n', "\r\n"), "CRLF"),
        (KAT_NOTE.replacen("42", "4\t2", 1), "tab"),
        (format!("\n\n{sig}"), "empty text"),
        (KAT_NOTE.replacen("42", "042", 1), "leading zero"),
        (
            KAT_NOTE.replacen("\n42\n", "\n42\n\n", 1),
            "empty body line",
        ),
    ];
    for (note, what) in &cases {
        assert!(open(note, &vk).is_err(), "{what} accepted");
    }
    let mut not_utf8 = KAT_NOTE.as_bytes().to_vec();
    not_utf8[3] = 0xff;
    assert!(matches!(
        open(&not_utf8, &vk),
        Err(CheckpointError::NotUtf8 { line: 1, offset: 3 })
    ));
    // Over-long note, even if it would otherwise be valid.
    let mut big = kat_checkpoint();
    big.extensions.push("x".repeat(MAX_NOTE_SIZE));
    assert!(matches!(
        kat_signer().sign(&big),
        Err(CheckpointError::NoteTooLarge { .. })
    ));
    let huge = format!("{}{KAT_NOTE}", "a".repeat(MAX_NOTE_SIZE));
    assert!(matches!(
        open(&huge, &vk),
        Err(CheckpointError::NoteTooLarge { .. })
    ));
    // Too many signature lines.
    let junk = format!("\u{2014} junk.example {}\n", BASE64.encode([9u8; 20]));
    let many = format!("{KAT_NOTE}{}", junk.repeat(MAX_SIGNATURES));
    assert!(matches!(
        open(&many, &vk),
        Err(CheckpointError::TooManySignatures {
            count: 101,
            max: 100
        })
    ));
    let ok = format!("{KAT_NOTE}{}", junk.repeat(MAX_SIGNATURES - 1));
    assert!(open(&ok, &vk).is_ok());
}

#[test]
fn checkpoint_error_locations() {
    let vk = kat_signer().verifier();
    let err = open(KAT_NOTE.replacen("42", "4x", 1), &vk).unwrap_err();
    assert!(matches!(
        err,
        CheckpointError::MalformedCheckpoint { line: 2, .. }
    ));
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = open(format!("{KAT_NOTE}oops\n"), &vk).unwrap_err();
    assert!(matches!(
        err,
        CheckpointError::MalformedSignatureLine { line: 6, .. }
    ));
    let err = open(KAT_NOTE.replacen("42", "4\r2", 1), &vk).unwrap_err();
    assert!(matches!(
        err,
        CheckpointError::ControlCharacter {
            line: 2,
            code: 0x0d
        }
    ));
    let other = CheckpointSigner::generate(NAME).unwrap();
    let err = open(KAT_NOTE, &other.verifier()).unwrap_err();
    assert!(err.to_string().contains(NAME), "{err}");
}

#[test]
fn checkpoint_parse_body_strict() {
    let root = BASE64.encode([0x11u8; 32]);
    let ok = format!("o\n7\n{root}\na b\nc\n");
    let cp = Checkpoint::parse_body(&ok).unwrap();
    assert_eq!(cp.extensions, vec!["a b".to_owned(), "c".to_owned()]);
    assert_eq!(cp.body(), ok);
    assert_eq!(
        Checkpoint::parse_body(&format!("o\n18446744073709551615\n{root}\n"))
            .unwrap()
            .tree_size,
        u64::MAX
    );
    assert_eq!(
        Checkpoint::parse_body(&format!("o\n0\n{root}\n"))
            .unwrap()
            .tree_size,
        0
    );
    let short_root = BASE64.encode([0x11u8; 31]);
    let long_root = BASE64.encode([0x11u8; 33]);
    let nopad = root.trim_end_matches('=').to_owned();
    // Same value with non-zero trailing bits: non-canonical.
    let noncanon = format!("{}R=", &root[..42]);
    let bad = [
        format!("o\n7\n{root}"),
        "o\n7\n".to_owned(),
        format!("o\n7\n{root}\n\n"),
        format!("\n7\n{root}\n"),
        format!("o\n07\n{root}\n"),
        format!("o\n+7\n{root}\n"),
        format!("o\n-7\n{root}\n"),
        format!("o\n 7\n{root}\n"),
        format!("o\n7 \n{root}\n"),
        format!("o\n\n{root}\n"),
        format!("o\n18446744073709551616\n{root}\n"),
        format!("o\n7\n{short_root}\n"),
        format!("o\n7\n{long_root}\n"),
        format!("o\n7\n{nopad}\n"),
        format!("o\n7\n{noncanon}\n"),
        format!("o\n7\n{}\n", hex::encode([0x11u8; 32])),
        format!("o\r\n7\n{root}\n"),
        format!("o\n7\n{root}\nx\n\n"),
    ];
    for b in &bad {
        assert!(Checkpoint::parse_body(b).is_err(), "{b:?} accepted");
    }
}

#[test]
fn checkpoint_sign_rejects_invalid_checkpoint() {
    let signer = kat_signer();
    for cp in [
        Checkpoint::new("", 1, [0; 32]),
        Checkpoint::new("a\nb", 1, [0; 32]),
        Checkpoint {
            extensions: vec![String::new()],
            ..kat_checkpoint()
        },
        Checkpoint {
            extensions: vec!["a\nb".into()],
            ..kat_checkpoint()
        },
    ] {
        assert!(signer.sign(&cp).is_err(), "{cp:?} signed");
        assert!(kat_witness().cosign(&cp, 1).is_err(), "{cp:?} cosigned");
    }
}

#[test]
fn checkpoint_append_signature() {
    let line = kat_witness().cosign(&kat_checkpoint(), 5).unwrap();
    let once = append_signature(KAT_NOTE, &line).unwrap();
    // Appending the same line twice is a no-op.
    assert_eq!(append_signature(&once, &line).unwrap(), once);
    assert!(append_signature(KAT_NOTE, line.trim_end()).is_err());
    assert!(append_signature(KAT_NOTE, &format!("{line}{line}")).is_err());
    assert!(append_signature(KAT_NOTE, "\u{2014} x AAAA\n").is_err());
    assert!(append_signature(KAT_NOTE, "not a signature\n").is_err());
    assert!(append_signature(KAT_NOTE.trim_end(), &line).is_err());
}

#[test]
fn checkpoint_key_strings() {
    // Name rules.
    for bad in ["", "a b", "a+b", "a\tb", "a\u{a0}b", "a\u{2003}b"] {
        assert!(
            CheckpointSigner::from_seed(bad, &seed(1)).is_err(),
            "{bad:?}"
        );
        assert!(validate_key_name(bad).is_err(), "{bad:?}");
    }
    assert!(validate_key_name("example.com/log\u{2014}\u{e9}").is_ok());
    // Verifier key strings.
    let (name, rest) = KAT_VKEY.split_once('+').unwrap();
    let (_id, b64) = rest.split_once('+').unwrap();
    assert!(matches!(
        VerifierKey::parse(&format!("{name}+00000000+{b64}")),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    assert!(matches!(
        VerifierKey::parse(&format!("other+23b760d3+{b64}")),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    assert!(VerifierKey::parse(&KAT_VKEY.to_uppercase()).is_err());
    assert!(VerifierKey::parse(&format!("{KAT_VKEY}\n")).is_err());
    assert!(VerifierKey::parse(&format!("{KAT_VKEY}=")).is_err());
    assert!(VerifierKey::parse(&format!("{name}+23b760d+{b64}")).is_err());
    assert!(VerifierKey::parse(name).is_err());
    // Unsupported type byte, with a correct key id.
    let mut blob = BASE64.decode(b64).unwrap();
    blob[0] = 0x02;
    let id = sha2::Sha256::digest([name.as_bytes(), b"\n", &blob].concat());
    let vkey = format!("{name}+{}+{}", hex::encode(&id[..4]), BASE64.encode(&blob));
    assert!(matches!(
        VerifierKey::parse(&vkey),
        Err(KeyError::UnsupportedKeyType { type_byte: 2, .. })
    ));
    // Uppercase hex key id is accepted (as in Go) and normalised.
    let upper = KAT_VKEY.replace("23b760d3", "23B760D3");
    assert_eq!(VerifierKey::parse(&upper).unwrap().to_string(), KAT_VKEY);
    // Secret key strings.
    assert!(matches!(
        CosignerKey::from_secret_key(KAT_SKEY),
        Err(KeyError::WrongKeyType { .. })
    ));
    assert!(CheckpointSigner::from_secret_key(KAT_WITNESS_SKEY).is_err());
    assert!(CheckpointSigner::from_secret_key(&KAT_SKEY.replace("23b760d3", "23b760d4")).is_err());
    assert!(CheckpointSigner::from_secret_key(&KAT_SKEY[..KAT_SKEY.len() - 1]).is_err());
    assert!(CheckpointSigner::from_secret_key(&KAT_SKEY.replacen("PRIVATE", "PUBLIC", 1)).is_err());
}

#[test]
fn checkpoint_debug_and_errors_hide_secret() {
    let signer = kat_signer();
    let secret_b64 = KAT_SKEY.rsplit('+').next().unwrap();
    let debug = format!("{signer:?} {:?}", kat_witness());
    assert!(debug.contains(KAT_VKEY), "{debug}");
    assert!(!debug.contains(secret_b64), "{debug}");
    assert!(!debug.contains("PRIVATE"), "{debug}");
    // A corrupted secret key's error does not repeat the key.
    let corrupted = KAT_SKEY.replace("23b760d3", "zzzzzzzz");
    let err = CheckpointSigner::from_secret_key(&corrupted).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(secret_b64), "{shown}");
}

// ---- Key files. ----

#[cfg(unix)]
mod files {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &std::path::Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn checkpoint_key_files_create_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let sk = dir.path().join("log.key");
        let pk = dir.path().join("log.pub");
        let signer = CheckpointSigner::load_or_create(&sk, &pk, NAME).unwrap();
        assert_eq!(mode(&sk), 0o600);
        assert_eq!(mode(&pk) & 0o133, 0, "public key file writable by others");
        assert_eq!(
            fs::read_to_string(&pk).unwrap(),
            format!("{}\n", signer.vkey())
        );
        assert_eq!(
            fs::read_to_string(&sk).unwrap(),
            format!("{}\n", signer.secret_key().as_str())
        );
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        let again = CheckpointSigner::load_or_create(&sk, &pk, NAME).unwrap();
        assert_eq!(again.vkey(), signer.vkey());
        assert_eq!(again.secret_key(), signer.secret_key());

        // A missing public file is recreated from the secret.
        fs::remove_file(&pk).unwrap();
        CheckpointSigner::load_or_create(&sk, &pk, NAME).unwrap();
        assert_eq!(
            fs::read_to_string(&pk).unwrap(),
            format!("{}\n", signer.vkey())
        );

        // A mode narrower than 0600 is fine.
        fs::set_permissions(&sk, fs::Permissions::from_mode(0o400)).unwrap();
        CheckpointSigner::load_or_create(&sk, &pk, NAME).unwrap();

        // Cosigner key files work the same way.
        let wk = dir.path().join("w.key");
        let wp = dir.path().join("w.pub");
        let w = CosignerKey::load_or_create(&wk, &wp, WITNESS).unwrap();
        assert!(fs::read_to_string(&wp).unwrap().contains(&w.vkey()));
        assert_eq!(
            CosignerKey::load_or_create(&wk, &wp, WITNESS)
                .unwrap()
                .vkey(),
            w.vkey()
        );
        // ... but a cosigner secret is not a checkpoint signer secret.
        assert!(matches!(
            CheckpointSigner::load_or_create(&wk, &wp, WITNESS),
            Err(KeyFileError::Key { .. })
        ));
    }

    #[test]
    fn checkpoint_key_files_refuse_wide_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let sk = dir.path().join("log.key");
        let pk = dir.path().join("log.pub");
        CheckpointSigner::load_or_create(&sk, &pk, NAME).unwrap();
        for wide in [0o644, 0o640, 0o604, 0o700, 0o610] {
            fs::set_permissions(&sk, fs::Permissions::from_mode(wide)).unwrap();
            let err = CheckpointSigner::load_or_create(&sk, &pk, NAME).unwrap_err();
            match &err {
                KeyFileError::InsecurePermissions { path, mode } => {
                    assert_eq!(path, &sk);
                    assert_eq!(*mode, wide);
                }
                other => panic!("unexpected {other:?}"),
            }
            let msg = err.to_string();
            assert!(msg.contains(&sk.display().to_string()), "{msg}");
            assert!(msg.contains(&format!("{wide:04o}")), "{msg}");
        }
    }

    #[test]
    fn checkpoint_key_files_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let sk = dir.path().join("log.key");
        let pk = dir.path().join("log.pub");
        CheckpointSigner::load_or_create(&sk, &pk, NAME).unwrap();
        // Name mismatch.
        assert!(matches!(
            CheckpointSigner::load_or_create(&sk, &pk, "other.example"),
            Err(KeyFileError::NameMismatch { .. })
        ));
        // Public key file for another key.
        fs::write(&pk, format!("{KAT_VKEY}\n")).unwrap();
        assert!(matches!(
            CheckpointSigner::load_or_create(&sk, &pk, NAME),
            Err(KeyFileError::PublicKeyMismatch { .. })
        ));
        // Public key exists without its secret: no new key is made.
        fs::remove_file(&sk).unwrap();
        assert!(matches!(
            CheckpointSigner::load_or_create(&sk, &pk, NAME),
            Err(KeyFileError::OrphanPublicKey { .. })
        ));
        assert!(!sk.exists());
        // Invalid name.
        assert!(matches!(
            CheckpointSigner::load_or_create(dir.path().join("x"), dir.path().join("y"), "a b"),
            Err(KeyFileError::Key { .. })
        ));
        // Garbage secret file.
        let gk = dir.path().join("garbage.key");
        fs::write(&gk, "PRIVATE+KEY+nope").unwrap();
        fs::set_permissions(&gk, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            CheckpointSigner::load_or_create(&gk, dir.path().join("g.pub"), NAME),
            Err(KeyFileError::Key { .. })
        ));
        // A directory is not a key file.
        assert!(matches!(
            CheckpointSigner::load_or_create(dir.path(), dir.path().join("d.pub"), NAME),
            Err(KeyFileError::NotAFile { .. })
        ));
        // A known secret key file written by hand loads (with or without newline).
        let kk = dir.path().join("kat.key");
        fs::write(&kk, KAT_SKEY).unwrap();
        fs::set_permissions(&kk, fs::Permissions::from_mode(0o600)).unwrap();
        let kp = dir.path().join("kat.pub");
        let s = CheckpointSigner::load_or_create(&kk, &kp, NAME).unwrap();
        assert_eq!(s.vkey(), KAT_VKEY);
        assert_eq!(fs::read_to_string(&kp).unwrap(), format!("{KAT_VKEY}\n"));
    }
}

// ---- Properties. ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn checkpoint_parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let vk = kat_signer().verifier();
        let wv = kat_witness().verifier();
        let _ = open(&bytes, &vk);
        let _ = verify_cosignature(&bytes, &wv);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse_body(s);
            let _ = VerifierKey::parse(s);
            let _ = CheckpointSigner::from_secret_key(s);
            let _ = append_signature(s, s);
            let _ = kat_witness().cosign_note(s, 1);
        }
    }

    #[test]
    fn checkpoint_parsers_never_panic_on_strings(s in "(\\PC|\n|\u{2014} |\\+|=|[0-9a-f]{8}){0,64}") {
        let vk = kat_signer().verifier();
        let _ = open(&s, &vk);
        let _ = open(format!("{s}\n\n{s}\n"), &vk);
        let _ = Checkpoint::parse_body(&s);
        let _ = VerifierKey::parse(&s);
        let _ = CheckpointSigner::from_secret_key(&s);
        let _ = append_signature(KAT_NOTE, &s);
        let _ = append_signature(&s, KAT_COSIG_LINE);
    }

    #[test]
    fn checkpoint_mutated_notes_never_open(pos in 0usize..1000, byte in any::<u8>()) {
        let vk = kat_signer().verifier();
        let mut bad = KAT_NOTE.as_bytes().to_vec();
        let i = pos % bad.len();
        prop_assume!(bad[i] != byte);
        bad[i] = byte;
        prop_assert!(open(&bad, &vk).is_err());
    }

    #[test]
    fn checkpoint_sign_open_any_checkpoint(
        origin in "[a-z0-9./-]{1,20}",
        tree_size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in proptest::collection::vec("[ -~\u{e9}\u{2014}]{1,20}", 0..4),
        time in any::<u64>(),
    ) {
        let cp = Checkpoint { origin, tree_size, root, extensions };
        prop_assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp.clone());
        let signer = CheckpointSigner::from_seed(&cp.origin, &seed(0x01)).unwrap();
        let note = signer.sign(&cp).unwrap();
        prop_assert_eq!(open(&note, &signer.verifier()).unwrap(), cp.clone());
        let line = kat_witness().cosign(&cp, time).unwrap();
        let note = append_signature(&note, &line).unwrap();
        let got = verify_cosignature(&note, &kat_witness().verifier()).unwrap();
        prop_assert_eq!(got.checkpoint, cp);
        prop_assert_eq!(got.timestamp, time);
    }
}

/// A note signed by the log's key for another origin is refused: a key
/// signs for one log only (docs/FORMAT.md §5).
#[test]
fn checkpoint_origin_must_be_the_key_name() {
    let signer = kat_signer();
    let other_log = Checkpoint::new("other.example/log", 42, [9; 32]);
    let note = signer.sign(&other_log).unwrap();
    assert!(matches!(
        open(&note, &signer.verifier()),
        Err(CheckpointError::OriginNotKeyName { .. })
    ));
}

/// DEL (U+007F) and the C1 controls such as NEL (U+0085) are control
/// characters too: refused in the body, in the signature block and in key
/// names.
#[test]
fn checkpoint_c1_and_del_control_characters_refused() {
    let signer = kat_signer();
    for c in ['\u{7f}', '\u{85}', '\u{9f}'] {
        let mut cp = kat_checkpoint();
        cp.extensions = vec![format!("ext{c}")];
        assert!(signer.sign(&cp).is_err(), "U+{:04X} signed", u32::from(c));
        // Put the character into an already signed note: parse refuses it.
        let note = signer.sign(&kat_checkpoint()).unwrap();
        let tampered = note.replacen('\n', &format!("{c}\n"), 1);
        assert!(
            matches!(
                open(&tampered, &signer.verifier()),
                Err(CheckpointError::ControlCharacter { code, .. }) if code == u32::from(c)
            ),
            "U+{:04X} accepted in the body",
            u32::from(c)
        );
        let in_sigs = format!("{note}\u{2014} x{c} AAAAAAAA\n");
        assert!(
            matches!(
                open(&in_sigs, &signer.verifier()),
                Err(CheckpointError::ControlCharacter { .. })
            ),
            "U+{:04X} accepted in the signature block",
            u32::from(c)
        );
        assert!(validate_key_name(&format!("log{c}")).is_err());
    }
}
