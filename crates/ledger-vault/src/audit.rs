//! Audit metadata: the clear part of a sealed payload (`docs/FORMAT.md` §9.1).
//!
//! Audits need to know why and on what basis personal data was processed,
//! and by whom it was disclosed, without being able to read it: the GDPR
//! Art. 30 record of processing is built from the log by a tool that holds
//! no keys. So every sealed payload carries an [`AuditMetadata`] section in
//! clear, bound to the ciphertext by the AEAD's associated data, and
//! readable after the subject's erasure.
//!
//! Every value is a **code** (`"support"`, `"art6-1b"`, `"role:agent"`),
//! never free text: 1..=128 bytes of printable ASCII (graphic characters
//! and space). The check limits the shape, not the meaning — callers must
//! never put a name, an address or any other personal data here: it is not
//! encrypted and survives erasure.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::AuditMetadataError;

/// Largest encoded metadata section, in bytes.
pub const MAX_METADATA_LEN: usize = 16 * 1024;
/// Longest code (each value and each `extra` key), in bytes.
pub const MAX_CODE_LEN: usize = 128;
/// Most entries in [`AuditMetadata::extra`].
pub const MAX_EXTRA_ENTRIES: usize = 32;

/// Clear, non-personal facts about a sealed payload that audits need.
///
/// Encoded as compact JSON with the fields in declaration order, absent
/// fields and an empty `extra` omitted, `extra` keys sorted; metadata with no
/// field set encodes as zero bytes. Every value must be a code (see the
/// module documentation): it stays readable by anyone, forever, including
/// after the subject's erasure.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditMetadata {
    /// Purpose of the processing, as a code (e.g. `support`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Lawful basis, as a code (e.g. `art6-1b` for GDPR Art. 6(1)(b)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lawful_basis: Option<String>,
    /// Recipient (category) the data was disclosed to, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// Role of the actor, as a code (e.g. `role:support`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_role: Option<String>,
    /// Further code → code pairs (at most [`MAX_EXTRA_ENTRIES`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// Whether `s` is a code: 1..=[`MAX_CODE_LEN`] bytes of ASCII graphic
