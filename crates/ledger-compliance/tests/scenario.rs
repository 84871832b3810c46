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

/// 1. Sign-up through the contact form (name, company email, telephone, a
///    credential whose value is never recorded), newsletter opt-in.
fn sign_up_and_subscribe(w: &mut World) -> ScopeId {
    let s = w.c.new_subject(Some(EMAIL_A)).expect("subject");
    let signed_up = w.now();
    w.x.contacts.insert(s, new_contact(s, signed_up));
    w.x.summary.contacts += 1;
    w.ok(ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::DataCollected {
            categories: vec![
                DataCategory::Name,
                DataCategory::CompanyEmail,
                DataCategory::Telephone,
            ],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    )
    .with_personal(
        PersonalData::new()
            .with(DataCategory::Name, NAME_A)
            .with(DataCategory::CompanyEmail, EMAIL_A)
            .with(DataCategory::Telephone, PHONE_A),
    ));
    let c = w.contact(s);
    for category in [
        DataCategory::Name,
        DataCategory::CompanyEmail,
        DataCategory::Telephone,
    ] {
        c.categories.insert(category, held(signed_up));
    }
    c.channels.insert(Channel::ContactForm);
    c.purposes.insert(
        Purpose::Contract,
        PurposeBasis {
            lawful_basis: LawfulBasis::Contract,
            since: signed_up,
        },
    );
    let summary = &mut w.x.summary;
    summary
        .subject_categories
        .insert(SubjectCategory::CustomerContact);
    summary.data_categories.extend([
        DataCategory::Name,
        DataCategory::CompanyEmail,
        DataCategory::Telephone,
    ]);
    summary.purposes.insert(
        Purpose::Contract,
        PurposeSummary {
            lawful_bases: [LawfulBasis::Contract].into(),
            categories: [
                DataCategory::Name,
                DataCategory::CompanyEmail,
                DataCategory::Telephone,
            ]
            .into(),
            channels: [Channel::ContactForm].into(),
            records: 1,
        },
    );
    w.x.current.insert(
        s,
        CurrentData::Data(
            PersonalData::new()
                .with(DataCategory::Name, NAME_A)
                .with(DataCategory::CompanyEmail, EMAIL_A)
                .with(DataCategory::Telephone, PHONE_A),
        ),
    );

    // A password is chosen: only the fact is recorded.
    w.ok(ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::CredentialChanged {
            change: CredentialChange::Set,
            channel: Channel::ContactForm,
        },
    ));
    w.contact(s).credential = Some(Credential {
        change: CredentialChange::Set,
        at: signed_up,
    });
    w.check("1. signed up");

    // Newsletter box ticked on the same form a minute later.
    w.set(t(2026, 1, 5, 9, 1));
    let (_, opted_in) = w.ok(ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::ContactForm,
        },
    ));
    let c = w.contact(s);
    c.consents.insert(
        Purpose::Marketing,
        Consent {
            given: true,
            given_at: Some(opted_in),
            withdrawn_at: None,
            channel: Channel::ContactForm,
        },
    );
    c.purposes.insert(
        Purpose::Marketing,
        PurposeBasis {
            lawful_basis: LawfulBasis::Consent,
            since: opted_in,
        },
    );
    w.x.summary.purposes.insert(
        Purpose::Marketing,
        PurposeSummary {
            lawful_bases: [LawfulBasis::Consent].into(),
            categories: BTreeSet::new(),
            channels: [Channel::ContactForm].into(),
            records: 1,
        },
    );
    w.check("1. opted into the newsletter");

    // The January newsletter goes out a week later.
    w.set(t(2026, 1, 12, 8, 0));
    let (_, sent) = w.ok(ComplianceEvent::subject(
        s,
        "svc:mailer",
        Facts::MarketingContacted {
            campaign: "newsletter-2026-01".into(),
            channel: Channel::Email,
        },
    ));
    let m = &mut w.contact(s).marketing;
    m.contacts = 1;
    m.last_contacted_at = Some(sent);
    m.last_campaign = Some("newsletter-2026-01".into());
    w.check("1. first newsletter");

    // Everything personal is sealed: nothing readable on disk.
    w.assert_no_plaintext("1", &[NAME_A, EMAIL_A, PHONE_A]);
    let by_email =
        w.c.subject_report_by_email(EMAIL_A)
            .expect("report")
            .expect("found through the blind index");
    assert_eq!(by_email.subject, s);
    s
}

/// 2. A ticket opened by telephone; what the customer says is sealed under
///    the ticket's own key.
fn open_ticket_by_phone(w: &mut World, s: ScopeId) -> TicketId {
    w.set(t(2026, 1, 14, 10, 0));
    let ticket = w.c.new_ticket().expect("ticket");
    let (_, opened) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Telephone,
        },
    ));
    w.x.tickets
        .insert(ticket, new_ticket(ticket, s, Channel::Telephone, opened));
    w.contact(s).tickets.insert(ticket);
    w.x.summary.tickets += 1;
    w.x.summary
        .subject_categories
        .insert(SubjectCategory::SupportRequester);
    w.check("2. ticket opened");

    w.set(t(2026, 1, 14, 10, 6));
    let (seq, noted) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketNoteAdded {
            role: Role::Support,
        },
    )
    .with_personal(PersonalData::new().with_text(TICKET_TEXT_A)));
    let tk = w.ticket(ticket);
    tk.notes = 1;
    tk.last_note_at = Some(noted);
    w.access(
        s,
        ticket_access(
            seq,
            noted,
            AccessKind::TicketNote,
            Role::Support,
            SUPPORT_1,
            ticket,
        ),
    );
    w.check("2. ticket text written down");
    w.assert_no_plaintext("2", &[TICKET_TEXT_A]);
    ticket
}

