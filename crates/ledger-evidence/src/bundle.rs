//! Writing and checking a bundle.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, NaiveDate, Utc};
use ledger_compliance::model::{RequestStatus, RequestTally};
use ledger_core::{ReadOnlyLedger, VerifierKey};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Digest;

use crate::controls::{section, ControlSection};
use crate::facts::{gather, requests, Gathered, RequestFact};
use crate::{html, oscal, EvidenceError};

/// Bundle format written into the manifest.
pub const BUNDLE_FORMAT: &str = "ledger-evidence/v1";

/// What a bundle covers and how it judges.
#[derive(Clone, Debug)]
pub struct BundleOptions {
    /// First day of the period (UTC).
    pub from: NaiveDate,
    /// Last day of the period (UTC); retention and deadlines are judged as of it.
    pub to: NaiveDate,
    /// Ticket retention after closing (the policy: 2 years).
    pub ticket_retention: chrono::Duration,
    /// How the ledger's clock is synchronized (stated by the operator).
    pub time_source: String,
    /// When the bundle is generated.
    pub generated_at: DateTime<Utc>,
    /// Records sampled for inclusion proofs.
    pub samples: usize,
    /// What the record of processing states that the log cannot know
    /// (controller, DPO, authority, organisational measures).
    pub ropa: ledger_compliance::ropa::RopaConfig,
}

/// What [`write_bundle`] produced.
#[derive(Clone, Debug, Serialize)]
pub struct BundleSummary {
    /// Bundle directory.
    pub dir: PathBuf,
    /// blake3 of `manifest.json`, hex.
    pub manifest_blake3: String,
    /// SHA-256 of `manifest.json`, hex.
    pub manifest_sha256: String,
    /// Tree size of the checkpoint the bundle is bound to.
    pub checkpoint_size: u64,
    /// Whether the whole log verified.
    pub verified: bool,
    /// Records in the log.
    pub records: u64,
    /// Records in the period.
    pub records_in_period: u64,
    /// `control: exception` for every exception found.
    pub findings: Vec<String>,
    /// What the bundle could not include from this copy of the ledger, in
    /// words (empty when complete), e.g. the erasure certificates a snapshot
    /// does not hold. Also in `manifest.json` as `lacks`.
    pub lacks: Vec<String>,
    /// Files listed in the manifest.
    pub files: usize,
}

struct Writer {
    root: PathBuf,
    files: BTreeMap<String, (u64, String, String)>,
}

impl Writer {
    fn put(&mut self, rel: &str, bytes: &[u8]) -> Result<(), EvidenceError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            private_dir_all(parent).map_err(|source| EvidenceError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        write_new_private(&path, bytes).map_err(|source| EvidenceError::Io {
            path: path.clone(),
            source,
        })?;
        self.files.insert(rel.to_owned(), digest(bytes));
        Ok(())
    }

    fn json(&mut self, rel: &str, value: &impl Serialize) -> Result<(), EvidenceError> {
        let mut bytes =
            serde_json::to_vec_pretty(value).map_err(|e| EvidenceError::Bundle(e.to_string()))?;
        bytes.push(b'\n');
        self.put(rel, &bytes)
    }
}

fn digest(bytes: &[u8]) -> (u64, String, String) {
    (
        bytes.len() as u64,
        blake3::hash(bytes).to_hex().to_string(),
        hex::encode(sha2::Sha256::digest(bytes)),
    )
}

/// Request statistics of the period: one outcome per request.
pub(crate) type RequestStats = RequestTally;

fn request_stats(list: &[RequestFact]) -> RequestStats {
    let mut s = RequestTally::default();
    for r in list {
        s.add(r.outcome, r.extended);
    }
    s
}

/// Writes `bytes` to a new file, mode 0600: O_CREAT | O_EXCL refuses an
/// existing file and never follows a symlink planted at `path`.
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
}

