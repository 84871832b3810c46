//! Known answers for the stored form of every event kind, and round trips.
//!
//! `tests/golden/facts-v1.jsonl` holds, for one sample of every kind, the
//! event type and the exact clear-metadata bytes written today. The test
//! proves both directions: today's encoder writes exactly these bytes, and
//! today's decoder reads them back to the same facts. When a later version
//! changes a kind, the v1 lines stay and must keep decoding (through
//! `codec::upcast`). Regenerate only for a new version, never to edit v1:
//! `LEDGER_WRITE_GOLDEN=1 cargo test -p ledger-compliance --test codec`.

use chrono::NaiveDate;
use ledger_compliance::codec;
use ledger_compliance::vocab::*;
use ledger_compliance::Facts;
use ledger_core::ScopeId;
use ledger_vault::AuditMetadata;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn samples() -> Vec<Facts> {
    use Facts::*;
    vec![
        DataCollected {
            categories: vec![
                DataCategory::Name,
                DataCategory::CompanyEmail,
                DataCategory::Telephone,
            ],
            channel: Channel::ContactForm,
            purpose: Purpose::Contract,
            lawful_basis: LawfulBasis::Contract,
        },
        CredentialChanged {
            change: CredentialChange::Set,
            channel: Channel::Account,
        },
        DataRectified {
            categories: vec![DataCategory::CompanyAddress],
            channel: Channel::Email,
        },
        DataAccessed {
            role: Role::Support,
            purpose: Purpose::Support,
        },
        TicketOpened {
            customer: ScopeId([7; 16]),
            channel: Channel::Telephone,
        },
        TicketNoteAdded {
            role: Role::Support,
        },
        TicketHandedOver {
            from_role: Role::Support,
            to_role: Role::ThirdLineSupport,
            to_actor: "agent:17".into(),
        },
        TicketEscalated {
            to: EscalationTarget::Development,
        },
        TicketClosed {
            resolution: "solved".into(),
        },
        RemoteAccessAuthorized {
            authorization: "RA-1".into(),
            channel: Channel::Email,
        },
        RemoteAccessPerformed {
            authorization: "RA-1".into(),
        },
        SupportCopyMade {
            copy: "CP-1".into(),
            location: "support-sandbox".into(),
        },
        SupportCopyDestroyed {
            copy: "CP-1".into(),
            method: "crypto-erase".into(),
        },
        RecipientRegistered {
            recipient: "helpdesk-us".into(),
            name: "Helpdesk Cloud Inc.".into(),
            country: "US".into(),
            contract: "DPA-2026-07".into(),
            recipient_role: RecipientRole::Processor,
        },
        DataShared {
            restriction_exception: None,
            recipient: "helpdesk-us".into(),
            categories: vec![DataCategory::Name],
            purpose: Purpose::Support,
        },
        TransferMade {
            restriction_exception: None,
            recipient: "helpdesk-us".into(),
            country: "US".into(),
            safeguard: Some(Safeguard::StandardContractualClauses),
            categories: vec![DataCategory::Name, DataCategory::TicketContent],
        },
        TransferMade {
            restriction_exception: None,
            recipient: "mailer-ie".into(),
            country: "IE".into(),
            safeguard: None,
            categories: vec![DataCategory::CompanyEmail],
        },
        DisclosureMade {
            authority: "nl-fiod".into(),
            instrument: Instrument::Subpoena,
            reference: "SUB-2026-113".into(),
            categories: vec![DataCategory::Name],
        },
        BusinessTransfer {
            counterparty: "surveyco-bv".into(),
            kind: BusinessTransferKind::AssetSale,
            country: "NL".into(),
        },
        ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::ContactForm,
        },
        ConsentWithdrawn {
            purpose: Purpose::Marketing,
            channel: Channel::Account,
        },
        MarketingObjected {
            channel: Channel::UnsubscribeLink,
        },
        MarketingContacted {
            campaign: "newsletter-2026-03".into(),
            channel: Channel::Email,
        },
        RequestReceived {
            request: "DSR-2026-0001".into(),
            right: Right::Access,
            channel: Channel::Email,
        },
        RequestExtended {
            request: "DSR-2026-0001".into(),
            reason: ExtensionReason::Complexity,
            notified_on: date(2026, 3, 10),
            due: date(2026, 5, 31),
        },
        RequestFulfilled {
            request: "DSR-2026-0001".into(),
        },
        RequestRefused {
            request: "DSR-2026-0002".into(),
            reason: RefusalReason::Excessive,
            complaint_notice: true,
        },
        PolicyPublished {
            version: "2026-01".into(),
            effective: date(2026, 1, 1),
            material: true,
        },
        PolicyNotified {
            version: "2026-01".into(),
            channel: Channel::Email,
        },
        BackupArchived {
            backup: "BK-2026-01".into(),
            media: "tape-17".into(),
            retain_until: date(2027, 1, 31),
        },
        BackupDestroyed {
            backup: "BK-2026-01".into(),
            method: "degauss-shred".into(),
        },
        ContractEnded {
            reason: "terminated".into(),
        },
        RetentionExpired {
            rule: RetentionRule::TicketClosed,
            override_reason: None,
        },
        // An optional fact, added within version 1: records without it
        // (every line above) decode as before.
        RetentionExpired {
            rule: RetentionRule::NoLawfulBasis,
            override_reason: Some(RetentionOverride::ContractTerm),
        },
        // Art. 18 and 19, added within version 1 (FORMAT.md §10.3).
        ProcessingRestricted {
            purposes: vec![Purpose::Contract, Purpose::Marketing],
            ground: RestrictionGround::AccuracyContested,
        },
        RestrictionLifted {
            purposes: vec![Purpose::Marketing],
            subject_informed: true,
        },
        RecipientsNotified {
            recipient: "mailer-eu".into(),
            change: NotifiedChange::Rectification,
            outcome: NotificationOutcome::DisproportionateEffort,
        },
        // The optional Art. 18(2) exception of shares and transfers.
        DataShared {
            recipient: "mailer-eu".into(),
            categories: vec![DataCategory::CompanyEmail],
            purpose: Purpose::Contract,
            restriction_exception: Some(RestrictionException::LegalClaims),
        },
        TransferMade {
            recipient: "crm-us".into(),
            country: "US".into(),
            safeguard: Some(Safeguard::StandardContractualClauses),
            categories: vec![DataCategory::Name],
            restriction_exception: Some(RestrictionException::PublicInterest),
        },
    ]
}

