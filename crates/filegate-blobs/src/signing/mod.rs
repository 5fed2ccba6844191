//! Signed URLs that filegate serves itself (the local-directory store).
//!
//! A signed URL lets a client talk to the blob routes without a bearer token: the HMAC-SHA256
//! signature pins everything the request may do. The URL shapes, relative to the configured
//! public base URL, and their query parameters:
//!
//! | request | method | URL | parameters |
//! |---|---|---|---|
//! | single upload | `PUT` | `/blob/{key}` | `expires`, `size`, `type`, `sig` |
//! | one part of a multipart upload | `PUT` | `/blob/{key}` | `expires`, `upload_id`, `part`, `sig` |
//! | download | `GET` (or `HEAD`) | `/blob/{key}` | `expires`, `disposition`, `filename`, `type`, `sig` |
//! | browser form upload | `POST` | `/blob-form` | form fields `key`, `expires`, `size`, `type`, `sig`, then `file` last |
//!
//! - `expires`: unix seconds; the URL works while the request *starts* before then.
//! - `size`, `type`: the exact byte count and content type an upload must have.
//! - `disposition` (`inline` | `attachment`), `filename`, `type`: how a download is answered.
//! - `sig`: base64url (no padding) HMAC-SHA256 over the canonical string below.
//!
//! The canonical string starts with a version tag and then lists, in a fixed order per kind
//! of request, `name:length:value\n` for the kind, the method, the key and each parameter.
//! Every value is length-prefixed, so no two different requests share a canonical string,
//! whatever bytes a file name holds. A URL with a parameter missing, repeated or unknown
//! does not verify: the URL must be exactly one that filegate signed.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use filegate_core::domain::ContentType;
use filegate_core::ports::{Disposition, DownloadOptions, UploadConstraints};
use filegate_core::{Error, ErrorCode};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use url::Url;

use crate::key;

/// The route (axum syntax) the signed `PUT`/`GET` URLs point at, relative to the public base.
pub const OBJECT_ROUTE: &str = "/blob/{*key}";
/// The route the signed form `POST` points at.
pub const FORM_ROUTE: &str = "/blob-form";

/// Query parameter and form field names.
pub mod params {
    pub const EXPIRES: &str = "expires";
    pub const SIZE: &str = "size";
    pub const TYPE: &str = "type";
    pub const UPLOAD_ID: &str = "upload_id";
    pub const PART: &str = "part";
    pub const DISPOSITION: &str = "disposition";
    pub const FILENAME: &str = "filename";
    pub const SIGNATURE: &str = "sig";
    /// Form uploads only: the key travels as a field, since the URL is the same for all.
    pub const KEY: &str = "key";
}
use params::*;

const VERSION: &str = "filegate-blob-v1";

/// What an authentic signed request may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub key: String,
    pub expires_at: DateTime<Utc>,
    pub kind: GrantKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantKind {
    /// Store exactly `size` bytes of `content_type` at the key (a `PUT` or a form `POST`).
    Put(UploadConstraints),
    /// Store one part of a multipart upload.
    Part { upload_id: String, part: u32 },
    /// Read the object and answer with these headers.
    Get(DownloadOptions),
}

/// The kinds of signed request; each fixes its method and its parameters, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Put,
    Part,
    Get,
    Form,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Part => "part",
            Self::Get => "get",
            Self::Form => "form",
        }
    }
    fn method(self) -> &'static str {
        match self {
            Self::Put | Self::Part => "PUT",
            Self::Get => "GET",
            Self::Form => "POST",
        }
    }
    fn params(self) -> &'static [&'static str] {
        match self {
            Self::Put | Self::Form => &[EXPIRES, SIZE, TYPE],
            Self::Part => &[EXPIRES, UPLOAD_ID, PART],
            Self::Get => &[EXPIRES, DISPOSITION, FILENAME, TYPE],
        }
    }
}

/// Signs and verifies the blob URLs with a 32-byte key (deriving it is the caller's job).
#[derive(Clone)]
pub struct UrlSigner {
    /// Keyed once; cloned per signature.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlSigner { key: <redacted> }")
    }
}

fn invalid() -> Error {
    Error::Forbidden {
        code: ErrorCode::SignatureInvalid,
        message: "the URL's signature is missing or does not match the request".into(),
    }
}

fn expired() -> Error {
    Error::Forbidden {
        code: ErrorCode::SignatureExpired,
        message: "the signed URL has expired".into(),
    }
}