/// Creates `dir` and missing parents with mode 0700 (whatever the umask
/// grants: the bundle's directories are the owner's only).
fn private_dir_all(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates `out` for a bundle, or accepts it if it is an empty directory
/// (not a symlink); anything else is [`EvidenceError::NotFresh`], so no file
/// of an older bundle or of anything else is ever left beside a new one.
fn create_fresh(out: &Path) -> Result<(), EvidenceError> {
    let io = |source| EvidenceError::Io {
        path: out.to_path_buf(),
        source,
    };
    let not_fresh = || EvidenceError::NotFresh {
        path: out.to_path_buf(),
    };
    match std::fs::symlink_metadata(out) {
        Ok(meta) if meta.is_dir() => {
            let mut entries = std::fs::read_dir(out).map_err(io)?;
            match entries.next() {
                None => Ok(()),
                Some(_) => Err(not_fresh()),
            }
        }
        Ok(_) => Err(not_fresh()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => private_dir_all(out).map_err(io),
        Err(e) => Err(io(e)),
    }
}

/// Builds the bundle for `log` into `out`, which must not exist or be an
/// empty directory ([`EvidenceError::NotFresh`] otherwise).
/// `progress(stage, records)` reports long passes.
pub fn write_bundle(
    log: &ReadOnlyLedger,
    key: &VerifierKey,
    options: &BundleOptions,
    out: &Path,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<BundleSummary, EvidenceError> {
    create_fresh(out)?;
    let mut w = Writer {
        root: out.to_path_buf(),
        files: BTreeMap::new(),
    };

    // 1. Integrity of the whole log, with the public key only.
    let verification = log.verify(key, &mut |n| progress("verify", n));
    let (verified, verification_json) = match &verification {
        Ok(r) => (
            true,
            json!({
                "result": "verified",
                "records": r.size,
                "records_checked": r.records_checked,
                "merkle_nodes_checked": r.nodes_checked,
                "checkpoints_checked": r.checkpoints_checked,
                "subject_index_entries_checked": r.index_entries_checked,
                "latest_checkpoint": r.latest_checkpoint,
                "unsigned_tail": r.unsigned_tail,
                "root": hex::encode(r.root),
                "last_hash": hex::encode(r.last_hash),
                "first_timestamp": r.first_timestamp,
                "last_timestamp": r.last_timestamp,
                "verifier_key": key.vkey(),
            }),
        ),
        Err(e) => (
            false,
            json!({
                "result": "failed",
                "error": e.to_string(),
                "first_bad_seq": match e { ledger_core::VerifyError::Failed { seq, .. } => Some(*seq), _ => None },
                "verifier_key": key.vkey(),
            }),
        ),
    };
    w.json("verification.json", &verification_json)?;

    // 2. The signed checkpoint the bundle is bound to.
    let signed = log
        .latest_checkpoint()?
        .ok_or(EvidenceError::NoCheckpoint)?;
    let checkpoint_ok = ledger_core::checkpoint::open(&signed.note, key).is_ok();
    w.put("checkpoint.txt", signed.note.as_bytes())?;
    let size = signed.checkpoint.tree_size;
    let root = signed.checkpoint.root;

    // 3. One pass over the log.
    let g = gather(
        log,
        options.from,
        options.to,
        options.ticket_retention,
        &mut |n| progress("read", n),
    )?;

    // 4. Sampled inclusion proofs against the checkpoint.
    let mut proofs = Vec::new();
    let mut proof_failures = Vec::new();
    let n = options
        .samples
        .min(usize::try_from(size).unwrap_or(usize::MAX)) as u64;
    for i in 0..n {
        let seq = size.saturating_sub(1) * i / n.saturating_sub(1).max(1);
        let stored = log.get(seq)?;
        let tree = log.tree_hash();
        let leaf = tree.leaf_hash(&stored.hash);
        let proof = log.inclusion_proof(seq, size)?;
        let ok = tree.verify_inclusion(&leaf, &proof, &root).is_ok();
        if !ok {
            proof_failures.push(seq);
        }
        proofs.push(json!({
            "seq": seq,
            "event_type": stored.record.event_type,
            "record_hash": hex::encode(stored.hash),
            "leaf_hash": hex::encode(leaf),
            "tree_hash": tree.name(),
            "tree_size": size,
            "path": proof.path.iter().map(hex::encode).collect::<Vec<_>>(),
            "verified": ok,
        }));
    }
    w.json(
        "proofs.json",
        &json!({ "checkpoint_root": hex::encode(root), "tree_size": size, "proofs": proofs }),
    )?;

    // 5. Key-destruction certificates, as stored, checked against the log.
    let mut certificate_problems = Vec::new();
    let mut certificates = 0u64;
    let mut stored = std::collections::BTreeSet::new();
    let by_scope: BTreeMap<&str, Option<&String>> = g
        .erasures
        .iter()
        .map(|e| (e.scope.as_str(), e.certificate_hash.as_ref()))
        .collect();
    for item in log
        .storage()
        .range(ledger_vault::store::CERTIFICATES, &[], None)
    {
        let (k, v) = item.map_err(|e| EvidenceError::Read(e.into()))?;
        let scope = hex::encode(&k);
        let hash = blake3::hash(&v).to_hex().to_string();
        match by_scope.get(scope.as_str()) {
            Some(Some(logged)) if **logged == hash => {}
            _ => certificate_problems.push(format!(
                "certificate of {scope} does not match the hash recorded in the log"
            )),
        }
        certificates += 1;
        w.put(&format!("erasure-certificates/{scope}.json"), &v)?;
        stored.insert(scope);
    }
    // Erasures the log says were certified whose certificate is not here.
    let unstored: Vec<&crate::facts::ErasureFact> = g
        .erasures
        .iter()
        .filter(|e| e.certificate_hash.is_some() && !stored.contains(&e.scope))
        .collect();
    let mut lacks = Vec::new();
    let lacking = if !unstored.is_empty() && certificates == 0 {
        // No certificate store at all: a copy such as a snapshot, which
        // holds the log but not the vault's stores.
        lacks.push(format!(
            "the key-destruction certificates of {} erasure(s) certified in the log: this copy of the ledger has no certificate store (a snapshot holds the log only), so the bundle has their hashes from the log but not the certificates, and checks none",
            unstored.len()
        ));
        unstored.len()
    } else {
        for e in &unstored {
            certificate_problems.push(format!(
                "erasure of {} (seq {}) is certified in the log but its certificate is not in the store",
                e.scope, e.seq
            ));
        }
        0
    };

    // 6. Facts judged as of the end of the period.
    let as_of = options.to;
    let as_of_time = as_of
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(options.generated_at);
    let request_list: Vec<RequestFact> = requests(&g.model, as_of)
        .into_iter()
        .filter(|r| r.received >= options.from && r.received <= options.to)
        .collect();
    let stats = request_stats(&request_list);
    w.json(
        "requests.json",
        &json!({ "as_of": as_of, "statistics": stats, "requests": request_list }),
    )?;

    let expired = g
        .model
        .expired_tickets(as_of_time, options.ticket_retention);
    let backups_kept: Vec<&crate::facts::BackupFact> = g
        .backups
        .values()
        .filter(|b| b.destroyed.is_none() && b.retain_until < as_of)
        .collect();
    w.json(
        "retention.json",
        &json!({
            "as_of": as_of,
            "ticket_retention_days": options.ticket_retention.num_days(),
            "tickets_kept_past_limit": expired.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            "retention_overrides": g.retention_overrides,
            "backups": g.backups.values().collect::<Vec<_>>(),
            "backups_kept_past_limit": backups_kept.iter().map(|b| &b.backup).collect::<Vec<_>>(),
        }),
    )?;
    let transfers: Vec<Value> = g
        .transfers
        .iter()
        .map(|((r, c, s), n)| json!({"recipient": r, "country": c, "safeguard": s, "count": n}))
        .collect();
    w.json(
        "register.json",
        &json!({
            "recipients": g.recipients,
            "transfers": transfers,
            "disclosures": g.disclosures,
            "business_transfers": g.business_transfers.iter().map(|(seq, c, k, country)| json!({"seq": seq, "counterparty": c, "kind": k, "country": country})).collect::<Vec<_>>(),
        }),
    )?;
    w.json(
        "key-lifecycle.json",
        &json!({ "rotations": g.rotations, "erasures": g.erasures, "certificates_stored": certificates, "certificates_not_in_copy": lacking }),
    )?;
    w.json("events-by-month.json", &g.by_month)?;
    let compliance_options = ledger_compliance::ComplianceOptions {
        ticket_retention: options.ticket_retention,
        ropa: options.ropa.clone(),
        ..ledger_compliance::ComplianceOptions::default()
    };
    let ropa = ledger_compliance::ropa::ropa_from_ledger(log, &options.ropa, &compliance_options)
        .map_err(|e| EvidenceError::Bundle(format!("record of processing: {e}")))?;
    w.json("ropa.json", &ropa)?;
    w.put("ropa.csv", ropa.to_csv().as_bytes())?;

    // 7. Controls.
    let controls = build_controls(&ControlInput {
        g: &g,
        verification: &verification_json,
        verified,
        checkpoint_ok,
        size,
        proofs: proofs.len(),
        proof_failures: &proof_failures,
        stats: &stats,
        requests: &request_list,
        expired: expired.len(),
        backups_kept: backups_kept.len(),
        certificate_problems: &certificate_problems,
        certificates_checked: certificates,
        certificates_lacking: lacking,
        time_source: &options.time_source,
        checkpoints: log.checkpoints()?.len(),
    });
    w.json("controls.json", &controls)?;
    let findings: Vec<String> = controls
        .iter()
        .flat_map(|c| c.exceptions.iter().map(move |e| format!("{}: {e}", c.id)))
        .collect();

    let meta = html::Meta {
        origin: log.origin().to_owned(),
        ledger_id: hex::encode(log.ledger_id()),
        from: options.from,
        to: options.to,
        generated_at: options.generated_at,
        checkpoint_size: size,
        checkpoint_root: hex::encode(root),
        verified,
        records: g.records,
        records_in_period: g.in_period,
    };
    w.put(
        "report.html",
        html::render(&meta, &controls, &g, &stats, &request_list).as_bytes(),
    )?;
    let (plan, results) = oscal::render(&meta, &controls);
    w.json("oscal/assessment-plan.json", &plan)?;
    w.json("oscal/assessment-results.json", &results)?;

    // 8. The manifest binds every file, the ledger and the checkpoint.
    let manifest = json!({
        "format": BUNDLE_FORMAT,
        "ledger_id": hex::encode(log.ledger_id()),
        "origin": log.origin(),
        "period": { "from": options.from, "to": options.to },
        "generated_at": options.generated_at,
        "checkpoint": { "tree_size": size, "root": hex::encode(root), "note": signed.note, "signature_valid": checkpoint_ok },
        "verifier_key": key.vkey(),
        "verified": verified,
        "findings": findings.len(),
        "lacks": lacks,
        "files": w.files.iter().map(|(p, (len, b3, sha))| json!({"path": p, "bytes": len, "blake3": b3, "sha256": sha})).collect::<Vec<_>>(),
    });
    let mut manifest_bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| EvidenceError::Bundle(e.to_string()))?;
    manifest_bytes.push(b'\n');
    let (_, b3, sha) = digest(&manifest_bytes);
    let path = out.join("manifest.json");
    write_new_private(&path, &manifest_bytes)
        .map_err(|source| EvidenceError::Io { path, source })?;
    let path = out.join("MANIFEST.hash");
    write_new_private(
        &path,
        format!("blake3 {b3}  manifest.json\nsha256 {sha}  manifest.json\n").as_bytes(),
    )
    .map_err(|source| EvidenceError::Io { path, source })?;
    Ok(BundleSummary {
        dir: out.to_path_buf(),
        manifest_blake3: b3,
        manifest_sha256: sha,
        checkpoint_size: size,
        verified,
        records: g.records,
        records_in_period: g.in_period,
        findings,
        lacks,
        files: w.files.len(),
    })
}

struct ControlInput<'a> {
    g: &'a Gathered,
    verification: &'a Value,
    verified: bool,
    checkpoint_ok: bool,
    size: u64,
    proofs: usize,
    proof_failures: &'a [u64],
    stats: &'a RequestStats,
    requests: &'a [RequestFact],
    expired: usize,
    backups_kept: usize,
    certificate_problems: &'a [String],
    /// Certificates in the store, checked against the log.
    certificates_checked: u64,
    /// Certified erasures whose certificate this copy lacks (no store).
    certificates_lacking: usize,
    time_source: &'a str,
    checkpoints: usize,
}

fn build_controls(i: &ControlInput<'_>) -> Vec<ControlSection> {
    let g = i.g;
    let mut integrity = Vec::new();
    if !i.verified {
        integrity.push(format!(
            "the log failed verification: {}",
            i.verification["error"]
        ));
    }
    if !i.checkpoint_ok {
        integrity.push(
            "the latest checkpoint's signature does not verify under the given key".to_owned(),
        );
    }
    let mut logging = integrity.clone();
    for (seq, why) in g.undecodable.iter().take(10) {
        logging.push(format!(
            "record {seq} is not a readable compliance record: {why}"
        ));
    }
    let access_total: u64 = g.access_by_role.values().sum();
    let erasure_reasons = g
        .erasures
        .iter()
        .fold(BTreeMap::<&str, u64>::new(), |mut m, e| {
            *m.entry(e.reason.as_str()).or_default() += 1;
            m
        });
    let uncertified: Vec<&crate::facts::ErasureFact> = g
        .erasures
        .iter()
        .filter(|e| e.certificate_hash.is_none())
        .collect();
    let mut deletion: Vec<String> = Vec::new();
    if i.expired > 0 {
        deletion.push(format!(
            "{} ticket(s) kept past the retention limit",
            i.expired
        ));
    }
    for e in uncertified.iter().take(10) {
        deletion.push(format!(
            "erasure of {} (seq {}) has no key-destruction certificate yet (KEK rotation pending)",
            e.scope, e.seq
        ));
    }
    deletion.extend(i.certificate_problems.iter().cloned());
    for o in g.retention_overrides.iter().take(10) {
        deletion.push(format!(
            "record {}: retention of {} ({}) ended by operator override ({}) before the rule expired",
            o.seq, o.scope, o.rule, o.reason
        ));
    }
    deletion.extend(g.violation_exceptions("8.10", 10));
    let mut privacy = Vec::new();
    for r in i.requests.iter().filter(|r| !r.in_time) {
        privacy.push(match r.status {
            RequestStatus::Open => format!("request {} is overdue (due {})", r.request, r.due),
            _ => format!(
                "request {} was answered late ({} days, {} allowed)",
                r.request, r.days_taken, r.days_allowed
            ),
        });
    }
    privacy.extend(g.notification_exceptions(10));
    privacy.extend(g.violation_exceptions("5.34", 10));
    let mut proofs_exc = integrity.clone();
    for seq in i.proof_failures {
        proofs_exc.push(format!("inclusion proof of record {seq} does not verify"));
    }
    let sample_seqs = |pred: &dyn Fn(&str) -> bool| -> Vec<Value> {
        g.by_type
            .keys()
            .filter(|t| pred(t))
            .take(5)
            .map(|t| json!({"event_type": t, "count": g.by_type[t]}))
            .collect()
    };
    vec![
        section(
            "8.15",
            format!("{} records, every one hash-chained and covered by signed checkpoints; {access_total} staff accesses logged with role and purpose in the period.", g.records),
            json!({
                "records": g.records,
                "records_in_period": g.in_period,
                "by_type": g.by_type,
                "accesses_by_role": g.access_by_role,
                "accesses_by_purpose": g.access_by_purpose,
                "ticket_accesses": g.ticket_access,
                "verification": i.verification["result"],
            }),
            sample_seqs(&|t| t.contains("access") || t.contains("handed") || t.contains("escalated")),
            logging,
        ),
        section(
            "8.17",
            format!("Timestamps come from one clock ({}) and never go backwards.", i.time_source),
            json!({"time_source": i.time_source, "first": g.first, "last": g.last, "regressions": g.clock_regressions.len()}),
            g.clock_regressions.iter().take(5).map(|s| json!({"seq": s})).collect(),
            g.clock_regressions.iter().take(10).map(|s| format!("record {s} is older than its predecessor")).collect(),
        ),
        section(
            "5.28",
            format!("{} signed checkpoints; {} sampled records proven included in the checkpoint of size {}.", i.checkpoints, i.proofs, i.size),
            json!({"checkpoints": i.checkpoints, "checkpoint_size": i.size, "proofs_sampled": i.proofs, "proofs_failed": i.proof_failures.len()}),
            vec![json!({"file": "proofs.json"}), json!({"file": "checkpoint.txt"})],
            proofs_exc,
        ),
        section(
            "5.33",
            "Records are protected by a BLAKE3 hash chain, an RFC 6962 Merkle tree (SHA-256; BLAKE3 for a ledger created before) and Ed25519-signed C2SP checkpoints, verified here with the public key only.".to_owned(),
            i.verification.clone(),
            vec![],
            integrity.clone(),
        ),
        section(
            "5.34",
            format!(
                "{} rights requests received in the period: {} answered in time ({} fulfilled, {} refused), {} answered late, {} open, {} overdue; {} extended.",
                i.stats.received, i.stats.answered_in_time(), i.stats.fulfilled_in_time, i.stats.refused_in_time, i.stats.answered_late, i.stats.open, i.stats.overdue, i.stats.extended
            ),
            json!({"requests": i.stats, "policies": g.policies.iter().map(|(v, (at, n))| json!({"version": v, "published": at, "notifications": n})).collect::<Vec<_>>()}),
            i.requests.iter().take(5).map(|r| json!({"request": r.request, "right": r.right, "received": r.received, "due": r.due, "answered": r.answered})).collect(),
            privacy,
        ),
        section(
            "8.10",
            if i.certificates_lacking > 0 {
                format!(
                    "{} erasures by crypto-shredding ({} recorded as certified in the log; their certificates are not in this copy of the ledger, so none was checked); retention limits checked as of the end of the period.",
                    g.erasures.len(),
                    g.erasures.len() - uncertified.len()
                )
            } else {
                format!(
                    "{} erasures by crypto-shredding ({} certified, {} certificates checked against the log); retention limits checked as of the end of the period.",
                    g.erasures.len(),
                    g.erasures.len() - uncertified.len(),
                    i.certificates_checked
                )
            },
            json!({"erasures": g.erasures.len(), "by_reason": erasure_reasons, "certified_in_log": g.erasures.len() - uncertified.len(), "certificates_checked": i.certificates_checked, "certificates_not_in_copy": i.certificates_lacking, "tickets_kept_past_limit": i.expired}),
            g.erasures.iter().take(5).map(|e| json!({"seq": e.seq, "scope": e.scope, "kind": e.kind, "reason": e.reason, "certificate": e.certificate_hash})).collect(),
            deletion,
        ),
        section(
            "8.24",
            format!("Per-subject XChaCha20-Poly1305 keys wrapped under a versioned KEK; {} KEK rotations on record.", g.rotations.len()),
            json!({"rotations": g.rotations.len(), "current_kek_version": g.rotations.last().map(|r| r.new_version), "live_keys_at_last_rotation": g.rotations.last().map(|r| r.live_keys)}),
            g.rotations.iter().rev().take(5).map(|r| json!({"seq": r.seq, "from": r.old_version, "to": r.new_version, "at": r.at})).collect(),
            vec![],
        ),
        section(
            "8.13",
            format!("{} backups archived, {} destroyed.", g.backups.len(), g.backups.values().filter(|b| b.destroyed.is_some()).count()),
            json!({"archived": g.backups.len(), "destroyed": g.backups.values().filter(|b| b.destroyed.is_some()).count(), "kept_past_limit": i.backups_kept}),
            g.backups.values().take(5).map(|b| json!({"backup": b.backup, "retain_until": b.retain_until, "destroyed": b.destroyed})).collect(),
            if i.backups_kept > 0 { vec![format!("{} backup(s) kept past their retention period", i.backups_kept)] } else { vec![] }.into_iter().chain(g.violation_exceptions("8.13", 10)).collect(),
        ),
        section(
            "5.19-5.22",
            format!("{} recipients registered with country and contract before any sharing.", g.recipients.values().filter(|r| r.registered.is_some()).count()),
            json!({"recipients": g.recipients}),
            vec![],
            g.violation_exceptions("5.19-5.22", 10),
        ),
        section(
            "5.14",
            format!("{} transfers and {} disclosures to authorities in the period, each with its safeguard or instrument.", g.transfers.values().sum::<u64>(), g.disclosures.len()),
            json!({"transfers": g.transfers.iter().map(|((r, c, s), n)| json!({"recipient": r, "country": c, "safeguard": s, "count": n})).collect::<Vec<_>>(), "disclosures": g.disclosures.len(), "business_transfers": g.business_transfers.len()}),
            g.disclosures.iter().take(5).map(|d| json!({"seq": d.seq, "authority": d.authority, "instrument": d.instrument, "reference": d.reference})).collect(),
            g.violation_exceptions("5.14", 10),
        ),
        section(
            "5.15-5.18",
            "Every record names a pseudonymous actor; remote access only after the customer's authorization.".to_owned(),
            json!({"actors_by_kind": g.actors_by_prefix.iter().map(|(k, v)| (k.clone(), v.len())).collect::<BTreeMap<_, _>>(), "remote_accesses": g.ticket_access.get("remote-access"), "support_copies_made": g.copies.0, "support_copies_destroyed": g.copies.1}),
            vec![],
            g.violation_exceptions("5.15-5.18", 10),
        ),
    ]
}

/// What [`check_bundle`] found.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// No problem found.
    pub ok: bool,
    /// Files checked.
    pub files: usize,
    /// Problems.
    pub problems: Vec<String>,
}

