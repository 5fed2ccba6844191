//! The client's error type and the decoding of the server's `ErrorBody`.

use std::time::Duration;

use filegate_api::ErrorBody;

/// What can go wrong talking to filegate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered a non-2xx status. `code` is the stable machine code from the
    /// `ErrorBody` (`not-found`, `file-too-large`, ...), or `unexpected-response` when the
    /// body was not an `ErrorBody` (then `message` holds a short snippet of it).
    #[error("{status} {code}: {message} (request id {request_id:?})")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    /// The request could not be sent or the answer could not be read.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// Reading a local file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// [`Client::wait_for_status`](crate::Client::wait_for_status) gave up.
    #[error("gave up after {waited:?}; the last status was {last_status:?}")]
    Timeout { waited: Duration, last_status: String },
    /// The caller handed the client something it cannot send (a bad URL, header or id).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The file cannot be downloaded: it is not `ready` (still processing, failed,
    /// quarantined, deleted...).
    #[error("file {id} is {status}, not ready{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    NotReady {
        id: String,
        status: String,
        reason: Option<String>,
    },
    /// The bytes that arrived are not the file's: another size or SHA-256.
    #[error("integrity: {0}")]
    Integrity(String),
    /// The server answered a success this client cannot follow (an undecodable body,
    /// inconsistent upload instructions, a missing `ETag`).
    #[error("protocol: {0}")]
    Protocol(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The code of an [`Error::Api`] whose body was not an `ErrorBody`.
pub const UNEXPECTED_RESPONSE: &str = "unexpected-response";

impl Error {
    /// The server's error code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, for API errors (and transport errors that carry one).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// The request id the server gave the failed request, for API errors.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } => Some(request_id),
            _ => None,
        }
    }

    /// Whether this is an API error with the given code.
    pub fn is(&self, code: &str) -> bool {
        self.code() == Some(code)
    }
}

/// How many characters of an unexpected body an error message keeps.
const SNIPPET_CHARS: usize = 200;

/// Decodes a non-2xx answer. `request_id` is the `X-Request-Id` header, used when the
/// body does not carry one.
pub(crate) fn decode_error(status: u16, request_id: Option<&str>, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => Error::Api {
            status,
            code: error.code,
            message: error.message,
            request_id: if error.request_id.is_empty() {
                request_id.unwrap_or_default().to_owned()
            } else {
                error.request_id
            },
        },
        Err(_) => Error::Api {
            status,
            code: UNEXPECTED_RESPONSE.to_owned(),
            message: format!("HTTP {status}: {}", snippet(body)),
            request_id: request_id.unwrap_or_default().to_owned(),
        },
    }
}

/// The start of a body, as text, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut out: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().nth(SNIPPET_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_an_error_body() {
        let body = br#"{"error":{"code":"not-found","status":404,"message":"no such file","request_id":"01J"}}"#;
        let e = decode_error(404, Some("header-id"), body);
        assert_eq!(e.code(), Some("not-found"));
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.request_id(), Some("01J"));
        assert!(e.is("not-found"));
        assert!(e.to_string().contains("no such file"), "{e}");
    }

    #[test]
    fn an_empty_request_id_in_the_body_falls_back_to_the_header() {
        let body = br#"{"error":{"code":"x","status":400,"message":"m","request_id":""}}"#;
        let e = decode_error(400, Some("from-header"), body);
        assert_eq!(e.request_id(), Some("from-header"));
    }

    #[test]
    fn a_foreign_body_becomes_unexpected_response_with_a_snippet() {
        let body = format!("<html>{}</html>", "x".repeat(1000));
        let e = decode_error(502, Some("rid"), body.as_bytes());
        assert_eq!(e.code(), Some(UNEXPECTED_RESPONSE));
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.request_id(), Some("rid"));
        let Error::Api { message, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(message.starts_with("HTTP 502: <html>xxx"), "{message}");
        assert!(message.chars().count() < 230, "{message}");
        assert!(message.ends_with('…'));
    }

    #[test]
    fn an_empty_body_says_so() {
        let e = decode_error(500, None, b"");
        assert_eq!(e.code(), Some(UNEXPECTED_RESPONSE));
        assert_eq!(e.request_id(), Some(""));
        assert!(e.to_string().contains("(empty body)"), "{e}");
    }

    #[test]
    fn non_api_errors_have_no_code() {
        let e = Error::Timeout {
            waited: Duration::from_secs(1),
            last_status: "processing".into(),
        };
        assert_eq!(e.code(), None);
        assert_eq!(e.status(), None);
        assert!(e.to_string().contains("processing"));
    }
}