/// 3. Remote access after authorization, a support copy made and destroyed,
///    a handover, an escalation to development.
fn support_work(w: &mut World, a: &Customer) {
    let (s, ticket) = (a.s, a.ticket);
    let authorization = "RA-2026-0001";
    let perform = || {
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::RemoteAccessPerformed {
                authorization: authorization.into(),
            },
        )
    };
    // Not before the customer said yes.
    w.set(t(2026, 1, 14, 11, 0));
    w.refused(
        perform(),
        ValidationError::RemoteAccessNotAuthorized {
            ticket,
            authorization: authorization.into(),
        },
    );
    w.set(t(2026, 1, 14, 11, 30));
    let (_, authorized) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::RemoteAccessAuthorized {
            authorization: authorization.into(),
            channel: Channel::Telephone,
        },
    ));
    w.ticket(ticket).remote_access.push(RemoteAccess {
        authorization: authorization.into(),
        authorized_at: Some(authorized),
        channel: Some(Channel::Telephone),
        performed: Vec::new(),
    });
    w.check("3. remote access authorized");

    w.set(t(2026, 1, 15, 9, 0));
    let (seq, accessed) = w.ok(perform());
    w.ticket(ticket).remote_access[0]
        .performed
        .push(PerformedAccess { at: accessed });
    w.access(
        s,
        ticket_access(
            seq,
            accessed,
            AccessKind::RemoteAccess,
            Role::Support,
            SUPPORT_1,
            ticket,
        ),
    );
    w.check("3. remote access performed");

    w.set(t(2026, 1, 15, 9, 20));
    let (_, copied) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::SupportCopyMade {
            copy: "CP-2026-0007".into(),
            location: "support-scratch-01".into(),
        },
    ));
    w.ticket(ticket).copies.push(SupportCopy {
        copy: "CP-2026-0007".into(),
        location: "support-scratch-01".into(),
        made_at: copied,
        destroyed_at: None,
        method: None,
    });
    w.check("3. support copy made");

    w.set(t(2026, 1, 15, 16, 45));
    let (_, destroyed) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::SupportCopyDestroyed {
            copy: "CP-2026-0007".into(),
            method: "secure-delete".into(),
        },
    ));
    let copy = &mut w.ticket(ticket).copies[0];
    copy.destroyed_at = Some(destroyed);
    copy.method = Some("secure-delete".into());
    w.check("3. support copy destroyed");
    w.refused(
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::SupportCopyDestroyed {
                copy: "CP-2026-0007".into(),
                method: "secure-delete".into(),
            },
        ),
        ValidationError::UnknownCopy {
            ticket,
            copy: "CP-2026-0007".into(),
        },
    );

    w.set(t(2026, 1, 16, 10, 15));
    let (seq, handed) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketHandedOver {
            from_role: Role::Support,
            to_role: Role::ThirdLineSupport,
            to_actor: THIRD_LINE.into(),
        },
    ));
    w.ticket(ticket).handovers.push(Handover {
        at: handed,
        from_role: Role::Support,
        to_role: Role::ThirdLineSupport,
        to_actor: THIRD_LINE.into(),
    });
    w.access(
        s,
        ticket_access(
            seq,
            handed,
            AccessKind::TicketHandover,
            Role::ThirdLineSupport,
            THIRD_LINE,
            ticket,
        ),
    );
    w.check("3. handed over to third-line support");

    w.set(t(2026, 1, 19, 14, 0));
    let (seq, escalated) = w.ok(ComplianceEvent::ticket(
        ticket,
        THIRD_LINE,
        Facts::TicketEscalated {
            to: EscalationTarget::Development,
        },
    ));
    w.ticket(ticket).escalations.push(Escalation {
        at: escalated,
        to: EscalationTarget::Development,
    });
    w.access(
        s,
        ticket_access(
            seq,
            escalated,
            AccessKind::TicketEscalation,
            Role::Development,
            THIRD_LINE,
            ticket,
        ),
    );
    w.check("3. escalated to development");

    // The subject's access log: four consultations, dated, for support.
    let report = w.c.subject_report(&s).expect("report").expect("known");
    let lines: Vec<(DateTime<Utc>, Purpose, Role)> = report
        .access_log
        .iter()
        .map(|l| (l.at, l.purpose, l.role))
        .collect();
    assert_eq!(
        lines,
        [
            (t(2026, 1, 14, 10, 6), Purpose::Support, Role::Support),
            (t(2026, 1, 15, 9, 0), Purpose::Support, Role::Support),
            (
                t(2026, 1, 16, 10, 15),
                Purpose::Support,
                Role::ThirdLineSupport
            ),
            (t(2026, 1, 19, 14, 0), Purpose::Support, Role::Development),
        ]
    );
}

