//! The errors use cases return. Only `filegate-server::http::error` turns them into HTTP.

use std::time::Duration;

mod code;

pub use code::{ErrorCode, reference_markdown};

/// What a use case can fail with. Variants carry what the caller needs to decide; free text
/// in `message` is for people and must never contain internal detail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input was understood but is not acceptable (bad path, bad size, ...).
    #[error("{message}")]
    Invalid { code: ErrorCode, message: String },
    /// No credentials, or credentials that do not verify.
    #[error("{message}")]
    Unauthenticated { code: ErrorCode, message: String },
    /// Authenticated, but the principal's roles do not allow this.
    #[error("{message}")]
    Forbidden { code: ErrorCode, message: String },
    /// The thing does not exist *for this tenant*. Another tenant's id is also `NotFound`.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request conflicts with the current state (already exists, wrong status).
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// A size limit was exceeded (declared or while streaming).
    #[error("{message}")]
    TooLarge { code: ErrorCode, message: String },
    /// The content type is not allowed here.
    #[error("{message}")]
    UnsupportedType { message: String },
    /// The bytes that arrived do not match what was declared (size, etag, sha256).
    #[error("{message}")]
    Mismatch { code: ErrorCode, message: String },
    /// A dependency (database, storage) is down; the caller may retry after the hint.
    #[error("{what} unavailable: {source}")]
    Unavailable {
        what: &'static str,
        retry_after: Duration,
        #[source]
        source: anyhow::Error,
    },
    /// The principal made too many requests; a request after `retry_after` is allowed.
    #[error("rate limit exceeded; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// Too many failed attempts at one thing (a share's password): refused, whatever is sent,
    /// until `retry_after` has passed.
    #[error("{message}")]
    Locked {
        code: ErrorCode,
        message: String,
        retry_after: Duration,
    },
    /// A service filegate called on the caller's behalf (a trigger's target) gave no usable
    /// answer: it timed out, or could not be reached (the code tells which).
    #[error("{message}")]
    Upstream { code: ErrorCode, message: String },
    /// A bug or an unexpected engine failure. Logged with detail, answered as a plain 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            code: ErrorCode::Forbidden,
            message: message.into(),
        }
    }
    pub fn unauthenticated(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Unauthenticated {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn mismatch(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Mismatch {
            code,
            message: message.into(),
        }
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::TooLarge {
            code: ErrorCode::FileTooLarge,
            message: message.into(),
        }
    }
    /// `quota-exceeded` (413), naming the limit, the usage and the maximum.
    pub fn quota_exceeded(exceeded: crate::domain::QuotaExceeded) -> Self {
        Self::TooLarge {
            code: ErrorCode::QuotaExceeded,
            message: exceeded.to_string(),
        }
    }
    pub fn not_found(what: &'static str) -> Self {
        Self::NotFound { what }
    }

    /// The machine code clients see; it also decides the HTTP status.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid { code, .. }
            | Self::Unauthenticated { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::TooLarge { code, .. }
            | Self::Mismatch { code, .. }
            | Self::Locked { code, .. }
            | Self::Upstream { code, .. } => *code,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::UnsupportedType { .. } => ErrorCode::UnsupportedContentType,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// What an engine (store, queue, blob store) can fail with. Callers match on the variant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// More bytes arrived than the limit allows (`limit` bytes).
    #[error("more than {0} bytes")]
    TooLarge(u64),
    /// The incoming body broke off or was malformed.
    #[error("bad input: {0}")]
    Input(String),
    /// The tenant's storage quota does not allow this file (checked in the transaction that
    /// would have inserted it).
    #[error("{0}")]
    QuotaExceeded(crate::domain::QuotaExceeded),
    /// The engine cannot be reached right now (connection refused, pool timeout, disk gone).
    #[error("engine unavailable: {0}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound { what: "resource" },
            StoreError::Conflict(m) => Error::Conflict {
                code: ErrorCode::Conflict,
                message: m,
            },
            StoreError::TooLarge(limit) => Error::too_large(format!("the body exceeds the limit of {limit} bytes")),
            StoreError::Input(m) => Error::invalid(ErrorCode::BodyInvalid, m),
            StoreError::QuotaExceeded(exceeded) => Error::quota_exceeded(exceeded),
            StoreError::Unavailable(source) => Error::Unavailable {
                what: "storage engine",
                retry_after: Duration::from_secs(2),
                source,
            },
            StoreError::Other(e) => Error::Internal(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
