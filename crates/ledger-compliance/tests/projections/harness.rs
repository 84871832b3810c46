//! A compliance ledger on a temporary directory with a manual clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::{Channel, DataCategory, LawfulBasis, Purpose};
use ledger_compliance::{ComplianceEvent, ComplianceLedger, ComplianceOptions, Facts};
use ledger_core::{Ledger, ManualClock, SubjectId};
use ledger_testkit::Stack;

pub(crate) struct Harness {
    pub(crate) dir: PathBuf,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) c: ComplianceLedger,
    _tmp: tempfile::TempDir,
}

pub(crate) fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(crate) fn open_at(
    dir: &Path,
    clock: &Arc<ManualClock>,
    options: ComplianceOptions,
) -> ComplianceLedger {
    Stack::new()
        .clock(clock.clone())
        .compliance(options)
        .open(dir)
        .unwrap()
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with_options(ComplianceOptions::default())
    }

    pub(crate) fn with_options(options: ComplianceOptions) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        let clock = Arc::new(ManualClock::new(at(2025, 1, 6)));
        let c = open_at(&dir, &clock, options);
        Harness {
            dir,
            clock,
            c,
            _tmp: tmp,
        }
    }

    /// Drops the layer and opens it again on the same directory.
    pub(crate) fn reopen(self) -> Self {
        let Harness {
            dir,
            clock,
            c,
            _tmp,
        } = self;
        let options = c.options().clone();
        drop(c);
        let c = open_at(&dir, &clock, options);
        Harness {
            dir,
            clock,
            c,
            _tmp,
        }
    }

    pub(crate) fn clock_now(&self) -> DateTime<Utc> {
        ledger_core::Clock::now(self.clock.as_ref())
    }

    pub(crate) fn set(&self, t: DateTime<Utc>) {
        self.clock.set(t);
    }

    pub(crate) fn ledger(&self) -> &Ledger {
        self.c.vault().ledger()
    }

    pub(crate) fn record(&self, event: ComplianceEvent) {
        self.c.record_blocking(event).unwrap();
    }

    pub(crate) fn subject(&self, facts: Vec<Facts>, s: SubjectId) {
        for f in facts {
            self.record(ComplianceEvent::subject(s, "svc:crm", f));
        }
    }

    /// A subject with contract data collected.
    pub(crate) fn customer(&self, email: &str) -> SubjectId {
        let s = self.c.new_subject(Some(email)).unwrap();
        self.record(ComplianceEvent::subject(
            s,
            "svc:crm",
            collected(Purpose::Contract, LawfulBasis::Contract),
        ));
        s
    }
}

pub(crate) fn collected(purpose: Purpose, lawful_basis: LawfulBasis) -> Facts {
    Facts::DataCollected {
        categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
        channel: Channel::ContactForm,
        purpose,
        lawful_basis,
    }
}
