//! The contract every [`LogStore`] engine must keep, as runnable checks.
//!
//! An engine's tests call [`check_all`] with a factory of empty logs, and
//! [`check_reopen`] with one that reopens the same log if it is persistent.
//! The checks return a message instead of panicking so that they can live
//! in the library.

use std::ops::ControlFlow;

use super::log::LogStore;

/// Result of a conformance check: `Err` names the broken rule.
pub type Check = Result<(), String>;

fn ensure(cond: bool, what: &str) -> Check {
    if cond {
        Ok(())
    } else {
        Err(format!("log store contract broken: {what}"))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("unexpected log store error: {e}")
}

fn value(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize + i) as u8).collect()
}

/// Everything in `from..to`, read by a scan.
pub fn scan_all(log: &dyn LogStore, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let mut out = Vec::new();
    log.scan(from, to, &mut |seq, v| {
        out.push((seq, v.to_vec()));
        ControlFlow::Continue(())
    })
    .map_err(err)?;
    Ok(out)
}

/// Runs every check against fresh logs made by `make`.
pub fn check_all(make: &dyn Fn() -> Box<dyn LogStore>) -> Check {
    empty_log(make().as_ref())?;
    append_then_read(make().as_ref())?;
    appends_only_at_the_end(make().as_ref())?;
    scan_bounds_and_break(make().as_ref())?;
    sizes_round_trip(make().as_ref())?;
    Ok(())
}

/// An empty log has no entries and scans to nothing.
pub fn empty_log(log: &dyn LogStore) -> Check {
    ensure(log.is_empty(), "empty log has entries")?;
    ensure(log.get(0).map_err(err)?.is_none(), "get on an empty log")?;
    ensure(
        scan_all(log, 0, u64::MAX)?.is_empty(),
        "scan of an empty log",
    )?;
    log.sync().map_err(err)
}

/// What `append` wrote is readable at once, at consecutive seqs.
pub fn append_then_read(log: &dyn LogStore) -> Check {
    log.append(0, &[value(0, 40), value(1, 41)]).map_err(err)?;
    ensure(log.len() == 2, "len after the first append")?;
    log.append(2, &[value(2, 42)]).map_err(err)?;
    log.sync().map_err(err)?;
    ensure(log.len() == 3, "len after the second append")?;
    for seq in 0..3 {
        ensure(
            log.get(seq).map_err(err)? == Some(value(seq, 40 + seq as usize)),
            "get returns what was appended",
        )?;
    }
    ensure(log.get(3).map_err(err)?.is_none(), "get past the end")?;
    ensure(log.get(u64::MAX).map_err(err)?.is_none(), "get at u64::MAX")?;
    Ok(())
}

/// An append anywhere but at the end is refused and changes nothing.
pub fn appends_only_at_the_end(log: &dyn LogStore) -> Check {
    log.append(0, &[value(0, 8)]).map_err(err)?;
    ensure(log.append(0, &[value(9, 8)]).is_err(), "overwrite accepted")?;
    ensure(log.append(2, &[value(2, 8)]).is_err(), "gap accepted")?;
    ensure(log.len() == 1, "a refused append changed the length")?;
    ensure(
        log.get(0).map_err(err)? == Some(value(0, 8)),
        "a refused append changed an entry",
    )?;
    log.append(1, &[]).map_err(err)?;
    ensure(log.len() == 1, "an empty append changed the length")
}