/// characters or space.
pub fn is_code(s: &str) -> bool {
    (1..=MAX_CODE_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

impl AuditMetadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the purpose code.
    pub fn with_purpose(mut self, code: impl Into<String>) -> Self {
        self.purpose = Some(code.into());
        self
    }

    /// Sets the lawful-basis code.
    pub fn with_lawful_basis(mut self, code: impl Into<String>) -> Self {
        self.lawful_basis = Some(code.into());
        self
    }

    /// Sets the recipient code.
    pub fn with_recipient(mut self, code: impl Into<String>) -> Self {
        self.recipient = Some(code.into());
        self
    }

    /// Sets the actor-role code.
    pub fn with_actor_role(mut self, code: impl Into<String>) -> Self {
        self.actor_role = Some(code.into());
        self
    }

    /// Adds an `extra` code pair.
    pub fn with_extra(mut self, key: impl Into<String>, code: impl Into<String>) -> Self {
        self.extra.insert(key.into(), code.into());
        self
    }

    /// True when no field is set (encodes as zero bytes).
    pub fn is_empty(&self) -> bool {
        self.purpose.is_none()
            && self.lawful_basis.is_none()
            && self.recipient.is_none()
            && self.actor_role.is_none()
            && self.extra.is_empty()
    }

    fn named(&self) -> [(&'static str, Option<&String>); 4] {
        [
            ("purpose", self.purpose.as_ref()),
            ("lawful_basis", self.lawful_basis.as_ref()),
            ("recipient", self.recipient.as_ref()),
            ("actor_role", self.actor_role.as_ref()),
        ]
    }

    /// Checks that every value and `extra` key is a code and that there are
    /// at most [`MAX_EXTRA_ENTRIES`] extra entries.
    pub fn validate(&self) -> Result<(), AuditMetadataError> {
        for (field, value) in self.named() {
            if value.is_some_and(|v| !is_code(v)) {
                return Err(AuditMetadataError::NotACode { field });
            }
        }
        if self.extra.len() > MAX_EXTRA_ENTRIES {
            return Err(AuditMetadataError::TooManyEntries {
                count: self.extra.len(),
                max: MAX_EXTRA_ENTRIES,
            });
        }
        for (index, (key, value)) in self.extra.iter().enumerate() {
            if !is_code(key) {
                return Err(AuditMetadataError::NotACodeInExtra { index, part: "key" });
            }
            if !is_code(value) {
                return Err(AuditMetadataError::NotACodeInExtra {
                    index,
                    part: "value",
                });
            }
        }
        Ok(())
    }

    /// The canonical encoding: empty for empty metadata, else compact JSON
    /// (UTF-8, fields in declaration order, absent ones omitted). Refuses
    /// invalid metadata and encodings over [`MAX_METADATA_LEN`].
    pub fn encode(&self) -> Result<Vec<u8>, AuditMetadataError> {
        self.validate()?;
        if self.is_empty() {
            return Ok(Vec::new());
        }
        // Serializing strings and a string map to a Vec cannot fail.
        let bytes = serde_json::to_vec(self)
            .map_err(|_| AuditMetadataError::NotJson { line: 0, column: 0 })?;
        if bytes.len() > MAX_METADATA_LEN {
            return Err(AuditMetadataError::TooLarge {
                len: bytes.len(),
                max: MAX_METADATA_LEN,
            });
        }
        Ok(bytes)
    }

    /// Decodes a metadata section: `None` for zero bytes, else the metadata,
    /// which must be valid and encoded exactly as [`AuditMetadata::encode`]
    /// would (one encoding per value).
    pub fn decode(bytes: &[u8]) -> Result<Option<Self>, AuditMetadataError> {
        if bytes.is_empty() {
            return Ok(None);
        }
        if bytes.len() > MAX_METADATA_LEN {
            return Err(AuditMetadataError::TooLarge {
                len: bytes.len(),
                max: MAX_METADATA_LEN,
            });
        }
        // The decoder's message may quote the input: keep only the position.
        let meta: AuditMetadata =
            serde_json::from_slice(bytes).map_err(|e| AuditMetadataError::NotJson {
                line: e.line(),
                column: e.column(),
            })?;
        if meta.encode()? != bytes {
            return Err(AuditMetadataError::NotCanonical);
        }
        Ok(Some(meta))
    }
}

impl fmt::Debug for AuditMetadata {
    /// Prints codes; a value that is not a code (so may be anything) is
    /// shown only by its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Code<'a>(&'a str);
        impl fmt::Debug for Code<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if is_code(self.0) {
                    fmt::Debug::fmt(self.0, f)
                } else {
                    write!(f, "<{} bytes, not a code>", self.0.len())
                }
            }
        }
        let mut s = f.debug_struct("AuditMetadata");
        for (field, value) in self.named() {
            if let Some(v) = value {
                s.field(field, &Code(v));
            }
        }
        if !self.extra.is_empty() {
            let extra: Vec<(Code<'_>, Code<'_>)> =
                self.extra.iter().map(|(k, v)| (Code(k), Code(v))).collect();
            s.field("extra", &extra);
        }
        s.finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> AuditMetadata {
        AuditMetadata::new()
            .with_purpose("support")
            .with_lawful_basis("art6-1b")
            .with_recipient("processor:mailer")
            .with_actor_role("role:support")
            .with_extra("retention", "p2y")
            .with_extra("case-type", "licence \"x\"")
    }

    #[test]
    fn encoding_is_pinned_and_canonical() {
        let bytes = sample().encode().unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"purpose":"support","lawful_basis":"art6-1b","recipient":"processor:mailer","actor_role":"role:support","extra":{"case-type":"licence \"x\"","retention":"p2y"}}"#
        );
        assert_eq!(AuditMetadata::decode(&bytes).unwrap(), Some(sample()));
        let partial = AuditMetadata::new().with_lawful_basis("art6-1a");
        assert_eq!(partial.encode().unwrap(), br#"{"lawful_basis":"art6-1a"}"#);
        assert_eq!(AuditMetadata::new().encode().unwrap(), b"");
        assert_eq!(AuditMetadata::decode(b"").unwrap(), None);
    }

    #[test]
    fn refusals_are_typed() {
        let bad = |m: AuditMetadata| m.encode().unwrap_err();
        assert_eq!(
            bad(AuditMetadata::new().with_purpose("")),
            AuditMetadataError::NotACode { field: "purpose" }
        );
        assert_eq!(
            bad(AuditMetadata::new().with_recipient("Jäne")),
            AuditMetadataError::NotACode { field: "recipient" }
        );
        assert_eq!(
            bad(AuditMetadata::new().with_actor_role("a\nb")),
            AuditMetadataError::NotACode {
                field: "actor_role"
            }
        );
        assert_eq!(
            bad(AuditMetadata::new().with_lawful_basis("x".repeat(129))),
            AuditMetadataError::NotACode {
                field: "lawful_basis"
            }
        );
        assert!(AuditMetadata::new()
            .with_lawful_basis("x".repeat(128))
            .encode()
            .is_ok());
        assert_eq!(
            bad(AuditMetadata::new()
                .with_extra("a", "ok")
                .with_extra("b\t", "ok")),
            AuditMetadataError::NotACodeInExtra {
                index: 1,
                part: "key"
            }
        );
        assert_eq!(
            bad(AuditMetadata::new().with_extra("a", "")),
            AuditMetadataError::NotACodeInExtra {
                index: 0,
                part: "value"
            }
        );
        let mut many = AuditMetadata::new();
        for i in 0..33 {
            many = many.with_extra(format!("k{i}"), "v");
        }
        assert_eq!(
            bad(many),
            AuditMetadataError::TooManyEntries { count: 33, max: 32 }
        );
        // Valid metadata without characters JSON escapes always fits under
        // the cap; with quotes and backslashes (escaped to two bytes) it may not.
        let big = |c: &str| {
            let code = c.repeat(MAX_CODE_LEN);
            let mut m = AuditMetadata {
                purpose: Some(code.clone()),
                lawful_basis: Some(code.clone()),
                recipient: Some(code.clone()),
                actor_role: Some(code.clone()),
                extra: BTreeMap::new(),
            };
            for i in 0..MAX_EXTRA_ENTRIES {
                m = m.with_extra(
                    format!("{i:02}{}", c.repeat(MAX_CODE_LEN - 2)),
                    code.clone(),
                );
            }
            m.encode().map(|b| b.len()).map_err(|e| e.to_string())
        };
        let len = big("x");
        assert!(matches!(len, Ok(n) if n > 8 * 1024), "{len:?}");
        assert_eq!(
            big("\\"),
            Err(AuditMetadataError::TooLarge {
                len: 17609,
                max: MAX_METADATA_LEN
            }
            .to_string())
        );
        // Errors never echo the value.
        let text = bad(AuditMetadata::new().with_purpose("jane\n@example.test")).to_string();
        assert!(text.contains("purpose") && !text.contains("jane"), "{text}");
    }

    #[test]
    fn decoding_refuses_non_canonical_and_unknown_input() {
        for (input, want) in [
            (
                &br#"{"purpose": "support"}"#[..],
                AuditMetadataError::NotCanonical,
            ),
            (
                br#"{"lawful_basis":"b","purpose":"a"}"#,
                AuditMetadataError::NotCanonical,
            ),
            (br#"{"purpose":null}"#, AuditMetadataError::NotCanonical),
            (b"{}", AuditMetadataError::NotCanonical),
            (
                br#"{"extra":{"b":"1","a":"2"}}"#,
                AuditMetadataError::NotCanonical,
            ),
            (
                br#"{"purpose":"\u0073upport"}"#,
                AuditMetadataError::NotCanonical,
            ),
            (
                br#"{"purpose":"a b\u0007"}"#,
                AuditMetadataError::NotACode { field: "purpose" },
            ),
        ] {
            assert_eq!(
                AuditMetadata::decode(input).unwrap_err(),
                want,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        for input in [
            &br#"{"name":"Jane"}"#[..],
            b"{",
            b"\xff",
            br#"{"purpose":1}"#,
        ] {
            assert!(matches!(
                AuditMetadata::decode(input),
                Err(AuditMetadataError::NotJson { .. })
            ));
        }
        let err = AuditMetadata::decode(br#"{"name":"Jane Doe"}"#).unwrap_err();
        assert!(!err.to_string().contains("Jane"));
        assert!(!format!("{err:?}").contains("Jane"));
    }

    #[test]
    fn debug_shows_codes_only() {
        let m = AuditMetadata::new()
            .with_purpose("support")
            .with_recipient("Jane Doe\n12 Main St");
        let text = format!("{m:?}");
        assert!(text.contains("support"), "{text}");
        assert!(!text.contains("Jane"), "{text}");
    }
}
