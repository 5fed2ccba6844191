//! `GET /v1/audit`: the tenant's audit trail, for admins.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub tenant: String,
    /// A JWT `sub`, `key:<id>` for an API key, or `system:<part>` for filegate itself.
    pub actor: String,
    pub action: String,
    pub file_id: Option<String>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A page of the trail, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// The filters of `GET /v1/audit`, for the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub file_id: Option<String>,
    pub actor: Option<String>,
    /// `file.downloaded`, or a family: `file.*`.
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl AuditFilter {
    /// The query string pairs.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut add = |k, v: Option<String>| {
            if let Some(v) = v {
                pairs.push((k, v));
            }
        };
        add("file_id", self.file_id.clone());
        add("actor", self.actor.clone());
        add("action", self.action.clone());
        add(
            "since",
            self.since
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        add("limit", self.limit.map(|l| l.to_string()));
        add("cursor", self.cursor.clone());
        pairs
    }
}