/// 4. Sharing with a processor in the US under SCCs: refused before the
///    processor is registered and without a safeguard.
fn share_with_us_processor(w: &mut World, a: &Customer) {
    let s = a.s;
    let categories = vec![DataCategory::Name, DataCategory::CompanyEmail];
    let share = ComplianceEvent::subject(
        s,
        "svc:helpdesk",
        Facts::DataShared {
            restriction_exception: None,
            recipient: PROCESSOR.into(),
            categories: categories.clone(),
            purpose: Purpose::Support,
        },
    );
    let transfer = |safeguard| {
        ComplianceEvent::subject(
            s,
            "svc:helpdesk",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: PROCESSOR.into(),
                country: "US".into(),
                safeguard,
                categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
            },
        )
    };
    w.set(t(2026, 1, 20, 9, 0));
    w.refused(
        share.clone(),
        ValidationError::UnregisteredRecipient {
            recipient: PROCESSOR.into(),
        },
    );
    w.refused(
        transfer(Some(Safeguard::StandardContractualClauses)),
        ValidationError::UnregisteredRecipient {
            recipient: PROCESSOR.into(),
        },
    );

    w.set(t(2026, 1, 20, 9, 30));
    let (_, registered) = w.ok(ComplianceEvent::general(
        DPO,
        Facts::RecipientRegistered {
            recipient: PROCESSOR.into(),
            name: "DeskHost Inc".into(),
            country: "US".into(),
            contract: "DPA-2026-007".into(),
            recipient_role: RecipientRole::Processor,
        },
    ));
    let mut recipient = Recipient {
        recipient: PROCESSOR.into(),
        registration: Some(Registration {
            name: "DeskHost Inc".into(),
            country: "US".into(),
            contract: "DPA-2026-007".into(),
            role: RecipientRole::Processor,
            registered_at: registered,
        }),
        shares: 0,
        shared_categories: BTreeSet::new(),
        shared_purposes: BTreeSet::new(),
        last_shared_at: None,
        transfers: Vec::new(),
    };
    w.x.recipients.insert(PROCESSOR.into(), recipient.clone());
    w.check("4. processor registered");

    w.set(t(2026, 1, 20, 10, 0));
    w.refused(
        transfer(None),
        ValidationError::TransferWithoutSafeguard {
            country: "US".into(),
        },
    );
    let (seq, shared) = w.ok(share);
    recipient.shares = 1;
    recipient.shared_categories = categories.iter().copied().collect();
    recipient.shared_purposes = [Purpose::Support].into();
    recipient.last_shared_at = Some(shared);
    w.x.recipients.insert(PROCESSOR.into(), recipient.clone());
    w.x.flows.entry(s).or_default().push(Flow {
        seq,
        at: shared,
        kind: FlowKind::Share {
            recipient: PROCESSOR.into(),
            purpose: Purpose::Support,
        },
        categories: categories.clone(),
    });
    w.check("4. shared with the processor");

    w.set(t(2026, 1, 20, 10, 1));
    let (seq, transferred) = w.ok(transfer(Some(Safeguard::StandardContractualClauses)));
    recipient.transfers.push(TransferRoute {
        country: "US".into(),
        safeguard: Some(Safeguard::StandardContractualClauses),
        categories: categories.iter().copied().collect(),
        count: 1,
        first_at: transferred,
        last_at: transferred,
    });
    w.x.recipients.insert(PROCESSOR.into(), recipient);
    w.x.flows.entry(s).or_default().push(Flow {
        seq,
        at: transferred,
        kind: FlowKind::Transfer {
            recipient: PROCESSOR.into(),
            country: "US".into(),
            safeguard: Some(Safeguard::StandardContractualClauses),
        },
        categories: categories.clone(),
    });
    w.check("4. transferred to the US under SCCs");

    // The record of processing shows the processor, the third country and
    // the safeguard.
    let ropa = w.c.ropa().expect("ropa");
    assert_eq!(ropa.recipients.len(), 1);
    let r = &ropa.recipients[0];
    assert_eq!(r.recipient, PROCESSOR);
    assert_eq!(r.name.as_deref(), Some("DeskHost Inc"));
    assert_eq!(r.country.as_deref(), Some("US"));
    assert!(r.third_country);
    assert_eq!(r.role, Some(RecipientRole::Processor));
    assert_eq!(r.contract.as_deref(), Some("DPA-2026-007"));
    assert_eq!(ropa.transfers.len(), 1);
    let tr = &ropa.transfers[0];
    assert_eq!(
        (tr.country.as_str(), tr.safeguard, tr.count),
        ("US", Some(Safeguard::StandardContractualClauses), 1)
    );
    assert_eq!(tr.categories, categories.iter().copied().collect());
    let support = ropa
        .activities
        .iter()
        .find(|a| a.purpose == Purpose::Support)
        .expect("support activity");
    assert_eq!(support.recipients, vec![PROCESSOR.to_owned()]);
    assert!(support
        .data_categories
        .contains(&DataCategory::TicketContent));
    assert_eq!(
        support.erasure_time_limit,
        "730 days after the ticket is closed"
    );
    let marketing = ropa
        .activities
        .iter()
        .find(|a| a.purpose == Purpose::Marketing)
        .expect("marketing activity");
    assert!(marketing.recipients.is_empty());
}

/// 5. Unsubscribing is an objection: absolute, at once.
fn unsubscribe(w: &mut World, a: &Customer) {
    let s = a.s;
    w.set(t(2026, 1, 26, 21, 40));
    let (_, objected) = w.ok(ComplianceEvent::subject(
        s,
        "svc:mailer",
        Facts::MarketingObjected {
            channel: Channel::UnsubscribeLink,
        },
    ));
    let c = w.contact(s);
    c.marketing.objected = true;
    c.marketing.objected_at = Some(objected);
    c.marketing.objection_channel = Some(Channel::UnsubscribeLink);
    c.purposes.remove(&Purpose::Marketing);
    w.check("5. unsubscribed");

    // Three days later the webinar invitations go out: not to them.
    w.set(t(2026, 1, 29, 8, 0));
    w.refused(
        ComplianceEvent::subject(
            s,
            "svc:mailer",
            Facts::MarketingContacted {
                campaign: "webinar-invite-2026-02".into(),
                channel: Channel::Email,
            },
        ),
        ValidationError::MarketingAfterObjection { subject: s },
    );
    // Nor may marketing be re-based on legitimate interest.
    w.refused(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::CompanyEmail],
                channel: Channel::System,
                purpose: Purpose::Marketing,
                lawful_basis: LawfulBasis::LegitimateInterests,
            },
        ),
        ValidationError::MarketingAfterObjection { subject: s },
    );
    w.check("5. later mailing refused");
}

