//! What happens when: the demo's agenda, drawn from the seeded RNG before
//! the simulation runs (the simulation itself draws only unsubscribes).
//!
//! The timeline is a prologue in June–September 2023 (the first customers,
//! whose tickets are closed then and so come due for erasure under the
//! 2-year ticket retention in mid-2025) and the year 2025. Actions fall on
//! whole hours so that everything happening in one hour is one atomic
//! batch (one fsync).

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::{EscalationTarget, Purpose, Right, Role};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::people::Person;

/// A moment of the simulation: minutes since the Unix epoch.
pub(crate) type Minute = i64;

/// The UTC minute of `date` at `hour`:00.
pub(crate) fn at(date: NaiveDate, hour: u32) -> Minute {
    date.and_hms_opt(hour, 0, 0)
        .map(|t| Utc.from_utc_datetime(&t).timestamp() / 60)
        .unwrap_or(0)
}

/// The date of `minute`.
pub(crate) fn date_of(minute: Minute) -> NaiveDate {
    Utc.timestamp_opt(minute * 60, 0)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// First day of the prologue.
pub(crate) fn prologue_start() -> NaiveDate {
    ymd(2023, 6, 1)
}
/// First day of the simulated year.
pub(crate) fn year_start() -> NaiveDate {
    ymd(2025, 1, 1)
}
/// Last day of the simulated year.
pub(crate) fn year_end() -> NaiveDate {
    ymd(2025, 12, 31)
}

/// A ticket's next step.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// A further note by the agent.
    Note,
    /// Handed over to another first-line agent.
    HandOver(String),
    /// Handed over to third-line support.
    ToThirdLine(String),
    /// Third line shares it with another team.
    Escalate(EscalationTarget),
    /// The customer authorizes remote access.
    Authorize,
    /// Support accesses the customer's installation.
    Perform,
    /// A copy of customer data is made for analysis.
    CopyMade,
    /// The copy is destroyed.
    CopyDestroyed,
    /// Closed with a resolution code.
    Close(&'static str),
}

/// How a rights request ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Answered in time.
    Fulfil,
    /// Extended within the first month, then answered.
    Extend,
    /// Refused with reasons and the complaint notice.
    Refuse,
    /// Answered after its due date.
    Late,
    /// Still open at the end of the year (due in January).
    Open,
}

/// The answer step of a request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Answer {
    /// Tell the subject the answer is extended.
    Extend,
    /// Answer (or, for an erasure, erase).
    Fulfil,
    /// Refuse.
    Refuse,
}

/// Something that happens at a moment of the simulation.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// Privacy-policy version published (and, if material, notified next hour).
    PublishPolicy {
        version: &'static str,
        material: bool,
    },
    /// Every live customer is told of a material policy change.
    NotifyPolicy(&'static str),
    /// The processors are registered.
    RegisterRecipients,
    /// Customer signs up.
    Signup(usize),
    /// Customer changes their password.
    CredentialChanged(usize),
    /// A staff member consults the customer's data.
    StaffAccess(usize, Role, Purpose),
    /// Customer reports changed contact data.
    Rectify(usize),
    /// Monthly newsletter to everyone marketing may reach.
    Newsletter(String),
    /// Customer clicks the unsubscribe link.
    Unsubscribe(usize),
    /// Customer withdraws marketing consent in their account.
    WithdrawConsent(usize),
    /// A ticket is opened.
    OpenTicket(usize),
    /// A ticket moves on.
    TicketStep(usize, Step),
    /// The customer's contract ends.
    ContractEnd(usize),
    /// A rights request arrives.
    Request(usize),
    /// A rights request is answered.
    Answer(usize, Answer),
    /// A disclosure to an authority under a subpoena.
    Disclosure(usize),
    /// Monthly backup archived.
    BackupArchive(String, NaiveDate),
    /// Expired backup media destroyed.
    BackupDestroy(String),
    /// Month end: retention sweep, then a KEK rotation if anything was erased.
    MonthEnd,
}

/// A customer as planned.
#[derive(Debug)]
pub(crate) struct CustomerPlan {
    /// Contact data.
    pub(crate) person: Person,
    /// Sign-up moment.
    pub(crate) signup: Minute,
}

/// A rights request as planned.
#[derive(Debug)]
pub(crate) struct RequestPlan {
    /// Requester.
    pub(crate) customer: usize,
    /// Right exercised.
    pub(crate) right: Right,
    /// Reference, `DSR-2025-NNNN` in order of arrival.
    pub(crate) reference: String,
}

/// The whole agenda.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) customers: Vec<CustomerPlan>,
    /// Customer of each ticket.
    pub(crate) tickets: Vec<usize>,
    pub(crate) requests: Vec<RequestPlan>,
    pub(crate) agenda: BTreeMap<(Minute, u64), Action>,
    order: u64,
}

impl Plan {
    fn add(&mut self, minute: Minute, action: Action) {
        self.order += 1;
        self.agenda.insert((minute, self.order), action);
    }
}

