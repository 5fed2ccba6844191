//! Identifiers. File and job ids are UUIDv7: time-ordered, so listing by id is listing by age.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, ErrorCode};

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            /// Parses an id that came from outside; anything but a UUID is `not-found`,
            /// since no such id can exist.
            pub fn parse(s: &str) -> Result<Self, Error> {
                Uuid::parse_str(s).map(Self).map_err(|_| Error::not_found($what))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(FileId, "file");
uuid_id!(JobId, "job");
uuid_id!(ApiKeyId, "api key");
uuid_id!(WebhookId, "webhook");
uuid_id!(DeliveryId, "delivery");
uuid_id!(RequestId, "file request");
uuid_id!(ShareId, "share");
uuid_id!(ArchiveId, "archive");

/// A short, url-safe name: tenants and buckets. Lowercase ASCII letters, digits, `-`, `_`,
/// `.`; starts with a letter or digit; 1 to 63 characters (an S3 bucket name fits).
fn parse_slug(kind: &'static str, s: &str) -> Result<String, Error> {
    let ok_len = (1..=63).contains(&s.len());
    let ok_first = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok_len && ok_first && ok_chars && !s.contains("..") {
        Ok(s.to_owned())
    } else {
        Err(Error::invalid(
            ErrorCode::InvalidName,
            format!("{kind} name must be 1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit"),
        ))
    }
}

macro_rules! slug_id {
    ($name:ident, $kind:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, Error> {
                parse_slug($kind, s).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

slug_id!(TenantId, "tenant");
slug_id!(BucketName, "bucket");

impl TenantId {
    /// The tenant every fresh data directory starts with.
    pub fn default_tenant() -> Self {
        Self("default".into())
    }
}

impl BucketName {
    /// The bucket every tenant starts with.
    pub fn default_bucket() -> Self {
        Self("default".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_plain_names() {
        for ok in ["default", "a", "reports-2026", "x.y_z", &"a".repeat(63)] {
            assert!(BucketName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn slugs_refuse_anything_that_could_escape_or_confuse() {
        for bad in ["", "A", "-a", ".a", "a/b", "a..b", "a b", "a\0", "é", &"a".repeat(64)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_ids_are_time_ordered_and_parse_back() {
        let a = FileId::new();
        let b = FileId::new();
        assert!(a < b);
        assert_eq!(FileId::parse(&a.to_string()).unwrap(), a);
        assert!(FileId::parse("../etc/passwd").is_err());
    }
}
