//! Synthetic (not real) personal data for the demo's customers.

use ledger_compliance::vocab::DataCategory;
use ledger_compliance::PersonalData;
use rand::seq::SliceRandom;
use rand::Rng;

const FIRST: &[&str] = &[
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret",
    "Niklaus", "Radia", "Ken", "Sophie", "Tim", "Hedy", "Linus", "Annie", "Dennis", "Karen",
    "Guido",
];
const LAST: &[&str] = &[
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Hamilton",
    "Wirth", "Perlman", "Thompson", "Wilson", "Berners", "Lamarr", "Torvalds", "Easley", "Ritchie",
    "Jones", "Rossum",
];
const COMPANIES: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "vandelay",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
];
const CITIES: &[&str] = &[
    "Amsterdam",
    "Utrecht",
    "Rotterdam",
    "Eindhoven",
    "Groningen",
];

/// One customer's synthetic contact data.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) email: String,
    address: String,
    telephone: String,
    mobile: String,
    fax: String,
}

impl Person {
    /// A person for customer `index` (the index keeps emails unique).
    pub(crate) fn new(index: usize, rng: &mut impl Rng) -> Person {
        let first = FIRST.choose(rng).copied().unwrap_or("Ada");
        let last = LAST.choose(rng).copied().unwrap_or("Lovelace");
        let company = COMPANIES.choose(rng).copied().unwrap_or("acme");
        let city = CITIES.choose(rng).copied().unwrap_or("Amsterdam");
        Person {
            name: format!("{first} {last}"),
            email: format!(
                "{}.{}.{index}@{company}.example",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            address: format!("Demostraat {}, {city}", rng.gen_range(1..400)),
            telephone: format!("+31 20 555 {:04}", rng.gen_range(0..10_000)),
            mobile: format!("+31 6 555 {:05}", rng.gen_range(0..100_000)),
            fax: format!("+31 20 556 {:04}", rng.gen_range(0..10_000)),
        }
    }

    /// The values of `categories`.
    pub(crate) fn data(&self, categories: &[DataCategory]) -> PersonalData {
        let mut data = PersonalData::new();
        for c in categories {
            let value = match c {
                DataCategory::Name => &self.name,
                DataCategory::CompanyEmail => &self.email,
                DataCategory::CompanyAddress => &self.address,
                DataCategory::Telephone => &self.telephone,
                DataCategory::Mobile => &self.mobile,
                DataCategory::Fax => &self.fax,
                _ => continue,
            };
            data = data.with(*c, value.clone());
        }
        data
    }

    /// A changed value of `category` (a rectification).
    pub(crate) fn rectify(&mut self, category: DataCategory, rng: &mut impl Rng) -> PersonalData {
        match category {
            DataCategory::Telephone => {
                self.telephone = format!("+31 20 555 {:04}", rng.gen_range(0..10_000));
            }
            _ => {
                let city = CITIES.choose(rng).copied().unwrap_or("Amsterdam");
                self.address = format!("Nieuwe Demolaan {}, {city}", rng.gen_range(1..400));
            }
        }
        self.data(&[category])
    }
}

/// A synthetic ticket note.
pub(crate) fn ticket_note(rng: &mut impl Rng) -> String {
    const NOTES: &[&str] = &[
        "Survey export to CSV stops at 65,535 rows.",
        "Panel invitations bounce for one mail domain.",
        "Cannot log in after the password reset.",
        "Question about quota sampling in the new release.",
        "Report charts render empty in the on-premise install.",
        "Licence key rejected after moving the server.",
        "Asks how to anonymise free-text answers before export.",
    ];
    NOTES.choose(rng).copied().unwrap_or(NOTES[0]).to_owned()
}
