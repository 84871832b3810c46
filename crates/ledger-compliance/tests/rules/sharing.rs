//! Recipients, transfers and their countries and safeguards, marketing shares.

use super::*;

#[test]
fn sharing_needs_a_registered_recipient() {
    let f = fixture();
    let s = f.customer();
    let share = || {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataShared {
                restriction_exception: None,
                recipient: "mailer".into(),
                categories: vec![DataCategory::Name],
                purpose: Purpose::Contract,
            },
        )
    };
    f.refused(
        share(),
        ValidationError::UnregisteredRecipient {
            recipient: "mailer".into(),
        },
    );
    f.ok(ComplianceEvent::general(
        "op:dpo",
        Facts::RecipientRegistered {
            recipient: "mailer".into(),
            name: "Mailer Ltd".into(),
            country: "IE".into(),
            contract: "DPA-1".into(),
            recipient_role: RecipientRole::Processor,
        },
    ));
    f.ok(share());
}

#[test]
fn transfers_outside_the_eea_need_a_safeguard() {
    let f = fixture();
    let s = f.customer();
    f.ok(ComplianceEvent::general(
        "op:dpo",
        Facts::RecipientRegistered {
            recipient: "cloud".into(),
            name: "Cloud Inc".into(),
            country: "US".into(),
            contract: "DPA-2".into(),
            recipient_role: RecipientRole::Processor,
        },
    ));
    let transfer = |country: &str, safeguard| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: "cloud".into(),
                country: country.into(),
                safeguard,
                categories: vec![DataCategory::Name],
            },
        )
    };
    f.refused(
        transfer("US", None),
        ValidationError::TransferWithoutSafeguard {
            country: "US".into(),
        },
    );
    f.refused(
        transfer("usa", None),
        ValidationError::BadCountry {
            country: "usa".into(),
        },
    );
    f.ok(transfer("US", Some(Safeguard::StandardContractualClauses)));
    // The EU-US Data Privacy Framework is an adequacy decision.
    f.ok(transfer("US", Some(Safeguard::Adequacy)));
    f.register("archive", "DE");
    f.ok(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::TransferMade {
            restriction_exception: None,
            recipient: "archive".into(),
            country: "DE".into(),
            safeguard: None,
            categories: vec![DataCategory::Name],
        },
    ));
}

#[test]
fn a_transfer_goes_to_the_registered_country_under_a_safeguard_that_applies_there() {
    let f = fixture();
    let s = f.customer();
    f.register("proc-cn", "CN");
    f.register("crm-gb", "GB");
    let transfer = |recipient: &str, country: &str, safeguard| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::TransferMade {
                restriction_exception: None,
                recipient: recipient.into(),
                country: country.into(),
                safeguard,
                categories: vec![DataCategory::Name],
            },
        )
    };
    // Declared in the EEA, registered in CN.
    f.refused(
        transfer("proc-cn", "IE", None),
        ValidationError::TransferCountryMismatch {
            recipient: "proc-cn".into(),
            declared: "IE".into(),
            registered: "CN".into(),
        },
    );
    // Declared as GB (which has a decision) under adequacy.
    f.refused(
        transfer("proc-cn", "GB", Some(Safeguard::Adequacy)),
        ValidationError::TransferCountryMismatch {
            recipient: "proc-cn".into(),
            declared: "GB".into(),
            registered: "CN".into(),
        },
    );
    // CN has no adequacy decision.
    f.refused(
        transfer("proc-cn", "CN", Some(Safeguard::Adequacy)),
        ValidationError::NoAdequacyDecision {
            country: "CN".into(),
        },
    );
    f.refused(
        transfer("proc-cn", "CN", None),
        ValidationError::TransferWithoutSafeguard {
            country: "CN".into(),
        },
    );
    f.ok(transfer(
        "proc-cn",
        "CN",
        Some(Safeguard::StandardContractualClauses),
    ));
    f.ok(transfer("crm-gb", "GB", Some(Safeguard::Adequacy)));
    // What the model keeps is what the register says.
    assert_eq!(f.c.model_blocking().recipients["proc-cn"].country, "CN");
}

#[test]
fn country_codes_are_assigned_iso_3166_codes() {
    let f = fixture();
    let register = |country: &str| {
        ComplianceEvent::general(
            "op:dpo",
            Facts::RecipientRegistered {
                recipient: "p".into(),
                name: "P Ltd".into(),
                country: country.into(),
                contract: "DPA-1".into(),
                recipient_role: RecipientRole::Processor,
            },
        )
    };
    for bad in ["XX", "UK", "EU", "ZZ", "de", "DEU"] {
        f.refused(
            register(bad),
            ValidationError::BadCountry {
                country: bad.into(),
            },
        );
    }
    f.refused(
        ComplianceEvent::general(
            "op:dpo",
            Facts::BusinessTransfer {
                counterparty: "acme".into(),
                kind: BusinessTransferKind::Merger,
                country: "XX".into(),
            },
        ),
        ValidationError::BadCountry {
            country: "XX".into(),
        },
    );
    f.ok(register("GB"));
}

#[test]
fn an_objection_blocks_marketing_shares_and_marketing_needs_consent_or_legitimate_interest() {
    let f = fixture();
    let s = f.customer();
    f.register("mailer", "IE");
    let share = |purpose| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataShared {
                restriction_exception: None,
                recipient: "mailer".into(),
                categories: vec![DataCategory::Name],
                purpose,
            },
        )
    };
    let collect = |basis| {
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::CompanyEmail],
                channel: Channel::Email,
                purpose: Purpose::Marketing,
                lawful_basis: basis,
            },
        )
    };
    for basis in [
        LawfulBasis::Contract,
        LawfulBasis::LegalObligation,
        LawfulBasis::VitalInterests,
        LawfulBasis::PublicTask,
    ] {
        f.refused(
            collect(basis),
            ValidationError::BasisNotAllowed {
                purpose: Purpose::Marketing,
                basis,
            },
        );
    }
    f.ok(collect(LawfulBasis::LegitimateInterests));
    f.ok(collect(LawfulBasis::Consent));
    f.ok(share(Purpose::Marketing));
    f.ok(ComplianceEvent::subject(
        s,
        "svc:web",
        Facts::MarketingObjected {
            channel: Channel::UnsubscribeLink,
        },
    ));
    f.refused(
        share(Purpose::Marketing),
        ValidationError::MarketingAfterObjection { subject: s },
    );
    // Shares for the contract go on.
    f.ok(share(Purpose::Contract));
}
