//! Both storage contracts on a real PostgreSQL cluster (started by the
//! test, see ledger-testkit's `pg` module): the conformance suites, the
//! model property tests, fencing of a replaced writer, schema versions,
//! and acknowledged writes surviving a server crash.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use ledger_core::storage::{conformance, log_conformance, Keyspace, LogStore, Storage, WriteBatch};
use ledger_core::StorageError;
use ledger_postgres::{open_stores, LogMode, PgConfig, PgError, PgLog, PgStorage, SCHEMA_VERSION};
use ledger_testkit::pg::PgCluster;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

static SCHEMAS: AtomicU32 = AtomicU32::new(0);

/// A fresh, migrated schema in the cluster's database.
fn fresh(pg: &PgCluster) -> PgConfig {
    let n = SCHEMAS.fetch_add(1, Ordering::SeqCst);
    let config = PgConfig::parse(&pg.url())
        .unwrap()
        .with_schema(&format!("t{n}"))
        .unwrap();
    ledger_postgres::migrate(&config).unwrap();
    config
}

fn writer(config: &PgConfig) -> Box<dyn LogStore> {
    Box::new(PgLog::open(config, LogMode::Writer).unwrap())
}

fn state(config: &PgConfig) -> Box<dyn Storage> {
    Box::new(PgStorage::open(config).unwrap())
}

#[test]
fn log_store_conforms() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    log_conformance::check_all(&|| writer(&fresh(&pg))).unwrap();
    let config = fresh(&pg);
    log_conformance::check_reopen(&|| writer(&config)).unwrap();
}

#[test]
fn state_store_conforms() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    conformance::check_all(&|| state(&fresh(&pg))).unwrap();
    let config = fresh(&pg);
    conformance::check_reopen(&|| state(&config)).unwrap();
}

#[test]
fn log_store_matches_the_model() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let value = proptest::collection::vec(any::<u8>(), 0..1500);
    let op = prop_oneof![
        4 => proptest::collection::vec(value, 0..6).prop_map(log_conformance::LogOp::Append),
        1 => Just(log_conformance::LogOp::Sync),
        1 => Just(log_conformance::LogOp::Reopen),
        2 => (0u64..40).prop_map(log_conformance::LogOp::Get),
        2 => (0u64..40, 0u64..45).prop_map(|(a, b)| log_conformance::LogOp::Scan(a, b)),
    ];
    let mut runner = TestRunner::new(Config::with_cases(24));
    runner
        .run(&proptest::collection::vec(op, 1..40), |ops| {
            let config = fresh(&pg);
            log_conformance::matches_model(&|| writer(&config), &ops).map_err(TestCaseError::fail)
        })
        .unwrap();
}

#[test]
fn state_store_matches_the_model() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let space = prop_oneof![Just(1u8), Just(2u8), Just(0xffu8), Just(0u8)];
    let key = proptest::collection::vec(0u8..4, 0..4);
    let op = prop_oneof![
        (
            space.clone(),
            key.clone(),
            proptest::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(s, k, v)| (s, k, Some(v))),
        (space, key).prop_map(|(s, k)| (s, k, None)),
    ];
    let batch = proptest::collection::vec(op, 0..12).prop_map(|ops| {
        let mut b = WriteBatch::new();
        for (s, k, v) in ops {
            match v {
                Some(v) => b.put(Keyspace(s), k, v),
                None => b.delete(Keyspace(s), k),
            }
        }
        b
    });
    let mut runner = TestRunner::new(Config::with_cases(24));
    runner
        .run(&proptest::collection::vec(batch, 1..12), |batches| {
            let config = fresh(&pg);
            conformance::matches_model(state(&config).as_ref(), &batches)
                .map_err(TestCaseError::fail)
        })
        .unwrap();
}

