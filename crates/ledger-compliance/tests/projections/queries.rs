//! Queries: the subject report with decrypted data, by email, the record
//! of processing (keyed and keyless), and erasure leaving no plaintext.

use ledger_compliance::ropa::ropa_from_ledger;
use ledger_compliance::vocab::*;
use ledger_compliance::{ComplianceEvent, CurrentData, Facts, PersonalData};
use ledger_vault::ErasureRequest;

use crate::harness::*;

const NAME_NEEDLE: &str = "Zephyrine Quillfeather-Nakamura";
const NEW_NAME_NEEDLE: &str = "Zephyrine Quillfeather-Okonkwo";
const PHONE_NEEDLE: &str = "+31 6 9876 5432 1";
const NOTE_NEEDLE: &str = "licence key XQ-778-PLAINTEXT";
const EMAIL: &str = "zephyrine@customer.example";

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(path);
                }
            }
        }
    }
    hits
}

#[test]
fn subject_report_decrypts_current_data_and_erasure_leaves_no_plaintext() {
    let h = Harness::new();
    let s = h.c.new_subject(Some(EMAIL)).unwrap();
    h.record(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataCollected {
                categories: vec![DataCategory::Name, DataCategory::Telephone],
                channel: Channel::ContactForm,
                purpose: Purpose::Contract,
                lawful_basis: LawfulBasis::Contract,
            },
        )
        .with_personal(
            PersonalData::new()
                .with(DataCategory::Name, NAME_NEEDLE)
                .with(DataCategory::Telephone, PHONE_NEEDLE),
        ),
    );
    h.set(at(2025, 1, 9));
    h.record(
        ComplianceEvent::subject(
            s,
            "svc:crm",
            Facts::DataRectified {
                categories: vec![DataCategory::Name],
                channel: Channel::Email,
            },
        )
        .with_personal(PersonalData::new().with(DataCategory::Name, NEW_NAME_NEEDLE)),
    );
    let t = h.c.new_ticket().unwrap();
    h.record(ComplianceEvent::ticket(
        t,
        "staff:p1",
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Email,
        },
    ));
    h.record(
        ComplianceEvent::ticket(
            t,
            "staff:p1",
            Facts::TicketNoteAdded {
                role: Role::Support,
            },
        )
        .with_personal(PersonalData::new().with_text(NOTE_NEEDLE)),
    );
    h.record(ComplianceEvent::subject(
        s,
        "staff:p2",
        Facts::DataAccessed {
            role: Role::AccountExecutive,
            purpose: Purpose::Contract,
        },
    ));

    let report = h.c.subject_report_by_email(EMAIL).unwrap().unwrap();
    assert_eq!(report.subject, s);
    assert!(!report.erased);
    let CurrentData::Data(data) = &report.current_data else {
        panic!("expected data, got {:?}", report.current_data);
    };
    assert_eq!(data.fields[&DataCategory::Name], NEW_NAME_NEEDLE);
    assert_eq!(data.fields[&DataCategory::Telephone], PHONE_NEEDLE);
    assert_eq!(report.tickets.len(), 1);
    assert_eq!(report.access_log.len(), 2);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["current_data"]["state"], "data");
    assert_eq!(json["subject"], s.to_string());

    // Projections never hold plaintext, before or after erasure.
    let projections = h.dir.join("projections");
    h.c.projections().flush().unwrap();
    for needle in [
        NAME_NEEDLE,
        NEW_NAME_NEEDLE,
        PHONE_NEEDLE,
        NOTE_NEEDLE,
        EMAIL,
    ] {
        let hits = files_contain(&projections, needle.as_bytes());
        assert!(hits.is_empty(), "plaintext in {hits:?}");
    }

    let request = ErasureRequest {
        reason: "gdpr-art17-1a".into(),
        request_ref: "DSR-9".into(),
        operator: "op:dpo".into(),
    };
    h.c.erase_subject_blocking(s, &request).unwrap();
    assert!(h.c.subject_report_by_email(EMAIL).unwrap().is_none());
    let report = h.c.subject_report(&s).unwrap().unwrap();
    assert!(report.erased);
    assert_eq!(report.current_data, CurrentData::Erased);
    assert_eq!(
        report.contact.erased.as_ref().unwrap().reason,
        "gdpr-art17-1a"
    );
    assert!(report.tickets[0].ticket.erased.is_some());
    h.c.projections().flush().unwrap();
    for needle in [
        NAME_NEEDLE,
        NEW_NAME_NEEDLE,
        PHONE_NEEDLE,
        NOTE_NEEDLE,
        EMAIL,
    ] {
        let hits = files_contain(&projections, needle.as_bytes());
        assert!(hits.is_empty(), "plaintext in {hits:?}");
    }
    // The keyless current-data reader agrees.
    assert_eq!(
        ledger_compliance::query::current_data(h.c.vault(), &s).unwrap(),
        CurrentData::Erased
    );
}

