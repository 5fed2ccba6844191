//! `ObjectPath::parse` (and `FileName`, `join`, `parse_prefix`): every user-supplied name
//! passes here before it reaches storage or a header.
//!
//! Properties: an accepted path obeys every documented rule, is in NFC, re-parses to
//! itself (also through serde and `from_stored`), and its NFC and NFD spellings are the
//! same path; a refused text is refused in every spelling.
#![no_main]

use filegate_core::domain::{FileName, ObjectPath, parse_prefix};
use libfuzzer_sys::fuzz_target;
use unicode_normalization::{UnicodeNormalization as _, is_nfc};

/// `path::MAX_PATH_BYTES` and `MAX_SEGMENT_BYTES` (the module is private).
const MAX_PATH_BYTES: usize = 1024;
const MAX_SEGMENT_BYTES: usize = 255;

fuzz_target!(|input: (&str, &str)| {
    let (text, prefix) = input;
    let parsed = ObjectPath::parse(text);
    let nfd: String = text.nfd().collect();
    let nfc: String = text.nfc().collect();
    // Look-alike spellings are one path (or one refusal).
    assert_eq!(
        ObjectPath::parse(&nfd).ok(),
        parsed.as_ref().ok().cloned(),
        "NFD of {text:?}"
    );
    assert_eq!(
        ObjectPath::parse(&nfc).ok(),
        parsed.as_ref().ok().cloned(),
        "NFC of {text:?}"
    );

    if let Ok(path) = &parsed {
        check_rules(path.as_str());
        assert_eq!(ObjectPath::parse(path.as_str()).ok().as_ref(), Some(path));
        assert_eq!(ObjectPath::from_stored(path.as_str()).ok().as_ref(), Some(path));
        assert_eq!(path.to_string(), path.as_str());
        let json = serde_json::to_string(path).expect("a path serializes");
        assert_eq!(
            &serde_json::from_str::<ObjectPath>(&json).expect("and reads back"),
            path
        );
        assert_eq!(Some(path.name()), path.as_str().rsplit('/').next());
        assert_eq!(FileName::parse(text).is_ok(), !path.as_str().contains('/'));
    } else {
        assert!(FileName::parse(text).is_err());
    }

    // A stored path that is structurally valid stays addressable, exactly as stored.
    if let Ok(stored) = ObjectPath::from_stored(text) {
        assert_eq!(stored.as_str(), text);
    }

    if let Ok(joined) = ObjectPath::join(prefix, text) {
        check_rules(joined.as_str());
        assert!(
            joined
                .as_str()
                .ends_with(FileName::parse(text).expect("joined a file name").as_str())
        );
    }
    if let Ok(p) = parse_prefix(prefix) {
        // A prefix is empty, or a path, or a path and one `/`.
        let bare = p.strip_suffix('/').unwrap_or(&p);
        if !bare.is_empty() {
            check_rules(bare);
        }
        assert_eq!(parse_prefix(&p).ok().as_ref(), Some(&p), "a prefix re-parses to itself");
    }
});

/// The rules `ObjectPath::parse` documents, checked on what it returned.
fn check_rules(s: &str) {
    assert!(!s.is_empty() && s.len() <= MAX_PATH_BYTES, "{s:?}");
    assert!(is_nfc(s), "{s:?} is not NFC");
    assert!(!s.chars().any(|c| c.is_control() || c == '\\'), "{s:?}");
    assert!(
        !s.chars()
            .any(|c| matches!(u32::from(c), 0x200B..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0xFEFF)),
        "{s:?} holds a bidi or zero-width character"
    );
    for segment in s.split('/') {
        assert!(!matches!(segment, "" | "." | ".."), "{s:?}");
        assert!(segment.len() <= MAX_SEGMENT_BYTES, "{s:?}");
    }
}
