//! A compliance ledger on a temporary directory with a manual clock.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ledger_compliance::vocab::{Channel, DataCategory, LawfulBasis, Purpose};
use ledger_compliance::{ComplianceEvent, ComplianceLedger, ComplianceOptions, Facts};
use ledger_core::{Ledger, ManualClock, ScopeId};
use ledger_testkit::{Stack, TempStack};

/// A [`TempStack`] (its `c`, `clock` and `dir` read through it) with the
/// helpers these tests share.
pub(crate) struct Harness(TempStack);

impl std::ops::Deref for Harness {
    type Target = TempStack;

    fn deref(&self) -> &TempStack {
        &self.0
    }
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
        Harness(TempStack::with(at(2025, 1, 6), Stack::new().compliance(options)).unwrap())
    }

    /// Drops the layer; the directory stays until the result is dropped.
    pub(crate) fn close(self) -> tempfile::TempDir {
        self.0.close()
    }

    /// Drops the layer and opens it again on the same directory.
    pub(crate) fn reopen(self) -> Self {
        Harness(self.0.reopen().unwrap())
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

    pub(crate) fn subject(&self, facts: Vec<Facts>, s: ScopeId) {
        for f in facts {
            self.record(ComplianceEvent::subject(s, "svc:crm", f));
        }
    }

    /// A subject with contract data collected.
    pub(crate) fn customer(&self, email: &str) -> ScopeId {
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
