//! SIGKILL a process that erases and rotates in a loop at random moments:
//! afterwards every live subject decrypts, no erased one does, and every
//! erasure is completed and certified once the vault is reopened.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use ledger_core::ScopeId;
use ledger_vault::store;
use ledger_vault::VaultEvent;
use ledger_vault::{DirKekProvider, ErasureStatus, KekProvider};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::support::{child_command, open, open_ledger, request, sealed, CHILD_ENV};

const SUBJECTS: usize = 150;
const PROGRESS: &str = "progress.txt";

/// Kills the child if the parent fails first, so it does not outlive its
/// temporary directory.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn secret(subject: &ScopeId) -> Vec<u8> {
    format!("secret of {subject}").into_bytes()
}

fn progress(dir: &Path) -> (usize, HashSet<ScopeId>, HashSet<ScopeId>) {
    let text = std::fs::read_to_string(dir.join(PROGRESS)).unwrap_or_default();
    let (mut ready, mut erasing, mut erased) = (0, HashSet::new(), HashSet::new());
    for line in text.lines() {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next().and_then(|s| s.parse().ok())) {
            (Some("ready"), _) => ready += 1,
            (Some("erasing"), Some(s)) => {
                erasing.insert(s);
            }
            (Some("erased"), Some(s)) => {
                erased.insert(s);
            }
            _ => {}
        }
    }
    (ready, erasing, erased)
}

/// The child: open (finishing whatever the last kill interrupted), then
/// rotate in a loop, erasing a live subject now and then.
#[test]
#[ignore = "child process of killed_rotation_keeps_live_keys_and_loses_erased_ones"]
fn rotation_crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let vault = open(&dir, None);
    let subjects: Vec<ScopeId> = std::fs::read_to_string(dir.join("subjects.txt"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(PROGRESS))
        .unwrap();
    // The leading newline ends a line the previous child may have been
    // killed in the middle of writing.
    writeln!(log, "\nready").unwrap();
    let mut rng = rand::thread_rng();
    loop {
        if rng.gen_bool(0.3) {
            let s = *subjects.choose(&mut rng).unwrap();
            if vault.erasure_status(&s).unwrap() == ErasureStatus::NotErased {
                writeln!(log, "erasing {s}").unwrap();
                vault.erase_scope_blocking(s, &request(1)).unwrap();
                writeln!(log, "erased {s}").unwrap();
            }
        }
        vault.rotate_kek().unwrap();
    }
}

#[test]
fn killed_rotation_keeps_live_keys_and_loses_erased_ones() {
    let rounds: usize = std::env::var("LEDGER_VAULT_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let subjects: Vec<ScopeId> = {
        let vault = open(dir, None);
        let subjects: Vec<ScopeId> = (0..SUBJECTS)
            .map(|_| vault.create_scope(None).unwrap())
            .collect();
        for s in &subjects {
            vault
                .append_blocking(VaultEvent::sealed(sealed(*s, &secret(s))))
                .unwrap();
        }
        subjects
    };
    let text: String = subjects.iter().map(|s| format!("{s}\n")).collect();
    std::fs::write(dir.join("subjects.txt"), text).unwrap();

    let mut rng = rand::thread_rng();
    // Kills that left a rotation in phase 1 (re-wrap) or 2 (destroy).
    let mut interrupted = [0usize; 3];
    for round in 0..rounds {
        let (ready_before, _, _) = progress(dir);
        let mut child = KillOnDrop(
            child_command("crash::rotation_crash_child", dir)
                .spawn()
                .unwrap(),
        );
        let started = Instant::now();
        while progress(dir).0 == ready_before {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "round {round}: child never got ready; its stderr:\n{}",
                std::fs::read_to_string(dir.join("child-stderr.txt")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..120)));
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();

        let stderr = std::fs::read_to_string(dir.join("child-stderr.txt")).unwrap_or_default();
        assert!(
            !stderr.contains("panicked"),
            "round {round}: the child failed before it was killed:\n{stderr}"
        );
        let (_, erasing, erased) = progress(dir);
        // Look at what the kill left before the vault repairs it.
        {
            let ledger = open_ledger(&dir.join("ledger"));
            let state = ledger
                .storage()
                .get(store::ROTATION, store::ROTATION_STATE)
                .unwrap();
            if let Some(bytes) = state {
                let state: store::RotationState = store::decode("rotation", &bytes).unwrap();
                interrupted[usize::from(state.phase)] += 1;
            }
        }
        let vault = open(dir, Some(Duration::ZERO));
        let mut seqs: HashMap<ScopeId, u64> = HashMap::new();
        for s in &subjects {
            seqs.insert(*s, vault.ledger().scope_seqs(s).unwrap()[0]);
        }
        for s in &subjects {
            let (_, payload) = vault
                .read(seqs[s])
                .unwrap_or_else(|e| panic!("round {round}: {s}: {e}"));
            if erased.contains(s) {
                assert!(
                    payload.is_erased(),
                    "round {round}: erased {s} still decrypts"
                );
            } else if !erasing.contains(s) {
                assert_eq!(
                    payload.plain(),
                    Some(&secret(s)[..]),
                    "round {round}: live subject {s} lost"
                );
            }
            // Whatever its state, an erased subject is complete after open.
            if payload.is_erased() {
                assert!(
                    matches!(
                        vault.erasure_status(s).unwrap(),
                        ErasureStatus::Complete { .. }
                    ),
                    "round {round}: {s} not certified after open"
                );
                assert!(vault.certificate(s).unwrap().is_some());
            }
        }
        let provider = DirKekProvider::open(dir.join("keks")).unwrap();
        assert_eq!(
            provider.versions().unwrap(),
            vec![vault.kek_version()],
            "round {round}"
        );
        vault.ledger().verify().unwrap();
    }
    let (_, _, erased) = progress(dir);
    assert!(!erased.is_empty(), "no erasure happened in {rounds} rounds");
    eprintln!(
        "{rounds} kills: {} in re-wrap, {} in destroy, {} between rotations; {} erasures",
        interrupted[1],
        interrupted[2],
        rounds - interrupted[1] - interrupted[2],
        erased.len()
    );
    assert!(
        interrupted[1] + interrupted[2] > 0,
        "no kill landed inside a rotation"
    );
}
