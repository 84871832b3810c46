//! Auditing a live ledger and a read-only copy (segmented engines): the
//! auditor takes no lock and writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ledger_core::{Event, Ledger, LedgerOptions, ScopeId};

use crate::evidence::compliance_ledger;
use crate::support::{arg, auditor, copy_dir};

/// Every file under `dir`: length and modification time.
fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                todo.push(entry.path());
            } else {
                out.insert(entry.path(), (meta.len(), meta.modified().unwrap()));
            }
        }
    }
    out
}

/// Sets the write bits of everything under `dir` (`writable`) or clears them.
fn set_writable(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut todo = vec![dir.to_path_buf()];
    let mut all = Vec::new();
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                todo.push(entry.path());
            }
            all.push(entry.path());
        }
    }
    all.push(dir.to_path_buf());
    for path in all {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        let mode = if writable {
            mode | 0o200
        } else {
            mode & !0o222
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn every_reading_command_works_on_a_read_only_copy_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("live");
    compliance_ledger(&source);
    let copy = tmp.path().join("copy");
    copy_dir(&source, &copy);
    std::fs::remove_file(copy.join(ledger_core::SIGNING_KEY_FILE)).unwrap();
    assert!(
        copy.join(ledger_core::LOG_DIR).is_dir(),
        "a segmented ledger"
    );
    let before = listing(&copy);
    set_writable(&copy, false);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let runs: Vec<(Vec<String>, &[i32])> = vec![
        (vec!["verify".into()], &[0]),
        (vec!["checkpoint".into()], &[0]),
        (vec!["prove".into(), "--seq".into(), "2".into()], &[0]),
        (vec!["consistency".into(), "--old".into(), "1".into()], &[0]),
        (
            vec![
                "export-log".into(),
                "--out".into(),
                out.join("export.jsonl").display().to_string(),
            ],
            &[0],
        ),
        (vec!["ropa".into()], &[0]),
        // The ledger has an overdue request: a finding, exit 1.
        (
            vec![
                "evidence".into(),
                "--from".into(),
                "2026-01-01".into(),
                "--to".into(),
                "2026-12-31".into(),
                "--out".into(),
                out.join("bundle").display().to_string(),
            ],
            &[0, 1],
        ),
    ];
    for (args, codes) in &runs {
        let run = auditor()
            .args(args)
            .args(["--ledger", arg(&copy)])
            .output()
            .unwrap();
        let code = run.status.code().unwrap_or(-1);
        assert!(
            codes.contains(&code),
            "{args:?}: exit {code}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert!(out.join("bundle").is_dir(), "evidence wrote no bundle");
    let verify = auditor()
        .args([
            "verify",
            "--json",
            "--export",
            arg(&out.join("export.jsonl")),
        ])
        .args(["--pubkey", arg(&copy.join(ledger_core::VERIFIER_KEY_FILE))])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    set_writable(&copy, true);
    assert_eq!(listing(&copy), before, "the auditor wrote into the ledger");
}

#[test]
fn verify_in_a_loop_beside_eight_appenders_never_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let options = LedgerOptions {
        checkpoint_every: Some(50),
        checkpoint_interval: Some(Duration::from_millis(200)),
        ..LedgerOptions::default()
    };
    let ledger = Arc::new(Ledger::open(&dir, options).unwrap());
    ledger
        .append_blocking(Event::new("test.event", "svc:test"))
        .unwrap();
    ledger.checkpoint_blocking().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let appenders: Vec<_> = (0..8u8)
        .map(|t| {
            let ledger = Arc::clone(&ledger);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let subject = ScopeId([t; 16]);
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    ledger
                        .append_blocking(
                            Event::new("test.event", format!("svc:task-{t}"))
                                .with_scope(subject)
                                .with_payload(n.to_be_bytes().to_vec()),
                        )
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut sizes = Vec::new();
    for round in 0..12 {
        let run = auditor()
            // Records appended since the writer's last checkpoint are not
            // signed yet: a live auditor accepts that tail, and counts it.
            .args([
                "verify",
                "--json",
                "--allow-unsigned-tail",
                "--ledger",
                arg(&dir),
            ])
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "round {round}: exit {:?}: {}{}",
            run.status.code(),
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        sizes.push(report["size"].as_u64().unwrap_or(0));
    }
    stop.store(true, Ordering::SeqCst);
    let appended: u64 = appenders.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(appended > 0);
    // The auditor saw the log grow while it verified.
    assert!(sizes.first() < sizes.last(), "{sizes:?}");
}
