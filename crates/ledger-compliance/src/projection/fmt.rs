//! How projection values serialize: compactly in the store (bincode, which
//! is not human-readable), readably in reports (JSON).
//!
//! bincode cannot carry chrono's string forms, and ids as byte arrays make
//! poor JSON, so every time, date and id field goes through one of these
//! modules: binary forms are fixed-width integers and raw bytes, readable
//! forms are RFC 3339 times, ISO dates and 32-hex-digit ids.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use ledger_core::record::micros_to_datetime;
use ledger_core::ScopeId;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::TicketId;

fn ser_time<S: Serializer>(v: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&v.to_rfc3339_opts(SecondsFormat::Micros, true))
    } else {
        s.serialize_i64(v.timestamp_micros())
    }
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    if d.is_human_readable() {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| D::Error::custom("not an RFC 3339 time"))
    } else {
        Ok(micros_to_datetime(i64::deserialize(d)?))
    }
}

fn ser_date<S: Serializer>(v: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&v.format("%Y-%m-%d").to_string())
    } else {
        s.serialize_i32(chrono::Datelike::num_days_from_ce(v))
    }
}

fn de_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    if d.is_human_readable() {
        let s = String::deserialize(d)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| D::Error::custom("not a date"))
    } else {
        NaiveDate::from_num_days_from_ce_opt(i32::deserialize(d)?)
            .ok_or_else(|| D::Error::custom("date out of range"))
    }
}

fn ser_id<S: Serializer>(v: &ScopeId, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&v.to_string())
    } else {
        v.0.serialize(s)
    }
}

fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<ScopeId, D::Error> {
    if d.is_human_readable() {
        let s = String::deserialize(d)?;
        if s.len() != 32 {
            return Err(D::Error::custom("id is not 32 hex digits"));
        }
        s.parse()
            .map_err(|_| D::Error::custom("id is not 32 hex digits"))
    } else {
        Ok(ScopeId(<[u8; 16]>::deserialize(d)?))
    }
}

/// A time: RFC 3339 (readable) or microseconds since the epoch (binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Time(pub(crate) DateTime<Utc>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ser_time(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_time(d).map(Time)
    }
}

/// A date: `YYYY-MM-DD` (readable) or days from the common era (binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Date(pub(crate) NaiveDate);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ser_date(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_date(d).map(Date)
    }
}

/// An id: 32 hex digits (readable) or 16 bytes (binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Id(pub(crate) ScopeId);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ser_id(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_id(d).map(Id)
    }
}

/// `#[serde(with = "time")]` for `DateTime<Utc>`.
pub(crate) mod time {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        ser_time(v, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        de_time(d)
    }
}

/// `#[serde(with = "time_opt")]` for `Option<DateTime<Utc>>`.
pub(crate) mod time_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.map(Time).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<Time>::deserialize(d)?.map(|t| t.0))
    }
}

/// `#[serde(with = "date")]` for `NaiveDate`.
pub(crate) mod date {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        ser_date(v, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        de_date(d)
    }
}

/// `#[serde(with = "date_opt")]` for `Option<NaiveDate>`.
pub(crate) mod date_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Date).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<NaiveDate>, D::Error> {
        Ok(Option::<Date>::deserialize(d)?.map(|t| t.0))
    }
}

/// `#[serde(with = "id")]` for `ScopeId`.
pub(crate) mod id {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &ScopeId, s: S) -> Result<S::Ok, S::Error> {
        ser_id(v, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ScopeId, D::Error> {
        de_id(d)
    }
}

/// `#[serde(with = "ticket")]` for `TicketId`.
pub(crate) mod ticket {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &TicketId, s: S) -> Result<S::Ok, S::Error> {
        ser_id(&v.0, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TicketId, D::Error> {
        de_id(d).map(TicketId)
    }
}

/// `#[serde(with = "ticket_opt")]` for `Option<TicketId>`.
pub(crate) mod ticket_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<TicketId>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|t| Id(t.0)).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TicketId>, D::Error> {
        Ok(Option::<Id>::deserialize(d)?.map(|i| TicketId(i.0)))
    }
}

/// `#[serde(with = "tickets")]` for `BTreeSet<TicketId>`.
pub(crate) mod tickets {
    use std::collections::BTreeSet;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &BTreeSet<TicketId>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|t| Id(t.0)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeSet<TicketId>, D::Error> {
        Ok(Vec::<Id>::deserialize(d)?
            .into_iter()
            .map(|i| TicketId(i.0))
            .collect())
    }
}
