//! Answering with stored bytes: status, length, range and caching headers, and a
//! Content-Disposition that is safe for any file name. Every route that answers with
//! stored bytes goes through [`bytes_response`] (`/content`, the local store's signed
//! URLs, public buckets, share links, thumbnails), so every one of them sends `nosniff`
//! and the sandbox CSP: an uploader's HTML or SVG never runs in filegate's origin.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use filegate_core::domain::{ByteRange, ContentType, ETag};
use filegate_core::ports::{ByteStream, Disposition};

/// On every answer with a user's bytes (shown inline or not: a browser may still render
/// an attachment it was navigated to): an HTML or SVG file becomes an opaque origin that
/// runs no script and loads nothing of ours.
pub const SANDBOX_CSP: &str =
    "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

/// What the headers describe.
pub struct Served<'a> {
    pub size: u64,
    pub range: Option<ByteRange>,
    pub etag: Option<&'a ETag>,
    pub content_type: &'a ContentType,
    pub filename: &'a str,
    pub disposition: Disposition,
    /// `Cache-Control` value.
    pub cache: &'static str,
}

/// `Disposition::header_value` as a header; it is always a valid one.
pub fn content_disposition(disposition: Disposition, filename: &str) -> HeaderValue {
    HeaderValue::from_str(&disposition.header_value(filename))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

pub fn bytes_response(served: &Served<'_>, body: ByteStream) -> Response {
    let (status, length) = match served.range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.len()),
        None => (StatusCode::OK, served.size),
    };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(served.cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SANDBOX_CSP));
    if let Ok(v) = HeaderValue::from_str(served.content_type.as_str()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(served.disposition, served.filename),
    );
    if let Some(etag) = served.etag
        && let Ok(v) = HeaderValue::from_str(&etag.quoted())
    {
        headers.insert(header::ETAG, v);
    }
    if let Some(r) = served.range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{}", r.start, r.end, served.size))
    {
        headers.insert(header::CONTENT_RANGE, v);
    }
    response
}

pub fn not_modified(etag: Option<&ETag>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    if let Some(etag) = etag
        && let Ok(v) = HeaderValue::from_str(&etag.quoted())
    {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// For a refused range, the size goes in `Content-Range: bytes */size` (RFC 9110).
pub fn unsatisfiable_range_header(response: &mut Response, size: u64) {
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_cannot_break_out() {
        let v = content_disposition(Disposition::Attachment, "a\"b\r\nSet-Cookie: x.pdf");
        let s = v.to_str().unwrap();
        assert!(s.starts_with("attachment; filename=\"a_b__Set-Cookie: x.pdf\""), "{s}");
        assert!(!s.contains('\r') && !s.contains('\n'));
        let v = content_disposition(Disposition::Inline, "dossier médical.pdf");
        assert_eq!(
            v.to_str().unwrap(),
            "inline; filename=\"dossier m_dical.pdf\"; filename*=UTF-8''dossier%20m%C3%A9dical.pdf"
        );
    }
}