impl UrlSigner {
    pub fn new(key: [u8; 32]) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes keys of any length");
        Self { mac }
    }

    /// `{base}/blob/{key}?expires&size&type&sig` for a single `PUT`.
    pub fn put_url(&self, base: &Url, key: &str, c: &UploadConstraints, expires_at: DateTime<Utc>) -> Url {
        let size = c.size.to_string();
        self.url(
            base,
            key,
            Kind::Put,
            &[&expires(expires_at), &size, c.content_type.as_str()],
        )
    }

    /// `{base}/blob/{key}?expires&upload_id&part&sig` for one part.
    pub fn part_url(&self, base: &Url, key: &str, upload_id: &str, part: u32, expires_at: DateTime<Utc>) -> Url {
        self.url(
            base,
            key,
            Kind::Part,
            &[&expires(expires_at), upload_id, &part.to_string()],
        )
    }

    /// `{base}/blob/{key}?expires&disposition&filename&type&sig` for a download.
    pub fn get_url(&self, base: &Url, key: &str, o: &DownloadOptions, expires_at: DateTime<Utc>) -> Url {
        let values = [
            &expires(expires_at),
            o.disposition.as_str(),
            &o.filename,
            o.content_type.as_str(),
        ];
        self.url(base, key, Kind::Get, &values)
    }

    /// `{base}/blob-form` and the fields to send before `file`.
    pub fn form(
        &self,
        base: &Url,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
    ) -> (Url, BTreeMap<String, String>) {
        let size = c.size.to_string();
        let values = [expires(expires_at), size, c.content_type.as_str().to_owned()];
        let sig = self.sign(Kind::Form, key, &values.each_ref().map(String::as_str));
        let mut fields: BTreeMap<String, String> =
            Kind::Form.params().iter().map(|n| n.to_string()).zip(values).collect();
        fields.insert(KEY.into(), key.into());
        fields.insert(SIGNATURE.into(), sig);
        (route(base, &["blob-form"]), fields)
    }

    fn url(&self, base: &Url, key: &str, kind: Kind, values: &[&str]) -> Url {
        let mut url = route(base, &["blob"]);
        if let Ok(mut segments) = url.path_segments_mut() {
            // `push` percent-encodes each segment; valid keys need none, but stay correct.
            segments.extend(key.split('/'));
        }
        let sig = self.sign(kind, key, values);
        url.query_pairs_mut()
            .extend_pairs(kind.params().iter().zip(values))
            .append_pair(SIGNATURE, &sig);
        url
    }

    fn sign(&self, kind: Kind, key: &str, values: &[&str]) -> String {
        let mut mac = self.mac.clone();
        mac.update(&canonical(kind, key, values));
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Checks a signed `PUT`, `GET` or `HEAD` on `/blob/{key}`: `key` is the decoded path
    /// after `/blob/`, `query` the raw query string (without `?`). Call it once when the
    /// request starts, before reading the body.
    ///
    /// `signature-invalid` for anything that filegate did not sign exactly (a missing,
    /// altered, repeated or extra parameter, another key or method); `signature-expired`
    /// only for an authentic URL past its expiry.
    pub fn verify(&self, method: &str, key: &str, query: &str, now: DateTime<Utc>) -> Result<Grant, Error> {
        let mut q = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if q.insert(name.into_owned(), value.into_owned()).is_some() {
                return Err(invalid());
            }
        }
        let kind = match method {
            "PUT" if q.contains_key(UPLOAD_ID) || q.contains_key(PART) => Kind::Part,
            "PUT" => Kind::Put,
            "GET" | "HEAD" => Kind::Get,
            _ => return Err(invalid()),
        };
        self.check(kind, key, q, now)
    }

    /// Checks the fields of a signed form `POST` (every field before `file`); the key comes
    /// from the `key` field. The grant is a [`GrantKind::Put`].
    pub fn verify_form(&self, fields: &BTreeMap<String, String>, now: DateTime<Utc>) -> Result<Grant, Error> {
        let mut fields = fields.clone();
        let key = fields.remove(KEY).ok_or_else(invalid)?;
        self.check(Kind::Form, &key, fields, now)
    }

    fn check(
        &self,
        kind: Kind,
        key: &str,
        mut q: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Grant, Error> {
        key::validate(key).map_err(|_| invalid())?;
        let sig = q.remove(SIGNATURE).ok_or_else(invalid)?;
        let sig = URL_SAFE_NO_PAD.decode(sig.as_bytes()).map_err(|_| invalid())?;
        let values: Vec<String> = kind
            .params()
            .iter()
            .map(|name| q.remove(*name).ok_or_else(invalid))
            .collect::<Result<_, _>>()?;
        if !q.is_empty() {
            return Err(invalid());
        }
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let mut mac = self.mac.clone();
        mac.update(&canonical(kind, key, &values));
        // Constant time: `verify_slice` compares with `subtle`.
        mac.verify_slice(&sig).map_err(|_| invalid())?;

        // Authentic from here on: a value that does not parse is our own bug, still refused.
        let expires_at = values[0]
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(invalid)?;
        if now >= expires_at {
            return Err(expired());
        }
        let content_type = |s: &str| ContentType::parse(s).map_err(|_| invalid());
        let kind = match kind {
            Kind::Put | Kind::Form => GrantKind::Put(UploadConstraints {
                size: values[1].parse().map_err(|_| invalid())?,
                content_type: content_type(values[2])?,
                // The local store hashes what arrives itself; `complete` compares.
                sha256: None,
            }),
            Kind::Part => {
                key::validate_upload_id(values[1]).map_err(|_| invalid())?;
                GrantKind::Part {
                    upload_id: values[1].to_owned(),
                    part: values[2].parse().map_err(|_| invalid())?,
                }
            }
            Kind::Get => GrantKind::Get(DownloadOptions {
                disposition: match values[1] {
                    "inline" => Disposition::Inline,
                    "attachment" => Disposition::Attachment,
                    _ => return Err(invalid()),
                },
                filename: values[2].to_owned(),
                content_type: content_type(values[3])?,
            }),
        };
        Ok(Grant {
            key: key.to_owned(),
            expires_at,
            kind,
        })
    }
}

/// Unix seconds, rounded down: a URL never outlives the expiry it was asked for.
fn expires(at: DateTime<Utc>) -> String {
    at.timestamp().to_string()
}

/// `{base}/{segments…}` with the base's query and fragment dropped. A base URL that cannot
/// have a path (`mailto:`) is refused when the store opens, so `path_segments_mut` succeeds.
fn route(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// The bytes the MAC covers; see the module doc.
fn canonical(kind: Kind, key: &str, values: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(VERSION.as_bytes());
    out.push(b'\n');
    let fixed = [("kind", kind.tag()), ("method", kind.method()), ("key", key)];
    for (name, value) in fixed
        .into_iter()
        .chain(kind.params().iter().copied().zip(values.iter().copied()))
    {
        out.extend_from_slice(format!("{name}:{}:", value.len()).as_bytes());
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests;
