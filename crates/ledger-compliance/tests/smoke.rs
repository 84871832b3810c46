//! Smoke test: record, validate, reopen, erase through the public API.

use ledger_compliance::vocab::{Channel, DataCategory, LawfulBasis, Purpose};
use ledger_compliance::{
    ComplianceEvent, ComplianceLedger, Facts, PersonalData, RecordError, ValidationError,
};
use ledger_testkit::Stack;
use ledger_vault::ErasureRequest;

fn open(dir: &std::path::Path) -> ComplianceLedger {
    Stack::new().open(dir).expect("stack opens")
}

#[test]
fn record_validate_reopen_erase() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("l");
    let subject;
    {
        let c = open(&dir);
        subject = c.new_subject(Some("ada@example.com")).expect("subject");
        let collected = ComplianceEvent::subject(
            subject,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name, DataCategory::CompanyEmail],
                channel: Channel::ContactForm,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(
            PersonalData::new()
                .with(DataCategory::Name, "Ada")
                .with(DataCategory::CompanyEmail, "ada@example.com"),
        );
        c.record_blocking(collected).expect("collected");
        let share = ComplianceEvent::subject(
            subject,
            "svc:crm",
            Facts::DataShared {
                recipient: "mailer".into(),
                categories: vec![DataCategory::CompanyEmail],
                purpose: Purpose::Marketing,
            },
        );
        let err = c.record_blocking(share).expect_err("unregistered");
        assert!(
            matches!(
                err,
                RecordError::Invalid {
                    source: ValidationError::UnregisteredRecipient { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(c.vault().ledger().len(), 1);
    }
    let c = open(&dir);
    let model = c.model_blocking();
    assert!(model.subjects[&subject].collected);
    let req = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-1".into(),
        operator: "op:dpo".into(),
    };
    c.erase_subject_blocking(subject, &req).expect("erase");
    let again = ComplianceEvent::subject(
        subject,
        "svc:crm",
        Facts::MarketingObjected {
            channel: Channel::UnsubscribeLink,
        },
    );
    let err = c.record_blocking(again).expect_err("erased");
    assert!(
        matches!(
            err,
            RecordError::Invalid {
                source: ValidationError::SubjectErased { .. },
                ..
            }
        ),
        "{err:?}"
    );
    drop(c);
    let c = open(&dir);
    assert!(c.model_blocking().erased.contains(&subject));
}