/// 6. A new telephone number (Art. 16), then an access request received on
///    31 January: due 28 February (one calendar month beats 30 days),
///    extended within the first month, fulfilled once.
fn rectify_and_ask_for_access(w: &mut World, a: &Customer) {
    let s = a.s;
    w.set(t(2026, 1, 30, 11, 0));
    let (_, rectified) = w.ok(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataRectified {
            categories: vec![DataCategory::Telephone],
            channel: Channel::Email,
        },
    )
    .with_personal(PersonalData::new().with(DataCategory::Telephone, PHONE_A_NEW)));
    let c = w.contact(s);
    c.channels.insert(Channel::Email);
    c.categories
        .get_mut(&DataCategory::Telephone)
        .expect("telephone held")
        .rectified_at = Some(rectified);
    w.x.current.insert(
        s,
        CurrentData::Data(
            PersonalData::new()
                .with(DataCategory::Name, NAME_A)
                .with(DataCategory::CompanyEmail, EMAIL_A)
                .with(DataCategory::Telephone, PHONE_A_NEW),
        ),
    );
    w.check("6. telephone rectified");

    let reference = "DSR-2026-001";
    w.set(t(2026, 1, 31, 14, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: reference.into(),
            right: Right::Access,
            channel: Channel::Email,
        },
    ));
    // 30 days would be 2 March; one calendar month is 28 February.
    w.x.requests.insert(
        reference.into(),
        new_request(
            reference,
            s,
            Right::Access,
            Channel::Email,
            received,
            day(2026, 2, 28),
        ),
    );
    w.contact(s).requests.insert(reference.into());
    w.x.summary.requests += 1;
    w.x.summary
        .subject_categories
        .insert(SubjectCategory::RightsRequester);
    w.check("6. access request received");
    let open = w.c.open_requests(day(2026, 1, 31)).expect("open");
    assert_eq!(open[0].effective_due, day(2026, 2, 28));
    assert_eq!(open[0].days_left, Some(28));

    // The DPO consults the data to answer.
    w.set(t(2026, 2, 9, 10, 0));
    let (seq, consulted) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::DataAccessed {
            role: Role::Dpo,
            purpose: Purpose::RightsRequest,
        },
    ));
    w.access(
        s,
        AccessEntry {
            seq,
            at: consulted,
            kind: AccessKind::DataAccessed,
            purpose: Purpose::RightsRequest,
            role: Role::Dpo,
            actor: DPO.into(),
            ticket: None,
        },
    );
    w.check("6. DPO consulted the data");

    // Told on 10 February, within the first month, with the reason.
    w.set(t(2026, 2, 10, 9, 0));
    let (_, extended) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::RequestExtended {
            request: reference.into(),
            reason: ExtensionReason::Complexity,
            notified_on: day(2026, 2, 10),
            due: day(2026, 4, 30),
        },
    ));
    w.request(reference).extension = Some(Extension {
        due: day(2026, 4, 30),
        reason: ExtensionReason::Complexity,
        notified_on: day(2026, 2, 10),
        recorded_at: extended,
    });
    w.check("6. request extended");

    // Past the original due date, the extension keeps it from being overdue.
    w.set(t(2026, 3, 2, 9, 0));
    w.check("6. past the first month, extended");
    assert!(w.c.overdue_requests(day(2026, 3, 2)).expect("q").is_empty());
    assert_eq!(
        w.c.overdue_requests(day(2026, 5, 1)).expect("q")[0]
            .request
            .request,
        reference
    );

    w.set(t(2026, 3, 20, 15, 0));
    let (_, fulfilled) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::RequestFulfilled {
            request: reference.into(),
        },
    ));
    let r = w.request(reference);
    r.status = RequestStatus::Fulfilled;
    r.answered = Some(fulfilled.date_naive());
    w.check("6. access request fulfilled");
    let report = w.c.subject_report(&s).expect("report").expect("known");
    assert_eq!(report.requests[0].answered_in_time, Some(true));

    w.set(t(2026, 3, 21, 9, 0));
    w.refused(
        ComplianceEvent::subject(
            s,
            DPO,
            Facts::RequestFulfilled {
                request: reference.into(),
            },
        ),
        ValidationError::RequestAlreadyAnswered {
            request: reference.into(),
        },
    );
}

