//! Vault benchmarks: `cargo bench -p ledger-vault`.
//!
//! Every figure is printed beside a baseline measured in the same run:
//! - sealed appends vs plain appends on the same ledger setup;
//! - erase latency vs three raw store write+sync round trips (what an
//!   erasure's durable steps cost at minimum);
//! - rotation of 100,000 live subjects vs raw XChaCha20-Poly1305
//!   unwrap+wrap of 100,000 keys and a raw sled write+sync of the same bytes.
//!
//! `VAULT_BENCH_EVENTS`, `VAULT_BENCH_SUBJECTS` change the sizes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::storage::{SledStorage, Storage, WriteBatch};
use ledger_core::{Event, KeyRef, Ledger, LedgerOptions, ScopeId};
use ledger_vault::VaultEvent;
use ledger_vault::{seal, AuditMetadata, ErasureRequest, KekSource, Vault, VaultOptions};

const TASKS: usize = 32;
const PAYLOAD: usize = 256;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ledger_options() -> LedgerOptions {
    LedgerOptions {
        checkpoint_every: None,
        checkpoint_interval: None,
        ..LedgerOptions::default()
    }
}

fn open_vault(dir: &Path, rotate: Option<Duration>) -> Vault {
    let ledger = Ledger::open(dir.join("ledger"), ledger_options()).unwrap();
    Vault::open(
        ledger,
        VaultOptions {
            kek_source: KekSource::Dir(dir.join("keks")),
            rotate_after_erasure: rotate,
            ..VaultOptions::default()
        },
    )
    .unwrap()
}

