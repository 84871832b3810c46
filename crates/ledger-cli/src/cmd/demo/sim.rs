//! Runs the agenda against the compliance ledger: every action becomes the
//! events the company's systems would record, checked by the same rules a
//! service's appends are. Everything one hour brings is one atomic batch;
//! erasures and sweeps run on their own, after the batch before them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Months, TimeZone, Utc};
use ledger_compliance::retention::{SweepOptions, SweepReport};
use ledger_compliance::vocab::{
    Channel, CredentialChange, DataCategory, ExtensionReason, Instrument, LawfulBasis,
    NotificationOutcome, NotifiedChange, Purpose, RecipientRole, RefusalReason, Right, Role,
    Safeguard,
};
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, Facts, PersonalData, RecordError, TicketId,
};
use ledger_core::{ManualClock, ScopeId};
use ledger_vault::ErasureRequest;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::people::{self, Person};
use super::plan::{self, Action, Answer, Minute, Plan, Step};

const MAILER: &str = "mailer-ie";
const HELPDESK: &str = "helpdesk-us";
const CRM: &str = "crm-gb";

/// A customer's state as the simulation knows it.
#[derive(Debug)]
struct Customer {
    person: Person,
    subject: Option<ScopeId>,
    marketing: Option<LawfulBasis>,
    objected: bool,
    contract: bool,
    password: bool,
    erased: bool,
    tickets: Vec<usize>,
}

/// A ticket's state.
#[derive(Debug, Default)]
struct Ticket {
    id: Option<TicketId>,
    closed: bool,
    erased: bool,
}

/// Counters the summary reports besides the per-kind counts read from the log.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct Stats {
    /// Customers signed up.
    pub(crate) customers: u64,
    /// Tickets opened.
    pub(crate) tickets: u64,
    /// Subjects erased on request.
    pub(crate) erased_on_request: u64,
    /// Tickets erased with them.
    pub(crate) tickets_erased_with_subject: u64,
    /// Tickets erased by retention (closed more than 2 years).
    pub(crate) tickets_erased_by_retention: u64,
    /// Subjects erased by retention (no lawful basis left).
    pub(crate) subjects_erased_by_retention: u64,
    /// KEK rotations.
    pub(crate) kek_rotations: u64,
    /// Atomic batches committed.
    pub(crate) batches: u64,
    /// Events the rules refused (a bug in the simulation if not 0).
    pub(crate) refused: u64,
}

/// The simulation.
pub(crate) struct Sim<'a> {
    ledger: &'a ComplianceLedger,
    clock: Arc<ManualClock>,
    rng: ChaCha8Rng,
    plan: Plan,
    customers: Vec<Customer>,
    tickets: Vec<Ticket>,
    by_subject: HashMap<ScopeId, usize>,
    by_ticket: HashMap<ScopeId, usize>,
    batch: Vec<ComplianceEvent>,
    erased_since_rotation: bool,
    /// Insertion order of actions scheduled while running (after the plan's).
    next_order: u64,
    pub(crate) stats: Stats,
    /// The last sweep's report (the year-end sweep once the run is over).
    pub(crate) last_sweep: Option<SweepReport>,
}