/// 7. An erasure request answered by the erasure itself: keys destroyed,
///    nothing readable left anywhere, nothing more recordable.
fn ask_for_erasure(w: &mut World, a: &Customer) {
    let (s, ticket) = (a.s, a.ticket);
    let reference = "DSR-2026-002";
    w.set(t(2026, 4, 2, 16, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: reference.into(),
            right: Right::Erasure,
            channel: Channel::Email,
        },
    ));
    w.x.requests.insert(
        reference.into(),
        new_request(
            reference,
            s,
            Right::Erasure,
            Channel::Email,
            received,
            day(2026, 5, 2),
        ),
    );
    w.contact(s).requests.insert(reference.into());
    w.x.summary.requests += 1;
    w.check("7. erasure request received");
    w.assert_no_plaintext(
        "7. before erasure",
        &[NAME_A, EMAIL_A, PHONE_A, PHONE_A_NEW, TICKET_TEXT_A],
    );

    w.set(t(2026, 4, 3, 10, 0));
    let request = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: reference.into(),
        operator: DPO.into(),
    };
    let receipts = w.c.erase_subject_blocking(s, &request).expect("erased");
    let erased_at = w.now();
    let scopes: Vec<ScopeId> = receipts.iter().map(|r| r.subject).collect();
    assert_eq!(
        scopes,
        [ticket.0, s],
        "the ticket's key first, then the subject's"
    );
    let info = ErasureInfo {
        at: erased_at,
        reason: "gdpr-art17-1a".into(),
        request_ref: reference.into(),
    };
    w.ticket(ticket).erased = Some(info.clone());
    let c = w.contact(s);
    c.erased = Some(info);
    c.last_event = erased_at;
    w.x.current.insert(s, CurrentData::Erased);
    w.x.summary.erasures += 2;
    // The erasure answers the request.
    w.x.summary.events += 1;
    let r = w.request(reference);
    r.status = RequestStatus::Fulfilled;
    r.answered = Some(erased_at.date_naive());
    w.check("7. erased");

    assert!(w.c.subject_report_by_email(EMAIL_A).expect("q").is_none());
    w.assert_no_plaintext(
        "7. after erasure",
        &[NAME_A, EMAIL_A, PHONE_A, PHONE_A_NEW, TICKET_TEXT_A],
    );

    // Nothing more about the subject or the ticket.
    w.set(t(2026, 4, 3, 11, 0));
    w.refused(
        ComplianceEvent::subject(
            s,
            DPO,
            Facts::DataAccessed {
                role: Role::Dpo,
                purpose: Purpose::RightsRequest,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
    w.refused(
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        ),
        ValidationError::SubjectErased { scope: ticket.0 },
    );
    w.refused(
        ComplianceEvent::subject(
            s,
            "svc:privacy-desk",
            Facts::RequestReceived {
                request: "DSR-2026-003".into(),
                right: Right::Access,
                channel: Channel::Email,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
    let reopened = w.c.new_ticket().expect("ticket scope");
    w.refused(
        ComplianceEvent::ticket(
            reopened,
            SUPPORT_1,
            Facts::TicketOpened {
                customer: s,
                channel: Channel::Email,
            },
        ),
        ValidationError::SubjectErased { scope: s },
    );
    w.refused(
        ComplianceEvent::subject(
            s,
            DPO,
            Facts::RequestFulfilled {
                request: reference.into(),
            },
        ),
        ValidationError::RequestAlreadyAnswered {
            request: reference.into(),
        },
    );
    let len = w.ledger().len();
    assert!(matches!(
        w.c.erase_subject_blocking(s, &request),
        Err(RecordError::Invalid {
            source: ValidationError::SubjectErased { .. },
            ..
        })
    ));
    assert!(matches!(
        w.c.erase_ticket_blocking(ticket, &request),
        Err(RecordError::Invalid {
            source: ValidationError::SubjectErased { .. },
            ..
        })
    ));
    assert_eq!(w.ledger().len(), len);
    w.check("7. further events refused");
}

/// 8. A second customer's ticket, closed, is erased by the retention sweep
///    two years and a day later; request deadlines show in the reports.
fn ticket_ages_out(w: &mut World) -> Customer {
    w.set(t(2026, 4, 10, 9, 0));
    let s = w.c.new_subject(Some(EMAIL_B)).expect("subject");
    let (_, signed_up) = {
        w.x.contacts.insert(s, new_contact(s, w.now()));
        w.x.summary.contacts += 1;
        w.ok(ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                channel: Channel::Email,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(
            PersonalData::new()
                .with(DataCategory::Name, NAME_B)
                .with(DataCategory::CompanyEmail, EMAIL_B),
        ))
    };
    let c = w.contact(s);
    c.categories.insert(DataCategory::Name, held(signed_up));
    c.categories
        .insert(DataCategory::CompanyEmail, held(signed_up));
    c.channels.insert(Channel::Email);
    c.purposes.insert(
        Purpose::Contract,
        PurposeBasis {
            lawful_basis: LawfulBasis::Contract,
            since: signed_up,
        },
    );
    let p =
        w.x.summary
            .purposes
            .get_mut(&Purpose::Contract)
            .expect("contract purpose");
    p.channels.insert(Channel::Email);
    p.records += 1;
    w.x.current.insert(
        s,
        CurrentData::Data(
            PersonalData::new()
                .with(DataCategory::Name, NAME_B)
                .with(DataCategory::CompanyEmail, EMAIL_B),
        ),
    );

    w.set(t(2026, 4, 10, 9, 30));
    let ticket = w.c.new_ticket().expect("ticket");
    let (_, opened) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Email,
        },
    ));
    w.x.tickets
        .insert(ticket, new_ticket(ticket, s, Channel::Email, opened));
    w.contact(s).tickets.insert(ticket);
    w.x.summary.tickets += 1;
    let (seq, noted) = w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketNoteAdded {
            role: Role::Support,
        },
    )
    .with_personal(PersonalData::new().with_text(TICKET_TEXT_B)));
    let tk = w.ticket(ticket);
    tk.notes = 1;
    tk.last_note_at = Some(noted);
    w.access(
        s,
        ticket_access(
            seq,
            noted,
            AccessKind::TicketNote,
            Role::Support,
            SUPPORT_1,
            ticket,
        ),
    );

    let closed_at = t(2026, 4, 14, 12, 0);
    w.set(closed_at);
    w.ok(ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketClosed {
            resolution: "fixed-in-4.2.1".into(),
        },
    ));
    let tk = w.ticket(ticket);
    tk.closed_at = Some(closed_at);
    tk.resolution = Some("fixed-in-4.2.1".into());
    w.check("8. second customer's ticket closed");
    let view = w.c.ticket_view(&ticket).expect("view").expect("known");
    let deadline = t(2028, 4, 13, 12, 0); // 730 days; 2028 is a leap year
    assert_eq!(view.retention_deadline, Some(deadline));
    assert!(!view.retention_due);
    w.refused(
        ComplianceEvent::ticket(
            ticket,
            SUPPORT_1,
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        ),
        ValidationError::TicketClosed { ticket },
    );

    // Nearly two years later the customer asks twice.
    let portability = "DSR-2028-002";
    w.set(t(2028, 3, 1, 10, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: portability.into(),
            right: Right::Portability,
            channel: Channel::Account,
        },
    ));
    w.x.requests.insert(
        portability.into(),
        new_request(
            portability,
            s,
            Right::Portability,
            Channel::Account,
            received,
            day(2028, 3, 31),
        ),
    );
    w.contact(s).requests.insert(portability.into());
    w.x.summary.requests += 1;
    let rectification = "DSR-2028-003";
    w.set(t(2028, 3, 20, 10, 0));
    let (_, received) = w.ok(ComplianceEvent::subject(
        s,
        "svc:privacy-desk",
        Facts::RequestReceived {
            request: rectification.into(),
            right: Right::Rectification,
            channel: Channel::Email,
        },
    ));
    w.x.requests.insert(
        rectification.into(),
        new_request(
            rectification,
            s,
            Right::Rectification,
            Channel::Email,
            received,
            day(2028, 4, 19),
        ),
    );
    w.contact(s).requests.insert(rectification.into());
    w.x.summary.requests += 1;
    w.check("8. two requests open");

    // (request, days left) of the requests due soon, and of the overdue ones.
    type Deadlines = Vec<(String, i64)>;
    let deadlines = |r: &SweepReport| -> (Deadlines, Deadlines) {
        let list = |v: &[ledger_compliance::retention::RequestDeadline]| {
            v.iter().map(|d| (d.request.clone(), d.days_left)).collect()
        };
        (list(&r.due_soon), list(&r.overdue))
    };
    let dry = SweepOptions {
        dry_run: true,
        ..SweepOptions::default()
    };

    // 25 March: the portability request is due within the week.
    w.set(t(2028, 3, 25, 6, 0));
    let report = w.c.sweep_blocking(&dry).expect("dry run");
    assert!(report.tickets_expired.is_empty() && report.subjects_expired.is_empty());
    assert_eq!(
        deadlines(&report),
        (vec![(portability.to_owned(), 6)], vec![])
    );
    w.check("8. a week before the portability deadline");

    // An hour before the ticket's retention ends: nothing to erase yet.
    w.set(deadline - Duration::hours(1));
    let len = w.ledger().len();
    let report = w.c.sweep_blocking(&SweepOptions::default()).expect("sweep");
    assert!(report.tickets_expired.is_empty() && report.subjects_expired.is_empty());
    assert_eq!(
        deadlines(&report),
        (
            vec![(rectification.to_owned(), 6)],
            vec![(portability.to_owned(), -13)]
        )
    );
    assert_eq!(
        w.ledger().len(),
        len,
        "a sweep with nothing to do appends nothing"
    );
    w.check("8. an hour before the retention deadline");

    // Two years and a day after closing: a dry run reports, erases nothing.
    let aged = t(2028, 4, 15, 12, 0);
    assert_eq!(
        aged,
        closed_at + chrono::Months::new(24) + Duration::days(1)
    );
    w.set(aged);
    w.check("8. retention due");
    assert!(
        w.c.ticket_view(&ticket)
            .expect("v")
            .expect("k")
            .retention_due
    );
    let before = w.entries();
    let report = w.c.sweep_blocking(&dry).expect("dry run");
    assert!(report.dry_run);
    assert_eq!(report.tickets_expired, vec![ticket.to_string()]);
    assert!(report.subjects_expired.is_empty());
    assert_eq!(
        deadlines(&report),
        (
            vec![(rectification.to_owned(), 4)],
            vec![(portability.to_owned(), -15)]
        )
    );
    assert_eq!(w.ledger().len(), len, "a dry run appends nothing");
    assert_eq!(w.entries(), before);
    w.check("8. dry run");

    let report = w.c.sweep_blocking(&SweepOptions::default()).expect("sweep");
    assert!(!report.dry_run);
    assert_eq!(report.at, Some(aged));
    assert_eq!(report.tickets_expired, vec![ticket.to_string()]);
    assert!(report.subjects_expired.is_empty());
    w.x.summary.events += 1; // retention_expired
    w.x.summary.erasures += 1;
    let tk = w.ticket(ticket);
    tk.retention_expired_at = Some(aged);
    tk.erased = Some(ErasureInfo {
        at: aged,
        reason: RETENTION_REASON.into(),
        request_ref: "retention:ticket-closed".into(),
    });
    w.contact(s).last_event = aged;
    w.check("8. ticket erased by retention");
    w.assert_no_plaintext("8. after the sweep", &[TICKET_TEXT_B]);
    // The customer remains: only the ticket aged out.
    assert!(w.c.subject_report_by_email(EMAIL_B).expect("q").is_some());

    // Idempotent: the second sweep erases nothing and appends nothing.
    let len = w.ledger().len();
    let again = w.c.sweep_blocking(&SweepOptions::default()).expect("sweep");
    assert!(again.tickets_expired.is_empty() && again.subjects_expired.is_empty());
    assert_eq!(w.ledger().len(), len);
    w.check("8. second sweep");

    // The late answer is recorded as late.
    w.set(t(2028, 4, 16, 9, 0));
    let (_, answered) = w.ok(ComplianceEvent::subject(
        s,
        DPO,
        Facts::RequestFulfilled {
            request: portability.into(),
        },
    ));
    let r = w.request(portability);
    r.status = RequestStatus::Fulfilled;
    r.answered = Some(answered.date_naive());
    w.check("8. portability answered late");
    let report = w.c.subject_report(&s).expect("report").expect("known");
    let late = report
        .requests
        .iter()
        .find(|r| r.request.request == portability)
        .expect("request");
    assert_eq!(late.answered_in_time, Some(false));
    Customer { s, ticket }
}

