//! `ObjectPath`: the logical path of a file inside a bucket (`2026/11/ward-a.csv`).
//! No user-supplied name reaches storage or a header without passing through here.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::{UnicodeNormalization as _, is_nfc};

use crate::error::{Error, ErrorCode};

pub const MAX_PATH_BYTES: usize = 1024;
pub const MAX_SEGMENT_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ObjectPath(String);

impl ObjectPath {
    /// Accepts `a/b/c.txt`: segments separated by single `/`, none empty, `.` or `..`, no
    /// leading or trailing `/`, no NUL, control characters or backslashes, at most 1024
    /// bytes in all and 255 per segment.
    ///
    /// Names that look the same are the same path: the text is normalized to NFC (`café`
    /// typed on a Mac, in NFD, is the `café` typed elsewhere), and the invisible characters
    /// that make two different paths look alike are refused — bidi controls (which also
    /// make `txt.exe` display as `exe.txt`), zero-width characters and the other format
    /// characters, line and paragraph separators.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
            return Err(invalid(&format!(
                "U+{:04X} is not allowed (bidi controls, zero-width and other invisible characters make look-alike names)",
                u32::from(c)
            )));
        }
        let normalized = if is_nfc(s) { s.to_owned() } else { s.nfc().collect() };
        check_structure(&normalized)?;
        Ok(Self(normalized))
    }

    /// A path read back from the store, as it was stored: only the structural rules apply,
    /// so that a path stored before the look-alike rules (in NFD, with a zero-width
    /// character) still loads and stays addressable by id.
    pub fn from_stored(s: &str) -> Result<Self, Error> {
        check_structure(s)?;
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

fn invalid(why: &str) -> Error {
    Error::invalid(ErrorCode::InvalidPath, format!("invalid path: {why}"))
}

/// The rules every path follows, stored before the look-alike rules or not.
fn check_structure(s: &str) -> Result<(), Error> {
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
    Ok(())
}

/// Characters that show nothing, or change how the text around them shows: Unicode's
/// format characters (general category Cf: bidi controls U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069; zero-width U+200B–U+200D, U+2060, U+FEFF; the soft
/// hyphen; invisible operators; tags...) and the line and paragraph separators.
fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
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
            return Err(Error::invalid(
                ErrorCode::InvalidPath,
                "invalid file name: '/' is not allowed",
            ));
        }
        ObjectPath::parse(s).map(|p| Self(p.0))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A listing prefix: like a path (normalized the same way, so that it matches the paths
/// it names) but may be empty or end with `/`.
pub fn parse_prefix(s: &str) -> Result<String, Error> {
    let (trimmed, slash) = match s.strip_suffix('/') {
        Some(t) => (t, "/"),
        None => (s, ""),
    };
    if trimmed.is_empty() {
        return Ok(s.to_owned());
    }
    let path = ObjectPath::parse(trimmed)?;
    Ok(format!("{}{slash}", path.0))
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
    fn names_that_look_the_same_are_the_same_path() {
        let nfd = "dossiers/cafe\u{301}.txt";
        let nfc = "dossiers/caf\u{e9}.txt";
        assert_ne!(nfd, nfc);
        assert_eq!(ObjectPath::parse(nfd).unwrap().as_str(), nfc);
        assert_eq!(ObjectPath::parse(nfd).unwrap(), ObjectPath::parse(nfc).unwrap());
        assert_eq!(ObjectPath::join("dossiers", "cafe\u{301}.txt").unwrap().as_str(), nfc);
        assert_eq!(parse_prefix("cafe\u{301}/").unwrap(), "caf\u{e9}/");
        assert_eq!(parse_prefix("cafe\u{301}").unwrap(), "caf\u{e9}");
        // Hangul syllables typed as jamo.
        assert_eq!(
            ObjectPath::parse("\u{1100}\u{1161}.txt").unwrap().as_str(),
            "\u{ac00}.txt"
        );
    }

    #[test]
    fn refuses_invisible_characters_that_make_look_alike_names() {
        let bidi = "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{061C}";
        let zero_width = "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}";
        let other_invisible = "\u{00AD}\u{2028}\u{2029}\u{E0041}";
        for invisible in bidi.chars().chain(zero_width.chars()).chain(other_invisible.chars()) {
            let path = format!("invoice{invisible}.pdf");
            match ObjectPath::parse(&path) {
                Err(Error::Invalid { code, .. }) => assert_eq!(code, ErrorCode::InvalidPath, "{path:?}"),
                other => panic!("{path:?} gave {other:?}"),
            }
            assert!(FileName::parse(&path).is_err(), "{path:?}");
            assert!(parse_prefix(&format!("{path}/")).is_err(), "{path:?}");
        }
        // `txt.exe` shown as `exe.txt`.
        assert!(ObjectPath::parse("report\u{202E}txt.exe").is_err());
        // Visible neighbours stay allowed.
        for ok in [
            "a\u{202F}b.txt",
            "\u{5d0}\u{5d1}.txt",
            "\u{645}\u{644}\u{641}.txt",
            "\u{65e5}\u{672c}.txt",
        ] {
            assert!(ObjectPath::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn stored_paths_load_as_they_were_stored() {
        let nfd = "cafe\u{301}\u{200B}.txt";
        assert_eq!(ObjectPath::from_stored(nfd).unwrap().as_str(), nfd);
        assert!(ObjectPath::from_stored("../x").is_err());
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
