//! Strict JSON reading for the files a verifier checks (export lines, proof
//! documents, evidence manifests).
//!
//! serde_json keeps the last of two members with the same name, while other
//! readers keep the first: a line with a duplicate member would show them
//! bytes the verifier never checked. So such a text is first walked by a
//! visitor that refuses a duplicate member at any depth (docs/FORMAT.md
//! §11.1), and only then deserialized.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Why a JSON text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrictJsonError {
    /// An object has two members with this name.
    DuplicateMember(String),
    /// Not JSON, or not the expected shape: serde_json's message.
    Invalid(String),
}

impl fmt::Display for StrictJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrictJsonError::DuplicateMember(name) => {
                write!(f, "duplicate member {name:?} (each member may appear once)")
            }
            StrictJsonError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StrictJsonError {}

/// Parses `text` as a `T`, refusing duplicate members at any depth.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, StrictJsonError> {
    check_unique(text)?;
    serde_json::from_str(text).map_err(|e| StrictJsonError::Invalid(e.to_string()))
}

/// Refuses `text` if it is not JSON or an object in it repeats a member.
pub fn check_unique(text: &str) -> Result<(), StrictJsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let walked = Unique::deserialize(&mut de).and_then(|Unique| de.end());
    match walked {
        Ok(()) => Ok(()),
        Err(e) => {
            let message = e.to_string();
            match message.strip_prefix(DUPLICATE_PREFIX) {
                Some(rest) => Err(StrictJsonError::DuplicateMember(
                    rest.split(DUPLICATE_END)
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                )),
                None => Err(StrictJsonError::Invalid(message)),
            }
        }
    }
}

const DUPLICATE_PREFIX: &str = "duplicate member \u{1}";
const DUPLICATE_END: char = '\u{1}';

/// Any JSON value, walked only to find duplicate members.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !seen.insert(name.clone()) {
                // Marked so that `check_unique` tells it from a syntax error.
                return Err(de::Error::custom(format_args!(
                    "{DUPLICATE_PREFIX}{name}{DUPLICATE_END}"
                )));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        for text in [
            r#"{"seq":1,"seq":2}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"[{"x":[{"y":0,"y":0}]}]"#,
            r#"{"checkpoint":"a","\u0063heckpoint":"b"}"#,
        ] {
            assert!(
                matches!(check_unique(text), Err(StrictJsonError::DuplicateMember(_))),
                "{text}"
            );
        }
        assert_eq!(
            check_unique(r#"{"seq":1,"seq":2}"#),
            Err(StrictJsonError::DuplicateMember("seq".into()))
        );
    }

    #[test]
    fn unique_members_and_every_value_kind_pass() {
        let text = r#"{"a":1,"b":-2,"c":1.5,"d":"s","e":null,"f":true,"g":[1,{"a":2}],"h":{}}"#;
        check_unique(text).unwrap();
        let v: serde_json::Value = from_str(text).unwrap();
        assert_eq!(v["g"][1]["a"], 2);
    }

    #[test]
    fn syntax_errors_and_trailing_data_are_invalid() {
        for text in ["", "{", r#"{"a":1} x"#, r#"{"a":1}{"a":1}"#] {
            assert!(
                matches!(check_unique(text), Err(StrictJsonError::Invalid(_))),
                "{text:?}"
            );
        }
    }
}