fn line(facts: &Facts) -> String {
    let meta = codec::facts_to_metadata(facts).expect("encode");
    let bytes = meta.encode().expect("metadata");
    let text = String::from_utf8(bytes).expect("utf-8");
    format!("{}\t{}", codec::event_type(facts), text)
}

const GOLDEN: &str = "tests/golden/facts-v1.jsonl";

#[test]
fn every_kind_matches_its_known_answer_and_decodes() {
    let lines: Vec<String> = samples().iter().map(line).collect();
    let expected = lines.join("\n") + "\n";
    if std::env::var_os("LEDGER_WRITE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &expected).expect("write golden");
    }
    let golden = std::fs::read_to_string(GOLDEN).expect("golden file");
    assert_eq!(
        golden, expected,
        "the stored form changed; add a version instead"
    );
    for (facts, text) in samples().iter().zip(golden.lines()) {
        let (event_type, json) = text.split_once('\t').expect("tab");
        let meta = AuditMetadata::decode(json.as_bytes())
            .expect("metadata")
            .expect("some");
        let decoded = codec::metadata_to_facts(event_type, &meta).expect("decode");
        assert_eq!(&decoded, facts, "{event_type}");
    }
}

#[test]
fn every_kind_has_a_sample() {
    let kinds: std::collections::BTreeSet<ledger_compliance::Kind> =
        samples().iter().map(Facts::kind).collect();
    // At least one sample of every declared kind.
    let all: std::collections::BTreeSet<ledger_compliance::Kind> =
        ledger_compliance::Kind::ALL.iter().copied().collect();
    assert_eq!(kinds, all);
}

#[test]
fn unknown_versions_and_damaged_facts_are_typed_errors() {
    let facts = Facts::TicketClosed {
        resolution: "solved".into(),
    };
    let mut meta = codec::facts_to_metadata(&facts).expect("encode");
    meta.extra.insert("v".into(), "99".into());
    let err = codec::metadata_to_facts("dp.ticket_closed", &meta).expect_err("v99");
    assert!(
        matches!(
            err,
            ledger_compliance::DecodeError::UnsupportedVersion { version: 99, .. }
        ),
        "{err:?}"
    );
    let mut meta = codec::facts_to_metadata(&facts).expect("encode");
    meta.extra.insert("surprise".into(), "x".into());
    assert!(codec::metadata_to_facts("dp.ticket_closed", &meta).is_err());
    let meta = codec::facts_to_metadata(&facts).expect("encode");
    assert!(codec::metadata_to_facts("dp.no_such_kind", &meta).is_err());
    assert!(codec::metadata_to_facts("other.kind", &meta).is_err());
}

#[test]
fn facts_that_are_not_codes_are_refused() {
    let facts = Facts::TicketClosed {
        resolution: "line one\nline two".into(),
    };
    let err = codec::facts_to_metadata(&facts).expect_err("newline");
    assert!(
        matches!(
            err,
            ledger_compliance::EncodeError::NotACode {
                field: "resolution",
                ..
            }
        ),
        "{err:?}"
    );
}
