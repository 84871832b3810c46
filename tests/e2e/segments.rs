//! The segmented log's files damaged byte by byte: a torn tail is cut back
//! and appends continue; damage anywhere else is a typed error naming the
//! segment, the offset and the seq; a damaged index is rebuilt; nothing
//! panics. `LEDGER_SEGMENT_SEED` replays a run (the seed is printed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger_core::storage::fs::StdFs;
use ledger_core::storage::{SegmentLog, SegmentOptions, SledStorage, Stores};
use ledger_core::{
    acknowledged_floor, record_chains, Event, Ledger, LedgerOptions, OpenError, ScopeId,
    StorageError, VerifyError, LOG_DIR, STATE_DIR,
};
use ledger_tests::{copy_dir, sample_event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SIZE: u64 = 200;

/// Opens a segments ledger in `dir` with 4 KiB segments (many of them).
fn open_small(dir: &Path) -> Result<Ledger, OpenError> {
    let state = Arc::new(SledStorage::open(&dir.join(STATE_DIR), 4 << 20)?);
    let log = SegmentLog::open(
        Arc::new(StdFs),
        &dir.join(LOG_DIR),
        SegmentOptions {
            segment_bytes: 4096,
            read_only: false,
            chain: Some(record_chains),
            floor: acknowledged_floor(state.as_ref())?,
        },
    )?;
    let options = LedgerOptions {
        checkpoint_every: Some(50),
        checkpoint_interval: None,
        ..LedgerOptions::default()
    };
    Ledger::open_with(
        dir,
        Stores {
            log: Arc::new(log),
            state,
        },
        options,
    )
}

fn pristine() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_small(dir.path()).unwrap();
    let subjects: Vec<ScopeId> = (0..5).map(|_| ScopeId::random()).collect();
    for n in 0..SIZE {
        ledger.append_blocking(sample_event(n, &subjects)).unwrap();
    }
    ledger.checkpoint_blocking().unwrap();
    ledger.verify().unwrap();
    dir
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(LOG_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn seed() -> u64 {
    let seed = std::env::var("LEDGER_SEGMENT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("LEDGER_SEGMENT_SEED={seed}");
    seed
}

/// The end of a segment's frames (docs/FORMAT.md §2.1: a 32-byte header,
/// then frames of `len (u32 LE) || crc || seq || len bytes`, then zeros).
fn data_end(bytes: &[u8]) -> usize {
    let mut at = 32;
    while at + 16 <= bytes.len() && bytes[at..at + 16].iter().any(|&b| b != 0) {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 16 + len;
    }
    at
}

#[test]
fn a_torn_tail_is_cut_back_and_appends_continue() {
    let source = pristine();
    let mut rng = StdRng::seed_from_u64(seed());
    for case in 0..20 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(source.path(), copy.path());
        let last = files(copy.path(), "seg").pop().unwrap();
        let mut bytes = std::fs::read(&last).unwrap();
        let end = data_end(&bytes);
        // A frame header claiming more than was written, then some of it.
        let torn: Vec<u8> = (0..rng.gen_range(1..200)).map(|_| rng.gen()).collect();
        let room = bytes.len().saturating_sub(end).min(torn.len());
        bytes[end..end + room].copy_from_slice(&torn[..room]);
        std::fs::write(&last, &bytes).unwrap();
        let ledger = open_small(copy.path()).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(ledger.len(), SIZE, "case {case}");
        ledger.verify().unwrap();
        ledger
            .append_blocking(Event::new("after.cut", "t").with_payload(vec![7; 40]))
            .unwrap();
        drop(ledger);
        let ledger = open_small(copy.path()).unwrap();
        assert_eq!(
            ledger.len(),
            SIZE + 1,
            "case {case}: the append after the cut"
        );
        ledger.verify().unwrap();
    }
}

#[test]
fn damage_to_a_sealed_segment_names_segment_offset_and_seq() {
    let source = pristine();
    let segments = files(source.path(), "seg");
    assert!(segments.len() > 5, "{} segments", segments.len());
    let mut rng = StdRng::seed_from_u64(seed());
    let (mut at_open, mut at_verify) = (0, 0);
    for case in 0..300 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(source.path(), copy.path());
        let sealed = files(copy.path(), "seg");
        let target = &sealed[rng.gen_range(0..sealed.len() - 1)];
        let mut bytes = std::fs::read(target).unwrap();
        let end = data_end(&bytes);
        let at = rng.gen_range(0..end);
        let how = rng.gen_range(0..3);
        match how {
            0 => bytes[at] ^= 1 << rng.gen_range(0..8),
            1 => bytes[at] = bytes[at].wrapping_add(rng.gen_range(1..=255)),
            _ => bytes[at..(at + 8).min(end)].fill(0),
        }
        if bytes == std::fs::read(target).unwrap() {
            continue;
        }
        std::fs::write(target, &bytes).unwrap();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        let ctx = format!("case {case}: {name} offset {at} (kind {how})");
        let named = |e: &StorageError| match e {
            StorageError::Damaged { segment, .. } => {
                assert!(
                    segment.ends_with(&name),
                    "{ctx}: error names {}",
                    segment.display()
                );
            }
            other => panic!("{ctx}: untyped damage {other}"),
        };
        match open_small(copy.path()) {
            Err(OpenError::Storage(e)) => {
                named(&e);
                at_open += 1;
            }
            Err(OpenError::Damaged { .. }) => at_open += 1,
            Err(other) => panic!("{ctx}: unexpected open error {other}"),
            Ok(ledger) => {
                match ledger.verify() {
                    Err(VerifyError::Storage(e)) => named(&e),
                    Err(VerifyError::Failed { .. }) => {}
                    Err(other) => panic!("{ctx}: unexpected verify error {other}"),
                    Ok(report) => panic!("{ctx}: damage went unnoticed: {report:?}"),
                }
                at_verify += 1;
            }
        }
    }
    eprintln!("sealed-segment damage: {at_open} refused at open, {at_verify} found by verify");
}

#[test]
fn a_damaged_or_missing_index_is_rebuilt() {
    let source = pristine();
    let mut rng = StdRng::seed_from_u64(seed());
    for case in 0..40 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(source.path(), copy.path());
        let indexes = files(copy.path(), "idx");
        let target = &indexes[rng.gen_range(0..indexes.len())];
        if case % 4 == 0 {
            std::fs::remove_file(target).unwrap();
        } else {
            let mut bytes = std::fs::read(target).unwrap();
            let at = rng.gen_range(0..bytes.len());
            bytes[at] ^= 1 << rng.gen_range(0..8);
            std::fs::write(target, &bytes).unwrap();
        }
        let ledger = open_small(copy.path()).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(ledger.len(), SIZE);
        ledger.verify().unwrap();
    }
}

