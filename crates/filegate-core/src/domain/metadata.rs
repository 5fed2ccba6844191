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
            let key_ok = !k.is_empty()
                && k.len() <= MAX_KEY_BYTES
                && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !key_ok {
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
}
