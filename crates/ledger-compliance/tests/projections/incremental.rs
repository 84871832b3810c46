//! Property: projections caught up after every step equal projections
//! rebuilt from scratch, and the keyless in-memory fold, for random event
//! sequences (valid and refused ones, erasures and retention sweeps).

use chrono::Duration;
use ledger_compliance::retention::SweepOptions;
use ledger_compliance::vocab::*;
use ledger_compliance::{ComplianceEvent, Facts, ProjectionSnapshot, Projections, TicketId};
use ledger_core::ScopeId;
use ledger_vault::ErasureRequest;
use proptest::prelude::*;

use crate::harness::*;

#[derive(Clone, Debug)]
enum Op {
    NewSubject,
    Collect(usize, usize, usize),
    Consent(usize, usize, bool),
    Object(usize),
    Market(usize),
    Access(usize),
    OpenTicket(usize),
    TicketWork(usize, u8, u8),
    Register(u8, u8),
    Share(usize, u8),
    Transfer(usize, u8, u8, bool),
    Request(usize, u8),
    Answer(usize, u8, u8),
    Policy(u8),
    Notify(usize, u8),
    Backup(u8, bool),
    ContractEnd(usize),
    EraseSubject(usize),
    EraseTicket(usize),
    Advance(u16),
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::NewSubject),
        3 => (any::<usize>(), 0..6usize, 0..6usize).prop_map(|(s, p, b)| Op::Collect(s, p, b)),
        2 => (any::<usize>(), 0..6usize, any::<bool>()).prop_map(|(s, p, g)| Op::Consent(s, p, g)),
        1 => any::<usize>().prop_map(Op::Object),
        1 => any::<usize>().prop_map(Op::Market),
        2 => any::<usize>().prop_map(Op::Access),
        2 => any::<usize>().prop_map(Op::OpenTicket),
        5 => (any::<usize>(), 0..9u8, 0..3u8).prop_map(|(t, k, x)| Op::TicketWork(t, k, x)),
        1 => (0..3u8, 0..3u8).prop_map(|(r, c)| Op::Register(r, c)),
        1 => (any::<usize>(), 0..3u8).prop_map(|(s, r)| Op::Share(s, r)),
        1 => (any::<usize>(), 0..3u8, 0..3u8, any::<bool>())
            .prop_map(|(s, r, c, g)| Op::Transfer(s, r, c, g)),
        2 => (any::<usize>(), 0..4u8).prop_map(|(s, r)| Op::Request(s, r)),
        2 => (any::<usize>(), 0..4u8, 0..3u8).prop_map(|(s, r, k)| Op::Answer(s, r, k)),
        1 => (0..2u8).prop_map(Op::Policy),
        1 => (any::<usize>(), 0..2u8).prop_map(|(s, v)| Op::Notify(s, v)),
        1 => (0..3u8, any::<bool>()).prop_map(|(b, d)| Op::Backup(b, d)),
        1 => any::<usize>().prop_map(Op::ContractEnd),
        1 => any::<usize>().prop_map(Op::EraseSubject),
        1 => any::<usize>().prop_map(Op::EraseTicket),
        2 => (0..400u16).prop_map(Op::Advance),
        1 => Just(Op::Sweep),
    ]
}

const COUNTRIES: [&str; 3] = ["NL", "US", "IN"];
const ROLES: [Role; 3] = [Role::Support, Role::ThirdLineSupport, Role::Development];

struct World {
    subjects: Vec<ScopeId>,
    tickets: Vec<TicketId>,
}

fn pick<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

