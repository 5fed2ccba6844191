//! Talking to signed URLs (which carry their own authority, so no bearer token is sent
//! to them), and request bodies ([`Payload`]).

use std::{collections::BTreeMap, path::Path};

use bytes::Bytes;
use reqwest::{
    Body,
    header::{self, HeaderMap, HeaderName, HeaderValue},
    multipart::{Form, Part},
};
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;
use url::Url;

use crate::{
    Client, ContentResponse, Error, Result,
    response::{header_str, success, unquote_etag},
};

/// The buffer of a streamed reader.
const READ_CHUNK: usize = 64 * 1024;

/// A request body and, when known, its length (sent as `Content-Length`; signed URLs
/// pin the size, and S3-compatible stores refuse chunked uploads).
#[derive(Debug)]
pub struct Payload {
    body: Body,
    size: Option<u64>,
}

impl Payload {
    /// A body of known length, e.g. a stream.
    pub fn sized(body: impl Into<Body>, size: u64) -> Payload {
        Payload {
            body: body.into(),
            size: Some(size),
        }
    }

    /// Streams `size` bytes from a reader, never holding more than a small buffer.
    pub fn from_reader(reader: impl AsyncRead + Send + 'static, size: u64) -> Payload {
        let chunks = ReaderStream::with_capacity(reader, READ_CHUNK);
        Payload::sized(Body::wrap_stream(chunks), size)
    }

    /// Streams a whole file.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Payload> {
        let file = tokio::fs::File::open(path).await?;
        let size = file.metadata().await?.len();
        Ok(Payload::from_reader(file, size))
    }

    /// The length, when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    pub fn into_body(self) -> Body {
        self.body
    }
}

/// A buffered body knows its length; a stream does not (use [`Payload::sized`]).
impl From<Body> for Payload {
    fn from(body: Body) -> Payload {
        let size = body.as_bytes().map(|b| b.len() as u64);
        Payload { body, size }
    }
}

macro_rules! buffered_payload {
    ($($t:ty),*) => {$(
        impl From<$t> for Payload {
            fn from(value: $t) -> Payload {
                Payload::from(Body::from(value))
            }
        }
    )*};
}
buffered_payload!(Bytes, Vec<u8>, String, &'static [u8], &'static str);

/// The headers a signed URL asks for, plus `Content-Length` when known and not given.
pub(crate) fn signed_headers(given: &BTreeMap<String, String>, size: Option<u64>) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for (name, value) in given {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::Invalid(format!("header name {name:?}")))?;
        let value = HeaderValue::from_str(value).map_err(|_| Error::Invalid(format!("value of header {name}")))?;
        headers.insert(name, value);
    }
    if let Some(size) = size {
        headers
            .entry(header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(size));
    }
    Ok(headers)
}

impl Client {
    /// Resolves a signed URL; a relative one is taken relative to the base URL.
    fn signed_url(&self, url: &str) -> Result<Url> {
        self.base
            .join(url)
            .map_err(|e| Error::Invalid(format!("signed URL {url:?}: {e}")))
    }

    /// `PUT`s a body to a signed URL with the headers the upload instructions gave;
    /// returns the answer's `ETag`, without quotes.
    pub async fn put_signed(
        &self,
        url: &str,
        headers: &BTreeMap<String, String>,
        body: impl Into<Payload>,
    ) -> Result<String> {
        let body = body.into();
        let headers = signed_headers(headers, body.size)?;
        let resp = self
            .http
            .put(self.signed_url(url)?)
            .headers(headers)
            .body(body.body)
            .send()
            .await?;
        let resp = success(resp).await?;
        let etag = header_str(resp.headers(), "etag")
            .ok_or_else(|| Error::Protocol(format!("PUT {url} answered without an ETag")))?;
        Ok(unquote_etag(&etag))
    }

    /// `POST`s a browser-style form to a signed URL: every field, then the file as the
    /// last field, `file`. Returns the answer's `ETag` (without quotes) when it has one.
    pub async fn post_form_signed(
        &self,
        url: &str,
        fields: &BTreeMap<String, String>,
        file_name: &str,
        content_type: &str,
        body: impl Into<Payload>,
    ) -> Result<Option<String>> {
        let mut form = Form::new();
        for (name, value) in fields {
            form = form.text(name.clone(), value.clone());
        }
        let form = form.part("file", file_part(body.into(), file_name, content_type)?);
        let resp = self.http.post(self.signed_url(url)?).multipart(form).send().await?;
        let resp = success(resp).await?;
        Ok(header_str(resp.headers(), "etag").map(|e| unquote_etag(&e)))
    }

    /// `GET`s a signed download URL, optionally a `Range` (`bytes=0-99`).
    pub async fn get_signed(&self, url: &str, range: Option<String>) -> Result<ContentResponse> {
        let mut request = self.http.get(self.signed_url(url)?);
        if let Some(range) = range {
            request = request.header(header::RANGE, range);
        }
        ContentResponse::from_response(request.send().await?).await
    }
}

/// A multipart file part that streams its body (with its length when known, so the
/// whole form has a `Content-Length`).
pub(crate) fn file_part(body: Payload, file_name: &str, content_type: &str) -> Result<Part> {
    let part = match body.size {
        Some(size) => Part::stream_with_length(body.body, size),
        None => Part::stream(body.body),
    };
    part.file_name(file_name.to_owned())
        .mime_str(content_type)
        .map_err(|_| Error::Invalid(format!("content type {content_type:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_headers_add_the_length_unless_given() {
        let given = BTreeMap::from([("content-type".to_owned(), "text/csv".to_owned())]);
        let h = signed_headers(&given, Some(18233)).unwrap();
        assert_eq!(h["content-type"], "text/csv");
        assert_eq!(h["content-length"], "18233");
        let given = BTreeMap::from([("Content-Length".to_owned(), "5".to_owned())]);
        let h = signed_headers(&given, Some(5)).unwrap();
        assert_eq!(h.get_all("content-length").iter().count(), 1);
        assert!(signed_headers(&given, None).is_ok());
        let bad = BTreeMap::from([("bad name".to_owned(), "v".to_owned())]);
        assert!(matches!(signed_headers(&bad, None), Err(Error::Invalid(_))));
        let bad = BTreeMap::from([("x-ok".to_owned(), "line\nbreak".to_owned())]);
        assert!(matches!(signed_headers(&bad, None), Err(Error::Invalid(_))));
    }

    #[test]
    fn buffered_payloads_know_their_length() {
        assert_eq!(Payload::from(Bytes::from_static(b"hello")).size(), Some(5));
        assert_eq!(Payload::from("hi").size(), Some(2));
        assert_eq!(Payload::from(vec![0u8; 7]).size(), Some(7));
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]);
        assert_eq!(Payload::from(Body::wrap_stream(stream)).size(), None);
        assert_eq!(Payload::from_reader(&b"abc"[..], 3).size(), Some(3));
    }
}