/// Appends `events` from `TASKS` tasks; returns events per second.
fn append_run(sealed: bool, events: usize, subjects_n: usize) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let vault = open_vault(tmp.path(), None);
    let subjects = Arc::new(vault.create_scopes(&vec![None; subjects_n]).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let vault = vault.clone();
            let subjects = Arc::clone(&subjects);
            handles.push(tokio::spawn(async move {
                for n in (t..events).step_by(TASKS) {
                    let subject = subjects[n % subjects.len()];
                    let event = Event::new("contact.collected", "svc:crm")
                        .with_scope(subject)
                        .with_payload(vec![(n % 251) as u8; PAYLOAD]);
                    if sealed {
                        vault.append(VaultEvent::sealed(event)).await.unwrap();
                    } else {
                        vault.ledger().append(event).await.unwrap();
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    events as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn request(n: usize) -> ErasureRequest {
    ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: format!("DSR-{n}"),
        operator: "op:bench".into(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is parsed.
    let events = env_or("VAULT_BENCH_EVENTS", 10_000);
    let subjects_n = env_or("VAULT_BENCH_SUBJECTS", 100_000);
    println!(
        "ledger-vault benchmarks ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Append throughput: alternating pairs, so machine noise hits both.
    let pairs = env_or("VAULT_BENCH_PAIRS", 5);
    let mut plain = Vec::new();
    let mut sealed = Vec::new();
    let mut ratios = Vec::new();
    for i in 0..pairs {
        // Alternate which goes first within a pair.
        let (p, s) = if i % 2 == 0 {
            let p = append_run(false, events, 1000);
            (p, append_run(true, events, 1000))
        } else {
            let s = append_run(true, events, 1000);
            (append_run(false, events, 1000), s)
        };
        plain.push(p);
        sealed.push(s);
        ratios.push(s / p);
    }
    let med = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    // CPU cost of sealing alone, per event.
    let key = seal::SecretKey::random();
    let key_ref = KeyRef {
        key_id: [2; 16],
        version: 1,
    };
    let subject = ScopeId::random();
    let metadata = AuditMetadata::new()
        .with_purpose("support")
        .with_lawful_basis("art6-1b");
    let data = vec![7u8; PAYLOAD];
    let t = Instant::now();
    for _ in 0..100_000 {
        std::hint::black_box(
            seal::seal_payload(
                &key,
                &[1; 16],
                &subject,
                &key_ref,
                "bench.event",
                &metadata,
                std::hint::black_box(&data),
            )
            .unwrap(),
        );
    }
    let seal_cost = t.elapsed() / 100_000;
    println!(
        "append, {events} events x {PAYLOAD} B, {TASKS} tasks, 1000 subjects, {pairs} alternating pairs:\n  plain  median {:>7.0} ev/s  runs {plain:.0?}\n  sealed median {:>7.0} ev/s  runs {sealed:.0?}\n  ratio sealed/plain per pair {ratios:.3?}, median {:.3}\n  baseline: seal_payload() alone {seal_cost:?} per {PAYLOAD} B payload (with purpose/lawful-basis metadata)",
        med(&plain),
        med(&sealed),
        med(&ratios)
    );

    // 2. Erase latency.
    {
        let tmp = tempfile::tempdir().unwrap();
        let vault = open_vault(tmp.path(), None);
        let subjects = vault.create_scopes(&vec![None; 1000]).unwrap();
        for s in &subjects[..100] {
            vault
                .append_blocking(VaultEvent::sealed(
                    Event::new("x", "y")
                        .with_scope(*s)
                        .with_payload(vec![1; 64]),
                ))
                .unwrap();
        }
        let mut erase = Vec::new();
        for (i, s) in subjects[..50].iter().enumerate() {
            let t = Instant::now();
            vault.erase_scope_blocking(*s, &request(i)).unwrap();
            erase.push(t.elapsed());
        }
        let t = Instant::now();
        let report = vault.rotate_kek().unwrap();
        let rotate_small = t.elapsed();
        drop(vault);
        let vault = open_vault(tmp.path(), Some(Duration::ZERO));
        let mut inline = Vec::new();
        for (i, s) in subjects[50..70].iter().enumerate() {
            let t = Instant::now();
            vault.erase_scope_blocking(*s, &request(i)).unwrap();
            inline.push(t.elapsed());
        }
        // Baseline: three durable write+sync round trips on a raw store.
        let raw = SledStorage::open(&tmp.path().join("raw"), 8 << 20).unwrap();
        let mut syncs = Vec::new();
        for i in 0..50u32 {
            let t = Instant::now();
            for j in 0..3u32 {
                let mut b = WriteBatch::new();
                b.put(
                    ledger_core::storage::Keyspace(b'z'),
                    (i * 3 + j).to_be_bytes(),
                    vec![0u8; 200],
                );
                raw.write(b).unwrap();
                raw.sync().unwrap();
            }
            syncs.push(t.elapsed());
        }
        println!(
            "erase (1000 live subjects):\n  erase without rotation  median {:?}\n  erase + inline rotation median {:?}\n  rotation certifying 50 erasures {:?}\n  baseline: 3 raw sled write+sync median {:?}",
            median(erase),
            median(inline),
            rotate_small,
            median(syncs)
        );
        assert_eq!(report.certificates.len(), 50);
    }

    // 3. Rotation of many live subjects.
    {
        let tmp = tempfile::tempdir().unwrap();
        let vault = open_vault(tmp.path(), None);
        let t = Instant::now();
        for _ in 0..subjects_n.div_ceil(10_000) {
            vault
                .create_scopes(&vec![None; 10_000.min(subjects_n)])
                .unwrap();
        }
        let created = t.elapsed();
        let t = Instant::now();
        let report = vault.rotate_kek().unwrap();
        let rotation = t.elapsed();
        assert!(report.rewrapped as usize >= subjects_n);
        // Baselines: the crypto alone, and the store writes alone.
        let kek = seal::SecretKey::random();
        let kek2 = seal::SecretKey::random();
        let dek = seal::SecretKey::random();
        let ledger_id = [1u8; 16];
        let key_ref = KeyRef {
            key_id: [2; 16],
            version: 1,
        };
        let wrapped: Vec<(ScopeId, Vec<u8>)> = (0..subjects_n)
            .map(|_| {
                let s = ScopeId::random();
                let ad = seal::dek_wrap_ad(&ledger_id, &s, &key_ref, 1);
                (s, seal::wrap(&kek, &ad, &dek).unwrap())
            })
            .collect();
        let t = Instant::now();
        let mut out = Vec::with_capacity(subjects_n);
        for (s, w) in &wrapped {
            let ad = seal::dek_wrap_ad(&ledger_id, s, &key_ref, 1);
            let k = seal::unwrap(&kek, &ad, w).unwrap();
            let ad2 = seal::dek_wrap_ad(&ledger_id, s, &key_ref, 2);
            out.push(seal::wrap(&kek2, &ad2, &k).unwrap());
        }
        let crypto = t.elapsed();
        let raw = SledStorage::open(&tmp.path().join("raw"), 256 << 20).unwrap();
        let t = Instant::now();
        for chunk in out.chunks(8192).enumerate() {
            let mut b = WriteBatch::new();
            for (i, w) in chunk.1.iter().enumerate() {
                b.put(
                    ledger_core::storage::Keyspace(b'k'),
                    ((chunk.0 * 8192 + i) as u64).to_be_bytes(),
                    w.clone(),
                );
            }
            raw.write(b).unwrap();
        }
        raw.sync().unwrap();
        let store = t.elapsed();
        println!(
            "rotation, {subjects_n} live subjects (created in {created:?}):\n  rotate_kek {rotation:?} (re-wrapped {}, destroyed {:?})\n  baseline: raw unwrap+wrap x{subjects_n} {crypto:?}\n  baseline: raw sled write+sync of {subjects_n} wrapped keys {store:?}",
            report.rewrapped, report.destroyed
        );
    }
}
