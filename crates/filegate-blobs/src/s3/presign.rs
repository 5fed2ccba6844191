//! Presigned URLs (SigV4 query signing, done by rusty-s3) for the requests clients send
//! straight to the store: a single `PUT`, one part of a multipart upload, a `GET`.
//!
//! A URL works from the moment it is signed until `expires_at` (to the second): rusty-s3
//! signs with `X-Amz-Date` = now and `X-Amz-Expires` = the seconds left. S3 allows at most
//! seven days. An `expires_at` already past gives a URL that is already expired.
//!
//! What a presigned `PUT` pins: `content-type` and `content-length` are *signed headers*,
//! so S3 recomputes the signature from the values the client actually sends, and any other
//! type or size fails with `403 SignatureDoesNotMatch`. The payload itself is unsigned
//! (`UNSIGNED-PAYLOAD`); its length is pinned by `content-length`.
//!
//! When the client declared a sha256, it also signs `x-amz-checksum-sha256`: S3 stores only
//! bytes with that digest, and vouches for it on `HEAD` (so `complete` need not read the
//! bytes back to check it).
//!
//! It also signs `if-none-match: *`: the URL creates the object once, and S3 answers any
//! later `PUT` to it with `412 Precondition Failed` while the URL is still valid. Without
//! it, whoever holds the URL could replace the bytes of a file after `complete` verified
//! them, scanned them and made them `ready`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::Sha256Hex;
use filegate_core::ports::{Disposition, DownloadOptions, SignedRequest, UploadConstraints};
use rusty_s3::S3Action;
use url::Url;

use super::S3BlobStore;
use crate::key;

/// The signed header that makes a presigned `PUT` create its object once (S3's
/// conditional write): a second `PUT` to the same URL is refused, not stored.
pub const CREATE_ONLY: (&str, &str) = ("if-none-match", "*");

/// The signed header that pins a presigned `PUT`'s bytes to the sha256 the client declared
/// (base64 of the digest): S3 refuses other bytes (`400 BadDigest`), keeps the checksum with
/// the object, and reports it on a `HEAD` asking for it ([`CHECKSUM_MODE`]).
pub const CHECKSUM_SHA256: &str = "x-amz-checksum-sha256";
/// The signed header that makes a `HEAD` report the object's checksums.
pub const CHECKSUM_MODE: (&str, &str) = ("x-amz-checksum-mode", "ENABLED");

/// The longest validity S3 accepts for a presigned URL.
pub const MAX_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The signing time and validity for a URL that expires at `expires_at`: signed now, or,
/// for a time already past, one second before it (so it is expired, not refused).
fn validity(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(jiff::Timestamp, Duration), StoreError> {
    let end = expires_at.timestamp();
    let date = now.timestamp().min(end - 1);
    let seconds = (end - date) as u64;
    if seconds > MAX_VALIDITY.as_secs() {
        return Err(StoreError::Input(format!(
            "S3 presigned URLs last at most 7 days; asked for {seconds} seconds"
        )));
    }
    let date = jiff::Timestamp::from_second(date)
        .map_err(|e| StoreError::Input(format!("cannot sign for {expires_at}: {e}")))?;
    Ok((date, Duration::from_secs(seconds)))
}

/// Signs `action` to be valid until `expires_at`.
pub(super) fn sign_until<'a>(
    action: &impl S3Action<'a>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Url, StoreError> {
    let (date, valid_for) = validity(expires_at, now)?;
    Ok(action.sign_with_time(valid_for, &date))
}

/// The `response-content-disposition` a presigned GET carries: the same value filegate's
/// own download routes answer with.
pub fn content_disposition(disposition: Disposition, filename: &str) -> String {
    disposition.header_value(filename)
}

