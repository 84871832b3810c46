//! Plain-language wording of the vocabulary's codes, for the person who
//! reads their access answer (`access.json` carries both the code and this
//! text; `access.html` shows the text).

use ledger_compliance::vocab::{
    Channel, DataCategory, LawfulBasis, Purpose, RecipientRole, Right, Role, Safeguard,
};

/// What a category of data is.
pub fn category(c: DataCategory) -> &'static str {
    match c {
        DataCategory::Name => "Name",
        DataCategory::CompanyEmail => "Company email address",
        DataCategory::CompanyAddress => "Company address",
        DataCategory::Telephone => "Telephone number",
        DataCategory::Mobile => "Mobile number",
        DataCategory::Fax => "Fax number",
        DataCategory::Other => "Other information you gave us",
        DataCategory::TicketContent => "What you wrote in support tickets, and our replies",
    }
}

/// Why the data is used.
pub fn purpose(p: Purpose) -> &'static str {
    match p {
        Purpose::Contract => "To manage and perform our contract with you",
        Purpose::Marketing => {
            "Marketing: product offers, launches, seminar and workshop invitations, newsletters"
        }
        Purpose::Support => "To answer your support requests",
        Purpose::LegalObligation => "To comply with a legal obligation",
        Purpose::RightsRequest => "To answer the requests you made about your data",
        Purpose::Security => "To keep our systems secure and backed up",
    }
}

/// The lawful basis, in words.
pub fn lawful_basis(b: LawfulBasis) -> &'static str {
    match b {
        LawfulBasis::Consent => "your consent (GDPR Art. 6(1)(a))",
        LawfulBasis::Contract => "our contract with you (GDPR Art. 6(1)(b))",
        LawfulBasis::LegalObligation => "a legal obligation (GDPR Art. 6(1)(c))",
        LawfulBasis::VitalInterests => "vital interests (GDPR Art. 6(1)(d))",
        LawfulBasis::PublicTask => "a task in the public interest (GDPR Art. 6(1)(e))",
        LawfulBasis::LegitimateInterests => "our legitimate interests (GDPR Art. 6(1)(f))",
    }
}

/// How the data reached the company.
pub fn channel(c: Channel) -> &'static str {
    match c {
        Channel::ContactForm => "You filled in the contact form on our website",
        Channel::Email => "You emailed us",
        Channel::Telephone => "You telephoned us",
        Channel::Account => "You changed it in your customer account",
        Channel::UnsubscribeLink => "You used the unsubscribe link in a mailing",
        Channel::Post => "You wrote to us by post",
        Channel::System => "Our own systems recorded it",
    }
}

/// Who (as a role, never a person) consulted the data.
pub fn role(r: Role) -> &'static str {
    match r {
        Role::Support => "Support team",
        Role::ThirdLineSupport => "Third-line support",
        Role::ProductManagement => "Product management",
        Role::Development => "Development",
        Role::AccountExecutive => "Your account executive",
        Role::Marketing => "Marketing",
        Role::Dpo => "Data Protection Officer",
        Role::Operations => "Operations / IT",
        Role::Service => "An automated service",
    }
}

/// What a recipient is to the company.
pub fn recipient_role(r: RecipientRole) -> &'static str {
    match r {
        RecipientRole::Processor => "processor acting on our behalf under contract (Art. 28)",
        RecipientRole::SubProcessor => "sub-processor under contract (Art. 28(4))",
        RecipientRole::Controller => "independent controller",
    }
}

/// The safeguard of a transfer outside the EEA.
pub fn safeguard(s: Option<Safeguard>) -> &'static str {
    match s {
        Some(Safeguard::Adequacy) => {
            "an adequacy decision of the European Commission (GDPR Art. 45)"
        }
        Some(Safeguard::StandardContractualClauses) => {
            "standard contractual clauses, Commission Decision (EU) 2021/914 (GDPR Art. 46(2)(c))"
        }
        Some(Safeguard::BindingCorporateRules) => "binding corporate rules (GDPR Art. 47)",
        Some(Safeguard::Derogation) => "a documented derogation (GDPR Art. 49)",
        None => "none recorded",
    }
}

/// The rights of GDPR Art. 15-21 (and contacting the DPO): title and what it means.
pub fn right(r: Right) -> (&'static str, &'static str) {
    match r {
        Right::Access => (
            "Access (Art. 15)",
            "You may ask whether we process data about you and receive a copy of it with this information. This document is such an answer.",
        ),
        Right::Rectification => (
            "Rectification (Art. 16)",
            "You may have inaccurate data corrected and incomplete data completed.",
        ),
        Right::Erasure => (
            "Erasure (Art. 17)",
            "You may have your data erased when we no longer need it, you withdraw your consent or object, or it was processed unlawfully. We erase by destroying the key your data is encrypted with, which makes every copy unreadable.",
        ),
        Right::Restriction => (
            "Restriction (Art. 18)",
            "You may have the use of your data limited while its accuracy or our grounds are checked, or when you need it kept for a legal claim.",
        ),
        Right::Portability => (
            "Portability (Art. 20)",
            "You may receive the data you gave us in a structured, machine-readable form (the file portability.json) and give it to another organisation.",
        ),
        Right::Objection => (
            "Objection (Art. 21)",
            "You may object to processing based on our legitimate interests. An objection to marketing is absolute: we stop at once (the unsubscribe link or the button in your account).",
        ),
        Right::ContactDpo => (
            "Contact our Data Protection Officer",
            "You may ask our Data Protection Officer any question about your data and how we use it (contact details above).",
        ),
    }
}