#[test]
fn no_byte_pattern_in_any_log_file_panics() {
    let source = pristine();
    let mut rng = StdRng::seed_from_u64(seed());
    for _ in 0..200 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(source.path(), copy.path());
        let mut all = files(copy.path(), "seg");
        all.extend(files(copy.path(), "idx"));
        let target = &all[rng.gen_range(0..all.len())];
        let mut bytes = std::fs::read(target).unwrap();
        match rng.gen_range(0..4) {
            0 => bytes.truncate(rng.gen_range(0..=bytes.len())),
            1 => bytes.extend((0..rng.gen_range(1..5000)).map(|_| rng.gen::<u8>())),
            2 => {
                for _ in 0..rng.gen_range(1..50) {
                    let at = rng.gen_range(0..bytes.len().max(1));
                    if let Some(b) = bytes.get_mut(at) {
                        *b = rng.gen();
                    }
                }
            }
            _ => {
                let len = bytes.len();
                bytes = (0..len).map(|_| rng.gen()).collect();
            }
        }
        std::fs::write(target, &bytes).unwrap();
        // Any outcome but a panic: open refused, or opened and verified
        // (either way), and reads answer or fail with an error.
        if let Ok(ledger) = open_small(copy.path()) {
            let _ = ledger.verify();
            for seq in [0, SIZE / 2, SIZE - 1] {
                let _ = ledger.get(seq);
            }
        }
    }
}