/// 9. Incremental = rebuilt, and the chain verifies.
fn rebuild_and_verify(w: World, subjects: &[ScopeId], tickets: &[TicketId]) {
    w.check("9. final state");
    let incremental = {
        w.c.projections().catch_up(w.ledger()).expect("catch up");
        w.c.projections().dump().expect("dump")
    };
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let rebuilt = Projections::open_at(&fresh_dir.path().join("p"), w.ledger()).expect("rebuilt");
    assert_eq!(rebuilt.dump().expect("dump"), incremental);
    let snapshot = ProjectionSnapshot::fold(w.ledger()).expect("fold");
    assert_eq!(snapshot.entries(), w.c.projections().entries().expect("e"));
    let sq = snapshot.queries();
    assert_eq!(
        sq.ropa(&w.c.options().ropa, w.c.options()).expect("ropa"),
        w.c.ropa().expect("ropa")
    );
    for s in subjects {
        assert_eq!(sq.contact(s).expect("c").as_ref(), Some(&w.x.contacts[s]));
    }
    for t in tickets {
        assert_eq!(sq.ticket(t).expect("t").as_ref(), Some(&w.x.tickets[t]));
    }
    // A rebuild in place gives the same store.
    let done = w.c.projections().rebuild(w.ledger()).expect("rebuild");
    assert_eq!(done.reset, Some("rebuild requested"));
    assert_eq!(w.c.projections().dump().expect("dump"), incremental);
    // So does the write model.
    assert_eq!(
        model_from_log(w.ledger()).expect("model"),
        w.c.model_blocking()
    );
    w.ledger().verify().expect("the chain verifies");

    let ropa = w.c.ropa().expect("ropa");
    let purposes: Vec<Purpose> = ropa.activities.iter().map(|a| a.purpose).collect();
    assert_eq!(
        purposes,
        [
            Purpose::Contract,
            Purpose::Marketing,
            Purpose::Support,
            Purpose::RightsRequest
        ]
    );
    assert_eq!(
        ropa.subject_categories,
        [
            SubjectCategory::CustomerContact,
            SubjectCategory::SupportRequester,
            SubjectCategory::RightsRequester
        ]
        .into()
    );

    // Reopened from disk, the layer answers the same.
    let World {
        root,
        dir,
        clock,
        c,
        x,
    } = w;
    drop(c);
    let w = World {
        c: open(&dir, &clock),
        root,
        dir,
        clock,
        x,
    };
    w.check("9. reopened");
}

