//! What an S3 answer that is not a success means for the caller.
//!
//! | answer | `StoreError` |
//! |---|---|
//! | no connection, a timeout, `5xx`, `SlowDown` | `Unavailable` (retry later) |
//! | `404`, `NoSuchKey`, `NoSuchUpload` | `NotFound` |
//! | `InvalidPart`, `EntityTooSmall` | `Conflict` |
//! | `InvalidPartOrder`, `InvalidRange`, `416` | `Input` |
//! | `403` | `Other`, saying the credentials, region or clock are wrong |
//! | `NoSuchBucket`, anything else | `Other` |

use filegate_core::StoreError;
use reqwest::StatusCode;

use super::xml::{self, ErrorBody};

/// Error bodies are small; anything past this is not read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// An S3 answer that is not a success.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl Failure {
    /// Reads the (bounded) error document of `resp`.
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let body = read_bounded(resp, MAX_ERROR_BODY).await;
        Self {
            status,
            body: xml::error(&body).unwrap_or_default(),
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.body.code == code
    }

    pub fn into_error(self, doing: &str) -> StoreError {
        let Self { status, body } = self;
        let code = body.code.as_str();
        let what = if code.is_empty() {
            format!("S3 {doing}: {status}")
        } else {
            format!("S3 {doing}: {status} {code}: {}", body.message)
        };
        match code {
            "NoSuchKey" | "NoSuchUpload" => return StoreError::NotFound,
            "NoSuchBucket" => {
                return StoreError::Other(anyhow::anyhow!("{what} (the configured bucket does not exist)"));
            }
            "InvalidPart" | "EntityTooSmall" => return StoreError::Conflict(what),
            "InvalidPartOrder" | "InvalidRange" => return StoreError::Input(what),
            "SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout" => {
                return StoreError::Unavailable(anyhow::anyhow!(what));
            }
            _ => {}
        }
        match status {
            StatusCode::NOT_FOUND => StoreError::NotFound,
            StatusCode::RANGE_NOT_SATISFIABLE => StoreError::Input(what),
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                StoreError::Unavailable(anyhow::anyhow!(what))
            }
            StatusCode::FORBIDDEN => StoreError::Other(anyhow::anyhow!(
                "{what} (S3 refused filegate's own request: check the access key, the secret key, \
                 the region, the bucket's permissions, and that this machine's clock is right)"
            )),
            _ => StoreError::Other(anyhow::anyhow!(what)),
        }
    }
}

/// A request that got no answer: the store is unreachable or too slow, so retry later.
pub fn transport(doing: &str, e: reqwest::Error) -> StoreError {
    if e.is_builder() {
        StoreError::Other(anyhow::Error::new(e).context(format!("S3 {doing}: building the request")))
    } else {
        StoreError::Unavailable(anyhow::Error::new(e).context(format!("S3 {doing}")))
    }
}

/// Up to `limit` bytes of the body, lossily as text; a body that breaks off ends early.
pub async fn read_bounded(mut resp: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while body.len() < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, code: &str) -> StoreError {
        Failure {
            status: StatusCode::from_u16(status).unwrap(),
            body: ErrorBody {
                code: code.into(),
                message: "m".into(),
            },
        }
        .into_error("doing")
    }

    #[test]
    fn answers_map_to_what_callers_match_on() {
        assert!(matches!(failure(404, "NoSuchKey"), StoreError::NotFound));
        assert!(matches!(failure(404, "NoSuchUpload"), StoreError::NotFound));
        assert!(matches!(failure(404, ""), StoreError::NotFound));
        assert!(matches!(failure(404, "NoSuchBucket"), StoreError::Other(_)));
        assert!(matches!(failure(400, "InvalidPart"), StoreError::Conflict(_)));
        assert!(matches!(failure(400, "EntityTooSmall"), StoreError::Conflict(_)));
        assert!(matches!(failure(400, "InvalidPartOrder"), StoreError::Input(_)));
        assert!(matches!(failure(416, ""), StoreError::Input(_)));
        assert!(matches!(failure(500, "InternalError"), StoreError::Unavailable(_)));
        assert!(matches!(failure(200, "InternalError"), StoreError::Unavailable(_)));
        assert!(matches!(failure(503, "SlowDown"), StoreError::Unavailable(_)));
        assert!(matches!(failure(502, ""), StoreError::Unavailable(_)));
        match failure(403, "SignatureDoesNotMatch") {
            StoreError::Other(e) => assert!(e.to_string().contains("secret key"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(failure(400, "InvalidArgument"), StoreError::Other(_)));
    }
}
