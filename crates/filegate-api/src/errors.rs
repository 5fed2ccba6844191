use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code (`file-too-large`, `not-found`, ...); docs/errors.md lists them all.
    pub code: String,
    pub status: u16,
    /// For people; never contains internal detail.
    pub message: String,
    /// The request's correlation id, also in the `X-Request-Id` header.
    pub request_id: String,
}
