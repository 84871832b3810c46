//! The contract every [`Storage`] engine must keep, as runnable checks.
//!
//! An engine's tests call [`check_all`] with a factory of empty stores, and
//! [`check_reopen`] if the engine is persistent. The checks return a message
//! instead of panicking so that they can live in the library.

use std::collections::{BTreeMap, BTreeSet};

use super::{Keyspace, KvPair, Storage, WriteBatch};

/// Result of a conformance check: `Err` names the broken rule.
pub type Check = Result<(), String>;

fn ensure(cond: bool, what: &str) -> Check {
    if cond {
        Ok(())
    } else {
        Err(format!("storage contract broken: {what}"))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("unexpected storage error: {e}")
}

const A: Keyspace = Keyspace(1);
const B: Keyspace = Keyspace(2);
const TOP: Keyspace = Keyspace(0xff);

/// Runs every check against fresh stores made by `make`.
pub fn check_all(make: &dyn Fn() -> Box<dyn Storage>) -> Check {
    get_put_delete(make().as_ref())?;
    keyspaces_are_isolated(make().as_ref())?;
    range_bounds_and_order(make().as_ref())?;
    last_of_each_keyspace(make().as_ref())?;
    batch_later_op_wins(make().as_ref())?;
    Ok(())
}

/// Reads return what was written, deletes remove, absent keys are `None`.
pub fn get_put_delete(s: &dyn Storage) -> Check {
    ensure(
        s.get(A, b"k").map_err(err)?.is_none(),
        "empty store has a key",
    )?;
    let mut b = WriteBatch::new();
    b.put(A, b"k".to_vec(), b"v".to_vec());
    b.put(A, Vec::new(), b"empty key".to_vec());
    s.write(b).map_err(err)?;
    ensure(
        s.get(A, b"k").map_err(err)? == Some(b"v".to_vec()),
        "get after put",
    )?;
    ensure(
        s.get(A, b"").map_err(err)? == Some(b"empty key".to_vec()),
        "empty key",
    )?;
    let mut b = WriteBatch::new();
    b.delete(A, b"k".to_vec());
    s.write(b).map_err(err)?;
    ensure(s.get(A, b"k").map_err(err)?.is_none(), "get after delete")?;
    s.sync().map_err(err)
}

/// The same key in two keyspaces holds two values; ranges never cross keyspaces.
pub fn keyspaces_are_isolated(s: &dyn Storage) -> Check {
    let mut b = WriteBatch::new();
    b.put(A, b"k".to_vec(), b"a".to_vec());
    b.put(B, b"k".to_vec(), b"b".to_vec());
    b.put(TOP, b"k".to_vec(), b"top".to_vec());
    s.write(b).map_err(err)?;
    ensure(
        s.get(A, b"k").map_err(err)? == Some(b"a".to_vec()),
        "space A",
    )?;
    ensure(
        s.get(B, b"k").map_err(err)? == Some(b"b".to_vec()),
        "space B",
    )?;
    let in_a: Vec<_> = s
        .range(A, b"", None)
        .collect::<Result<_, _>>()
        .map_err(err)?;
    ensure(
        in_a == vec![(b"k".to_vec(), b"a".to_vec())],
        "range stays in A",
    )?;
    let in_top: Vec<_> = s
        .range(TOP, b"", None)
        .collect::<Result<_, _>>()
        .map_err(err)?;
    ensure(in_top.len() == 1, "range of keyspace 0xff")?;
    ensure(
        s.range(Keyspace(3), b"", None).next().is_none(),
        "empty keyspace",
    )
}

/// `range` honours `from` (inclusive) and `to` (exclusive) and ascends bytewise.
pub fn range_bounds_and_order(s: &dyn Storage) -> Check {
    let mut b = WriteBatch::new();
    for i in (0u64..300).rev() {
        b.put(A, i.to_be_bytes().to_vec(), i.to_le_bytes().to_vec());
    }
    s.write(b).map_err(err)?;
    let keys = |from: u64, to: Option<u64>| -> Result<Vec<u64>, String> {
        let to_bytes = to.map(u64::to_be_bytes);
        s.range(A, &from.to_be_bytes(), to_bytes.as_ref().map(|t| &t[..]))
            .map(|r| {
                let (k, _) = r.map_err(err)?;
                let arr: [u8; 8] = k.as_slice().try_into().map_err(err)?;
                Ok(u64::from_be_bytes(arr))
            })
            .collect()
    };
    ensure(
        keys(0, None)? == (0..300).collect::<Vec<_>>(),
        "full range ascends",
    )?;
    ensure(
        keys(10, Some(20))? == (10..20).collect::<Vec<_>>(),
        "bounded range",
    )?;
    ensure(keys(20, Some(10))?.is_empty(), "inverted range is empty")?;
    ensure(keys(299, Some(1000))? == vec![299], "range past the end")?;
    // visit_range sees what range sees, and stops when told to.
    let mut visited = Vec::new();
    s.visit_range(
        A,
        &10u64.to_be_bytes(),
        Some(&20u64.to_be_bytes()),
        &mut |k, v| {
            visited.push((k.to_vec(), v.to_vec()));
            if visited.len() == 5 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        },
    )
    .map_err(err)?;
    let ranged: Vec<_> = s
        .range(A, &10u64.to_be_bytes(), Some(&20u64.to_be_bytes()))
        .take(5)
        .collect::<Result<_, _>>()
        .map_err(err)?;
    ensure(
        visited == ranged,
        "visit_range matches range and stops on Break",
    )?;
    Ok(())
}

/// `last` gives the greatest key of the keyspace asked, not of a neighbour.
pub fn last_of_each_keyspace(s: &dyn Storage) -> Check {
    ensure(s.last(A).map_err(err)?.is_none(), "last of empty keyspace")?;
    let mut b = WriteBatch::new();
    b.put(A, vec![1], vec![]);
    b.put(A, vec![9, 9], vec![7]);
    b.put(B, vec![0xff; 4], vec![]);
    b.put(TOP, vec![5], vec![5]);
    s.write(b).map_err(err)?;
    ensure(
        s.last(A).map_err(err)? == Some((vec![9, 9], vec![7])),
        "last of A",
    )?;
    ensure(
        s.last(TOP).map_err(err)? == Some((vec![5], vec![5])),
        "last of 0xff",
    )
}

/// Within a batch, a later operation on the same key wins.
pub fn batch_later_op_wins(s: &dyn Storage) -> Check {
    let mut b = WriteBatch::new();
    b.put(A, b"k".to_vec(), b"1".to_vec());
    b.delete(A, b"k".to_vec());
    b.put(A, b"j".to_vec(), b"1".to_vec());
    b.put(A, b"j".to_vec(), b"2".to_vec());
    s.write(b).map_err(err)?;
    ensure(s.get(A, b"k").map_err(err)?.is_none(), "put then delete")?;
    ensure(
        s.get(A, b"j").map_err(err)? == Some(b"2".to_vec()),
        "put then put",
    )
}

/// For persistent engines: what was written and synced is there after reopening.
pub fn check_reopen(open: &dyn Fn() -> Box<dyn Storage>) -> Check {
    {
        let s = open();
        let mut b = WriteBatch::new();
        for i in 0u32..1000 {
            b.put(A, i.to_be_bytes().to_vec(), vec![7; 100]);
        }
        b.put(B, b"big".to_vec(), vec![3; 300_000]);
        s.write(b).map_err(err)?;
        s.sync().map_err(err)?;
    }
    let s = open();
    ensure(
        s.range(A, b"", None).count() == 1000,
        "all synced keys survive reopen",
    )?;
    ensure(
        s.get(B, b"big").map_err(err)? == Some(vec![3; 300_000]),
        "a large value survives reopen",
    )
}

/// Applies `batches` in order to `engine` (which must start empty) and to
/// a `BTreeMap` model, and after each batch compares every keyspace the
/// batches touch (plus one they do not): full and bounded ranges, `last`
/// and `get` of every key. Property tests feed it random batches.
pub fn matches_model(engine: &dyn Storage, batches: &[WriteBatch]) -> Check {
    let mut model: BTreeMap<(u8, Vec<u8>), Vec<u8>> = BTreeMap::new();
    // Every keyspace ever written, and one never written.
    let mut spaces = BTreeSet::from([3u8]);
    for batch in batches {
        for op in batch.ops() {
            match &op.value {
                Some(v) => model.insert((op.space.0, op.key.clone()), v.clone()),
                None => model.remove(&(op.space.0, op.key.clone())),
            };
        }
        engine.write(batch.clone()).map_err(err)?;
        spaces.extend(batch.ops().iter().map(|op| op.space.0));
        for &space in &spaces {
            let expected: Vec<KvPair> = model
                .iter()
                .filter(|((s, _), _)| *s == space)
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect();
            let got: Vec<KvPair> = engine
                .range(Keyspace(space), &[], None)
                .collect::<Result<_, _>>()
                .map_err(err)?;
            ensure(got == expected, "range differs from the model")?;
            ensure(
                engine.last(Keyspace(space)).map_err(err)? == expected.last().cloned(),
                "last differs from the model",
            )?;
            for (k, v) in &expected {
                ensure(
                    engine.get(Keyspace(space), k).map_err(err)?.as_ref() == Some(v),
                    "get differs from the model",
                )?;
            }
            let bounded: Vec<KvPair> = engine
                .range(Keyspace(space), &[1], Some(&[2, 1]))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            let expected_bounded: Vec<KvPair> = expected
                .iter()
                .filter(|(k, _)| k.as_slice() >= &[1][..] && k.as_slice() < &[2, 1][..])
                .cloned()
                .collect();
            ensure(
                bounded == expected_bounded,
                "bounded range differs from the model",
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::storage::{FjallStorage, MemoryStorage, SledStorage};

    #[test]
    fn simulated_engine_conforms() {
        use crate::storage::sim::{Power, SimStorage};
        check_all(&|| Box::new(SimStorage::new(Power::new()))).unwrap();
    }

    #[test]
    fn memory_engine_conforms() {
        check_all(&|| Box::new(MemoryStorage::new())).unwrap();
    }

    #[test]
    fn sled_engine_conforms() {
        let dirs = std::sync::Mutex::new(Vec::new());
        check_all(&|| {
            let dir = tempfile::tempdir().unwrap();
            let s = SledStorage::open(&dir.path().join("store"), 8 << 20).unwrap();
            dirs.lock().unwrap().push(dir);
            Box::new(s)
        })
        .unwrap();
    }

    #[test]
    fn fjall_engine_conforms() {
        let dirs = std::sync::Mutex::new(Vec::new());
        check_all(&|| {
            let dir = tempfile::tempdir().unwrap();
            let s = FjallStorage::open(&dir.path().join("store"), 8 << 20).unwrap();
            dirs.lock().unwrap().push(dir);
            Box::new(s)
        })
        .unwrap();
    }

    #[test]
    fn fjall_engine_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        check_reopen(&|| Box::new(FjallStorage::open(&path, 8 << 20).unwrap())).unwrap();
    }

    #[test]
    fn fjall_store_held_by_a_live_handle_is_reported_as_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let _first = FjallStorage::open(&path, 1 << 20).unwrap();
        match FjallStorage::open(&path, 1 << 20) {
            Err(crate::error::StorageError::Held { path: p }) => assert_eq!(p, path),
            other => panic!("expected Held, got {other:?}"),
        }
    }

    #[test]
    fn sled_engine_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        check_reopen(&|| Box::new(SledStorage::open(&path, 8 << 20).unwrap())).unwrap();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod model {
    //! Drives an engine and a `BTreeMap` model with the same random batches
    //! and compares every read.
    use proptest::prelude::*;

    use crate::storage::{FjallStorage, Keyspace, MemoryStorage, SledStorage, Storage, WriteBatch};

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, Vec<u8>, Vec<u8>),
        Delete(u8, Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let space = prop_oneof![Just(1u8), Just(2u8), Just(0xffu8)];
        let key = proptest::collection::vec(0u8..4, 0..4);
        prop_oneof![
            (
                space.clone(),
                key.clone(),
                proptest::collection::vec(any::<u8>(), 0..8)
            )
                .prop_map(|(s, k, v)| Op::Put(s, k, v)),
            (space, key).prop_map(|(s, k)| Op::Delete(s, k)),
        ]
    }

    fn run(engine: &dyn Storage, batches: Vec<Vec<Op>>) {
        let batches: Vec<WriteBatch> = batches
            .into_iter()
            .map(|ops| {
                let mut batch = WriteBatch::new();
                for op in ops {
                    match op {
                        Op::Put(s, k, v) => batch.put(Keyspace(s), k, v),
                        Op::Delete(s, k) => batch.delete(Keyspace(s), k),
                    }
                }
                batch
            })
            .collect();
        super::matches_model(engine, &batches).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn memory_engine_matches_the_model(batches in proptest::collection::vec(proptest::collection::vec(op(), 0..12), 1..12)) {
            run(&MemoryStorage::new(), batches);
        }

        #[test]
        fn sled_engine_matches_the_model(batches in proptest::collection::vec(proptest::collection::vec(op(), 0..12), 1..12)) {
            let dir = tempfile::tempdir().unwrap();
            let engine = SledStorage::open(&dir.path().join("s"), 4 << 20).unwrap();
            run(&engine, batches);
        }

        #[test]
        fn fjall_engine_matches_the_model(batches in proptest::collection::vec(proptest::collection::vec(op(), 0..12), 1..12)) {
            let dir = tempfile::tempdir().unwrap();
            let engine = FjallStorage::open(&dir.path().join("s"), 4 << 20).unwrap();
            run(&engine, batches);
        }
    }
}
