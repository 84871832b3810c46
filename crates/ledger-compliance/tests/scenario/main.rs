//! End-to-end scenarios written from `shared/DOMAIN.md`, through the public
//! API only, with a manual clock moved by realistic amounts of time.
//!
//! `a_customer_from_sign_up_to_erasure` follows one customer from the
//! contact form to an Art. 17 erasure, and a second one whose closed ticket
//! ages out under the 2-year retention rule. The test keeps its own
//! expectation of every projection (contacts, tickets, requests,
//! recipients, access logs, flows, the processing summary, the decrypted
//! current data), written by hand from the domain brief, and after each
//! step compares it with what the ledger answers.
//!
//! `appends_from_many_tasks_while_a_sweep_runs` appends for several
//! customers from tokio tasks while a retention sweep runs.

mod ageing;
mod concurrent;
mod onboarding;
mod rights;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use ledger_compliance::projection::entity::*;
use ledger_compliance::query::{AccessLogLine, RequestView, TicketView};
use ledger_compliance::retention::{SweepOptions, SweepReport, RETENTION_REASON};
use ledger_compliance::vocab::*;
use ledger_compliance::{
    model_from_log, ComplianceEvent, ComplianceLedger, CurrentData, Facts, PersonalData,
    ProjectionSnapshot, Projections, RecordError, RequestStatus, TicketId, ValidationError,
};
use ledger_core::{Clock, Ledger, ManualClock, ScopeId};
use ledger_testkit::Stack;
use ledger_vault::ErasureRequest;

use ageing::{rebuild_and_verify, ticket_ages_out};
use onboarding::{
    open_ticket_by_phone, share_with_us_processor, sign_up_and_subscribe, support_work,
};
use rights::{ask_for_erasure, rectify_and_ask_for_access, unsubscribe};

// ---------------------------------------------------------------------------
// The customers' personal data: distinctive strings searched for on disk.

const NAME_A: &str = "Aurelia Quenby-Lindqvist";
const EMAIL_A: &str = "aurelia.quenby@polder-surveys.example";
const PHONE_A: &str = "+31 20 555 0142";
const PHONE_A_NEW: &str = "+31 20 555 0199";
const TICKET_TEXT_A: &str = "Wave 3 export fails with error 0x51 on our on-prem panel server";

const NAME_B: &str = "Bartholomew Ijsselstein";
const EMAIL_B: &str = "b.ijsselstein@dune-research.example";
const TICKET_TEXT_B: &str = "Quota cells stop filling after the holiday weighting change";

/// Staff pseudonyms: in the internal access log, never in a subject's view.
const SUPPORT_1: &str = "staff:s-17";
const THIRD_LINE: &str = "staff:t-03";
const DPO: &str = "staff:dpo-1";
const STAFF: [&str; 3] = [SUPPORT_1, THIRD_LINE, DPO];

const PROCESSOR: &str = "deskhost-us";
const TICKET_RETENTION_DAYS: i64 = 730;

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid time")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

// ---------------------------------------------------------------------------
// A ledger on a temporary directory, and the test's own expectation of it.

fn open(dir: &Path, clock: &Arc<ManualClock>) -> ComplianceLedger {
    Stack::new()
        .clock(clock.clone())
        .open(dir)
        .expect("compliance layer opens")
}

/// What every projection must hold, kept by hand from the domain brief.
#[derive(Default)]
struct Expected {
    contacts: BTreeMap<ScopeId, Contact>,
    current: BTreeMap<ScopeId, CurrentData>,
    tickets: BTreeMap<TicketId, Ticket>,
    requests: BTreeMap<String, Request>,
    recipients: BTreeMap<String, Recipient>,
    access: BTreeMap<ScopeId, Vec<AccessEntry>>,
    flows: BTreeMap<ScopeId, Vec<Flow>>,
    summary: ProcessingSummary,
}

struct World {
    /// Holds the ledger directory and, beside it, the KEK directory.
    root: tempfile::TempDir,
    dir: PathBuf,
    clock: Arc<ManualClock>,
    c: ComplianceLedger,
    x: Expected,
}