// ---------------------------------------------------------------------------
// Scenario 2: appends from many tasks while a retention sweep runs.

/// What a task was told: an acknowledged event and where it must be.
struct Acked {
    seq: u64,
    event_type: &'static str,
    scope: ScopeId,
    actor: String,
}

async fn record(c: &ComplianceLedger, event: ComplianceEvent, acked: &mut Vec<Acked>) {
    let scope = event.scope.key_scope().expect("scoped event");
    let event_type = match &event.facts {
        Facts::DataCollected { .. } => "dp.data_collected",
        Facts::TicketOpened { .. } => "dp.ticket_opened",
        Facts::TicketNoteAdded { .. } => "dp.ticket_note_added",
        Facts::DataAccessed { .. } => "dp.data_accessed",
        Facts::TicketClosed { .. } => "dp.ticket_closed",
        other => panic!("not used here: {other:?}"),
    };
    let actor = event.actor.clone();
    let receipt = c.record(event).await.expect("accepted");
    acked.push(Acked {
        seq: receipt.seq,
        event_type,
        scope,
        actor,
    });
}

/// One customer's contract data, collected through the contact form.
fn collected(s: ScopeId, n: usize) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "svc:website",
        Facts::DataCollected {
            categories: vec![DataCategory::Name],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
    )
    .with_personal(PersonalData::new().with(DataCategory::Name, format!("Customer {n}")))
}

fn opened(ticket: TicketId, customer: ScopeId) -> ComplianceEvent {
    ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketOpened {
            customer,
            channel: Channel::Email,
        },
    )
}

fn note(ticket: TicketId) -> ComplianceEvent {
    ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketNoteAdded {
            role: Role::Support,
        },
    )
    .with_personal(PersonalData::new().with_text("the export hangs"))
}

fn closed(ticket: TicketId) -> ComplianceEvent {
    ComplianceEvent::ticket(
        ticket,
        SUPPORT_1,
        Facts::TicketClosed {
            resolution: "answered".into(),
        },
    )
}