impl<'a> Sim<'a> {
    /// A simulation of `plan` over `ledger`, whose clock is `clock`.
    pub(crate) fn new(
        ledger: &'a ComplianceLedger,
        clock: Arc<ManualClock>,
        rng: ChaCha8Rng,
        plan: Plan,
    ) -> Sim<'a> {
        let customers = plan
            .customers
            .iter()
            .map(|c| Customer {
                person: c.person.clone(),
                subject: None,
                marketing: None,
                objected: false,
                contract: true,
                password: false,
                erased: false,
                tickets: Vec::new(),
            })
            .collect();
        let tickets = plan.tickets.iter().map(|_| Ticket::default()).collect();
        Sim {
            ledger,
            clock,
            rng,
            plan,
            customers,
            tickets,
            by_subject: HashMap::new(),
            by_ticket: HashMap::new(),
            batch: Vec::new(),
            erased_since_rotation: false,
            next_order: u64::MAX / 2,
            stats: Stats::default(),
            last_sweep: None,
        }
    }

    /// Runs the whole agenda; `tick` is called with the date of each hour run.
    pub(crate) fn run(&mut self, tick: &mut dyn FnMut(chrono::NaiveDate)) -> anyhow::Result<()> {
        let end = plan::at(plan::year_end(), 23);
        while let Some(entry) = self.plan.agenda.first_entry() {
            let minute = entry.key().0;
            if minute > end {
                break;
            }
            let mut actions = Vec::new();
            while let Some(entry) = self.plan.agenda.first_entry() {
                if entry.key().0 != minute {
                    break;
                }
                actions.push(entry.remove());
            }
            self.set_clock(minute);
            self.create_scopes(&actions)?;
            for action in actions {
                self.execute(action)?;
            }
            self.flush()?;
            tick(plan::date_of(minute));
        }
        self.notify_recipients()?;
        if self.erased_since_rotation {
            self.rotate()?;
        }
        Ok(())
    }

    fn set_clock(&self, minute: Minute) {
        if let Some(t) = Utc.timestamp_opt(minute * 60, 0).single() {
            self.clock.set(t);
        }
    }

    fn live(&self, c: usize) -> Option<ScopeId> {
        let customer = self.customers.get(c)?;
        if customer.erased {
            return None;
        }
        customer.subject
    }

    fn ticket_live(&self, t: usize) -> Option<TicketId> {
        let ticket = self.tickets.get(t)?;
        if ticket.erased || ticket.closed {
            return None;
        }
        ticket.id
    }

    /// Creates, in one durable write each, the subjects signing up and the
    /// tickets opening this hour.
    fn create_scopes(&mut self, actions: &[Action]) -> anyhow::Result<()> {
        let signups: Vec<usize> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Signup(c) => Some(*c),
                _ => None,
            })
            .collect();
        if !signups.is_empty() {
            let emails: Vec<String> = signups
                .iter()
                .map(|&c| self.customers[c].person.email.clone())
                .collect();
            let refs: Vec<Option<&str>> = emails.iter().map(|e| Some(e.as_str())).collect();
            let ids = self.ledger.vault().create_scopes(&refs)?;
            for (c, id) in signups.into_iter().zip(ids) {
                self.customers[c].subject = Some(id);
                self.by_subject.insert(id, c);
            }
        }
        let opening: Vec<usize> = actions
            .iter()
            .filter_map(|a| match a {
                Action::OpenTicket(t) => Some(*t),
                _ => None,
            })
            .filter(|&t| self.can_open(t))
            .collect();
        if !opening.is_empty() {
            let none = vec![None; opening.len()];
            let ids = self.ledger.vault().create_scopes(&none)?;
            for (t, id) in opening.into_iter().zip(ids) {
                self.tickets[t].id = Some(TicketId(id));
                self.by_ticket.insert(id, t);
            }
        }
        Ok(())
    }

    fn can_open(&self, t: usize) -> bool {
        let c = self.plan.tickets[t];
        self.live(c).is_some() && self.customers[c].contract
    }

    fn push(&mut self, event: ComplianceEvent) {
        self.batch.push(event);
    }

    /// Records the hour's batch; if a rule refuses an event (a bug in the
    /// simulation), records the others one by one and counts the refusal.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.batch);
        self.stats.batches += 1;
        match self.ledger.record_batch_blocking(events.clone()) {
            Ok(_) => Ok(()),
            Err(RecordError::Invalid { .. } | RecordError::Encode { .. }) => {
                for event in events {
                    let kind = ledger_compliance::codec::kind(&event.facts);
                    match self.ledger.record_blocking(event) {
                        Ok(_) => {}
                        Err(e @ (RecordError::Invalid { .. } | RecordError::Encode { .. })) => {
                            self.stats.refused += 1;
                            eprintln!("demo: a {kind} event was refused: {e}");
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn execute(&mut self, action: Action) -> anyhow::Result<()> {
        match action {
            Action::RegisterRecipients => self.register_recipients(),
            Action::PublishPolicy { version, material } => {
                let effective = plan::date_of(self.now());
                self.push(ComplianceEvent::general(
                    "dpo:01",
                    Facts::PolicyPublished {
                        version: version.into(),
                        effective,
                        material,
                    },
                ));
            }
            Action::NotifyPolicy(version) => {
                for c in 0..self.customers.len() {
                    if let Some(s) = self.live(c) {
                        self.push(ComplianceEvent::subject(
                            s,
                            "svc:mailing",
                            Facts::PolicyNotified {
                                version: version.into(),
                                channel: Channel::Email,
                            },
                        ));
                    }
                }
            }
            Action::Signup(c) => self.signup(c),
            Action::CredentialChanged(c) => {
                if let (Some(s), true) = (self.live(c), self.customers[c].password) {
                    self.push(ComplianceEvent::subject(
                        s,
                        "svc:account",
                        Facts::CredentialChanged {
                            change: CredentialChange::Changed,
                            channel: Channel::Account,
                        },
                    ));
                }
            }
            Action::StaffAccess(c, role, purpose) => {
                if let Some(s) = self.live(c) {
                    let actor = match role {
                        Role::AccountExecutive => format!("ae:{:02}", self.rng.gen_range(1..=5)),
                        Role::Operations => "ops:01".to_owned(),
                        _ => format!("agent:{:02}", self.rng.gen_range(1..=12)),
                    };
                    self.push(ComplianceEvent::subject(
                        s,
                        actor,
                        Facts::DataAccessed { role, purpose },
                    ));
                }
            }
            Action::Rectify(c) => self.rectify(c, Channel::Email),
            Action::Newsletter(campaign) => self.newsletter(&campaign),
            Action::Unsubscribe(c) => {
                if let Some(s) = self.live(c) {
                    if !self.customers[c].objected {
                        self.customers[c].objected = true;
                        self.customers[c].marketing = None;
                        self.push(ComplianceEvent::subject(
                            s,
                            "svc:mailing",
                            Facts::MarketingObjected {
                                channel: Channel::UnsubscribeLink,
                            },
                        ));
                    }
                }
            }
            Action::WithdrawConsent(c) => {
                if let Some(s) = self.live(c) {
                    if self.customers[c].marketing == Some(LawfulBasis::Consent) {
                        self.customers[c].marketing = None;
                        self.push(ComplianceEvent::subject(
                            s,
                            "svc:account",
                            Facts::ConsentWithdrawn {
                                purpose: Purpose::Marketing,
                                channel: Channel::Account,
                            },
                        ));
                    }
                }
            }
            Action::OpenTicket(t) => self.open_ticket(t),
            Action::TicketStep(t, step) => self.ticket_step(t, step),
            Action::ContractEnd(c) => {
                if let Some(s) = self.live(c) {
                    self.customers[c].contract = false;
                    let reason = if self.rng.gen_bool(0.5) {
                        "terminated"
                    } else {
                        "expired"
                    };
                    self.push(ComplianceEvent::subject(
                        s,
                        "svc:crm",
                        Facts::ContractEnded {
                            reason: reason.into(),
                        },
                    ));
                }
            }
            Action::Request(r) => self.request(r),
            Action::Answer(r, answer) => self.answer(r, answer)?,
            Action::Disclosure(c) => {
                if let Some(s) = self.live(c) {
                    self.push(ComplianceEvent::subject(
                        s,
                        "dpo:01",
                        Facts::DataAccessed {
                            role: Role::Dpo,
                            purpose: Purpose::LegalObligation,
                        },
                    ));
                    self.push(ComplianceEvent::subject(
                        s,
                        "dpo:01",
                        Facts::DisclosureMade {
                            authority: "nl-public-prosecution-service".into(),
                            instrument: Instrument::Subpoena,
                            reference: "SUBPOENA-2025-0915".into(),
                            categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                        },
                    ));
                }
            }
            Action::BackupArchive(backup, retain_until) => self.push(ComplianceEvent::general(
                "ops:backup",
                Facts::BackupArchived {
                    backup,
                    media: "lto-9-tape".into(),
                    retain_until,
                },
            )),
            Action::BackupDestroy(backup) => self.push(ComplianceEvent::general(
                "ops:backup",
                Facts::BackupDestroyed {
                    backup,
                    method: "degauss-and-shred".into(),
                },
            )),
            Action::MonthEnd => self.month_end()?,
        }
        Ok(())
    }

    fn now(&self) -> Minute {
        use ledger_core::Clock;
        self.clock.now().timestamp() / 60
    }

    fn register_recipients(&mut self) {
        for (recipient, name, country, contract) in [
            (MAILER, "Mailing Service Ltd", "IE", "DPA-2023-001"),
            (
                HELPDESK,
                "Cloud Helpdesk Inc",
                "US",
                "DPA-2023-002-SCC-2021-914",
            ),
            (CRM, "CRM Cloud UK Ltd", "GB", "DPA-2023-003"),
        ] {
            self.push(ComplianceEvent::general(
                "dpo:01",
                Facts::RecipientRegistered {
                    recipient: recipient.into(),
                    name: name.into(),
                    country: country.into(),
                    contract: contract.into(),
                    recipient_role: RecipientRole::Processor,
                },
            ));
        }
    }

    fn signup(&mut self, c: usize) {
        let Some(s) = self.live(c) else { return };
        self.stats.customers += 1;
        let rng = &mut self.rng;
        let channel = [
            Channel::ContactForm,
            Channel::ContactForm,
            Channel::Email,
            Channel::Telephone,
        ]
        .choose(rng)
        .copied()
        .unwrap_or(Channel::ContactForm);
        let actor = match channel {
            Channel::ContactForm => "svc:web-form".to_owned(),
            _ => format!("agent:{:02}", rng.gen_range(1..=12)),
        };
        let mut categories = vec![DataCategory::Name, DataCategory::CompanyEmail];
        for (category, p) in [
            (DataCategory::CompanyAddress, 0.7),
            (DataCategory::Telephone, 0.6),
            (DataCategory::Mobile, 0.4),
            (DataCategory::Fax, 0.05),
        ] {
            if rng.gen_bool(p) {
                categories.push(category);
            }
        }
        let password = rng.gen_bool(0.6);
        let marketing = rng.gen_range(0..100);
        let personal = self.customers[c].person.data(&categories);
        self.push(
            ComplianceEvent::subject(
                s,
                actor.clone(),
                Facts::DataCollected {
                    categories,
                    channel,
                    purpose: Purpose::Contract,
                    lawful_basis: LawfulBasis::Contract,
                },
            )
            .with_personal(personal),
        );
        self.push(ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: CRM.into(),
                country: "GB".into(),
                safeguard: Some(Safeguard::Adequacy),
                categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
            },
        ));
        if password {
            self.customers[c].password = true;
            self.push(ComplianceEvent::subject(
                s,
                "svc:account",
                Facts::CredentialChanged {
                    change: CredentialChange::Set,
                    channel: Channel::Account,
                },
            ));
        }
        let basis = if marketing < 40 {
            self.push(ComplianceEvent::subject(
                s,
                actor,
                Facts::ConsentGiven {
                    purpose: Purpose::Marketing,
                    channel,
                },
            ));
            Some(LawfulBasis::Consent)
        } else if marketing < 65 {
            self.push(ComplianceEvent::subject(
                s,
                "svc:crm",
                Facts::DataCollected {
                    categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                    channel,
                    purpose: Purpose::Marketing,
                    lawful_basis: LawfulBasis::LegitimateInterests,
                },
            ));
            Some(LawfulBasis::LegitimateInterests)
        } else {
            None
        };
        if basis.is_some() {
            self.customers[c].marketing = basis;
            self.push(ComplianceEvent::subject(
                s,
                "svc:crm",
                Facts::DataShared {
                    restriction_exception: None,
                    recipient: MAILER.into(),
                    categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                    purpose: Purpose::Marketing,
                },
            ));
        }
    }

    fn rectify(&mut self, c: usize, channel: Channel) {
        let Some(s) = self.live(c) else { return };
        let category = if self.rng.gen_bool(0.5) {
            DataCategory::CompanyAddress
        } else {
            DataCategory::Telephone
        };
        let personal = self.customers[c].person.rectify(category, &mut self.rng);
        self.push(
            ComplianceEvent::subject(
                s,
                "svc:crm",
                Facts::DataRectified {
                    categories: vec![category],
                    channel,
                },
            )
            .with_personal(personal),
        );
    }

    fn newsletter(&mut self, campaign: &str) {
        let mut unsubscribes = Vec::new();
        for c in 0..self.customers.len() {
            let Some(s) = self.live(c) else { continue };
            let customer = &self.customers[c];
            if customer.objected || customer.marketing.is_none() {
                continue;
            }
            self.push(ComplianceEvent::subject(
                s,
                "svc:mailing",
                Facts::MarketingContacted {
                    campaign: campaign.into(),
                    channel: Channel::Email,
                },
            ));
            let draw = self.rng.gen_range(0..1000);
            if draw < 25 {
                unsubscribes.push(Action::Unsubscribe(c));
            } else if draw < 30 {
                unsubscribes.push(Action::WithdrawConsent(c));
            }
        }
        let now = plan::date_of(self.now());
        for action in unsubscribes {
            let day = now + chrono::Days::new(self.rng.gen_range(1..=3));
            let hour = self.rng.gen_range(8..=22);
            self.schedule(plan::at(day, hour), action);
        }
    }

    fn schedule(&mut self, minute: Minute, action: Action) {
        self.next_order += 1;
        let minute = minute.max(self.now() + 60);
        self.plan.agenda.insert((minute, self.next_order), action);
    }

    fn open_ticket(&mut self, t: usize) {
        let Some(ticket) = self.ticket_live(t) else {
            return;
        };
        let c = self.plan.tickets[t];
        let Some(s) = self.live(c) else { return };
        self.stats.tickets += 1;
        self.customers[c].tickets.push(t);
        let channel = if self.rng.gen_bool(0.6) {
            Channel::Email
        } else {
            Channel::Telephone
        };
        let agent = format!("agent:{:02}", self.rng.gen_range(1..=12));
        let note = people::ticket_note(&mut self.rng);
        self.push(ComplianceEvent::ticket(
            ticket,
            "svc:helpdesk",
            Facts::TicketOpened {
                customer: s,
                channel,
            },
        ));
        self.push(
            ComplianceEvent::ticket(
                ticket,
                agent.clone(),
                Facts::TicketNoteAdded {
                    role: Role::Support,
                },
            )
            .with_personal(PersonalData::new().with_text(note)),
        );
        self.push(ComplianceEvent::subject(
            s,
            agent,
            Facts::DataAccessed {
                role: Role::Support,
                purpose: Purpose::Support,
            },
        ));
        self.push(ComplianceEvent::subject(
            s,
            "svc:helpdesk",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: HELPDESK.into(),
                country: "US".into(),
                safeguard: Some(Safeguard::StandardContractualClauses),
                categories: vec![
                    DataCategory::Name,
                    DataCategory::CompanyEmail,
                    DataCategory::TicketContent,
                ],
            },
        ));
    }

    fn ticket_step(&mut self, t: usize, step: Step) {
        let Some(ticket) = self.ticket_live(t) else {
            return;
        };
        let c = self.plan.tickets[t];
        let Some(s) = self.live(c) else { return };
        let agent = format!("agent:{:02}", self.rng.gen_range(1..=12));
        let authorization = format!("RA-{t:05}");
        let copy = format!("CP-{t:05}");
        let event = |facts| ComplianceEvent::ticket(ticket, agent.clone(), facts);
        match step {
            Step::Note => {
                let note = people::ticket_note(&mut self.rng);
                self.push(
                    event(Facts::TicketNoteAdded {
                        role: Role::Support,
                    })
                    .with_personal(PersonalData::new().with_text(note)),
                );
            }
            Step::HandOver(to) => self.push(event(Facts::TicketHandedOver {
                from_role: Role::Support,
                to_role: Role::Support,
                to_actor: to,
            })),
            Step::ToThirdLine(to) => self.push(event(Facts::TicketHandedOver {
                from_role: Role::Support,
                to_role: Role::ThirdLineSupport,
                to_actor: to,
            })),
            Step::Escalate(target) => {
                self.push(event(Facts::TicketEscalated { to: target }));
                self.push(ComplianceEvent::subject(
                    s,
                    format!("{}:01", target.code()),
                    Facts::DataAccessed {
                        role: target.role(),
                        purpose: Purpose::Support,
                    },
                ));
            }
            Step::Authorize => self.push(event(Facts::RemoteAccessAuthorized {
                authorization,
                channel: Channel::Email,
            })),
            Step::Perform => self.push(event(Facts::RemoteAccessPerformed { authorization })),
            Step::CopyMade => self.push(event(Facts::SupportCopyMade {
                copy,
                location: "support-sandbox".into(),
            })),
            Step::CopyDestroyed => self.push(event(Facts::SupportCopyDestroyed {
                copy,
                method: "secure-erase".into(),
            })),
            Step::Close(resolution) => {
                self.tickets[t].closed = true;
                self.push(event(Facts::TicketClosed {
                    resolution: resolution.into(),
                }));
            }
        }
    }

    fn request(&mut self, r: usize) {
        let (c, right, reference) = {
            let p = &self.plan.requests[r];
            (p.customer, p.right, p.reference.clone())
        };
        let Some(s) = self.live(c) else { return };
        let channel = if self.rng.gen_bool(0.7) {
            Channel::Email
        } else {
            Channel::Post
        };
        self.push(
            ComplianceEvent::subject(
                s,
                "dpo:01",
                Facts::RequestReceived {
                    request: reference,
                    right,
                    channel,
                },
            )
            .with_personal(PersonalData::new().with_text(format!(
                "Request under the GDPR ({}) as written by the customer.",
                right.code()
            ))),
        );
    }

    fn answer(&mut self, r: usize, answer: Answer) -> anyhow::Result<()> {
        let (c, right, reference) = {
            let p = &self.plan.requests[r];
            (p.customer, p.right, p.reference.clone())
        };
        let Some(s) = self.live(c) else { return Ok(()) };
        let dpo = |facts| ComplianceEvent::subject(s, "dpo:01", facts);
        match (answer, right) {
            (Answer::Extend, _) => {
                let today = plan::date_of(self.now());
                let received = today - chrono::Days::new(20);
                let due = received.checked_add_months(Months::new(2)).unwrap_or(today);
                self.push(dpo(Facts::RequestExtended {
                    request: reference,
                    reason: ExtensionReason::Complexity,
                    notified_on: today,
                    due,
                }));
            }
            (Answer::Refuse, _) => self.push(dpo(Facts::RequestRefused {
                request: reference,
                reason: RefusalReason::LegalClaims,
                complaint_notice: true,
            })),
            (Answer::Fulfil, Right::Erasure) => {
                self.flush()?;
                let receipts = self.ledger.erase_subject_blocking(
                    s,
                    &ErasureRequest {
                        reason: "gdpr-art17-1a".into(),
                        request_ref: reference,
                        operator: "dpo:01".into(),
                    },
                )?;
                self.stats.erased_on_request += 1;
                self.stats.tickets_erased_with_subject += receipts.len().saturating_sub(1) as u64;
                self.mark_customer_erased(c);
            }
            (Answer::Fulfil, right) => {
                match right {
                    Right::Access | Right::Portability => self.push(dpo(Facts::DataAccessed {
                        role: Role::Dpo,
                        purpose: Purpose::RightsRequest,
                    })),
                    Right::Rectification => self.rectify(c, Channel::Email),
                    Right::Objection if !self.customers[c].objected => {
                        self.customers[c].objected = true;
                        self.customers[c].marketing = None;
                        self.push(dpo(Facts::MarketingObjected {
                            channel: Channel::Email,
                        }));
                    }
                    _ => {}
                }
                self.push(dpo(Facts::RequestFulfilled { request: reference }));
            }
        }
        Ok(())
    }

    fn mark_customer_erased(&mut self, c: usize) {
        self.erased_since_rotation = true;
        self.customers[c].erased = true;
        for &t in &self.customers[c].tickets {
            self.tickets[t].erased = true;
        }
    }

    fn month_end(&mut self) -> anyhow::Result<()> {
        self.flush()?;
        let year_end = plan::date_of(self.now()) == plan::year_end();
        let report = self.ledger.sweep_blocking(&SweepOptions {
            dry_run: false,
            due_within_days: if year_end { 31 } else { 7 },
            operator: "svc:retention".into(),
        })?;
        for id in &report.tickets_expired {
            if let Some(&t) = id.parse().ok().and_then(|id| self.by_ticket.get(&id)) {
                self.tickets[t].erased = true;
                self.stats.tickets_erased_by_retention += 1;
                self.erased_since_rotation = true;
            }
        }
        for id in &report.subjects_expired {
            if let Some(&c) = id.parse().ok().and_then(|id| self.by_subject.get(&id)) {
                self.stats.subjects_erased_by_retention += 1;
                self.mark_customer_erased(c);
            }
        }
        self.last_sweep = Some(report);
        self.notify_recipients()?;
        if self.erased_since_rotation {
            self.rotate()?;
        }
        Ok(())
    }

    /// The DPO tells every recipient of a customer's data of the month's
    /// rectifications, erasures and restrictions (Art. 19): what the write
    /// model says is owed.
    fn notify_recipients(&mut self) -> anyhow::Result<()> {
        self.flush()?;
        let model = self.ledger.model_blocking();
        let mut owed: Vec<(ScopeId, NotifiedChange, String)> = model
            .subjects
            .iter()
            .flat_map(|(s, state)| {
                state
                    .notifications_owed
                    .iter()
                    .map(move |(change, recipient)| (*s, *change, recipient.clone()))
            })
            .collect();
        owed.sort();
        for (s, change, recipient) in owed {
            self.push(ComplianceEvent::subject(
                s,
                "dpo:01",
                Facts::RecipientsNotified {
                    recipient,
                    change,
                    outcome: NotificationOutcome::Notified,
                },
            ));
        }
        self.flush()
    }

    fn rotate(&mut self) -> anyhow::Result<()> {
        self.ledger.vault().rotate_kek()?;
        self.stats.kek_rotations += 1;
        self.erased_since_rotation = false;
        Ok(())
    }
}

impl Sim<'_> {
    /// A customer still live at the end, for the summary's suggestions.
    pub(crate) fn sample_live_subject(&self) -> Option<ScopeId> {
        (0..self.customers.len()).find_map(|c| self.live(c))
    }

    /// Every customer still live at the end, in sign-up plan order.
    pub(crate) fn live_subjects(&self) -> Vec<ScopeId> {
        (0..self.customers.len())
            .filter_map(|c| self.live(c))
            .collect()
    }

    /// Every customer erased during the run (on request or by retention).
    pub(crate) fn erased_subjects(&self) -> Vec<ScopeId> {
        self.customers
            .iter()
            .filter(|c| c.erased)
            .filter_map(|c| c.subject)
            .collect()
    }
}
