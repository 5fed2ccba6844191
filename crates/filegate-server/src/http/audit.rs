//! `GET /v1/audit` (tenant admin): the audit trail, newest first, with filters and a cursor.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use filegate_api::{AuditEntry, AuditList};
use filegate_core::domain::{AuditAction, AuditQuery, AuditRecord, FileId};
use filegate_core::usecases::audit;
use filegate_core::{Error, ErrorCode};

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    file_id: Option<String>,
    actor: Option<String>,
    /// An action (`file.downloaded`) or a family (`file.*`).
    action: Option<String>,
    /// Records at or after this time.
    since: Option<DateTime<Utc>>,
    /// 1 to 500, default 100.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn parse(params: AuditParams) -> Result<AuditQuery, Error> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > filegate_core::domain::MAX_AUDIT_PAGE {
        return Err(Error::invalid(ErrorCode::InvalidQuery, "limit must be 1 to 500"));
    }
    // An unknown file id matches nothing; a malformed one is a mistake worth saying.
    let file_id = params
        .file_id
        .as_deref()
        .map(|f| FileId::parse(f).map_err(|_| Error::invalid(ErrorCode::InvalidQuery, "file_id is not a file id")))
        .transpose()?;
    let actor = match params.actor {
        Some(a) if a.is_empty() || a.len() > 256 => {
            return Err(Error::invalid(ErrorCode::InvalidQuery, "actor is 1-256 characters"));
        }
        other => other,
    };
    let before_seq = params
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::invalid(ErrorCode::InvalidCursor, "cursor must come from a previous answer"))
        })
        .transpose()?;
    Ok(AuditQuery {
        file_id,
        actor,
        action: params.action.as_deref().map(AuditAction::parse).transpose()?,
        since: params.since,
        before_seq,
        limit,
    })
}

fn entry(r: AuditRecord) -> AuditEntry {
    AuditEntry {
        id: r.id.to_string(),
        tenant: r.tenant.to_string(),
        actor: r.actor,
        action: r.action,
        file_id: r.file_id.map(|f| f.to_string()),
        request_id: r.request_id,
        client_ip: r.client_ip,
        user_agent: r.user_agent,
        at: r.at,
        details: r.details,
    }
}

/// The tenant's audit trail: uploads, downloads, deletes, restores, passphrase reads and
/// rotations, request and admin changes.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditList), (status = 400, body = filegate_api::ErrorBody),
        (status = 403, body = filegate_api::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<AuditParams>,
) -> ApiResult<Json<AuditList>> {
    let (records, next) = audit::list(&state.services, &p, parse(params)?).await?;
    Ok(Json(AuditList {
        items: records.into_iter().map(entry).collect(),
        next_cursor: next.map(|seq| seq.to_string()),
    }))
}
