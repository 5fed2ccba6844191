//! Content types as declared by clients: `type/subtype` with optional parameters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ContentType(String);

impl ContentType {
    /// Lowercases the essence (`Text/CSV; charset=utf-8` → `text/csv; charset=utf-8`) and
    /// refuses anything that is not a token `/` token, or that could split a header.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = || Error::invalid(ErrorCode::InvalidContentType, format!("invalid content type {s:?}"));
        if s.len() > 255 || s.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(invalid());
        }
        let (essence, params) = match s.split_once(';') {
            Some((e, p)) => (e.trim(), Some(p.trim())),
            None => (s.trim(), None),
        };
        let is_token =
            |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
        let (kind, sub) = essence.split_once('/').ok_or_else(invalid)?;
        if !is_token(kind) || !is_token(sub) {
            return Err(invalid());
        }
        let essence = format!("{}/{}", kind.to_ascii_lowercase(), sub.to_ascii_lowercase());
        Ok(Self(match params {
            Some(p) if !p.is_empty() => format!("{essence}; {p}"),
            _ => essence,
        }))
    }

    pub fn octet_stream() -> Self {
        Self("application/octet-stream".into())
    }

    /// What a zip bundle is served as.
    pub fn zip() -> Self {
        Self("application/zip".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `type/subtype` without parameters: what allow-lists compare.
    pub fn essence(&self) -> &str {
        self.0.split(';').next().unwrap_or(&self.0).trim()
    }

    /// Whether a browser shown these bytes inline may run script or load what they name:
    /// HTML, XHTML, SVG and every XML type (XML can carry XHTML), script, XSLT, Flash, and
    /// `multipart/x-mixed-replace`. Such bytes are served as an attachment unless their
    /// bucket opts in (`inline_active`), and always under the sandbox CSP.
    pub fn is_active(&self) -> bool {
        const ACTIVE: &[&str] = &[
            "text/html",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "text/xsl",
            "text/javascript",
            "text/ecmascript",
            "application/javascript",
            "application/ecmascript",
            "application/x-javascript",
            "application/x-shockwave-flash",
            "multipart/x-mixed-replace",
        ];
        let essence = self.essence();
        ACTIVE.contains(&essence) || essence.ends_with("+xml")
    }

    /// Whether a bucket allow-list entry (`image/png`, `image/*` or `*/*`) admits this type.
    pub fn matches(&self, pattern: &str) -> bool {
        let essence = self.essence();
        match pattern.strip_suffix("/*") {
            Some("*") => true,
            Some(kind) => essence.split('/').next() == Some(kind),
            None => essence == pattern,
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ContentType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_keeps_parameters() {
        let ct = ContentType::parse("Text/CSV; charset=utf-8").unwrap();
        assert_eq!(ct.as_str(), "text/csv; charset=utf-8");
        assert_eq!(ct.essence(), "text/csv");
    }

    #[test]
    fn refuses_header_injection_and_garbage() {
        for bad in ["", "text", "text/", "/csv", "text/csv\r\nx: y", "a b/c", "tëxt/csv"] {
            assert!(ContentType::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn active_types_are_the_ones_a_browser_runs() {
        let active = [
            "text/html",
            "Text/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/xml",
            "application/rss+xml",
            "application/javascript",
            "text/javascript",
        ];
        for t in active {
            assert!(ContentType::parse(t).unwrap().is_active(), "{t}");
        }
        for t in [
            "text/plain",
            "image/png",
            "application/pdf",
            "application/octet-stream",
            "text/csv",
            "application/json",
        ] {
            assert!(!ContentType::parse(t).unwrap().is_active(), "{t}");
        }
    }

    #[test]
    fn allow_list_patterns() {
        let png = ContentType::parse("image/png").unwrap();
        assert!(png.matches("image/png"));
        assert!(png.matches("image/*"));
        assert!(png.matches("*/*"));
        assert!(!png.matches("image/jpeg"));
        assert!(!png.matches("text/*"));
    }
}