#[test]
fn a_replaced_writer_is_fenced_off() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let config = fresh(&pg);
    let first = PgLog::open(&config, LogMode::Writer).unwrap();
    first.append(0, &[b"a".to_vec(), b"b".to_vec()]).unwrap();
    let second = PgLog::open(&config, LogMode::Writer).unwrap();
    assert!(second.version() > first.version());
    assert_eq!(second.len(), 2);
    match first.append(2, &[b"c".to_vec()]) {
        Err(StorageError::Fenced { detail }) => {
            assert!(
                detail.contains(&format!("version {}", first.version())),
                "{detail}"
            )
        }
        other => panic!("expected Fenced, got {other:?}"),
    }
    // A reader neither fences the writer nor appends.
    let reader = PgLog::open(&config, LogMode::Reader).unwrap();
    second.append(2, &[b"c".to_vec()]).unwrap();
    assert!(matches!(
        reader.append(2, &[b"x".to_vec()]),
        Err(StorageError::Refused { .. })
    ));
    let again = PgLog::open(&config, LogMode::Reader).unwrap();
    assert_eq!(again.len(), 3);
    assert_eq!(again.get(2).unwrap().as_deref(), Some(&b"c"[..]));
    // The fenced writer's refused append left nothing behind.
    assert_eq!(again.get(3).unwrap(), None);
}

#[test]
fn a_schema_from_a_newer_build_is_refused() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let config = fresh(&pg);
    let mut client = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let newer = SCHEMA_VERSION + 1;
    client
        .execute(
            &format!("UPDATE {}.schema_info SET version = $1", config.schema()),
            &[&newer],
        )
        .unwrap();
    match open_stores(&config, LogMode::Writer) {
        Err(StorageError::Engine { source, .. }) => match source.downcast_ref::<PgError>() {
            Some(PgError::SchemaTooNew { found, known, .. }) => {
                assert_eq!((*found, *known), (newer, SCHEMA_VERSION))
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        },
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[test]
fn a_url_with_a_bad_schema_or_scheme_is_refused() {
    assert!(matches!(
        PgConfig::parse("postgres://u:secret@h/db?schema=Robert'); DROP"),
        Err(PgError::BadUrl { .. })
    ));
    let e = PgConfig::parse("mysql://u:secret@h/db").unwrap_err();
    assert!(!e.to_string().contains("secret"));
    let c = PgConfig::parse("postgres://u:secret@h:6543/db?schema=s1&connect_timeout=5").unwrap();
    assert_eq!((c.schema(), c.target()), ("s1", "h:6543/db"));
    assert!(!format!("{c:?}").contains("secret"));
}

#[test]
fn acknowledged_writes_survive_a_server_crash() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let config = fresh(&pg);
    {
        let stores = open_stores(&config, LogMode::Writer).unwrap();
        let values: Vec<Vec<u8>> = (0..100u32).map(|i| i.to_be_bytes().to_vec()).collect();
        stores.log.append(0, &values).unwrap();
        stores.log.sync().unwrap();
        let mut batch = WriteBatch::new();
        batch.put(Keyspace(7), b"k".to_vec(), b"v".to_vec());
        stores.state.write(batch).unwrap();
        stores.state.sync().unwrap();
        pg.kill().unwrap();
        // The server is gone: a typed error, no panic, no hang.
        assert!(stores.log.get(0).is_err());
    }
    pg.restart().unwrap();
    let stores = open_stores(&config, LogMode::Writer).unwrap();
    assert_eq!(stores.log.len(), 100);
    assert_eq!(
        stores.log.get(99).unwrap(),
        Some(99u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        stores.state.get(Keyspace(7), b"k").unwrap(),
        Some(b"v".to_vec())
    );
}

#[test]
fn the_contracts_hold_inside_a_tokio_runtime() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let config = fresh(&pg);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stores = open_stores(&config, LogMode::Writer).unwrap();
        stores.log.append(0, &[b"x".to_vec()]).unwrap();
        assert_eq!(stores.log.get(0).unwrap(), Some(b"x".to_vec()));
    });
}
