//! Ledgers for the tests, the auditor command, and small file helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ledger_core::layout::{self, RECORDS};
use ledger_core::storage::{SledStorage, Storage, WriteBatch};
use ledger_core::{Event, Ledger, LedgerOptions, ScopeId, STORE_DIR};

/// Origin (and checkpoint key name) of every test ledger, so a ledger
/// rebuilt in the same place can reuse the same signing key.
pub(crate) const ORIGIN: &str = "auditor.test/ledger";

/// Events are appended in groups of this many; the writer signs a
/// checkpoint after each group.
pub(crate) const GROUP: u64 = 50;

/// A test ledger at `<tmp>/ledger`.
pub(crate) struct TestLedger {
    pub(crate) tmp: tempfile::TempDir,
}

impl TestLedger {
    /// A closed ledger of `size` events (history `salt`), with a signed
    /// checkpoint every [`GROUP`] events and at `size`.
    pub(crate) fn new(size: u64, salt: u8) -> TestLedger {
        let ledger = TestLedger {
            tmp: tempfile::tempdir().unwrap(),
        };
        ledger.grow(size, salt);
        ledger
    }

    pub(crate) fn dir(&self) -> PathBuf {
        self.tmp.path().join("ledger")
    }

    /// A path for a scratch file beside the ledger.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Appends events until the ledger holds `size`, then checkpoints.
    pub(crate) fn grow(&self, size: u64, salt: u8) {
        let options = LedgerOptions {
            checkpoint_every: Some(GROUP),
            checkpoint_interval: None,
            origin: Some(ORIGIN.to_string()),
            // `flip_record_byte` rewrites a record key by key: a sled store.
            engine: ledger_core::Engine::Sled,
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open(self.dir(), options).unwrap();
        let subjects: Vec<ScopeId> = (0..5u8).map(|i| ScopeId([i + salt; 16])).collect();
        let mut next = ledger.len();
        while next < size {
            let end = (next + GROUP).min(size);
            let events = (next..end)
                .map(|n| {
                    Event::new("test.event", format!("svc:test-{}", n % 3))
                        .with_scope(subjects[(n % 5) as usize])
                        .with_payload(format!("history {salt}, event {n}").into_bytes())
                })
                .collect();
            ledger.append_batch_blocking(events).unwrap();
            next = end;
        }
        ledger.checkpoint_blocking().unwrap();
    }

    /// Deletes the ledger and builds another history of `size` events in the
    /// same place; with `keep_key`, under the same checkpoint signing key.
    pub(crate) fn rebuild(&self, size: u64, salt: u8, keep_key: bool) {
        let keys = ["checkpoint.key", "checkpoint.pub"].map(|name| {
            let path = self.dir().join(name);
            (path.clone(), std::fs::read(&path).unwrap())
        });
        std::fs::remove_dir_all(self.dir()).unwrap();
        if keep_key {
            std::fs::create_dir_all(self.dir()).unwrap();
            for (path, bytes) in &keys {
                std::fs::write(path, bytes).unwrap();
            }
            set_mode(&keys[0].0, 0o600);
        }
        self.grow(size, salt);
    }

    /// A copy of the ledger directory in a new temporary directory.
    pub(crate) fn copy(&self) -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&self.dir(), copy.path());
        copy
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Copies a directory tree.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Flips one bit in the last byte of record `seq`'s stored value (the end of
/// its payload), directly in the store of a closed ledger.
pub(crate) fn flip_record_byte(ledger_dir: &Path, seq: u64) {
    let store = SledStorage::open(&ledger_dir.join(STORE_DIR), 16 << 20).unwrap();
    let key = layout::record_key(seq);
    let mut value = store.get(RECORDS, &key).unwrap().unwrap();
    let last = value.len() - 1;
    value[last] ^= 0x01;
    let mut batch = WriteBatch::new();
    batch.put(RECORDS, key, value);
    store.write(batch).unwrap();
    store.sync().unwrap();
}

/// The auditor binary, without progress bars.
pub(crate) fn auditor() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_ledger-auditor"));
    cmd.arg("--quiet");
    cmd
}

/// Parses a command's stdout as JSON.
pub(crate) fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Every file of a directory and its bytes.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A path as a command argument.
pub(crate) fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}
