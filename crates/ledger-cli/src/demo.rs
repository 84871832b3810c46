//! The demo: a ledger filled by concurrent appenders, then checkpointed,
//! proven and verified, with a summary of what an auditor would check.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use ledger_core::merkle::{leaf_hash, verify_inclusion};
use ledger_core::{checkpoint, Event, Ledger, LedgerOptions, SubjectId};

const EVENT_TYPES: &[&str] = &[
    "record.created",
    "record.read",
    "record.updated",
    "record.shared",
    "record.exported",
];

pub(crate) fn run(dir: &Path, events: u64, tasks: u64) -> anyhow::Result<ExitCode> {
    let tasks = tasks.max(1);
    let ledger = Ledger::open(dir, LedgerOptions::default())
        .with_context(|| format!("opening ledger at {}", dir.display()))?;
    let start_size = ledger.len();
    let subjects: Vec<SubjectId> = (0..100).map(|_| SubjectId::random()).collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let started = Instant::now();
    runtime.block_on(async {
        let mut handles = Vec::new();
        for task in 0..tasks {
            let ledger = ledger.clone();
            let subjects = subjects.clone();
            handles.push(tokio::spawn(async move {
                let mut n = task;
                while n < events {
                    let event = Event::new(EVENT_TYPES[(n % 5) as usize], format!("svc-{task}"))
                        .with_subject(subjects[(n % 100) as usize])
                        .with_payload(opaque_payload(n));
                    ledger.append(event).await?;
                    n += tasks;
                }
                anyhow::Ok(())
            }));
        }
        for h in handles {
            h.await??;
        }
        anyhow::Ok(())
    })?;
    let append_secs = started.elapsed().as_secs_f64();

    let checkpoint = ledger.checkpoint_blocking()?;
    let size = checkpoint.checkpoint.tree_size;
    let probe = size / 2;
    let proof = ledger.inclusion_proof(probe, size)?;
    let record = ledger.get(probe)?;
    let opened = checkpoint::open(&checkpoint.note, ledger.verifier_key())?;
    verify_inclusion(&leaf_hash(&record.hash), &proof, &opened.root)
        .context("inclusion proof did not verify")?;

    let started = Instant::now();
    let report = ledger.verify();
    let verify_secs = started.elapsed().as_secs_f64();

    println!("ledger        {}", dir.display());
    println!("origin        {}", ledger.origin());
    println!(
        "appended      {} events from {tasks} concurrent tasks in {append_secs:.2} s ({:.0} events/s, each durable before acknowledged)",
        size - start_size,
        (size - start_size) as f64 / append_secs.max(1e-9)
    );
    println!("log size      {size} records");
    println!(
        "subject       {} has {} records (from the subject index)",
        subjects[0],
        ledger.subject_seqs(&subjects[0])?.len()
    );
    println!(
        "proof         record {probe} is included under the signed root ({} hashes)",
        proof.path.len()
    );
    println!("checkpoint\n{}", indent(&checkpoint.note));
    match report {
        Ok(report) => {
            println!(
                "verify        OK: {} records, {} Merkle nodes, {} signed checkpoints in {verify_secs:.2} s",
                report.size, report.nodes_checked, report.checkpoints_checked
            );
            println!(
                "public key    {}",
                dir.join(ledger_core::VERIFIER_KEY_FILE).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("verify        FAILED: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Stand-in for an encrypted payload: bytes that carry no meaning in clear.
fn opaque_payload(n: u64) -> Vec<u8> {
    blake3_like(n).to_vec()
}

fn blake3_like(n: u64) -> [u8; 48] {
    let mut out = [0u8; 48];
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    for chunk in out.chunks_mut(8) {
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
