//! Every rule refuses its event with a typed error, and nothing is appended.

mod integrity;
mod lifecycle;
mod restriction;
mod sharing;

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::*;
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, Facts, PersonalData, RecordError, TicketId, ValidationError,
};
use ledger_core::{Clock, ManualClock, ScopeId};
use ledger_testkit::Stack;
use ledger_vault::ErasureRequest;

struct Fixture {
    _tmp: tempfile::TempDir,
    clock: Arc<ManualClock>,
    c: ComplianceLedger,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 31, 9, 0, 0)
            .single()
            .expect("time"),
    ));
    let c = Stack::new()
        .clock(clock.clone())
        .without_rotation()
        .open(&tmp.path().join("l"))
        .expect("open");
    Fixture {
        _tmp: tmp,
        clock,
        c,
    }
}

impl Fixture {
    fn ok(&self, event: ComplianceEvent) {
        self.c.record_blocking(event).expect("accepted");
    }

    /// Asserts `event` is refused with `expected`, the log did not grow and
    /// the write model did not change.
    fn refused(&self, event: ComplianceEvent, expected: ValidationError) {
        let before = self.c.vault().ledger().len();
        let model = self.c.model_blocking();
        match self.c.record_blocking(event) {
            Err(RecordError::Invalid { source, .. }) => assert_eq!(source, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
        assert_eq!(self.c.vault().ledger().len(), before, "nothing appended");
        assert!(self.c.model_blocking() == model, "model unchanged");
    }

    fn register(&self, recipient: &str, country: &str) {
        self.ok(ComplianceEvent::general(
            "op:dpo",
            Facts::RecipientRegistered {
                recipient: recipient.into(),
                name: "Processor Ltd".into(),
                country: country.into(),
                contract: "DPA-9".into(),
                recipient_role: RecipientRole::Processor,
            },
        ));
    }

    fn customer(&self) -> ScopeId {
        let s = self.c.new_subject(None).expect("subject");
        self.ok(ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name],
                channel: Channel::ContactForm,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(PersonalData::new().with(DataCategory::Name, "Grace")));
        s
    }

    fn ticket(&self, customer: ScopeId) -> TicketId {
        let t = self.c.new_ticket().expect("ticket");
        self.ok(ComplianceEvent::ticket(
            t,
            "agent:1",
            Facts::TicketOpened {
                customer,
                channel: Channel::Telephone,
            },
        ));
        t
    }
}

fn share(
    s: ScopeId,
    recipient: &str,
    purpose: Purpose,
    exception: Option<RestrictionException>,
) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataShared {
            recipient: recipient.into(),
            categories: vec![DataCategory::Name],
            purpose,
            restriction_exception: exception,
        },
    )
}

fn transfer(
    s: ScopeId,
    recipient: &str,
    country: &str,
    exception: Option<RestrictionException>,
) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::TransferMade {
            recipient: recipient.into(),
            country: country.into(),
            safeguard: (!in_eea(country)).then_some(Safeguard::StandardContractualClauses),
            categories: vec![DataCategory::Name],
            restriction_exception: exception,
        },
    )
}

fn restrict(s: ScopeId, purposes: &[Purpose]) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::ProcessingRestricted {
            purposes: purposes.to_vec(),
            ground: RestrictionGround::AccuracyContested,
        },
    )
}

fn lift(s: ScopeId, purposes: &[Purpose], subject_informed: bool) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RestrictionLifted {
            purposes: purposes.to_vec(),
            subject_informed,
        },
    )
}

fn notify(
    s: ScopeId,
    recipient: &str,
    change: NotifiedChange,
    outcome: NotificationOutcome,
) -> ComplianceEvent {
    ComplianceEvent::subject(
        s,
        "op:dpo",
        Facts::RecipientsNotified {
            recipient: recipient.into(),
            change,
            outcome,
        },
    )
}
