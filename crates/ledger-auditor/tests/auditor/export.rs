//! `export-log` and `verify --export`, and the independent Python verifier
//! when Python and its `blake3` package are present.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_core::record::chain_hash;
use ledger_core::TreeHash;
use serde_json::Value;

use crate::support::{arg, auditor, json, TestLedger};

/// Reads an export as JSON lines.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn hash_of(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// Runs `verify --export` with the log's key pinned; returns the exit code
/// and the report.
fn verify_export(ledger: &TestLedger, export: &Path) -> (Option<i32>, Value) {
    let out = auditor()
        .args(["verify", "--json", "--export", arg(export)])
        .args(["--pubkey", arg(&ledger.dir().join("checkpoint.pub"))])
        .output()
        .unwrap();
    (out.status.code(), json(&out))
}

#[test]
fn an_export_round_trips_and_a_modified_line_is_named() {
    let ledger = TestLedger::new(200, 1);
    let export = ledger.file("export.ndjson");
    auditor()
        .args(["export-log", "--ledger", arg(&ledger.dir())])
        .args(["--out", arg(&export)])
        .assert()
        .code(0);
    let to_stdout = auditor()
        .args(["export-log", "--ledger", arg(&ledger.dir()), "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(to_stdout.stdout, std::fs::read(&export).unwrap());

    let (code, report) = verify_export(&ledger, &export);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["size"], 200);
    assert_eq!(report["checkpoints_checked"], 4);
    let ledger_report = json(
        &auditor()
            .args(["verify", "--json", "--ledger", arg(&ledger.dir())])
            .output()
            .unwrap(),
    );
    assert_eq!(report["root"], ledger_report["root"]);
    // Without a pinned key, the header's key is used.
    auditor()
        .args(["verify", "--export", arg(&export)])
        .assert()
        .code(0);

    let original = lines(&export);
    assert_eq!(original[0]["size"], 200);
    assert_eq!(original[43]["seq"], 42);
    let tampered = ledger.file("tampered.ndjson");

    // One byte of record 42 changed (line 44: the header is line 1).
    let mut edited = original.clone();
    let mut bytes = BASE64
        .decode(edited[43]["record"].as_str().unwrap())
        .unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    edited[43]["record"] = BASE64.encode(&bytes).into();
    write_lines(&tampered, &edited);
    let (code, report) = verify_export(&ledger, &tampered);
    assert_eq!(code, Some(1));
    let violation = &report["first_violation"];
    assert_eq!(
        (violation["seq"].clone(), violation["line"].clone()),
        (42.into(), 44.into())
    );
    assert_eq!(violation["kind"], "hash_mismatch");
    python_verifier(&tampered, &ledger.dir(), Some(42));

    // The same change with every later hash recomputed: only the signed
    // root at 50 can tell.
    let mut prev = hash_of(&edited[43]["prev_hash"]);
    for line in &mut edited[43..201] {
        let bytes = BASE64.decode(line["record"].as_str().unwrap()).unwrap();
        let hash = chain_hash(&prev, &bytes);
        line["prev_hash"] = hex::encode(prev).into();
        line["record_hash"] = hex::encode(hash).into();
        line["leaf_hash"] = hex::encode(TreeHash::Sha256.leaf_hash(&hash)).into();
        prev = hash;
    }
    write_lines(&tampered, &edited);
    let (code, report) = verify_export(&ledger, &tampered);
    assert_eq!(code, Some(1));
    let violation = &report["first_violation"];
    assert_eq!(violation["kind"], "checkpoint_root_mismatch");
    assert_eq!(violation["seq"], 49);

    // A stated hash that is not the recomputed one.
    let mut edited = original.clone();
    edited[11]["record_hash"] = hex::encode([0u8; 32]).into();
    write_lines(&tampered, &edited);
    let (code, report) = verify_export(&ledger, &tampered);
    assert_eq!(code, Some(1));
    assert_eq!(report["first_violation"]["seq"], 10);

    // A record removed.
    let mut edited = original.clone();
    edited.remove(101);
    write_lines(&tampered, &edited);
    let (code, report) = verify_export(&ledger, &tampered);
    assert_eq!(code, Some(1));
    assert_eq!(report["first_violation"]["kind"], "missing");
    assert_eq!(report["first_violation"]["seq"], 100);

    // The tail cut off: the last checkpoint covers records that are gone.
    let mut edited = original.clone();
    edited.drain(180..201);
    edited[0]["size"] = 179.into();
    write_lines(&tampered, &edited);
    let (code, report) = verify_export(&ledger, &tampered);
    assert_eq!(code, Some(1));
    assert_eq!(report["first_violation"]["kind"], "truncated");

    // A pinned key the export does not name.
    let other = TestLedger::new(1, 2);
    let out = auditor()
        .args(["verify", "--json", "--export", arg(&export)])
        .args(["--pubkey", arg(&other.dir().join("checkpoint.pub"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["first_violation"]["kind"], "key_mismatch");

    python_verifier(&export, &ledger.dir(), None);
}

/// `docs/tools/verify_export.py`, the independent verifier, agrees: exit 0
/// on an intact export, 1 naming `bad_seq` otherwise.
fn python_verifier(export: &Path, ledger: &Path, bad_seq: Option<u64>) {
    let Some(out) = python_verify(export, ledger, &[]) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    match bad_seq {
        None => assert_eq!(out.status.code(), Some(0), "{out:?}"),
        Some(seq) => {
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            assert!(stdout.contains(&format!("seq {seq}")), "{stdout}");
        }
    }
}

/// Runs `docs/tools/verify_export.py EXPORT --pubkey <ledger>/checkpoint.pub
/// EXTRA...` after its self-test; `None` (skipped, with a message) without
/// Python or its `blake3` package, except under `CI=true` (`.ci/run`
/// installs it), where a missing package is a failure.
pub(crate) fn python_verify(
    export: &Path,
    ledger: &Path,
    extra: &[&str],
) -> Option<std::process::Output> {
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../../docs/tools/verify_export.py",
    ]
    .iter()
    .collect();
    let has_blake3 = Command::new("python3")
        .args(["-c", "import blake3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_blake3 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: python3 with the blake3 package is required (.ci/run installs it)"
        );
        eprintln!(
            "skipping the Python cross-check: python3 with the blake3 package is not available"
        );
        return None;
    }
    // Its SHA-256 tree against the RFC 6962 roots of transparency-dev/merkle.
    let out = Command::new("python3")
        .arg(&script)
        .arg("--self-test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    Some(
        Command::new("python3")
            .arg(&script)
            .arg(export)
            .arg("--pubkey")
            .arg(ledger.join("checkpoint.pub"))
            .args(extra)
            .output()
            .unwrap(),
    )
}

/// The committed fixture (a ledger created with the BLAKE3 tree, before the
/// `tree_hash` meta entry existed) exports with `tree_hash` `blake3`, and
/// both verifiers check it with its legacy tree; a new ledger's export says
/// `rfc6962-sha256`, and its checkpoint roots are RFC 6962 roots.
#[test]
fn a_legacy_blake3_ledger_exports_and_verifies_with_its_tree_hash() {
    let fixture: PathBuf = [env!("CARGO_MANIFEST_DIR"), "../../tests/fixtures/ledger-v1"]
        .iter()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ledger");
    copy_dir(&fixture, &copy);
    let export = dir.path().join("export.ndjson");
    auditor()
        .args(["export-log", "--ledger", arg(&copy)])
        .args(["--out", arg(&export)])
        .assert()
        .code(0);
    let exported = lines(&export);
    assert_eq!(exported[0]["tree_hash"], TreeHash::LegacyBlake3.name());
    let leaf = TreeHash::LegacyBlake3.leaf_hash(&hash_of(&exported[1]["record_hash"]));
    assert_eq!(hash_of(&exported[1]["leaf_hash"]), leaf);
    let out = auditor()
        .args(["verify", "--json", "--export", arg(&export)])
        .args(["--pubkey", arg(&copy.join("checkpoint.pub"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json(&out)["checkpoints_checked"], 3);
    python_verifier(&export, &copy, None);

    // An export written before the header had `tree_hash` reads as BLAKE3.
    let mut unnamed = exported.clone();
    unnamed[0].as_object_mut().unwrap().remove("tree_hash");
    let old_style = dir.path().join("old-style.ndjson");
    write_lines(&old_style, &unnamed);
    let out = auditor()
        .args(["verify", "--json", "--export", arg(&old_style)])
        .args(["--pubkey", arg(&copy.join("checkpoint.pub"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    python_verifier(&old_style, &copy, None);

    // The same export claiming the SHA-256 tree fails at its first leaf.
    let mut edited = exported.clone();
    edited[0]["tree_hash"] = TreeHash::Sha256.name().into();
    let relabeled = dir.path().join("relabeled.ndjson");
    write_lines(&relabeled, &edited);
    let out = auditor()
        .args(["verify", "--json", "--export", arg(&relabeled)])
        .args(["--pubkey", arg(&copy.join("checkpoint.pub"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["first_violation"]["kind"], "leaf_hash_mismatch");
    python_verifier(&relabeled, &copy, Some(0));

    // An unknown tree hash is refused, not guessed.
    edited[0]["tree_hash"] = "md5".into();
    write_lines(&relabeled, &edited);
    let out = auditor()
        .args(["verify", "--json", "--export", arg(&relabeled)])
        .args(["--pubkey", arg(&copy.join("checkpoint.pub"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["first_violation"]["kind"], "header");

    // A new ledger is SHA-256.
    let ledger = TestLedger::new(5, 1);
    let export = ledger.file("new.ndjson");
    auditor()
        .args(["export-log", "--ledger", arg(&ledger.dir())])
        .args(["--out", arg(&export)])
        .assert()
        .code(0);
    assert_eq!(lines(&export)[0]["tree_hash"], TreeHash::Sha256.name());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
