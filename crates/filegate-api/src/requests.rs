use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/requests` (admin): what a partner must upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFileRequest {
    /// Free-form JSON object, e.g. `{"patients": ["123"], "units": ["icu"], "from": "...", "to": "..."}`.
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileRequestView {
    pub id: String,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    pub note: String,
    /// `pending`, `fulfilled` or `cancelled`.
    pub status: String,
    pub due_at: Option<DateTime<Utc>>,
    /// The file that fulfilled it.
    pub file_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /v1/requests?status=pending`: oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileRequestList {
    pub items: Vec<FileRequestView>,
}
