//! tus 1.0.0 (docs/tus.md): the headers a client sends, parsed into what they mean, and the
//! state of a tus upload kept in its file's row.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BucketName, ContentType, FileId, Metadata, ObjectPath};
use crate::error::{Error, ErrorCode};
use crate::ports::Appending;

/// The longest `Upload-Metadata` header taken: the file's path, type and metadata fit in it
/// many times over; a bigger one is a mistake or an attack.
pub const MAX_METADATA_HEADER: usize = 16 * 1024;

/// The state of a tus upload, in its file's `upload` plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TusUpload {
    /// The declared length; `None` until a client that deferred it declares it.
    pub length: Option<u64>,
    /// What storage holds so far (the offset among it).
    pub appending: Appending,
    /// `Upload-Metadata` as the client sent it, answered back by `HEAD`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata: String,
    /// The request currently appending, if any (see `usecases::tus::append`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// A partial or final upload of the concatenation extension; `None` for a plain one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concat: Option<Concat>,
}

impl TusUpload {
    pub fn offset(&self) -> u64 {
        self.appending.offset
    }
}

/// What an upload is to tus's concatenation extension (`Upload-Concat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concat {
    /// `partial`: bytes kept for a final upload, never a file of its own (no listing,
    /// folder, change feed or event shows it, and it is never processed).
    Partial,
    /// `final;…`: the bytes of these partial uploads, joined in this order.
    Final(Vec<FileId>),
}

/// The most partial uploads one final upload joins.
pub const MAX_CONCAT_PARTS: usize = 1000;

impl Concat {
    /// `Upload-Concat`: `partial`, or `final;` and the URLs of the partial uploads separated
    /// by spaces, each `/v1/tus/{id}` or an absolute URL ending so (a proxy may add a
    /// prefix; a query is ignored). 1 to [`MAX_CONCAT_PARTS`] distinct uploads.
    pub fn parse(header: &str) -> Result<Self, Error> {
        let bad = |m: String| Error::invalid(ErrorCode::InvalidTusHeader, m);
        let header = header.trim();
        if header == "partial" {
            return Ok(Self::Partial);
        }
        let urls = header
            .strip_prefix("final;")
            .ok_or_else(|| bad("Upload-Concat is `partial` or `final;<url> <url>…`".into()))?;
        let mut parts = Vec::new();
        for url in urls.split_ascii_whitespace() {
            let id = upload_id_of(url).ok_or_else(|| bad(format!("{url:?} is no tus upload URL of this server")))?;
            if parts.contains(&id) {
                return Err(bad(format!("{url:?} is named twice in Upload-Concat")));
            }
            parts.push(id);
            if parts.len() > MAX_CONCAT_PARTS {
                return Err(bad(format!(
                    "a final upload joins at most {MAX_CONCAT_PARTS} partial uploads"
                )));
            }
        }
        if parts.is_empty() {
            return Err(bad("a final upload names its partial uploads".into()));
        }
        Ok(Self::Final(parts))
    }
}

/// The upload id in `/v1/tus/{id}` or `scheme://host[/prefix]/v1/tus/{id}[?query]`.
fn upload_id_of(url: &str) -> Option<FileId> {
    let path = match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let (prefix, id) = path.rsplit_once("/v1/tus/")?;
    if !(prefix.is_empty() || prefix.starts_with('/')) || id.contains('/') {
        return None;
    }
    FileId::parse(id).ok()
}

/// Who may append to an upload until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub until: DateTime<Utc>,
}

/// A byte count from `Upload-Offset` or `Upload-Length`: digits only (no sign, no spaces).
pub fn parse_tus_number(header: &str, value: &str) -> Result<u64, Error> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            ErrorCode::InvalidTusHeader,
            format!("{header} must be a non-negative integer"),
        ));
    }
    value
        .parse()
        .map_err(|_| Error::invalid(ErrorCode::InvalidTusHeader, format!("{header} is out of range")))
}

/// The length a creation declares: `Upload-Length`, or deferred with `Upload-Defer-Length: 1`.
pub fn parse_upload_length(length: Option<&str>, defer: Option<&str>) -> Result<Option<u64>, Error> {
    match (length, defer) {
        (Some(length), None) => Ok(Some(parse_tus_number("Upload-Length", length)?)),
        (None, Some("1")) => Ok(None),
        (None, Some(_)) => Err(Error::invalid(
            ErrorCode::InvalidTusHeader,
            "Upload-Defer-Length can only be 1",
        )),
        (Some(_), Some(_)) => Err(Error::invalid(
            ErrorCode::InvalidTusHeader,
            "send Upload-Length or Upload-Defer-Length, not both",
        )),
        (None, None) => Err(Error::invalid(
            ErrorCode::InvalidTusHeader,
            "send Upload-Length (or Upload-Defer-Length: 1)",
        )),
    }
}

/// What `Upload-Metadata` says about the new file.
#[derive(Debug, Clone, PartialEq)]
pub struct TusMetadata {
    pub bucket: BucketName,
    pub path: ObjectPath,
    pub content_type: ContentType,
    pub metadata: Metadata,
    /// The header as sent, answered back by `HEAD`.
    pub raw: String,
}