/// Scans honour `from..to`, clamp at the end, and stop on `Break`.
pub fn scan_bounds_and_break(log: &dyn LogStore) -> Check {
    let values: Vec<Vec<u8>> = (0..10).map(|s| value(s, 16)).collect();
    log.append(0, &values).map_err(err)?;
    let got = scan_all(log, 3, 7)?;
    ensure(
        got == (3..7).map(|s| (s, value(s, 16))).collect::<Vec<_>>(),
        "bounded scan",
    )?;
    ensure(scan_all(log, 8, 100)?.len() == 2, "scan clamps at the end")?;
    ensure(
        scan_all(log, 7, 3)?.is_empty(),
        "reversed bounds scan nothing",
    )?;
    ensure(scan_all(log, 10, 11)?.is_empty(), "scan past the end")?;
    let mut seen = Vec::new();
    log.scan(0, 10, &mut |seq, _| {
        seen.push(seq);
        if seq == 4 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .map_err(err)?;
    ensure(seen == vec![0, 1, 2, 3, 4], "scan stops on Break")
}

/// Empty and large values round-trip.
pub fn sizes_round_trip(log: &dyn LogStore) -> Check {
    let values = vec![Vec::new(), value(1, 1), value(2, 100_000), value(3, 5000)];
    log.append(0, &values).map_err(err)?;
    log.sync().map_err(err)?;
    for (seq, v) in (0..).zip(&values) {
        ensure(
            log.get(seq).map_err(err)?.as_ref() == Some(v),
            "value size round-trip",
        )?;
    }
    ensure(
        scan_all(log, 0, 4)?
            .into_iter()
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
            == values,
        "scan of mixed sizes",
    )
}

/// Synced entries survive a reopen, and appends continue after them.
/// `open` must reopen the same (initially empty) log each time it is called.
pub fn check_reopen(open: &dyn Fn() -> Box<dyn LogStore>) -> Check {
    {
        let log = open();
        let values: Vec<Vec<u8>> = (0..50).map(|s| value(s, 300)).collect();
        log.append(0, &values).map_err(err)?;
        log.sync().map_err(err)?;
    }
    {
        let log = open();
        ensure(log.len() == 50, "length after reopen")?;
        ensure(
            log.get(49).map_err(err)? == Some(value(49, 300)),
            "last entry after reopen",
        )?;
        log.append(50, &[value(50, 7)]).map_err(err)?;
        log.sync().map_err(err)?;
    }
    let log = open();
    ensure(log.len() == 51, "length after the second reopen")?;
    let all = scan_all(log.as_ref(), 0, 51)?;
    ensure(
        all.iter().enumerate().all(|(i, (s, v))| {
            *s == i as u64
                && *v
                    == if i == 50 {
                        value(50, 7)
                    } else {
                        value(*s, 300)
                    }
        }),
        "every entry after the second reopen",
    )
}

/// One step of [`matches_model`].
#[derive(Debug, Clone)]
pub enum LogOp {
    /// Append these values at the end.
    Append(Vec<Vec<u8>>),
    /// The durability barrier.
    Sync,
    /// Sync, drop the log and open it again.
    Reopen,
    /// Read one seq.
    Get(u64),
    /// Scan `from..to`.
    Scan(u64, u64),
}

/// Drives the log `open` makes (initially empty; each call reopens the
/// same log) and a `Vec` model with `ops`, comparing every read and the
/// length after each step. Property tests feed it random steps.
pub fn matches_model(open: &dyn Fn() -> Box<dyn LogStore>, ops: &[LogOp]) -> Check {
    let mut model: Vec<Vec<u8>> = Vec::new();
    let mut log = open();
    for op in ops {
        match op {
            LogOp::Append(values) => {
                log.append(model.len() as u64, values).map_err(err)?;
                model.extend(values.iter().cloned());
            }
            LogOp::Sync => log.sync().map_err(err)?,
            LogOp::Reopen => {
                log.sync().map_err(err)?;
                drop(log);
                log = open();
            }
            LogOp::Get(seq) => ensure(
                log.get(*seq).map_err(err)?.as_ref()
                    == usize::try_from(*seq).ok().and_then(|i| model.get(i)),
                "get differs from the model",
            )?,
            LogOp::Scan(from, to) => {
                let got = scan_all(log.as_ref(), *from, *to)?;
                let end = (*to).min(model.len() as u64);
                let expected: Vec<(u64, Vec<u8>)> = (*from..end)
                    .map(|s| (s, model[s as usize].clone()))
                    .collect();
                ensure(got == expected, "scan differs from the model")?;
            }
        }
        ensure(
            log.len() == model.len() as u64,
            "len differs from the model",
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::storage::fs::StdFs;
    use crate::storage::sim::{Power, SimFs};
    use crate::storage::{KvLog, MemoryStorage, SegmentLog, SegmentOptions, SledStorage};

    fn small() -> SegmentOptions {
        SegmentOptions {
            segment_bytes: 4096,
            ..SegmentOptions::default()
        }
    }

    fn segment_on(dir: &Path, options: SegmentOptions) -> Box<dyn LogStore> {
        Box::new(SegmentLog::open(Arc::new(StdFs), dir, options).unwrap())
    }

    #[test]
    fn kv_log_on_memory_conforms() {
        check_all(&|| Box::new(KvLog::open(Arc::new(MemoryStorage::new())).unwrap())).unwrap();
    }

    #[test]
    fn kv_log_on_sled_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicU32::new(0);
        check_all(&|| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let s = SledStorage::open(&dir.path().join(i.to_string()), 4 << 20).unwrap();
            Box::new(KvLog::open(Arc::new(s)).unwrap())
        })
        .unwrap();
        let path = dir.path().join("reopen");
        check_reopen(&|| {
            let s = SledStorage::open(&path, 4 << 20).unwrap();
            Box::new(KvLog::open(Arc::new(s)).unwrap())
        })
        .unwrap();
    }

    #[test]
    fn segment_log_conforms() {
        for options in [SegmentOptions::default(), small()] {
            let dir = tempfile::tempdir().unwrap();
            let n = std::sync::atomic::AtomicU32::new(0);
            check_all(&|| {
                let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                segment_on(&dir.path().join(i.to_string()), options)
            })
            .unwrap();
            let path = dir.path().join("reopen");
            check_reopen(&|| segment_on(&path, options)).unwrap();
        }
    }

    #[test]
    fn segment_log_on_the_simulated_disk_conforms() {
        check_all(&|| {
            let fs = SimFs::new(Power::new());
            Box::new(SegmentLog::open(Arc::new(fs), Path::new("/log"), small()).unwrap())
        })
        .unwrap();
        let fs = SimFs::new(Power::new());
        check_reopen(&|| {
            Box::new(SegmentLog::open(Arc::new(fs.clone()), Path::new("/log"), small()).unwrap())
        })
        .unwrap();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod model {
    //! Drives an engine and a `Vec` model with the same random operations
    //! and compares every read.
    use std::path::Path;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::LogOp;
    use crate::storage::fs::StdFs;
    use crate::storage::sim::{Power, SimFs};
    use crate::storage::{KvLog, LogStore, MemoryStorage, SegmentLog, SegmentOptions};

    fn op() -> impl Strategy<Value = LogOp> {
        let value = proptest::collection::vec(any::<u8>(), 0..1500);
        prop_oneof![
            4 => proptest::collection::vec(value, 0..6).prop_map(LogOp::Append),
            1 => Just(LogOp::Sync),
            1 => Just(LogOp::Reopen),
            2 => (0u64..40).prop_map(LogOp::Get),
            2 => (0u64..40, 0u64..45).prop_map(|(a, b)| LogOp::Scan(a, b)),
        ]
    }

    fn run(open: &dyn Fn() -> Box<dyn LogStore>, ops: Vec<LogOp>) {
        super::matches_model(open, &ops).unwrap();
    }

    fn small() -> SegmentOptions {
        SegmentOptions {
            segment_bytes: 4096,
            ..SegmentOptions::default()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn segment_log_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("log");
            run(&|| Box::new(SegmentLog::open(Arc::new(StdFs), &path, small()).unwrap()), ops);
        }

        #[test]
        fn simulated_segment_log_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
            let fs = SimFs::new(Power::new());
            run(&|| Box::new(SegmentLog::open(Arc::new(fs.clone()), Path::new("/l"), small()).unwrap()), ops);
        }

        #[test]
        fn kv_log_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
            let store = Arc::new(MemoryStorage::new());
            run(&|| Box::new(KvLog::open(store.clone()).unwrap()), ops);
        }
    }
}
