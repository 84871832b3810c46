//! Durability, shown at the system-call level: under strace, every
//! acknowledgement is preceded by a completed fdatasync of the log segment
//! issued after the last write to it, and by no other sync (one durability
//! barrier per group commit, nothing else on the ack path).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use ledger_core::{Event, Ledger, LedgerOptions};
use ledger_tests::{child_command, CHILD_ENV};

const ACKS: &str = "acks.txt";
const APPENDS: u64 = 25;

#[test]
#[ignore = "child process of every_acknowledgement_follows_an_fsync_of_the_store"]
fn strace_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let ledger = Ledger::open(dir.join("ledger"), LedgerOptions::default()).unwrap();
    let mut acks = File::create(dir.join(ACKS)).unwrap();
    for n in 0..APPENDS {
        let receipt = ledger
            .append_blocking(Event::new("probe", "strace").with_payload(n.to_le_bytes().to_vec()))
            .unwrap();
        // One write(2) per acknowledgement: the marker strace sees.
        acks.write_all(format!("ack {}\n", receipt.seq).as_bytes())
            .unwrap();
    }
}

#[derive(Debug, Default)]
struct Timeline {
    /// A write to the data file happened after the last completed fsync of it.
    dirty: bool,
    /// A completed fsync of the data file happened since the last marker.
    synced_since_ack: bool,
    /// A data-file write happened since the last marker.
    wrote_since_ack: bool,
    /// Syncs of any file since the last marker.
    syncs_since_ack: u32,
}

#[test]
fn every_acknowledgement_follows_an_fsync_of_the_store() {
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is required in CI (.ci/run installs it)"
        );
        eprintln!("strace not installed; skipping the syscall-level durability check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.txt");
    let child = child_command("durability::strace_child", dir.path());
    let status = Command::new("strace")
        .args(["-f", "-y", "-qq", "-s", "32"])
        .args([
            "-e",
            "trace=fsync,fdatasync,pwrite64,pwritev,pwritev2,write",
        ])
        .arg("-o")
        .arg(&trace)
        .arg(child.get_program())
        .args(child.get_args())
        .envs(child.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "traced child failed");

    let text = std::fs::read_to_string(&trace).unwrap();
    let data_file = ".seg>";
    let mut state = Timeline::default();
    // Syscalls split by strace -f into "<unfinished ...>" and "resumed" halves.
    let mut unfinished: HashMap<String, String> = HashMap::new();
    let mut acks = 0;
    for line in text.lines() {
        let (pid, call) = line.split_once(' ').unwrap_or(("", line));
        let call = call.trim_start();
        let completed: String = if let Some(start) = call.strip_suffix("<unfinished ...>") {
            unfinished.insert(pid.to_string(), start.to_string());
            continue;
        } else if call.starts_with("<...") {
            match unfinished.remove(pid) {
                Some(start) => format!("{start} {call}"),
                None => continue,
            }
        } else {
            call.to_string()
        };
        let ok = !completed.contains("= -1");
        let is_sync = completed.starts_with("fsync(") || completed.starts_with("fdatasync(");
        let is_data_write = completed.starts_with("pwrite") && completed.contains(data_file);
        if is_sync && ok {
            state.syncs_since_ack += 1;
        }
        if is_data_write {
            state.dirty = true;
            state.wrote_since_ack = true;
        } else if is_sync && completed.contains(data_file) && ok {
            state.dirty = false;
            state.synced_since_ack = true;
        } else if completed.starts_with("write(") && completed.contains(ACKS) {
            assert!(
                state.wrote_since_ack,
                "ack {acks}: no write of the data file since the previous ack"
            );
            assert!(
                state.synced_since_ack && !state.dirty,
                "ack {acks} was given before a completed fsync of the data file:\n{completed}"
            );
            // Before the first ack come the syncs of open.
            assert!(
                acks == 0 || state.syncs_since_ack == 1,
                "ack {acks} followed {} syncs, not one",
                state.syncs_since_ack
            );
            state = Timeline::default();
            acks += 1;
        }
    }
    assert_eq!(acks, APPENDS, "every acknowledgement was seen in the trace");
}