impl TusMetadata {
    /// `key base64,key base64,...` (a key alone means an empty value). See docs/tus.md for
    /// the keys read; others are ignored.
    pub fn parse(header: &str) -> Result<Self, Error> {
        let pairs = parse_pairs(header)?;
        let text = |names: &[&str]| names.iter().find_map(|n| pairs.get(*n)).map(String::as_str);
        let bucket = match text(&["bucket"]) {
            Some(b) => BucketName::parse(b)?,
            None => BucketName::default_bucket(),
        };
        let path = ObjectPath::parse(text(&["path", "filename", "name"]).ok_or_else(|| {
            invalid_metadata("Upload-Metadata needs the file's path (`path`, `filename` or `name`)")
        })?)?;
        let content_type = match text(&["content_type", "filetype", "type"]).filter(|t| !t.is_empty()) {
            Some(t) => ContentType::parse(t)?,
            None => ContentType::octet_stream(),
        };
        let metadata = match text(&["metadata"]) {
            Some(json) => {
                let map: BTreeMap<String, String> = serde_json::from_str(json)
                    .map_err(|_| invalid_metadata("`metadata` must be the base64 of a JSON object of strings"))?;
                Metadata::parse(map)?
            }
            None => Metadata::default(),
        };
        Ok(Self {
            bucket,
            path,
            content_type,
            metadata,
            raw: header.to_owned(),
        })
    }

    /// The metadata of a partial upload (`Upload-Concat: partial`), whose bytes belong to no
    /// path yet: only `bucket` is read (where its bytes are counted; `default` unless
    /// given), though the header must be well-formed. The path is `tus-partials`, which
    /// `usecases::tus::create` makes `tus-partials/{id}`.
    pub fn parse_partial(header: &str) -> Result<Self, Error> {
        let pairs = parse_pairs(header)?;
        let bucket = match pairs.get("bucket") {
            Some(b) => BucketName::parse(b)?,
            None => BucketName::default_bucket(),
        };
        Ok(Self {
            bucket,
            path: ObjectPath::parse("tus-partials")?,
            content_type: ContentType::octet_stream(),
            metadata: Metadata::default(),
            raw: header.to_owned(),
        })
    }
}

fn invalid_metadata(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidMetadata, message)
}

fn parse_pairs(header: &str) -> Result<BTreeMap<String, String>, Error> {
    if header.len() > MAX_METADATA_HEADER {
        return Err(invalid_metadata(format!(
            "Upload-Metadata is at most {MAX_METADATA_HEADER} bytes"
        )));
    }
    let mut pairs = BTreeMap::new();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid_metadata(format!("Upload-Metadata has a bad key in {pair:?}")));
        }
        let raw = STANDARD
            .decode(value.trim())
            .map_err(|_| invalid_metadata(format!("the value of {key:?} in Upload-Metadata is not base64")))?;
        let value =
            String::from_utf8(raw).map_err(|_| invalid_metadata(format!("the value of {key:?} is not UTF-8")))?;
        if pairs.insert(key.to_owned(), value).is_some() {
            return Err(invalid_metadata(format!("{key:?} appears twice in Upload-Metadata")));
        }
    }
    Ok(pairs)
}

/// The hash a `PATCH` body must have (`Upload-Checksum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// What `Tus-Checksum-Algorithm` advertises.
    pub const ADVERTISED: &str = "sha1,sha256";

    fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub digest: Vec<u8>,
}

