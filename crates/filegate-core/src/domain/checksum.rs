//! Checksums clients declare and we compute.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};

/// A SHA-256 digest, held as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Accepts 64 hex characters (any case) or the 44-character base64 form S3 and tus use.
    pub fn parse(s: &str) -> Result<Self, Error> {
        use base64::Engine as _;
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Self(s.to_ascii_lowercase()));
        }
        if s.len() == 44
            && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(s)
            && raw.len() == 32
        {
            return Ok(Self(hex::encode(raw)));
        }
        Err(Error::invalid(
            ErrorCode::InvalidChecksum,
            "sha256 must be 64 hex characters or 32 bytes in base64",
        ))
    }

    pub fn from_digest(bytes: &[u8]) -> Self {
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An entity tag as storage reports it, without surrounding quotes: opaque to clients, and
/// derived from the bytes by each engine its own way (S3's is the hex MD5, the local store's
/// the hex SHA-256; a multipart upload's is the hash of its parts' hashes, then `-N`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ETag(String);

impl ETag {
    /// Accepts a client's etag with or without quotes (and a weak `W/` prefix).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let s = s.strip_prefix("W/").unwrap_or(s);
        let s = s.trim_matches('"');
        if s.is_empty() || s.len() > 128 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(Error::invalid(
                ErrorCode::InvalidEtag,
                "an etag is 1-128 characters of [A-Za-z0-9-]",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn new_unchecked(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The header form: `"…"`.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_and_base64_forms() {
        let hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        let a = Sha256Hex::parse(hex).unwrap();
        assert_eq!(a.as_str(), hex.to_ascii_lowercase());
        let b = Sha256Hex::parse("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").unwrap();
        assert_eq!(a, b);
        assert!(Sha256Hex::parse("abc").is_err());
        assert!(Sha256Hex::parse(&"g".repeat(64)).is_err());
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(ETag::parse("\"abc-2\"").unwrap().as_str(), "abc-2");
        assert_eq!(ETag::parse("W/\"abc\"").unwrap().quoted(), "\"abc\"");
        assert!(ETag::parse("\"a\"b\r\n").is_err());
    }
}