fn consulted(s: ScopeId) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "staff:ae-2",
        Facts::DataAccessed {
            role: Role::AccountExecutive,
            purpose: Purpose::Contract,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_from_many_tasks_while_a_sweep_runs() {
    let w = World::new(t(2026, 1, 5, 9, 0));
    let c = Arc::new(w.c);
    let mut seeded = Vec::new();

    // Three customers whose tickets close in January 2026, one whose
    // ticket stays open.
    let mut old_customers = Vec::new();
    let mut expiring = BTreeSet::new();
    let mut open_ticket = None;
    for n in 0..4 {
        let s = c.new_subject(None).expect("subject");
        record(&c, collected(s, n), &mut seeded).await;
        let ticket = c.new_ticket().expect("ticket");
        record(&c, opened(ticket, s), &mut seeded).await;
        record(&c, note(ticket), &mut seeded).await;
        if n < 3 {
            record(&c, closed(ticket), &mut seeded).await;
            expiring.insert(ticket);
        } else {
            open_ticket = Some(ticket);
        }
        old_customers.push(s);
    }
    w.clock.set(t(2028, 2, 1, 9, 0));

    // Four new customers sign up and open tickets while the sweep runs;
    // staff consult the old customers meanwhile.
    let mut tasks = Vec::new();
    for n in 0..4 {
        let c = Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let s = c.new_subject(None).expect("subject");
            record(&c, collected(s, 10 + n), &mut acked).await;
            let ticket = c.new_ticket().expect("ticket");
            record(&c, opened(ticket, s), &mut acked).await;
            for _ in 0..8 {
                record(&c, note(ticket), &mut acked).await;
                tokio::task::yield_now().await;
            }
            if n % 2 == 0 {
                record(&c, closed(ticket), &mut acked).await;
            }
            acked
        }));
    }
    {
        let c = Arc::clone(&c);
        let old = old_customers.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for _ in 0..4 {
                for s in &old {
                    record(&c, consulted(*s), &mut acked).await;
                }
                tokio::task::yield_now().await;
            }
            acked
        }));
    }
    let sweeper = {
        let c = Arc::clone(&c);
        tokio::spawn(async move { c.sweep(&SweepOptions::default()).await })
    };
    let mut acked = seeded;
    for task in tasks {
        acked.extend(task.await.expect("task"));
    }
    let report = sweeper.await.expect("sweep task").expect("sweep");

    // Every acknowledged event is in the log, where it was acknowledged.
    let ledger = c.vault().ledger();
    let seqs: BTreeSet<u64> = acked.iter().map(|a| a.seq).collect();
    assert_eq!(seqs.len(), acked.len(), "one seq per acknowledged event");
    for a in &acked {
        let stored = ledger.get(a.seq).expect("acknowledged record is stored");
        assert_eq!(stored.record.event_type, a.event_type);
        assert_eq!(stored.record.subject, Some(a.scope));
        assert_eq!(stored.record.actor, a.actor);
    }

    // The sweep erased exactly the expired tickets, and reported them.
    let expected: Vec<String> = expiring.iter().map(|t| t.to_string()).collect();
    assert_eq!(report.tickets_expired, expected);
    assert!(report.subjects_expired.is_empty());
    let mut erased = BTreeSet::new();
    let mut expired = BTreeSet::new();
    for seq in 0..ledger.len() {
        let record = ledger.get(seq).expect("record").record;
        match record.event_type.as_str() {
            "vault.subject_erased" => assert!(erased.insert(record.subject.expect("scope"))),
            "dp.retention_expired" => assert!(expired.insert(record.subject.expect("scope"))),
            _ => {}
        }
    }
    let expiring_scopes: BTreeSet<ScopeId> = expiring.iter().map(|t| t.0).collect();
    assert_eq!(erased, expiring_scopes);
    assert_eq!(expired, expiring_scopes);
    for ticket in &expiring {
        let view = c.ticket_view(ticket).expect("view").expect("known");
        let erasure = view.ticket.erased.expect("erased");
        assert_eq!(erasure.reason, RETENTION_REASON);
    }
    let open_ticket = open_ticket.expect("open ticket");
    let view = c.ticket_view(&open_ticket).expect("view").expect("known");
    assert!(view.ticket.erased.is_none());
    assert_eq!(view.ticket.notes, 1);

    // A second sweep finds nothing more.
    let again = c.sweep(&SweepOptions::default()).await.expect("sweep");
    assert!(again.tickets_expired.is_empty() && again.subjects_expired.is_empty());

    // Rebuilt from scratch, the projections and the write model equal the
    // state reached incrementally; the chain verifies.
    c.projections().catch_up(ledger).expect("catch up");
    let incremental = c.projections().dump().expect("dump");
    let fresh = tempfile::tempdir().expect("tempdir");
    let rebuilt = Projections::open_at(&fresh.path().join("p"), ledger).expect("rebuilt");
    assert_eq!(rebuilt.dump().expect("dump"), incremental);
    assert_eq!(
        ProjectionSnapshot::fold(ledger).expect("fold").entries(),
        c.projections().entries().expect("entries")
    );
    assert_eq!(model_from_log(ledger).expect("model"), c.model().await);
    ledger.verify().expect("the chain verifies");
    let summary = c.query(|q| q.summary()).expect("summary");
    assert_eq!(summary.tickets, 8);
    assert_eq!(summary.contacts, 8);
    assert_eq!(summary.erasures, 3);
    assert_eq!(summary.accesses, 4 + 4 * 8 + 16);
}