/// `x-amz-checksum-sha256`'s value for a digest: its 32 bytes in base64.
fn checksum_of(sha256: &Sha256Hex) -> Result<String, StoreError> {
    use base64::Engine as _;
    let digest =
        hex::decode(sha256.as_str()).map_err(|e| StoreError::Input(format!("a sha256 that is not hex: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(digest))
}

/// The whole-object SHA-256 a `HEAD` answer vouches for: its `x-amz-checksum-sha256`, unless
/// that is a multipart upload's checksum of its parts' checksums (`…-N`, or a
/// `x-amz-checksum-type` other than `FULL_OBJECT`), which says nothing of the bytes.
pub(super) fn vouched_sha256(headers: &reqwest::header::HeaderMap) -> Option<Sha256Hex> {
    let value = headers.get(CHECKSUM_SHA256)?.to_str().ok()?;
    let kind = headers.get("x-amz-checksum-type").and_then(|v| v.to_str().ok());
    if value.contains('-') || kind.is_some_and(|k| !k.eq_ignore_ascii_case("FULL_OBJECT")) {
        return None;
    }
    Sha256Hex::parse(value).ok()
}

/// S3 numbers parts 1 to 10 000.
pub(super) const MAX_PARTS: u32 = 10_000;

pub(super) fn check_part_number(part: u32) -> Result<(), StoreError> {
    if (1..=MAX_PARTS).contains(&part) {
        Ok(())
    } else {
        Err(StoreError::Input(format!(
            "part numbers run from 1 to {MAX_PARTS}, got {part}"
        )))
    }
}

/// Upload ids are the store's own; this only keeps garbage out of URLs and logs.
pub(super) fn check_upload_id(id: &str) -> Result<(), StoreError> {
    if !id.is_empty() && id.len() <= 1024 && id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(StoreError::Input(
            "an upload id is 1-1024 printable ASCII characters".into(),
        ))
    }
}

pub(super) fn check_key(key: &str) -> Result<(), StoreError> {
    key::validate(key).map_err(|e| StoreError::Input(e.to_string()))
}

impl S3BlobStore {
    pub(super) fn presign_put_at(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError> {
        check_key(key)?;
        let (length, content_type) = (c.size.to_string(), c.content_type.to_string());
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        action.headers_mut().insert("content-length", length.clone());
        action.headers_mut().insert("content-type", content_type.clone());
        action.headers_mut().insert(CREATE_ONLY.0, CREATE_ONLY.1);
        let checksum = c.sha256.as_ref().map(checksum_of).transpose()?;
        if let Some(checksum) = &checksum {
            action.headers_mut().insert(CHECKSUM_SHA256, checksum.clone());
        }
        let url = sign_until(&action, expires_at, now)?;
        let mut headers = BTreeMap::from([
            ("content-length".to_owned(), length),
            ("content-type".to_owned(), content_type),
            (CREATE_ONLY.0.to_owned(), CREATE_ONLY.1.to_owned()),
        ]);
        if let Some(checksum) = checksum {
            headers.insert(CHECKSUM_SHA256.to_owned(), checksum);
        }
        Ok(SignedRequest {
            method: "PUT".into(),
            url: url.into(),
            headers,
            fields: BTreeMap::new(),
        })
    }

    pub(super) fn presign_get_at(
        &self,
        key: &str,
        o: &DownloadOptions,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        check_key(key)?;
        let disposition = content_disposition(o.disposition, &o.filename);
        let mut action = self.bucket.get_object(Some(&self.credentials), key);
        action.query_mut().insert("response-content-disposition", disposition);
        action
            .query_mut()
            .insert("response-content-type", o.content_type.to_string());
        Ok(sign_until(&action, expires_at, now)?.into())
    }

    pub(super) fn presign_part_at(
        &self,
        key: &str,
        upload_id: &str,
        part: u32,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Url, StoreError> {
        check_key(key)?;
        check_upload_id(upload_id)?;
        check_part_number(part)?;
        let action = self
            .bucket
            .upload_part(Some(&self.credentials), key, part as u16, upload_id);
        sign_until(&action, expires_at, now)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    #[test]
    fn a_url_lasts_until_its_expiry_to_the_second() {
        let (date, valid) = validity(at(1_000_900), at(1_000_000)).unwrap();
        assert_eq!((date.as_second(), valid.as_secs()), (1_000_000, 900));
        // Sub-second parts of "now" do not shorten or lengthen it.
        let now = at(1_000_000) + chrono::Duration::milliseconds(999);
        assert_eq!(validity(at(1_000_900), now).unwrap().1.as_secs(), 900);
        // A time already past gives a URL that is already expired.
        let (date, valid) = validity(at(1_000_000), at(1_000_050)).unwrap();
        assert_eq!((date.as_second(), valid.as_secs()), (999_999, 1));
        assert!(validity(at(1_000_000 + 7 * 24 * 3600), at(1_000_000)).is_ok());
        assert!(matches!(
            validity(at(1_000_001 + 7 * 24 * 3600), at(1_000_000)),
            Err(StoreError::Input(_))
        ));
    }

    #[test]
    fn dispositions_are_safe_for_any_name() {
        assert_eq!(
            content_disposition(Disposition::Attachment, "ward a; 2026.csv"),
            "attachment; filename=\"ward a; 2026.csv\"; filename*=UTF-8''ward%20a%3B%202026.csv"
        );
        assert_eq!(
            content_disposition(Disposition::Inline, "dossier m\u{e9}dical \"1\".pdf\r\n"),
            "inline; filename=\"dossier m_dical _1_.pdf__\"; filename*=UTF-8''dossier%20m%C3%A9dical%20%221%22.pdf%0D%0A"
        );
    }

    #[test]
    fn only_a_whole_objects_checksum_vouches_for_its_sha256() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let hello = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        let vouched = vouched_sha256(&headers(&[(CHECKSUM_SHA256, hello)])).expect("a whole-object checksum");
        assert_eq!(
            vouched.as_str(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(checksum_of(&vouched).unwrap(), hello);
        let full = headers(&[(CHECKSUM_SHA256, hello), ("x-amz-checksum-type", "FULL_OBJECT")]);
        assert_eq!(vouched_sha256(&full), Some(vouched));
        for refused in [
            headers(&[(CHECKSUM_SHA256, "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=-3")]),
            headers(&[(CHECKSUM_SHA256, hello), ("x-amz-checksum-type", "COMPOSITE")]),
            headers(&[]),
        ] {
            assert_eq!(vouched_sha256(&refused), None, "{refused:?}");
        }
    }

    #[test]
    fn part_numbers_and_upload_ids_are_checked() {
        assert!(check_part_number(1).is_ok() && check_part_number(10_000).is_ok());
        assert!(check_part_number(0).is_err() && check_part_number(10_001).is_err());
        assert!(check_upload_id("2~abc.def_GHI-jkl").is_ok());
        for bad in ["", "a b", "a\nb", &"x".repeat(1025)] {
            assert!(check_upload_id(bad).is_err(), "{bad:?}");
        }
    }
}
