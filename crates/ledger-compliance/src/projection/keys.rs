//! Keys of the projection store: one tree, one prefix byte per projection,
//! ids and seqs big-endian after it so that byte order is the order
//! queries want (a subject's access log by seq, requests by reference).

use ledger_core::ScopeId;

use crate::event::TicketId;

/// Meta entries (`m` + name).
pub(crate) const META: u8 = b'm';
/// Contacts (`c` + subject id).
pub(crate) const CONTACT: u8 = b'c';
/// Tickets (`t` + ticket id).
pub(crate) const TICKET: u8 = b't';
/// Rights requests (`q` + reference).
pub(crate) const REQUEST: u8 = b'q';
/// Recipients register (`p` + recipient code).
pub(crate) const RECIPIENT: u8 = b'p';
/// Policy versions (`v` + version).
pub(crate) const POLICY: u8 = b'v';
/// Backups (`k` + backup reference).
pub(crate) const BACKUP: u8 = b'k';
/// The processing summary (`g`).
pub(crate) const SUMMARY: u8 = b'g';
/// Access log chunks (`a` + subject id + seq of the chunk's first entry).
pub(crate) const ACCESS: u8 = b'a';
/// Shares, transfers and disclosures per subject, in chunks like the access log.
pub(crate) const FLOW: u8 = b'f';
/// Disclosures to authorities (`d` + seq).
pub(crate) const DISCLOSURE: u8 = b'd';
/// Business transfers (`b` + seq).
pub(crate) const BUSINESS: u8 = b'b';

/// Meta: format version and vocabulary fingerprint.
pub(crate) const META_FORMAT: &[u8] = b"mformat";
/// Meta: the ledger id the store belongs to.
pub(crate) const META_LEDGER: &[u8] = b"mledger";
/// Meta: last applied seq (u64 BE) and that record's chain hash.
pub(crate) const META_LAST: &[u8] = b"mlast";

fn with(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut key = Vec::with_capacity(len);
    key.push(prefix);
    for p in parts {
        key.extend_from_slice(p);
    }
    key
}

pub(crate) fn contact(subject: &ScopeId) -> Vec<u8> {
    with(CONTACT, &[&subject.0])
}

pub(crate) fn ticket(ticket: &TicketId) -> Vec<u8> {
    with(TICKET, &[&ticket.0 .0])
}

pub(crate) fn request(request: &str) -> Vec<u8> {
    with(REQUEST, &[request.as_bytes()])
}

pub(crate) fn recipient(recipient: &str) -> Vec<u8> {
    with(RECIPIENT, &[recipient.as_bytes()])
}

pub(crate) fn policy(version: &str) -> Vec<u8> {
    with(POLICY, &[version.as_bytes()])
}

pub(crate) fn backup(backup: &str) -> Vec<u8> {
    with(BACKUP, &[backup.as_bytes()])
}

pub(crate) fn summary() -> Vec<u8> {
    vec![SUMMARY]
}

pub(crate) fn access_prefix(subject: &ScopeId) -> Vec<u8> {
    with(ACCESS, &[&subject.0])
}

pub(crate) fn flow_prefix(subject: &ScopeId) -> Vec<u8> {
    with(FLOW, &[&subject.0])
}

/// A chunk of a per-subject log: its prefix and the seq of its first entry.
pub(crate) fn chunk(prefix: &[u8], first_seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&first_seq.to_be_bytes());
    key
}

pub(crate) fn disclosure(seq: u64) -> Vec<u8> {
    with(DISCLOSURE, &[&seq.to_be_bytes()])
}

pub(crate) fn business_transfer(seq: u64) -> Vec<u8> {
    with(BUSINESS, &[&seq.to_be_bytes()])
}

/// A key for error messages: its prefix letter and the rest in hex (ids,
/// seqs and codes only; never personal data).
pub(crate) fn describe(key: &[u8]) -> String {
    match key.split_first() {
        Some((prefix, rest)) => format!("{}:{}", char::from(*prefix), hex::encode(rest)),
        None => String::new(),
    }
}