#[test]
fn subject_report_does_not_name_the_staff_member_a_ticket_was_handed_to() {
    let h = Harness::new();
    let s = h.customer("handover@customer.example");
    let t = h.c.new_ticket().unwrap();
    h.record(ComplianceEvent::ticket(
        t,
        "staff:p1",
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Telephone,
        },
    ));
    h.record(ComplianceEvent::ticket(
        t,
        "staff:p1",
        Facts::TicketHandedOver {
            from_role: Role::Support,
            to_role: Role::ThirdLineSupport,
            to_actor: "staff:p42".into(),
        },
    ));

    let report = h.c.subject_report(&s).unwrap().unwrap();
    let handover = &report.tickets[0].ticket.handovers[0];
    assert_eq!(
        (handover.from_role, handover.to_role),
        (Role::Support, Role::ThirdLineSupport)
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("staff:"), "{json}");
    // The internal view keeps who took the ticket over.
    let internal = h.c.ticket_view(&t).unwrap().unwrap();
    assert_eq!(internal.ticket.handovers[0].to_actor, "staff:p42");
}

#[test]
fn unknown_subject_has_no_report() {
    let h = Harness::new();
    let s = h.c.new_subject(None).unwrap();
    assert!(h.c.subject_report(&s).unwrap().is_none());
    assert!(h
        .c
        .subject_report_by_email("nobody@example.com")
        .unwrap()
        .is_none());
}

#[test]
fn record_of_processing_is_derived_from_events_and_computable_without_keys() {
    let h = Harness::new();
    let s = h.customer("ropa@example.com");
    h.record(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::ConsentGiven {
            purpose: Purpose::Marketing,
            channel: Channel::Account,
        },
    ));
    h.record(ComplianceEvent::general(
        "op:dpo",
        Facts::RecipientRegistered {
            recipient: "mailer".into(),
            name: "Mailer Inc".into(),
            country: "US".into(),
            contract: "DPA-7".into(),
            recipient_role: RecipientRole::Processor,
        },
    ));
    h.record(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::DataShared {
            recipient: "mailer".into(),
            categories: vec![DataCategory::CompanyEmail],
            purpose: Purpose::Marketing,
        },
    ));
    h.record(ComplianceEvent::subject(
        s,
        "svc:crm",
        Facts::TransferMade {
            recipient: "mailer".into(),
            country: "US".into(),
            safeguard: Some(Safeguard::StandardContractualClauses),
            categories: vec![DataCategory::CompanyEmail],
        },
    ));
    let t = h.c.new_ticket().unwrap();
    h.record(ComplianceEvent::ticket(
        t,
        "staff:p1",
        Facts::TicketOpened {
            customer: s,
            channel: Channel::Telephone,
        },
    ));

    let ropa = h.c.ropa().unwrap();
    assert_eq!(ropa.dpo.email, "dpo@company.example");
    let purposes: Vec<Purpose> = ropa.activities.iter().map(|a| a.purpose).collect();
    assert_eq!(
        purposes,
        [Purpose::Contract, Purpose::Marketing, Purpose::Support]
    );
    let marketing = &ropa.activities[1];
    assert!(marketing.lawful_bases.contains(&LawfulBasis::Consent));
    assert_eq!(marketing.recipients, ["mailer"]);
    assert_eq!(ropa.recipients.len(), 1);
    assert!(ropa.recipients[0].third_country);
    assert_eq!(ropa.transfers.len(), 1);
    assert_eq!(
        ropa.transfers[0].safeguard,
        Some(Safeguard::StandardContractualClauses)
    );
    assert!(ropa
        .erasure_time_limits
        .iter()
        .any(|l| l.limit.contains("730 days")));
    assert!(ropa
        .security_measures
        .iter()
        .any(|m| m.contains("XChaCha20-Poly1305")));

    // An auditor without the vault gets the same record from the log alone.
    let keyless = ropa_from_ledger(h.ledger(), &Default::default(), h.c.options()).unwrap();
    assert_eq!(keyless, ropa);

    let csv = ropa.to_csv();
    assert!(csv.starts_with("section,item,field,value\r\n"));
    assert!(csv.contains("dpo,,email,dpo@company.example\r\n"));
    assert!(csv.contains("transfer,mailer/US,safeguard,scc-2021-914\r\n"));
    assert!(csv.contains("\"Example Street 1, 1000 AA Amsterdam, The Netherlands\""));
    let json = serde_json::to_value(&ropa).unwrap();
    assert_eq!(json["activities"][1]["purpose"], "marketing");
}
