//! The demo: a ledger whose subjects' personal data is sealed under keys of
//! their own, filled by concurrent appenders, then one subject is erased by
//! crypto-shredding, and the whole log is checkpointed, proven and verified.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use ledger_core::merkle::{leaf_hash, verify_inclusion};
use ledger_core::{checkpoint, Event, Ledger, LedgerOptions, SubjectId};
use ledger_vault::{seal, AuditMetadata, ErasureRequest, ErasureStatus, Vault, VaultOptions};

/// Synthetic activity the demo cycles through: event type, actor, and the
/// clear audit metadata codes (purpose, lawful basis, actor role).
const ACTIVITY: &[(&str, &str, &str, &str, &str)] = &[
    ("contact.collected", "svc:crm", "support", "art6-1b", "crm"),
    (
        "ticket.opened",
        "svc:helpdesk",
        "support",
        "art6-1b",
        "helpdesk",
    ),
    (
        "ticket.note_added",
        "svc:helpdesk",
        "support",
        "art6-1b",
        "helpdesk",
    ),
    (
        "data.accessed",
        "role:support",
        "support",
        "art6-1b",
        "support-agent",
    ),
    (
        "newsletter.sent",
        "svc:mailing",
        "marketing",
        "art6-1a",
        "mailing",
    ),
];

pub(crate) fn run(dir: &Path, events: u64, tasks: u64) -> anyhow::Result<ExitCode> {
    let tasks = tasks.max(1);
    let ledger = Ledger::open(dir, LedgerOptions::default())
        .with_context(|| format!("opening ledger at {}", dir.display()))?;
    let vault = Vault::open(ledger.clone(), VaultOptions::default())
        .context("opening the key store (key-encryption keys live beside the ledger directory)")?;
    let start_size = ledger.len();

    // 100 subjects with synthetic (not real) addresses; the ledger keeps
    // only a keyed blind index of each, never the address in clear.
    let run_tag = SubjectId::random().to_string();
    let emails: Vec<String> = (0..100)
        .map(|i| format!("customer-{i}.{}@example.test", &run_tag[..8]))
        .collect();
    let subjects: Vec<SubjectId> = vault
        .create_subjects(&emails.iter().map(|e| Some(e.as_str())).collect::<Vec<_>>())
        .context("creating subjects")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let started = Instant::now();
    runtime.block_on(async {
        let mut handles = Vec::new();
        for task in 0..tasks {
            let vault = vault.clone();
            let subjects = subjects.clone();
            let emails = emails.clone();
            handles.push(tokio::spawn(async move {
                let mut n = task;
                while n < events {
                    let (event_type, actor, purpose, basis, role) = ACTIVITY[(n % 5) as usize];
                    let who = (n % 100) as usize;
                    let personal = format!(
                        "{{\"n\":{n},\"email\":\"{}\",\"note\":\"synthetic demo text {n}\"}}",
                        emails[who]
                    );
                    let event = Event::new(event_type, actor)
                        .with_subject(subjects[who])
                        .with_payload(personal.into_bytes());
                    let metadata = AuditMetadata::new()
                        .with_purpose(purpose)
                        .with_lawful_basis(basis)
                        .with_actor_role(role);
                    vault.append_sealed_with_metadata(event, &metadata).await?;
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
    let appended = ledger.len() - start_size;

    // Erase one subject, found by email, as a DPO would on an Art. 17 request.
    let target_email = &emails[7];
    let target = vault
        .find_by_email(target_email)?
        .context("the blind index lost a subject")?;
    let erase_started = Instant::now();
    let receipt = vault.erase_subject(
        target,
        &ErasureRequest {
            reason: "gdpr-art17-1a".into(),
            request_ref: "DSR-DEMO-0001".into(),
            operator: "op:dpo-demo".into(),
        },
    )?;
    let erase_ms = erase_started.elapsed().as_secs_f64() * 1e3;
    let target_seqs = ledger.subject_seqs(&target)?;
    let erased_reads = target_seqs
        .iter()
        .filter(|&&seq| matches!(vault.read(seq), Ok((_, p)) if p.is_erased()))
        .count();
    // What an auditor without keys still reads of an erased record.
    let erased_metadata = match target_seqs.first() {
        Some(&seq) => seal::audit_metadata(&ledger.get(seq)?.record.payload)?,
        None => None,
    };
    let other_seq = ledger.subject_seqs(&subjects[8])?.first().copied();
    let other_readable = match other_seq {
        Some(seq) => vault.read(seq)?.1.plain().is_some(),
        None => false,
    };

    let checkpoint = runtime.block_on(ledger.checkpoint())?;
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
        "appended      {appended} sealed events for 100 subjects from {tasks} concurrent tasks in {append_secs:.2} s ({:.0} events/s, each durable before acknowledged)",
        appended as f64 / append_secs.max(1e-9)
    );
    println!(
        "erased        subject {target} (found by its email through the blind index) in {erase_ms:.1} ms: {}",
        match receipt.status {
            ErasureStatus::Complete { .. } => "key destroyed, KEK rotated, certificate issued",
            _ => "pending completion by the next KEK rotation",
        }
    );
    println!(
        "              its {erased_reads} sealed records now read as Erased (its {} erasure records stay in clear, with no personal data); other subjects still decrypt: {other_readable}",
        target_seqs.len() - erased_reads
    );
    if let Some(m) = erased_metadata {
        println!(
            "              their clear audit metadata is still readable without keys, e.g. purpose {}, lawful basis {}, actor role {}",
            m.purpose.as_deref().unwrap_or("-"),
            m.lawful_basis.as_deref().unwrap_or("-"),
            m.actor_role.as_deref().unwrap_or("-")
        );
    }
    if let Some(cert) = vault.certificate(&target)? {
        println!(
            "certificate   {} of key {} v{}, KEK v{} destroyed, verification: {}",
            cert.method,
            cert.key_id,
            cert.key_version,
            cert.kek_version_destroyed,
            cert.verification.result
        );
    }
    println!(
        "proof         record {probe} is included under the signed root ({} hashes)",
        proof.path.len()
    );
    println!("checkpoint\n{}", indent(&checkpoint.note));
    match report {
        Ok(report) => {
            println!(
                "verify        OK: {} records, {} Merkle nodes, {} signed checkpoints, {} index entries in {verify_secs:.2} s (after the erasure: the chain hashes ciphertext)",
                report.size,
                report.nodes_checked,
                report.checkpoints_checked,
                report.index_entries_checked
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

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
