//! `demo --force` deletes only a demo ledger this tool made (its marker
//! says so): never a folder of someone's files, a ledger made by `init`,
//! the working directory or its ancestors, nor anything through a symlink.

use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;

use crate::support::{ledger, ledger_len};

/// `ledger demo --force` with few customers, run in `cwd`.
fn demo_force(cwd: &Path, dir: &Path) -> Command {
    let mut cmd = ledger(dir);
    cmd.current_dir(cwd)
        .args(["demo", "--customers", "2", "--force"]);
    cmd
}

#[test]
fn force_refuses_a_folder_the_tool_did_not_make() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("thesis");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("thesis.txt"), "chapter 1").unwrap();
    demo_force(tmp.path(), &dir)
        .assert()
        .code(2)
        .stderr(contains("has no ledger-dir.json"));
    assert_eq!(
        std::fs::read_to_string(dir.join("thesis.txt")).unwrap(),
        "chapter 1"
    );
    // Without --force the demo refuses too, naming what exists.
    ledger(&dir)
        .args(["demo", "--customers", "2"])
        .assert()
        .code(2)
        .stderr(contains("already exists"));
    assert!(dir.join("thesis.txt").is_file());
}

#[test]
fn force_refuses_the_working_directory_and_its_ancestors() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("notes.txt"), "keep").unwrap();
    demo_force(&work, Path::new("."))
        .assert()
        .code(2)
        .stderr(contains("not deleting"));
    assert!(work.join("notes.txt").is_file());

    // Even a real demo ledger is not deleted while it is (or contains) the
    // working directory.
    let demo_dir = tmp.path().join("d");
    ledger(&demo_dir)
        .args(["demo", "--customers", "2"])
        .assert()
        .success();
    let inside = demo_dir.join("sub");
    std::fs::create_dir(&inside).unwrap();
    demo_force(&inside, Path::new(".."))
        .assert()
        .code(2)
        .stderr(contains("working directory"));
    demo_force(&demo_dir, &demo_dir)
        .assert()
        .code(2)
        .stderr(contains("working directory"));
    assert!(demo_dir.join("ledger-dir.json").is_file());
}

#[test]
fn force_never_wipes_a_ledger_made_by_init_even_from_ledger_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let prod = tmp.path().join("prod");
    ledger(&prod).arg("init").assert().success();
    let marker = std::fs::read_to_string(prod.join("ledger-dir.json")).unwrap();
    assert!(marker.contains("\"made_by\": \"init\""), "{marker}");
    let input = r#"{"new_subject":{},"ref":"a"}
{"subject":{"ref":"a"},"actor":"svc:crm","facts":{"type":"contract_ended","reason":"x"}}
"#;
    ledger(&prod)
        .arg("append")
        .write_stdin(input)
        .assert()
        .success();
    let before = ledger_len(&prod);
    let mut cmd = Command::cargo_bin("ledger").unwrap();
    cmd.current_dir(tmp.path())
        .env("LEDGER_DIR", "prod")
        .args(["demo", "--customers", "2", "--force"])
        .assert()
        .code(2)
        .stderr(contains("made by `ledger init`"));
    assert!(tmp.path().join("prod.kek").is_dir(), "the KEKs are kept");
    assert_eq!(ledger_len(&prod), before, "the ledger is intact");
}

#[test]
fn force_replaces_a_demo_ledger_but_not_through_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    ledger(&dir)
        .args(["demo", "--customers", "2"])
        .assert()
        .success();
    let first = std::fs::read(dir.join(ledger_core::VERIFIER_KEY_FILE)).unwrap();
    demo_force(tmp.path(), &dir).assert().success();
    let second = std::fs::read(dir.join(ledger_core::VERIFIER_KEY_FILE)).unwrap();
    assert_ne!(first, second, "a new ledger with a new key");
    assert!(tmp
        .path()
        .join("d-evidence")
        .join("manifest.json")
        .is_file());

    #[cfg(unix)]
    {
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        demo_force(tmp.path(), &link)
            .assert()
            .code(2)
            .stderr(contains("symbolic link"));
        assert!(dir.join("ledger-dir.json").is_file());
    }

    // An output directory the marker does not name is not deleted.
    let other = tmp.path().join("e");
    let stranger = tmp.path().join("e-evidence");
    std::fs::create_dir(&stranger).unwrap();
    std::fs::write(stranger.join("mine.txt"), "x").unwrap();
    demo_force(tmp.path(), &other)
        .assert()
        .code(2)
        .stderr(contains("not deleting"));
    assert!(stranger.join("mine.txt").is_file());
}