fn step(h: &Harness, w: &mut World, op: &Op) {
    let subj = |f: Facts, s: ScopeId| ComplianceEvent::subject(s, "svc:crm", f);
    let try_record = |e: ComplianceEvent| {
        // Refusals are part of the property: nothing refused may show.
        let _ = h.c.record_blocking(e);
    };
    let request_ref = |s: ScopeId, r: u8| format!("DSR-{}-{r}", &s.to_string()[..6]);
    match *op {
        Op::NewSubject => w.subjects.push(h.c.new_subject(None).unwrap()),
        Op::Collect(s, p, b) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::DataCollected {
                        categories: vec![DataCategory::ALL[p % 7], DataCategory::Name],
                        channel: Channel::ContactForm,
                        purpose: Purpose::ALL[p],
                        lawful_basis: LawfulBasis::ALL[b],
                    },
                    s,
                ));
            }
        }
        Op::Consent(s, p, give) => {
            if let Some(s) = pick(&w.subjects, s) {
                let purpose = Purpose::ALL[p];
                let channel = Channel::Account;
                try_record(subj(
                    if give {
                        Facts::ConsentGiven { purpose, channel }
                    } else {
                        Facts::ConsentWithdrawn { purpose, channel }
                    },
                    s,
                ));
            }
        }
        Op::Object(s) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::MarketingObjected {
                        channel: Channel::UnsubscribeLink,
                    },
                    s,
                ));
            }
        }
        Op::Market(s) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::MarketingContacted {
                        campaign: "c1".into(),
                        channel: Channel::Email,
                    },
                    s,
                ));
            }
        }
        Op::Access(s) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(ComplianceEvent::subject(
                    s,
                    "staff:p3",
                    Facts::DataAccessed {
                        role: Role::AccountExecutive,
                        purpose: Purpose::Contract,
                    },
                ));
            }
        }
        Op::OpenTicket(s) => {
            if let Some(s) = pick(&w.subjects, s) {
                let t = h.c.new_ticket().unwrap();
                w.tickets.push(t);
                try_record(ComplianceEvent::ticket(
                    t,
                    "staff:p1",
                    Facts::TicketOpened {
                        customer: s,
                        channel: Channel::Email,
                    },
                ));
            }
        }
        Op::TicketWork(t, kind, x) => {
            let Some(t) = pick(&w.tickets, t) else {
                return;
            };
            let auth = format!("auth-{x}");
            let copy = format!("copy-{x}");
            let facts = match kind {
                0 => Facts::TicketNoteAdded {
                    role: ROLES[x as usize],
                },
                1 => Facts::TicketHandedOver {
                    from_role: Role::Support,
                    to_role: ROLES[x as usize],
                    to_actor: format!("staff:p{x}"),
                },
                2 => Facts::TicketEscalated {
                    to: EscalationTarget::ALL[x as usize],
                },
                3 => Facts::RemoteAccessAuthorized {
                    authorization: auth,
                    channel: Channel::Email,
                },
                4 => Facts::RemoteAccessPerformed {
                    authorization: auth,
                },
                5 => Facts::SupportCopyMade {
                    copy,
                    location: "lab".into(),
                },
                6 => Facts::SupportCopyDestroyed {
                    copy,
                    method: "wipe".into(),
                },
                _ => Facts::TicketClosed {
                    resolution: "done".into(),
                },
            };
            try_record(ComplianceEvent::ticket(t, "staff:p1", facts));
        }
        Op::Register(r, c) => try_record(ComplianceEvent::general(
            "op:dpo",
            Facts::RecipientRegistered {
                recipient: format!("rcp-{r}"),
                name: "Org".into(),
                country: COUNTRIES[c as usize].into(),
                contract: "DPA".into(),
                recipient_role: RecipientRole::Processor,
            },
        )),
        Op::Share(s, r) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::DataShared {
                        restriction_exception: None,
                        recipient: format!("rcp-{r}"),
                        categories: vec![DataCategory::CompanyEmail],
                        purpose: Purpose::Marketing,
                    },
                    s,
                ));
            }
        }
        Op::Transfer(s, r, c, guarded) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::TransferMade {
                        restriction_exception: None,
                        recipient: format!("rcp-{r}"),
                        country: COUNTRIES[c as usize].into(),
                        safeguard: guarded.then_some(Safeguard::StandardContractualClauses),
                        categories: vec![DataCategory::Name],
                    },
                    s,
                ));
            }
        }
        Op::Request(s, r) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::RequestReceived {
                        request: request_ref(s, r),
                        right: Right::ALL[r as usize],
                        channel: Channel::Email,
                    },
                    s,
                ));
            }
        }
        Op::Answer(s, r, kind) => {
            if let Some(s) = pick(&w.subjects, s) {
                let request = request_ref(s, r);
                let today = h.clock_now().date_naive();
                let facts = match kind {
                    0 => Facts::RequestFulfilled { request },
                    1 => Facts::RequestRefused {
                        request,
                        reason: RefusalReason::Excessive,
                        complaint_notice: true,
                    },
                    _ => Facts::RequestExtended {
                        request,
                        reason: ExtensionReason::Complexity,
                        notified_on: today,
                        due: today + Duration::days(45),
                    },
                };
                try_record(subj(facts, s));
            }
        }
        Op::Policy(v) => try_record(ComplianceEvent::general(
            "op:dpo",
            Facts::PolicyPublished {
                version: format!("v{v}"),
                effective: day(2025, 1, 1),
                material: v == 1,
            },
        )),
        Op::Notify(s, v) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::PolicyNotified {
                        version: format!("v{v}"),
                        channel: Channel::Email,
                    },
                    s,
                ));
            }
        }
        Op::Backup(b, destroy) => try_record(ComplianceEvent::general(
            "op:ops",
            if destroy {
                Facts::BackupDestroyed {
                    backup: format!("bk-{b}"),
                    method: "shred".into(),
                }
            } else {
                Facts::BackupArchived {
                    backup: format!("bk-{b}"),
                    media: "tape".into(),
                    retain_until: day(2025, 6, 1),
                }
            },
        )),
        Op::ContractEnd(s) => {
            if let Some(s) = pick(&w.subjects, s) {
                try_record(subj(
                    Facts::ContractEnded {
                        reason: "expired".into(),
                    },
                    s,
                ));
            }
        }
        Op::EraseSubject(s) => {
            if let Some(s) = pick(&w.subjects, s) {
                let _ = h.c.erase_subject_blocking(s, &erasure());
            }
        }
        Op::EraseTicket(t) => {
            if let Some(t) = pick(&w.tickets, t) {
                let _ = h.c.erase_ticket_blocking(t, &erasure());
            }
        }
        Op::Advance(days) => h.clock.advance(Duration::days(i64::from(days))),
        Op::Sweep => {
            h.c.sweep_blocking(&SweepOptions::default()).unwrap();
        }
    }
}

fn erasure() -> ErasureRequest {
    ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-E".into(),
        operator: "op:dpo".into(),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_rebuilt(ops in proptest::collection::vec(op(), 1..40)) {
        let h = Harness::new();
        let mut world = World { subjects: Vec::new(), tickets: Vec::new() };
        for op in &ops {
            step(&h, &mut world, op);
            h.c.projections().catch_up(h.ledger()).unwrap();
        }
        let incremental = h.c.projections().dump().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let rebuilt = Projections::open_at(&tmp.path().join("p"), h.ledger()).unwrap();
        prop_assert_eq!(&incremental, &rebuilt.dump().unwrap());
        let snapshot = ProjectionSnapshot::fold(h.ledger()).unwrap();
        prop_assert_eq!(h.c.projections().entries().unwrap(), snapshot.entries());
        // Queries over the store and over the snapshot agree.
        let today = h.clock_now().date_naive();
        let ropa = h.c.ropa().unwrap();
        prop_assert_eq!(&ropa, &snapshot.queries().ropa(&Default::default(), h.c.options()).unwrap());
        let open = h.c.open_requests(today).unwrap();
        prop_assert_eq!(open, snapshot.queries().open_requests(today).unwrap());
    }
}
