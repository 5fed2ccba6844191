//! The audit trail: who did what to which file, from where, and when. Records are only ever
//! appended; no code path changes or removes one (the databases refuse it too).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FileId, TenantId};
use crate::error::{Error, ErrorCode};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unique. A UUIDv7 for ordinary records; a deterministic id for actions that must be
    /// recorded at most once (a job that runs twice appends the same id, which is ignored).
    pub id: Uuid,
    pub tenant: TenantId,
    /// A JWT `sub`, `key:<id>` for an API key, or `system:<part>` for filegate itself.
    pub actor: String,
    /// `file.downloaded`, `exchange.passphrase_read`, `bucket.updated`, ...
    pub action: String,
    pub file_id: Option<FileId>,
    /// The correlation id of the HTTP request that caused it (`X-Request-Id`).
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: DateTime<Utc>,
    /// What else there is to know (the new name, the bucket policy, the passphrase version);
    /// never a secret.
    pub details: serde_json::Value,
    /// Position in the log, assigned by the store on append; the cursor of the listing.
    pub seq: i64,
}

/// Which records an admin asks for: newest first, filters combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub file_id: Option<FileId>,
    pub actor: Option<String>,
    /// An exact action, or a family with a trailing `*` (`file.*`).
    pub action: Option<AuditAction>,
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records older than this position (the previous page's cursor).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// An action filter: `file.downloaded` or `file.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditAction {
    Exact(String),
    Prefix(String),
}

impl AuditAction {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let valid = |p: &str| {
            !p.is_empty()
                && p.len() <= 100
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        match s.strip_suffix('*') {
            Some(prefix) if prefix.is_empty() || valid(prefix) => Ok(Self::Prefix(prefix.to_owned())),
            None if valid(s) => Ok(Self::Exact(s.to_owned())),
            _ => Err(Error::invalid(
                ErrorCode::InvalidQuery,
                "action is an action name (`file.downloaded`) or a family (`file.*`)",
            )),
        }
    }
}

/// The most records one page holds.
pub const MAX_AUDIT_PAGE: u32 = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_names_or_families() {
        assert_eq!(
            AuditAction::parse("file.downloaded").unwrap(),
            AuditAction::Exact("file.downloaded".into())
        );
        assert_eq!(
            AuditAction::parse("file.*").unwrap(),
            AuditAction::Prefix("file.".into())
        );
        assert_eq!(AuditAction::parse("*").unwrap(), AuditAction::Prefix(String::new()));
        for bad in ["", "FILE", "file.%", "a*b", "file.**", "x'--"] {
            assert!(AuditAction::parse(bad).is_err(), "{bad:?}");
        }
    }
}
