//! The store: caught up on open, rebuilt when it is not this ledger's, and
//! equal to the keyless in-memory fold.

use ledger_compliance::vocab::*;
use ledger_compliance::{ComplianceEvent, Facts, ProjectionSnapshot, Projections};

use crate::harness::*;

fn some_events(h: &Harness, n: usize) {
    let base = h.ledger().len();
    for i in 0..n {
        let s = h.customer(&format!("s{base}-{i}@example.com"));
        h.record(ComplianceEvent::subject(
            s,
            "staff:p1",
            Facts::DataAccessed {
                role: Role::Support,
                purpose: Purpose::Support,
            },
        ));
    }
}

#[test]
fn reopen_catches_up_from_the_last_applied_seq() {
    let h = Harness::new();
    some_events(&h, 3);
    // Queries catch up; appends alone do not.
    assert_eq!(h.c.projections().last_seq(), None);
    h.c.query(|q| q.summary()).unwrap();
    assert_eq!(h.c.projections().last_seq(), Some(5));
    some_events(&h, 2);
    assert_eq!(h.c.projections().last_seq(), Some(5));
    let h = h.reopen();
    assert_eq!(h.c.projections().last_seq(), Some(9));
    let summary = h.c.query(|q| q.summary()).unwrap();
    assert_eq!((summary.contacts, summary.accesses), (5, 5));
    assert_eq!(
        h.c.projections().entries().unwrap(),
        ProjectionSnapshot::fold(h.ledger()).unwrap().entries()
    );
}

#[test]
fn a_store_of_another_ledger_is_rebuilt_not_trusted() {
    let a = Harness::new();
    some_events(&a, 2);
    let b = Harness::new();
    some_events(&b, 1);
    b.c.query(|q| q.summary()).unwrap();
    // A copy of b's projections put in a's place.
    a.c.projections().flush().unwrap();
    b.c.projections().flush().unwrap();
    let a_projections = a.dir.join("projections");
    let b_projections = b.dir.join("projections");
    let clock = a.clock.clone();
    let options = a.c.options().clone();
    let dir = a.dir.clone();
    let _a_dir = a.close();
    let _b_dir = b.close();
    std::fs::remove_dir_all(&a_projections).unwrap();
    copy_dir(&b_projections, &a_projections);
    let c = open_at(&dir, &clock, options);
    assert_eq!(
        c.projections().entries().unwrap(),
        ProjectionSnapshot::fold(c.vault().ledger())
            .unwrap()
            .entries()
    );
    let summary = c.query(|q| q.summary()).unwrap();
    assert_eq!(summary.contacts, 2);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn rebuild_gives_the_same_store_and_a_store_ahead_is_rebuilt() {
    let h = Harness::new();
    some_events(&h, 4);
    h.c.query(|q| q.summary()).unwrap();
    let before = h.c.projections().dump().unwrap();
    let done = h.c.projections().rebuild(h.ledger()).unwrap();
    assert_eq!(done.reset, Some("rebuild requested"));
    assert_eq!(done.applied(), 8);
    assert_eq!(h.c.projections().dump().unwrap(), before);

    // A separate store for the same ledger, opened after more appends.
    let tmp = tempfile::tempdir().unwrap();
    let other = Projections::open_at(&tmp.path().join("p"), h.ledger()).unwrap();
    assert_eq!(other.dump().unwrap(), before);
    some_events(&h, 1);
    other.catch_up(h.ledger()).unwrap();
    h.c.query(|q| q.summary()).unwrap();
    assert_eq!(other.dump().unwrap(), h.c.projections().dump().unwrap());
}

#[test]
fn long_access_logs_are_chunked_the_same_way_incrementally_and_rebuilt() {
    let h = Harness::new();
    let s = h.customer("long@example.com");
    let access = || {
        ComplianceEvent::subject(
            s,
            "staff:p9",
            Facts::DataAccessed {
                role: Role::Support,
                purpose: Purpose::Support,
            },
        )
    };
    // Catch-ups land at uneven points across the 256-entry chunks.
    for n in [1usize, 100, 155, 1, 300, 43] {
        h.c.record_batch_blocking((0..n).map(|_| access()).collect())
            .unwrap();
        h.c.projections().catch_up(h.ledger()).unwrap();
    }
    let log = h.c.query(|q| q.access_log(&s)).unwrap();
    assert_eq!(log.len(), 600);
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
    let tmp = tempfile::tempdir().unwrap();
    let rebuilt = Projections::open_at(&tmp.path().join("p"), h.ledger()).unwrap();
    assert_eq!(rebuilt.dump().unwrap(), h.c.projections().dump().unwrap());
    let chunks = rebuilt
        .entries()
        .unwrap()
        .into_iter()
        .filter(|(k, _)| k[0] == b'a')
        .count();
    assert_eq!(chunks, 3);
}