impl World {
    fn new(start: DateTime<Utc>) -> World {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("ledger");
        let clock = Arc::new(ManualClock::new(start));
        let c = open(&dir, &clock);
        World {
            root,
            dir,
            clock,
            c,
            x: Expected::default(),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn set(&self, to: DateTime<Utc>) {
        assert!(to >= self.now(), "the scenario's clock only moves forward");
        self.clock.set(to);
    }

    /// Records `event` (it must be accepted) and returns its seq and time.
    /// Counts it in the summary and moves its contact's `last_event`; every
    /// other expectation is updated by the step itself.
    fn ok(&mut self, event: ComplianceEvent) -> (u64, DateTime<Utc>) {
        let owner = match event.scope {
            ledger_compliance::Scope::Subject(s) => Some(s),
            ledger_compliance::Scope::Ticket(t) => {
                if let Facts::TicketOpened { customer, .. } = &event.facts {
                    Some(*customer)
                } else {
                    self.x.tickets.get(&t).map(|t| t.customer)
                }
            }
            ledger_compliance::Scope::None => None,
        };
        let receipt = self.c.record_blocking(event).expect("event accepted");
        assert_eq!(receipt.timestamp, self.now());
        self.x.summary.events += 1;
        if let Some(contact) = owner.and_then(|s| self.x.contacts.get_mut(&s)) {
            contact.last_event = receipt.timestamp;
        }
        (receipt.seq, receipt.timestamp)
    }

    /// `event` is refused with `expected`, and neither the log nor any
    /// projection changes.
    fn refused(&self, event: ComplianceEvent, expected: ValidationError) {
        let len = self.ledger().len();
        let before = self.entries();
        match self.c.record_blocking(event) {
            Err(RecordError::Invalid { source, .. }) => assert_eq!(source, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        assert_eq!(self.ledger().len(), len, "nothing appended");
        assert_eq!(self.entries(), before, "no projection changed");
    }

    fn ledger(&self) -> &Ledger {
        self.c.vault().ledger()
    }

    /// The projection entries after a catch-up.
    fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.c
            .projections()
            .catch_up(self.ledger())
            .expect("catch up");
        self.c.projections().entries().expect("entries")
    }

    fn contact(&mut self, s: ScopeId) -> &mut Contact {
        self.x.contacts.get_mut(&s).expect("expected contact")
    }

    fn ticket(&mut self, t: TicketId) -> &mut Ticket {
        self.x.tickets.get_mut(&t).expect("expected ticket")
    }

    fn request(&mut self, r: &str) -> &mut Request {
        self.x.requests.get_mut(r).expect("expected request")
    }

    fn access(&mut self, s: ScopeId, entry: AccessEntry) {
        self.x.summary.accesses += 1;
        self.x.access.entry(s).or_default().push(entry);
    }

    /// Compares every projection, every query and every subject's report
    /// with the expectation, as of the clock's now.
    fn check(&self, step: &str) {
        let now = self.now();
        let today = now.date_naive();
        let x = &self.x;
        self.c
            .query(|q| {
                for (s, contact) in &x.contacts {
                    assert_eq!(q.contact(s)?.as_ref(), Some(contact), "{step}: contact");
                    let log = x.access.get(s).cloned().unwrap_or_default();
                    assert_eq!(q.access_log(s)?, log, "{step}: access log");
                    let flows = x.flows.get(s).cloned().unwrap_or_default();
                    assert_eq!(q.flows(s)?, flows, "{step}: flows");
                }
                for (id, ticket) in &x.tickets {
                    assert_eq!(q.ticket(id)?.as_ref(), Some(ticket), "{step}: ticket");
                }
                let requests: Vec<Request> = x.requests.values().cloned().collect();
                assert_eq!(q.requests()?, requests, "{step}: requests");
                let recipients: Vec<Recipient> = x.recipients.values().cloned().collect();
                assert_eq!(q.recipients()?, recipients, "{step}: recipients register");
                assert_eq!(q.summary()?, x.summary, "{step}: processing summary");
                assert!(q.disclosures()?.is_empty(), "{step}: disclosures");
                assert!(q.business_transfers()?.is_empty(), "{step}: business");
                assert!(q.policies()?.is_empty(), "{step}: policies");
                assert!(q.backups(today)?.is_empty(), "{step}: backups");
                Ok(())
            })
            .expect("query");

        for id in x.tickets.keys() {
            let view = self.c.ticket_view(id).expect("ticket view");
            assert_eq!(view, Some(self.ticket_view(id)), "{step}: ticket view");
        }
        let mut open: Vec<RequestView> = x
            .requests
            .values()
            .filter(|r| r.status == RequestStatus::Open)
            .map(|r| request_view(r, today))
            .collect();
        open.sort_by_key(|v| (v.effective_due, v.request.request.clone()));
        assert_eq!(self.c.open_requests(today).expect("open"), open, "{step}");
        open.retain(|v| v.overdue);
        assert_eq!(self.c.overdue_requests(today).expect("overdue"), open);

        for s in x.contacts.keys() {
            self.check_report(step, s);
        }
    }

    fn ticket_view(&self, id: &TicketId) -> TicketView {
        let ticket = self.x.tickets[id].clone();
        let deadline = ticket
            .closed_at
            .map(|c| c + Duration::days(TICKET_RETENTION_DAYS));
        TicketView {
            retention_due: ticket.erased.is_none() && deadline.is_some_and(|d| d <= self.now()),
            retention_deadline: deadline,
            ticket,
        }
    }

    /// The subject's report: what an Art. 15 answer is built from.
    fn check_report(&self, step: &str, s: &ScopeId) {
        let x = &self.x;
        let today = self.now().date_naive();
        let contact = &x.contacts[s];
        let report = self
            .c
            .subject_report(s)
            .expect("report")
            .expect("known subject");
        assert_eq!(report.subject, *s);
        assert_eq!(&report.contact, contact, "{step}: report contact");
        assert_eq!(report.erased, contact.erased.is_some(), "{step}: erased");
        assert_eq!(report.current_data, x.current[s], "{step}: current data");
        let tickets: Vec<TicketView> = contact
            .tickets
            .iter()
            .map(|t| self.ticket_view(t))
            .collect();
        assert_eq!(report.tickets.len(), tickets.len(), "{step}: tickets");
        for (got, want) in report.tickets.iter().zip(&tickets) {
            // The subject sees the ticket's history but not which staff
            // member took it over.
            assert_eq!(got.retention_deadline, want.retention_deadline);
            assert_eq!(got.retention_due, want.retention_due);
            let mut want = want.ticket.clone();
            for h in &mut want.handovers {
                h.to_actor.clear();
            }
            assert_eq!(got.ticket, want, "{step}: report ticket");
        }
        let requests: Vec<RequestView> = contact
            .requests
            .iter()
            .map(|r| request_view(&x.requests[r], today))
            .collect();
        assert_eq!(report.requests, requests, "{step}: report requests");
        let flows = x.flows.get(s).cloned().unwrap_or_default();
        assert_eq!(report.flows, flows, "{step}: report flows");
        let used: BTreeSet<&str> = flows
            .iter()
            .filter_map(|f| match &f.kind {
                FlowKind::Share { recipient, .. } | FlowKind::Transfer { recipient, .. } => {
                    Some(recipient.as_str())
                }
                FlowKind::Disclosure { .. } => None,
            })
            .collect();
        let recipients: Vec<Recipient> = used.iter().map(|r| x.recipients[*r].clone()).collect();
        assert_eq!(report.recipients, recipients, "{step}: report recipients");
        // Art. 15 access log: dates, purposes and roles, in order; no one named.
        let lines: Vec<AccessLogLine> = x
            .access
            .get(s)
            .map(|log| {
                log.iter()
                    .map(|e| AccessLogLine {
                        at: e.at,
                        purpose: e.purpose,
                        role: e.role,
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(report.access_log, lines, "{step}: access log lines");
        let json = serde_json::to_string(&report).expect("report serializes");
        for pseudonym in STAFF {
            assert!(
                !json.contains(pseudonym),
                "{step}: the subject's report names staff member {pseudonym}"
            );
        }
    }

    /// Paths of files under the temporary root (ledger, projections, keys)
    /// that contain `needle`.
    fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        self.c.projections().flush().expect("flush projections");
        let mut hits = Vec::new();
        scan_dir(self.root.path(), needle.as_bytes(), &mut hits);
        hits
    }

    fn assert_no_plaintext(&self, step: &str, needles: &[&str]) {
        assert!(
            self.dir.join("projections").is_dir(),
            "the projection store lives in the ledger directory"
        );
        for needle in needles {
            let hits = self.files_containing(needle);
            assert!(hits.is_empty(), "{step}: plaintext {needle:?} in {hits:?}");
        }
    }
}

fn scan_dir(dir: &Path, needle: &[u8], hits: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            scan_dir(&path, needle, hits);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(path);
            }
        }
    }
}

fn request_view(r: &Request, today: NaiveDate) -> RequestView {
    let effective_due = r.extension.as_ref().map_or(r.due, |e| e.due);
    let open = r.status == RequestStatus::Open;
    RequestView {
        request: r.clone(),
        effective_due,
        overdue: open && today > effective_due,
        days_left: open.then(|| (effective_due - today).num_days()),
        answered_in_time: r.answered.map(|a| a <= effective_due),
    }
}

fn new_contact(s: ScopeId, at: DateTime<Utc>) -> Contact {
    Contact {
        subject: s,
        first_event: at,
        last_event: at,
        categories: BTreeMap::new(),
        channels: BTreeSet::new(),
        purposes: BTreeMap::new(),
        consents: BTreeMap::new(),
        marketing: Marketing::default(),
        credential: None,
        policy_notifications: Vec::new(),
        contract_ended: None,
        retention_expired_at: None,
        erased: None,
        tickets: BTreeSet::new(),
        requests: BTreeSet::new(),
        restricted: BTreeMap::new(),
        recipient_notifications: Vec::new(),
    }
}

fn new_ticket(id: TicketId, customer: ScopeId, channel: Channel, at: DateTime<Utc>) -> Ticket {
    Ticket {
        ticket: id,
        customer,
        channel,
        opened_at: at,
        closed_at: None,
        resolution: None,
        handovers: Vec::new(),
        escalations: Vec::new(),
        notes: 0,
        last_note_at: None,
        remote_access: Vec::new(),
        copies: Vec::new(),
        retention_expired_at: None,
        erased: None,
    }
}

fn new_request(
    reference: &str,
    s: ScopeId,
    right: Right,
    channel: Channel,
    at: DateTime<Utc>,
    due: NaiveDate,
) -> Request {
    Request {
        request: reference.into(),
        subject: s,
        right,
        channel,
        received_at: at,
        received: at.date_naive(),
        due,
        extension: None,
        status: RequestStatus::Open,
        refusal: None,
        answered: None,
    }
}

fn held(at: DateTime<Utc>) -> HeldCategory {
    HeldCategory {
        collected_at: Some(at),
        recollected_at: None,
        rectified_at: None,
    }
}

fn ticket_access(
    seq: u64,
    at: DateTime<Utc>,
    kind: AccessKind,
    role: Role,
    actor: &str,
    ticket: TicketId,
) -> AccessEntry {
    AccessEntry {
        seq,
        at,
        kind,
        purpose: Purpose::Support,
        role,
        actor: actor.into(),
        ticket: Some(ticket),
    }
}

// ---------------------------------------------------------------------------
// Scenario 1: one customer's life in the ledger, and a ticket that ages out.

struct Customer {
    s: ScopeId,
    ticket: TicketId,
}

#[test]
fn a_customer_from_sign_up_to_erasure() {
    let mut w = World::new(t(2026, 1, 5, 9, 0));
    w.check("empty ledger");

    let a = sign_up_and_subscribe(&mut w);
    let a = Customer {
        ticket: open_ticket_by_phone(&mut w, a),
        s: a,
    };
    support_work(&mut w, &a);
    share_with_us_processor(&mut w, &a);
    unsubscribe(&mut w, &a);
    rectify_and_ask_for_access(&mut w, &a);
    ask_for_erasure(&mut w, &a);
    let b = ticket_ages_out(&mut w);
    rebuild_and_verify(w, &[a.s, b.s], &[a.ticket, b.ticket]);
}
