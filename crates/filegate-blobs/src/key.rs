//! Blob keys and upload ids: checked before they touch a path or a URL.
//!
//! filegate makes its keys itself (`t/<tenant>/<uuid>`, see
//! [`blob_key_for`](filegate_core::domain::blob_key_for)), so a key that fails here is a bug
//! or tampering, never a user's file name. The rules are stricter than S3's on purpose: a
//! key that passes is a safe relative path on every filesystem and needs no escaping in a
//! URL path.

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest key segment. Below the usual 255-byte file name limit, leaving room for the
/// suffix of the local store's etag sidecar.
pub const MAX_SEGMENT_BYTES: usize = 200;

/// Why a key or upload id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob key: {0}")]
pub struct InvalidKey(&'static str);

/// Accepts `seg/seg/...` where each segment is 1-200 bytes of `[A-Za-z0-9._-]` and is not
/// `.` or `..`; no leading, trailing or double `/`.
pub fn validate(key: &str) -> Result<(), InvalidKey> {
    if key.is_empty() {
        return Err(InvalidKey("empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(InvalidKey("longer than 1024 bytes"));
    }
    for segment in key.split('/') {
        match segment {
            "" => {
                return Err(InvalidKey("empty segment (leading, trailing or double '/')"));
            }
            "." | ".." => return Err(InvalidKey("'.' and '..' segments are not allowed")),
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(InvalidKey("a segment is longer than 200 bytes"));
            }
            s if !s.bytes().all(is_key_byte) => {
                return Err(InvalidKey("only [A-Za-z0-9._-] and '/' are allowed"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// A new multipart upload id: 128 random bits as 32 lowercase hex characters.
pub fn new_upload_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Upload ids are exactly what [`new_upload_id`] makes, so one is a single safe path segment.
pub fn validate_upload_id(id: &str) -> Result<(), InvalidKey> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(InvalidKey("an upload id is 32 lowercase hex characters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_filegate_keys() {
        for ok in [
            "t/default/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "a",
            "a.b/c_d-e",
            ".hidden/x",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        assert!(validate(&"a".repeat(200)).is_ok());
    }

    #[test]
    fn refuses_anything_that_could_escape_or_need_escaping() {
        for bad in [
            "", "/a", "a/", "a//b", ".", "..", "../a", "a/../b", "a/./b", "a\\b", "a b", "a\0b", "a\nb", "a~etag", "é",
            "a%2Fb", "a?b", "a#b",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        assert!(validate(&"a".repeat(201)).is_err());
        assert!(validate(&["a"; 600].join("/")).is_err());
    }

    #[test]
    fn upload_ids_are_what_we_make() {
        let id = new_upload_id();
        assert_eq!(validate_upload_id(&id), Ok(()));
        assert_ne!(id, new_upload_id());
        for bad in ["", "../x", &id.to_uppercase(), &id[1..], &format!("{id}0")] {
            assert!(validate_upload_id(bad).is_err(), "{bad:?}");
        }
    }
}
