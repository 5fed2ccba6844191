//! `GET /v1/folders`: the folders directly in a folder of a bucket, for a folder view
//! (the files directly in it are `GET /v1/files?prefix=…&delimiter=/`).

use axum::extract::State;
use serde::Deserialize;

use filegate_api::{FolderList, FolderView};
use filegate_core::domain::{BucketName, parse_prefix};
use filegate_core::usecases::folders::{self, MAX_FOLDERS};
use filegate_core::{Error, ErrorCode, Result};

use super::error::ApiResult;
use super::extract::{Json, Query};
use crate::auth::Authenticated;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FolderParams {
    bucket: String,
    /// The folder: empty for the bucket's top, else ending with `/`.
    prefix: Option<String>,
    /// 1 to 1000, default 1000.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

struct Parsed {
    bucket: BucketName,
    folder: String,
    limit: u32,
    after: Option<String>,
}

fn parse(params: FolderParams) -> Result<Parsed> {
    let folder = parse_prefix(params.prefix.as_deref().unwrap_or_default())?;
    if !(folder.is_empty() || folder.ends_with('/')) {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            "prefix names a folder: empty or ending with /",
        ));
    }
    let limit = params.limit.unwrap_or(MAX_FOLDERS);
    if limit == 0 || limit > MAX_FOLDERS {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            format!("limit must be 1 to {MAX_FOLDERS}"),
        ));
    }
    // A cursor is a folder name: one segment of a path.
    let after = match params.cursor {
        Some(c) if c.is_empty() || c.contains('/') || c.chars().any(char::is_control) => {
            return Err(Error::invalid(
                ErrorCode::InvalidCursor,
                "the cursor is not one of ours",
            ));
        }
        other => other,
    };
    Ok(Parsed {
        bucket: BucketName::parse(&params.bucket)?,
        folder,
        limit,
        after,
    })
}

/// The folders directly in `prefix`, in byte order of their names.
#[utoipa::path(get, path = "/v1/folders", tag = "files", params(FolderParams),
    responses((status = 200, body = FolderList), (status = 400, body = filegate_api::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<FolderParams>,
) -> ApiResult<Json<FolderList>> {
    let q = parse(params)?;
    let page = folders::list(&state.services, &p, &q.bucket, &q.folder, q.after.as_deref(), q.limit).await?;
    Ok(Json(FolderList {
        items: page
            .names
            .into_iter()
            .map(|name| FolderView {
                prefix: format!("{}{name}/", q.folder),
                name,
            })
            .collect(),
        next_cursor: page.next,
    }))
}
