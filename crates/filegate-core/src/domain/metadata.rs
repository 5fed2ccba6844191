//! User metadata: string keys and values, bounded so a client cannot bloat rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};

pub const MAX_ENTRIES: usize = 64;
pub const MAX_KEY_BYTES: usize = 128;
pub const MAX_VALUE_BYTES: usize = 2048;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    pub fn parse(map: BTreeMap<String, String>) -> Result<Self, Error> {
        let invalid = |m: String| Error::invalid(ErrorCode::InvalidMetadata, m);
        if map.len() > MAX_ENTRIES {
            return Err(invalid(format!("at most {MAX_ENTRIES} metadata entries")));
        }
        for (k, v) in &map {
            if !is_key(k) {
                return Err(invalid(format!(
                    "metadata key {k:?} must be 1-{MAX_KEY_BYTES} characters of A-Z a-z 0-9 - _ ."
                )));
            }
            if v.len() > MAX_VALUE_BYTES || v.chars().any(|c| c.is_control()) {
                return Err(invalid(format!(
                    "metadata value for {k:?} must be at most {MAX_VALUE_BYTES} bytes without control characters"
                )));
            }
        }
        Ok(Self(map))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

/// 1 to [`MAX_KEY_BYTES`] characters of `A-Z a-z 0-9 - _ .`.
fn is_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= MAX_KEY_BYTES && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// `metadata.KEY=VALUE` filters of a query string (`GET /v1/files`, `GET /v1/search`), as
/// `(KEY, VALUE)` pairs: each key a metadata key, each value one a file could hold, at most
/// [`super::MAX_METADATA_FILTERS`] of them. A file matches when it has every pair.
pub fn parse_metadata_filters(pairs: Vec<(String, String)>) -> Result<Vec<(String, String)>, Error> {
    let invalid = |m: String| Error::invalid(ErrorCode::InvalidQuery, m);
    if pairs.len() > super::MAX_METADATA_FILTERS {
        return Err(invalid(format!(
            "at most {} metadata.KEY=VALUE filters",
            super::MAX_METADATA_FILTERS
        )));
    }
    for (k, v) in &pairs {
        if !is_key(k) {
            return Err(invalid(format!(
                "metadata.{k} is not a metadata key: 1-{MAX_KEY_BYTES} characters of A-Z a-z 0-9 - _ ."
            )));
        }
        if v.len() > MAX_VALUE_BYTES || v.chars().any(char::is_control) {
            return Err(invalid(format!(
                "metadata.{k} must be at most {MAX_VALUE_BYTES} bytes without control characters"
            )));
        }
    }
    Ok(pairs)
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        Self::parse(map).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_keys_and_values() {
        let ok = BTreeMap::from([("patient".to_string(), "123".to_string())]);
        assert!(Metadata::parse(ok).is_ok());
        let bad_key = BTreeMap::from([("a b".to_string(), "1".to_string())]);
        assert!(Metadata::parse(bad_key).is_err());
        let long = BTreeMap::from([("k".to_string(), "v".repeat(MAX_VALUE_BYTES + 1))]);
        assert!(Metadata::parse(long).is_err());
        let many = (0..=MAX_ENTRIES).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(Metadata::parse(many).is_err());
    }

    #[test]
    fn metadata_filters_are_keys_and_values_a_file_could_hold() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let ok = vec![pair("subject", "9434765919"), pair("ward", ""), pair("subject", "12")];
        assert_eq!(parse_metadata_filters(ok.clone()).unwrap(), ok);
        for bad in [
            pair("", "x"),
            pair("a b", "x"),
            pair("k\"", "x"),
            pair("k", "a\0b"),
            pair("k", &"v".repeat(2049)),
        ] {
            let err = parse_metadata_filters(vec![bad.clone()]).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidQuery, "{bad:?}");
        }
        let many = (0..=crate::domain::MAX_METADATA_FILTERS)
            .map(|i| pair(&format!("k{i}"), "v"))
            .collect();
        assert!(parse_metadata_filters(many).is_err());
    }
}
