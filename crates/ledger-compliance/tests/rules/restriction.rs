//! Art. 18 restriction and Art. 19 notification of recipients.

use super::*;

#[test]
fn a_restriction_leaves_only_storage_and_the_exceptions_of_art_18_2() {
    let f = fixture();
    let s = f.customer();
    f.register("mailer", "IE");
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::DataCollected {
            categories: vec![DataCategory::CompanyEmail],
            channel: Channel::ContactForm,
            purpose: Purpose::Marketing,
            lawful_basis: LawfulBasis::LegitimateInterests,
        },
    ));
    f.ok(share(s, "mailer", Purpose::Contract, None));
    // No purpose: not even a code, refused before the rules (which refuse
    // it on replay as `NoPurpose`).
    let before = f.c.vault().ledger().len();
    assert!(matches!(
        f.c.record_blocking(restrict(s, &[])),
        Err(RecordError::Encode { .. })
    ));
    assert_eq!(f.c.vault().ledger().len(), before);
    f.ok(restrict(s, &[Purpose::Contract, Purpose::Marketing]));
    f.refused(
        restrict(s, &[Purpose::Marketing]),
        ValidationError::Restriction {
            subject: s,
            purpose: Purpose::Marketing,
            problem: "already restricted",
        },
    );
    let restricted = |purpose| ValidationError::ProcessingRestricted {
        subject: s,
        purpose,
    };
    // Shares for a restricted purpose, transfers (no purpose: every
    // restriction covers them) and marketing contacts are refused.
    f.refused(
        share(s, "mailer", Purpose::Contract, None),
        restricted(Purpose::Contract),
    );
    f.refused(
        transfer(s, "mailer", "IE", None),
        restricted(Purpose::Contract),
    );
    let contact = || {
        ComplianceEvent::subject(
            s,
            "svc:mailer",
            Facts::MarketingContacted {
                campaign: "spring".into(),
                channel: Channel::Email,
            },
        )
    };
    f.refused(contact(), restricted(Purpose::Marketing));
    // Consent is an exception only where the log holds it.
    f.refused(
        share(
            s,
            "mailer",
            Purpose::Contract,
            Some(RestrictionException::Consent),
        ),
        restricted(Purpose::Contract),
    );
    // Storage, collection and purposes not restricted go on.
    f.ok(share(s, "mailer", Purpose::Support, None));
    f.ok(ComplianceEvent::subject(
        s,
        "agent:1",
        Facts::DataAccessed {
            role: Role::Support,
            purpose: Purpose::Support,
        },
    ));
    // The other exceptions of Art. 18(2), as codes.
    for exception in [
        RestrictionException::LegalClaims,
        RestrictionException::ProtectionOfOthers,
        RestrictionException::PublicInterest,
    ] {
        f.ok(share(s, "mailer", Purpose::Contract, Some(exception)));
        f.ok(transfer(s, "mailer", "IE", Some(exception)));
    }
    // With the subject's consent, marketing goes on.
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::Account,
        },
    ));
    f.ok(contact());
    f.ok(share(
        s,
        "mailer",
        Purpose::Marketing,
        Some(RestrictionException::Consent),
    ));
    // Lifting: only what is restricted, and after telling the subject.
    f.refused(
        lift(s, &[Purpose::Support], true),
        ValidationError::Restriction {
            subject: s,
            purpose: Purpose::Support,
            problem: "not restricted",
        },
    );
    f.refused(
        lift(s, &[Purpose::Contract], false),
        ValidationError::LiftedWithoutInforming { subject: s },
    );
    f.ok(lift(s, &[Purpose::Contract], true));
    f.ok(share(s, "mailer", Purpose::Contract, None));
    // A transfer is still covered by the marketing restriction.
    f.refused(
        transfer(s, "mailer", "IE", None),
        restricted(Purpose::Marketing),
    );
    f.ok(lift(s, &[Purpose::Marketing], true));
    f.ok(transfer(s, "mailer", "IE", None));
    let live = f.c.model_blocking();
    assert!(live.subjects[&s].restricted.is_empty());
    let rebuilt = ledger_compliance::model_from_log(f.c.vault().ledger()).expect("rebuild");
    assert_eq!(rebuilt, live);
}

