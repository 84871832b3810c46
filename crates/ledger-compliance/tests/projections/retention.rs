//! Retention sweeps that overlap.

use ledger_compliance::retention::SweepOptions;
use ledger_compliance::vocab::*;
use ledger_compliance::{ComplianceEvent, Facts};

use crate::harness::*;

#[test]
fn overlapping_sweeps_erase_each_expired_ticket_once() {
    // Racy by nature: a few rounds made two unserialized sweeps collide
    // every time.
    for _ in 0..5 {
        let h = Harness::new();
        let mut tickets = Vec::new();
        for i in 0..6 {
            let s = h.customer(&format!("sweep{i}@example.com"));
            let t = h.c.new_ticket().unwrap();
            h.record(ComplianceEvent::ticket(
                t,
                "staff:p1",
                Facts::TicketOpened {
                    customer: s,
                    channel: Channel::Email,
                },
            ));
            h.record(ComplianceEvent::ticket(
                t,
                "staff:p1",
                Facts::TicketClosed {
                    resolution: "answered".into(),
                },
            ));
            tickets.push(t.to_string());
        }
        h.clock.advance(chrono::Duration::days(731));
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| h.c.sweep_blocking(&SweepOptions::default()));
            let b = scope.spawn(|| h.c.sweep_blocking(&SweepOptions::default()));
            (a.join().unwrap(), b.join().unwrap())
        });
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut erased: Vec<String> = a.tickets_expired;
        erased.extend(b.tickets_expired);
        erased.sort();
        tickets.sort();
        assert_eq!(erased, tickets, "each ticket erased by exactly one sweep");
        let ledger = h.ledger();
        let expiries = (0..ledger.len())
            .filter(|seq| ledger.get(*seq).unwrap().record.event_type == "dp.retention_expired")
            .count();
        assert_eq!(expiries, tickets.len(), "one expiry record per ticket");
    }
}
