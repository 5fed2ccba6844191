//! Reading answers: errors, JSON bodies, and streamed bytes ([`ContentResponse`]).

use std::{fmt, pin::Pin};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{Response, StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::io::StreamReader;

use crate::{Error, Result, error};

/// A body of bytes, read as it arrives.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// The most of an error body that is read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// `Ok(resp)` for 2xx answers, the decoded [`Error::Api`] otherwise.
pub(crate) async fn success(resp: Response) -> Result<Response> {
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(error_from(resp).await)
    }
}

/// Reads (a bounded amount of) a failed answer and decodes it.
pub(crate) async fn error_from(mut resp: Response) -> Error {
    let status = resp.status().as_u16();
    let request_id = header_str(resp.headers(), "x-request-id");
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) if body.is_empty() => return Error::Transport(e),
            Err(_) => break,
        }
    }
    error::decode_error(status, request_id.as_deref(), &body)
}

/// Decodes a 2xx JSON answer.
pub(crate) async fn json<T: DeserializeOwned>(resp: Response) -> Result<T> {
    let resp = success(resp).await?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await?;
    decode_json(status, &body)
}

pub(crate) fn decode_json<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let what = std::any::type_name::<T>().rsplit("::").next().unwrap_or("the answer");
        Error::Protocol(format!(
            "HTTP {status}: cannot decode {what}: {e}; body: {}",
            error::snippet(body)
        ))
    })
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A streamed answer with bytes: `GET …/content` or a signed download URL.
pub struct ContentResponse {
    /// 200, 206 (a range) or 304 (`If-None-Match` matched; no body).
    pub status: u16,
    pub headers: HeaderMap,
    /// The `ETag` header as sent (quoted), ready for `If-None-Match`.
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    pub content_range: Option<String>,
    pub content_length: Option<u64>,
    body: ByteStream,
}

impl fmt::Debug for ContentResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentResponse")
            .field("status", &self.status)
            .field("etag", &self.etag)
            .field("content_type", &self.content_type)
            .field("content_disposition", &self.content_disposition)
            .field("content_range", &self.content_range)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl ContentResponse {
    /// 2xx and 304 become a `ContentResponse`; anything else the decoded error.
    pub(crate) async fn from_response(resp: Response) -> Result<ContentResponse> {
        let resp = if resp.status() == StatusCode::NOT_MODIFIED {
            resp
        } else {
            success(resp).await?
        };
        let headers = resp.headers().clone();
        let get = |name: &str| header_str(&headers, name);
        Ok(ContentResponse {
            status: resp.status().as_u16(),
            etag: get("etag"),
            content_type: get("content-type"),
            content_disposition: get("content-disposition"),
            content_range: get("content-range"),
            content_length: get("content-length").and_then(|v| v.trim().parse().ok()),
            body: Box::pin(resp.bytes_stream().map_err(Error::Transport)),
            headers,
        })
    }

    /// Whether the server answered `304 Not Modified`.
    pub fn is_not_modified(&self) -> bool {
        self.status == 304
    }

    /// The `ETag` without quotes (and without a weak `W/` prefix).
    pub fn etag_value(&self) -> Option<String> {
        self.etag.as_deref().map(unquote_etag)
    }

    /// The body, as it arrives.
    pub fn into_stream(self) -> ByteStream {
        self.body
    }

    /// The body as an `AsyncRead`.
    pub fn into_reader(self) -> impl AsyncRead + Send + Unpin {
        StreamReader::new(self.body.map_err(std::io::Error::other))
    }

    /// The whole body in memory (for small files and tests).
    pub async fn bytes(self) -> Result<Bytes> {
        let mut buf = BytesMut::new();
        let mut body = self.body;
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Streams the body into `out`; returns how many bytes were written.
    pub async fn write_to(self, out: &mut (impl AsyncWrite + Unpin)) -> Result<u64> {
        let mut written = 0u64;
        let mut body = self.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            out.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        out.flush().await?;
        Ok(written)
    }
}

/// `"abc"` → `abc`, `W/"abc"` → `abc`, `abc` → `abc`.
pub(crate) fn unquote_etag(etag: &str) -> String {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_success_bodies_are_protocol_errors() {
        let e = decode_json::<filegate_api::Health>(200, b"<html>").unwrap_err();
        let Error::Protocol(msg) = e else { panic!("{e:?}") };
        assert!(msg.contains("Health") && msg.contains("<html>"), "{msg}");
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(unquote_etag("\"abc\""), "abc");
        assert_eq!(unquote_etag(" W/\"abc-1\" "), "abc-1");
        assert_eq!(unquote_etag("abc"), "abc");
        assert_eq!(unquote_etag("\"abc"), "\"abc");
    }
}