#[test]
fn every_recipient_is_notified_of_a_rectification_erasure_or_restriction() {
    let f = fixture();
    let s = f.customer();
    let other = f.customer();
    f.register("mailer", "IE");
    f.register("crm-us", "US");
    f.ok(share(s, "mailer", Purpose::Contract, None));
    f.ok(transfer(s, "crm-us", "US", None));
    f.ok(share(other, "mailer", Purpose::Contract, None));
    let nothing = |recipient: &str, change| ValidationError::NothingToNotify {
        subject: s,
        recipient: recipient.into(),
        change,
    };
    let owed = |f: &Fixture| -> Vec<(NotifiedChange, String)> {
        f.c.model_blocking().subjects[&s]
            .notifications_owed
            .iter()
            .cloned()
            .collect()
    };
    // Nothing changed yet: nothing to tell.
    f.refused(
        notify(
            s,
            "mailer",
            NotifiedChange::Rectification,
            NotificationOutcome::Notified,
        ),
        nothing("mailer", NotifiedChange::Rectification),
    );
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::DataRectified {
            categories: vec![DataCategory::Name],
            channel: Channel::Email,
        },
    ));
    assert_eq!(
        owed(&f),
        vec![
            (NotifiedChange::Rectification, "crm-us".to_owned()),
            (NotifiedChange::Rectification, "mailer".to_owned())
        ]
    );
    // Only recipients the data went to, once each.
    f.refused(
        notify(
            s,
            "elsewhere",
            NotifiedChange::Rectification,
            NotificationOutcome::Notified,
        ),
        nothing("elsewhere", NotifiedChange::Rectification),
    );
    f.refused(
        notify(
            s,
            "mailer",
            NotifiedChange::Erasure,
            NotificationOutcome::Notified,
        ),
        nothing("mailer", NotifiedChange::Erasure),
    );
    f.ok(notify(
        s,
        "mailer",
        NotifiedChange::Rectification,
        NotificationOutcome::Notified,
    ));
    f.refused(
        notify(
            s,
            "mailer",
            NotifiedChange::Rectification,
            NotificationOutcome::Notified,
        ),
        nothing("mailer", NotifiedChange::Rectification),
    );
    f.ok(notify(
        s,
        "crm-us",
        NotifiedChange::Rectification,
        NotificationOutcome::DisproportionateEffort,
    ));
    assert!(owed(&f).is_empty());
    // The other subject's rectification is not this one's.
    assert!(f.c.model_blocking().subjects[&other]
        .notifications_owed
        .is_empty());
    f.ok(restrict(s, &[Purpose::Support]));
    assert_eq!(owed(&f).len(), 2);
    f.ok(notify(
        s,
        "mailer",
        NotifiedChange::Restriction,
        NotificationOutcome::Notified,
    ));
    f.ok(notify(
        s,
        "crm-us",
        NotifiedChange::Restriction,
        NotificationOutcome::Impossible,
    ));
    // After the erasure, the notifications stay recordable (in clear).
    let request = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-19".into(),
        operator: "op:dpo".into(),
    };
    f.c.erase_subject_blocking(s, &request).expect("erase");
    assert_eq!(
        owed(&f),
        vec![
            (NotifiedChange::Erasure, "crm-us".to_owned()),
            (NotifiedChange::Erasure, "mailer".to_owned())
        ]
    );
    f.ok(notify(
        s,
        "mailer",
        NotifiedChange::Erasure,
        NotificationOutcome::Notified,
    ));
    let record =
        f.c.vault()
            .ledger()
            .get(f.c.vault().ledger().len() - 1)
            .expect("record")
            .record;
    assert_eq!(record.event_type, "dp.recipients_notified");
    assert!(record.key_ref.is_none(), "stored in clear");
    assert_eq!(
        owed(&f),
        vec![(NotifiedChange::Erasure, "crm-us".to_owned())]
    );
    let live = f.c.model_blocking();
    let rebuilt = ledger_compliance::model_from_log(f.c.vault().ledger()).expect("rebuild");
    assert_eq!(rebuilt, live);
}
