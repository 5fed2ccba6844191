//! `ObjectPath`: the logical path of a file inside a bucket (`2026/11/ward-a.csv`).
//! No user-supplied name reaches storage or a header without passing through here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

pub const MAX_PATH_BYTES: usize = 1024;
pub const MAX_SEGMENT_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ObjectPath(String);

impl ObjectPath {
    /// Accepts `a/b/c.txt`: segments separated by single `/`, none empty, `.` or `..`, no
    /// leading or trailing `/`, no NUL, control characters or backslashes, at most 1024
    /// bytes in all and 255 per segment.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::invalid("invalid-path", format!("invalid path: {why}"));
        if s.is_empty() {
            return Err(invalid("empty"));
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(invalid("longer than 1024 bytes"));
        }
        if s.chars().any(|c| c.is_control() || c == '\\') {
            return Err(invalid("control characters and backslashes are not allowed"));
        }
        for segment in s.split('/') {
            match segment {
                "" => return Err(invalid("empty segment (leading, trailing or double '/')")),
                "." | ".." => return Err(invalid("'.' and '..' segments are not allowed")),
                seg if seg.len() > MAX_SEGMENT_BYTES => {
                    return Err(invalid("a segment is longer than 255 bytes"));
                }
                _ => {}
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// Joins a prefix (`uploads/` or `uploads`, may be empty) and a single file name.
    pub fn join(prefix: &str, name: &str) -> Result<Self, Error> {
        let name = FileName::parse(name)?;
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            Self::parse(name.as_str())
        } else {
            Self::parse(&format!("{prefix}/{}", name.as_str()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment: what a person calls the file's name.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ObjectPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A single path segment: a file name with no `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.contains('/') {
            return Err(Error::invalid("invalid-path", "invalid file name: '/' is not allowed"));
        }
        ObjectPath::parse(s).map(|p| Self(p.0))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A listing prefix: like a path but may be empty or end with `/`.
pub fn parse_prefix(s: &str) -> Result<String, Error> {
    let trimmed = s.strip_suffix('/').unwrap_or(s);
    if trimmed.is_empty() {
        return Ok(s.to_owned());
    }
    ObjectPath::parse(trimmed)?;
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for ok in ["a", "2026/11/ward-a.csv", "dossier médical.pdf", "a b/c (1).txt"] {
            assert_eq!(ObjectPath::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(ObjectPath::parse("x/y/z.txt").unwrap().name(), "z.txt");
    }

    #[test]
    fn refuses_traversal_and_control_characters() {
        for bad in [
            "", "/a", "a/", "a//b", "..", "../a", "a/../b", "a/./b", ".", "a\0b", "a\nb", "a\\b", "\u{7f}x",
        ] {
            assert!(ObjectPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_overlong_paths_and_segments() {
        assert!(ObjectPath::parse(&"a".repeat(256)).is_err());
        assert!(ObjectPath::parse(&["a"; 600].join("/")).is_err());
        assert!(ObjectPath::parse(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn joins_prefix_and_name() {
        assert_eq!(ObjectPath::join("uploads/", "x.pdf").unwrap().as_str(), "uploads/x.pdf");
        assert_eq!(ObjectPath::join("", "x.pdf").unwrap().as_str(), "x.pdf");
        assert!(ObjectPath::join("uploads", "../x").is_err());
        assert!(ObjectPath::join("uploads", "a/b").is_err());
        assert!(ObjectPath::join("../up", "a").is_err());
    }

    #[test]
    fn prefixes_may_be_empty_or_end_with_a_slash() {
        assert!(parse_prefix("").is_ok());
        assert!(parse_prefix("a/b/").is_ok());
        assert!(parse_prefix("a/../").is_err());
    }
}