fn day_in(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> Option<NaiveDate> {
    let span = (to - from).num_days();
    (span >= 0).then(|| from + Days::new(rng.gen_range(0..=span) as u64))
}

fn hour(rng: &mut ChaCha8Rng) -> u32 {
    rng.gen_range(8..=18)
}

fn agent(rng: &mut ChaCha8Rng) -> String {
    format!("agent:{:02}", rng.gen_range(1..=12))
}

/// Draws the agenda for `customers` customers.
pub(crate) fn plan(customers: usize, rng: &mut ChaCha8Rng) -> Plan {
    let mut p = Plan::default();
    let start = prologue_start();
    p.add(at(start, 8), Action::RegisterRecipients);
    p.add(
        at(start, 8),
        Action::PublishPolicy {
            version: "privacy-2023-1",
            material: false,
        },
    );
    p.add(
        at(ymd(2025, 7, 1), 9),
        Action::PublishPolicy {
            version: "privacy-2025-2",
            material: true,
        },
    );
    p.add(
        at(ymd(2025, 7, 1), 10),
        Action::NotifyPolicy("privacy-2025-2"),
    );
    // Backups: one in the prologue, then monthly, kept 90 days.
    let mut backups = vec![ymd(2023, 6, 30)];
    backups.extend((1..=12).map(|m| ymd(2025, m, 1)));
    for date in backups {
        let name = format!("bk-{}-{:02}", date.year(), date.month());
        let until = date + Days::new(90);
        p.add(at(date, 2), Action::BackupArchive(name.clone(), until));
        if until <= year_end() {
            p.add(at(until, 3), Action::BackupDestroy(name));
        }
    }
    for m in 1..=12 {
        let campaign = format!("newsletter-2025-{m:02}");
        p.add(at(ymd(2025, m, 10), 10), Action::Newsletter(campaign));
        let last = ymd(2025, m, 1)
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or_else(year_end);
        p.add(at(last, 23), Action::MonthEnd);
    }

    // Customers: 3% from the prologue, half of the rest in January.
    let legacy = (customers * 3 / 100).max(2).min(customers);
    for i in 0..customers {
        let person = Person::new(i, rng);
        let date = if i < legacy {
            day_in(rng, ymd(2023, 6, 2), ymd(2023, 6, 20))
        } else if i % 2 == 0 {
            day_in(rng, ymd(2025, 1, 2), ymd(2025, 1, 31))
        } else {
            day_in(rng, ymd(2025, 2, 1), ymd(2025, 11, 30))
        }
        .unwrap_or_else(year_start);
        let signup = at(date, hour(rng));
        p.customers.push(CustomerPlan { person, signup });
        p.add(signup, Action::Signup(i));
        let first_day = date.max(year_start()) + Days::new(1);
        if i < legacy {
            for _ in 0..rng.gen_range(1..=2) {
                if let Some(d) = day_in(rng, date + Days::new(1), ymd(2023, 7, 20)) {
                    plan_ticket(&mut p, rng, i, d);
                }
            }
        }
        let tickets = [0, 0, 1, 1, 1, 2, 2, 3].choose(rng).copied().unwrap_or(0);
        for _ in 0..tickets {
            if let Some(d) = day_in(rng, first_day, ymd(2025, 12, 10)) {
                plan_ticket(&mut p, rng, i, d);
            }
        }
        for _ in 0..rng.gen_range(0..=3) {
            if let Some(d) = day_in(rng, first_day, year_end()) {
                let (role, purpose) = [
                    (Role::AccountExecutive, Purpose::Contract),
                    (Role::Support, Purpose::Support),
                    (Role::Operations, Purpose::Security),
                ]
                .choose(rng)
                .copied()
                .unwrap_or((Role::Support, Purpose::Support));
                p.add(at(d, hour(rng)), Action::StaffAccess(i, role, purpose));
            }
        }
        if rng.gen_bool(0.10) {
            if let Some(d) = day_in(rng, first_day, year_end()) {
                p.add(at(d, hour(rng)), Action::Rectify(i));
            }
        }
        if rng.gen_bool(0.15) {
            if let Some(d) = day_in(rng, first_day, year_end()) {
                p.add(at(d, hour(rng)), Action::CredentialChanged(i));
            }
        }
    }

    // Special roles go to distinct customers, so that no plan contradicts another.
    let mut pool: Vec<usize> = (0..customers).collect();
    pool.shuffle(rng);
    let ending = (customers * 6 / 100).max(2);
    for _ in 0..ending {
        let Some(c) = pool.pop() else { break };
        let from = date_of(p.customers[c].signup).max(year_start()) + Days::new(30);
        if let Some(d) = day_in(rng, from, ymd(2025, 11, 30)) {
            p.add(at(d, hour(rng)), Action::ContractEnd(c));
        }
    }
    if let Some(c) = take_customer(&mut pool, &p, ymd(2025, 9, 15)) {
        p.add(at(ymd(2025, 9, 15), 11), Action::Disclosure(c));
    }
    let mut requests: Vec<(NaiveDate, Right, Fate)> = vec![
        (ymd(2025, 2, 10), Right::Access, Fate::Fulfil),
        (ymd(2025, 3, 3), Right::Rectification, Fate::Fulfil),
        (ymd(2025, 3, 17), Right::Erasure, Fate::Fulfil),
        (ymd(2025, 4, 7), Right::Restriction, Fate::Fulfil),
        (ymd(2025, 4, 22), Right::Portability, Fate::Fulfil),
        (ymd(2025, 5, 12), Right::Objection, Fate::Fulfil),
        (ymd(2025, 5, 26), Right::ContactDpo, Fate::Fulfil),
        (ymd(2025, 6, 9), Right::Access, Fate::Extend),
        (ymd(2025, 8, 4), Right::Portability, Fate::Extend),
        (ymd(2025, 9, 1), Right::Erasure, Fate::Refuse),
        (ymd(2025, 10, 6), Right::Access, Fate::Late),
        (ymd(2025, 12, 22), Right::Access, Fate::Open),
        (ymd(2025, 12, 23), Right::Erasure, Fate::Open),
    ];
    for _ in 0..customers / 20 {
        if let Some(d) = day_in(rng, ymd(2025, 2, 1), ymd(2025, 11, 30)) {
            let right = Right::ALL.choose(rng).copied().unwrap_or(Right::Access);
            requests.push((d, right, Fate::Fulfil));
        }
    }
    requests.sort_by_key(|r| r.0);
    for (date, right, fate) in requests {
        let Some(customer) = take_customer(&mut pool, &p, date) else {
            continue;
        };
        let index = p.requests.len();
        p.requests.push(RequestPlan {
            customer,
            right,
            reference: format!("DSR-2025-{:04}", index + 1),
        });
        let received = at(date, hour(rng));
        p.add(received, Action::Request(index));
        let days = |n: u64| at(date + Days::new(n), 9 + (n % 8) as u32);
        match fate {
            Fate::Fulfil => {
                let n = rng.gen_range(5..=25);
                p.add(days(n), Action::Answer(index, Answer::Fulfil));
            }
            Fate::Extend => {
                p.add(days(20), Action::Answer(index, Answer::Extend));
                p.add(days(50), Action::Answer(index, Answer::Fulfil));
            }
            Fate::Refuse => p.add(days(14), Action::Answer(index, Answer::Refuse)),
            Fate::Late => p.add(days(40), Action::Answer(index, Answer::Fulfil)),
            Fate::Open => {}
        }
    }
    p
}

/// Takes from `pool` a customer signed up at least a week before `date`.
fn take_customer(pool: &mut Vec<usize>, p: &Plan, date: NaiveDate) -> Option<usize> {
    let limit = at(date, 0) - 7 * 24 * 60;
    let position = pool
        .iter()
        .rposition(|&c| p.customers.get(c).is_some_and(|c| c.signup <= limit))?;
    Some(pool.remove(position))
}

/// Plans ticket number `tickets.len()` for `customer`, opened on `date`.
fn plan_ticket(p: &mut Plan, rng: &mut ChaCha8Rng, customer: usize, date: NaiveDate) {
    let t = p.tickets.len();
    p.tickets.push(customer);
    let opened = at(date, hour(rng));
    p.add(opened, Action::OpenTicket(t));
    let mut day = 0u64;
    let mut last = opened;
    // Each step at least an hour after the previous one.
    let mut step = |p: &mut Plan, rng: &mut ChaCha8Rng, after: u64, s: Step| {
        day += after;
        last = at(date + Days::new(day), hour(rng)).max(last + 60);
        p.add(last, Action::TicketStep(t, s));
    };
    if rng.gen_bool(0.5) {
        step(p, rng, 1, Step::Note);
    }
    if rng.gen_bool(0.4) {
        let to = agent(rng);
        step(p, rng, 1, Step::HandOver(to));
    }
    if rng.gen_bool(0.15) {
        let to = format!("agent:3l-{:02}", rng.gen_range(1..=3));
        step(p, rng, 1, Step::ToThirdLine(to));
        let target = EscalationTarget::ALL
            .choose(rng)
            .copied()
            .unwrap_or(EscalationTarget::Development);
        step(p, rng, 1, Step::Escalate(target));
    }
    if rng.gen_bool(0.10) {
        step(p, rng, 1, Step::Authorize);
        step(p, rng, 1, Step::Perform);
        if rng.gen_bool(0.6) {
            step(p, rng, 0, Step::CopyMade);
            step(p, rng, 1, Step::CopyDestroyed);
        }
    }
    let resolution = ["solved", "solved", "workaround", "no-response", "duplicate"]
        .choose(rng)
        .copied()
        .unwrap_or("solved");
    let after = rng.gen_range(1..=10);
    step(p, rng, after, Step::Close(resolution));
}