impl UploadChecksum {
    pub fn parse(header: &str) -> Result<Self, Error> {
        let bad = |m: &str| Error::invalid(ErrorCode::InvalidChecksum, m.to_owned());
        let (name, digest) = header
            .trim()
            .split_once(' ')
            .ok_or_else(|| bad("Upload-Checksum is `<algorithm> <base64 digest>`"))?;
        let algorithm = match name {
            "sha1" => ChecksumAlgorithm::Sha1,
            "sha256" => ChecksumAlgorithm::Sha256,
            _ => return Err(bad("Upload-Checksum supports sha1 and sha256")),
        };
        let digest = STANDARD
            .decode(digest.trim())
            .map_err(|_| bad("the Upload-Checksum digest is not base64"))?;
        if digest.len() != algorithm.digest_len() {
            return Err(bad("the Upload-Checksum digest has the wrong length for its algorithm"));
        }
        Ok(Self { algorithm, digest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(parse_tus_number("Upload-Offset", "0").unwrap(), 0);
        assert_eq!(
            parse_tus_number("Upload-Offset", "18446744073709551615").unwrap(),
            u64::MAX
        );
        for bad in ["", "-1", "+1", " 1", "1.0", "0x10", "18446744073709551616", "1e3"] {
            assert!(parse_tus_number("Upload-Offset", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_length_is_declared_or_deferred_never_both() {
        assert_eq!(parse_upload_length(Some("10"), None).unwrap(), Some(10));
        assert_eq!(parse_upload_length(None, Some("1")).unwrap(), None);
        assert!(parse_upload_length(None, Some("0")).is_err());
        assert!(parse_upload_length(Some("10"), Some("1")).is_err());
        assert!(parse_upload_length(None, None).is_err());
    }

    #[test]
    fn metadata_maps_onto_bucket_path_type_and_metadata() {
        let header = format!(
            "bucket {},filename {},filetype {},metadata {},relativePath {}",
            b64("scans"),
            b64("2026/a b.pdf"),
            b64("application/pdf"),
            b64(r#"{"patient":"123"}"#),
            b64("ignored")
        );
        let m = TusMetadata::parse(&header).unwrap();
        assert_eq!(m.bucket.as_str(), "scans");
        assert_eq!(m.path.to_string(), "2026/a b.pdf");
        assert_eq!(m.content_type.as_str(), "application/pdf");
        assert_eq!(m.metadata.as_map().get("patient").map(String::as_str), Some("123"));
        assert_eq!(m.raw, header);

        // `path` wins over `filename`; Uppy's `name`/`type` work too; the bucket defaults.
        let m = TusMetadata::parse(&format!(
            "name {},path {},type {}",
            b64("n"),
            b64("p/q"),
            b64("text/csv")
        ))
        .unwrap();
        assert_eq!(
            (m.bucket, m.path.to_string()),
            (BucketName::default_bucket(), "p/q".into())
        );
        assert_eq!(m.content_type.as_str(), "text/csv");
        let m = TusMetadata::parse(&format!("filename {},filetype", b64("x"))).unwrap();
        assert_eq!(m.content_type, ContentType::octet_stream());
    }

    #[test]
    fn bad_metadata_is_refused() {
        let code = |h: &str| TusMetadata::parse(h).unwrap_err().code();
        assert_eq!(code(""), ErrorCode::InvalidMetadata, "no path");
        assert_eq!(code("filename !!!"), ErrorCode::InvalidMetadata, "not base64");
        assert_eq!(
            code(&format!("filename {0},filename {0}", b64("a"))),
            ErrorCode::InvalidMetadata
        );
        assert_eq!(
            code(&format!("filename {},metadata {}", b64("a"), b64("[1]"))),
            ErrorCode::InvalidMetadata
        );
        assert_eq!(
            code(&format!("filename {}", b64("../etc/passwd"))),
            ErrorCode::InvalidPath
        );
        let huge = format!("filename {},x {}", b64("a"), "A".repeat(MAX_METADATA_HEADER));
        assert_eq!(code(&huge), ErrorCode::InvalidMetadata);
        let not_utf8 = format!("filename {}", STANDARD.encode([0xff, 0xfe]));
        assert_eq!(code(&not_utf8), ErrorCode::InvalidMetadata);
    }

    #[test]
    fn upload_concat_is_partial_or_final_with_the_partials_urls() {
        let (a, b) = (FileId::new(), FileId::new());
        assert_eq!(Concat::parse("partial").unwrap(), Concat::Partial);
        assert_eq!(
            Concat::parse(&format!("final;/v1/tus/{a} http://h:8080/v1/tus/{b}")).unwrap(),
            Concat::Final(vec![a, b])
        );
        assert_eq!(
            Concat::parse(&format!("final; https://h/files/v1/tus/{b}?token=x  /v1/tus/{a}")).unwrap(),
            Concat::Final(vec![b, a]),
            "a proxy's prefix, a query, extra spaces"
        );
        for bad in [
            String::new(),
            "final".into(),
            "final;".into(),
            "partial;x".into(),
            format!("final;/v1/tus/{a} /v1/tus/{a}"),
            format!("final;/v1/files/{a}"),
            format!("final;/v1/tus/{a}/x"),
            format!("final;x/v1/tus/{a}"),
            "final;/v1/tus/not-an-id".into(),
            format!("final;{}", vec![format!("/v1/tus/{a}"); 2].join(" ")),
        ] {
            assert_eq!(
                Concat::parse(&bad).unwrap_err().code(),
                ErrorCode::InvalidTusHeader,
                "{bad:?}"
            );
        }
        let many: Vec<String> = (0..=MAX_CONCAT_PARTS)
            .map(|_| format!("/v1/tus/{}", FileId::new()))
            .collect();
        assert!(Concat::parse(&format!("final;{}", many.join(" "))).is_err());
        assert!(Concat::parse(&format!("final;{}", many[1..].join(" "))).is_ok());
    }

    #[test]
    fn checksums_name_a_supported_algorithm_and_a_digest_of_its_length() {
        let sha1 = UploadChecksum::parse(&format!("sha1 {}", STANDARD.encode([1u8; 20]))).unwrap();
        assert_eq!(sha1.algorithm, ChecksumAlgorithm::Sha1);
        assert!(UploadChecksum::parse(&format!("sha256 {}", STANDARD.encode([1u8; 32]))).is_ok());
        for bad in [
            format!("md5 {}", STANDARD.encode([1u8; 16])),
            format!("sha256 {}", STANDARD.encode([1u8; 20])),
            "sha1".to_owned(),
            "sha1 ***".to_owned(),
        ] {
            assert_eq!(
                UploadChecksum::parse(&bad).unwrap_err().code(),
                ErrorCode::InvalidChecksum,
                "{bad}"
            );
        }
    }
}