/// Re-checks a bundle: `MANIFEST.hash` against `manifest.json`, every file
/// against the manifest, the checkpoint's signature under `key`, and, given
/// the ledger, that it still has the checkpoint's root at that size.
pub fn check_bundle(
    dir: &Path,
    key: &VerifierKey,
    log: Option<&ReadOnlyLedger>,
) -> Result<CheckReport, EvidenceError> {
    let read = |rel: &str| -> Result<Vec<u8>, EvidenceError> {
        let path = dir.join(rel);
        std::fs::read(&path).map_err(|source| EvidenceError::Io { path, source })
    };
    let manifest_bytes = read("manifest.json")?;
    let mut problems = Vec::new();
    let (_, b3, sha) = digest(&manifest_bytes);
    let hashes = String::from_utf8_lossy(&read("MANIFEST.hash")?).into_owned();
    if !hashes.contains(&format!("blake3 {b3} ")) || !hashes.contains(&format!("sha256 {sha} ")) {
        problems.push("manifest.json does not match MANIFEST.hash".to_owned());
    }
    // Duplicate members refused: another reader could list other files.
    let manifest_text = std::str::from_utf8(&manifest_bytes)
        .map_err(|_| EvidenceError::Bundle("manifest.json: not UTF-8".to_owned()))?;
    let manifest: Value = ledger_core::strict_json::from_str(manifest_text)
        .map_err(|e| EvidenceError::Bundle(format!("manifest.json: {e}")))?;
    let files = manifest["files"].as_array().cloned().unwrap_or_default();
    for f in &files {
        let rel = f["path"].as_str().unwrap_or_default();
        if rel.contains("..") || rel.starts_with('/') {
            problems.push(format!("{rel}: path leaves the bundle"));
            continue;
        }
        match read(rel) {
            Ok(bytes) => {
                let (_, fb3, fsha) = digest(&bytes);
                if f["blake3"].as_str() != Some(&fb3) || f["sha256"].as_str() != Some(&fsha) {
                    problems.push(format!("{rel}: content differs from the manifest"));
                }
            }
            Err(_) => problems.push(format!("{rel}: missing")),
        }
    }
    let listed: std::collections::BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f["path"].as_str())
        .chain(["manifest.json", "MANIFEST.hash"])
        .collect();
    let mut present = Vec::new();
    list_files(dir, "", &mut present)?;
    for (rel, regular) in &present {
        if !regular {
            problems.push(format!(
                "{rel}: not a regular file (a bundle holds only files)"
            ));
        } else if !listed.contains(rel.as_str()) {
            problems.push(format!("{rel}: not in the manifest"));
        }
    }
    let note = manifest["checkpoint"]["note"].as_str().unwrap_or_default();
    match ledger_core::checkpoint::open(note, key) {
        Err(e) => problems.push(format!("checkpoint: {e}")),
        Ok(cp) => {
            if let Some(log) = log {
                match log.root_at(cp.tree_size) {
                    Ok(root) if root == cp.root => {}
                    Ok(_) => problems.push(format!(
                        "the ledger's root at size {} differs from the bundle's checkpoint",
                        cp.tree_size
                    )),
                    Err(e) => {
                        problems.push(format!("the ledger cannot show size {}: {e}", cp.tree_size))
                    }
                }
                if hex::encode(log.ledger_id())
                    != manifest["ledger_id"].as_str().unwrap_or_default()
                {
                    problems.push("the bundle belongs to another ledger".to_owned());
                }
            }
        }
    }

    Ok(CheckReport {
        ok: problems.is_empty(),
        files: files.len(),
        problems,
    })
}

/// Every entry under `dir` (relative paths with `/`, after `prefix`) that
/// is not a directory, and whether it is a regular file; symlinks are
/// listed, never followed.
fn list_files(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, bool)>,
) -> Result<(), EvidenceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvidenceError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type().map_err(io(&entry.path()))?;
        if kind.is_dir() {
            list_files(&entry.path(), &rel, out)?;
        } else {
            out.push((rel, kind.is_file()));
        }
    }
    Ok(())
}
