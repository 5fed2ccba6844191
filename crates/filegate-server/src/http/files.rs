//! `/v1/files`: read, status, signed download URL, list, change feed, patch, delete,
//! restore, batch delete. The bytes themselves are in `content.rs`.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use filegate_api::{BatchDeleted, ChangeList, DownloadView, FileList, FileView, PatchFile, StatusView};
use filegate_core::domain::{
    BucketName, ChangeCursor, DEFAULT_PAGE, FileId, FileQuery, FileStatus, MAX_PAGE, Metadata, ObjectPath, PageStart,
    Sort, decode_cursor, parse_metadata_filters, parse_prefix,
};
use filegate_core::ports::Disposition;
use filegate_core::usecases::files::{self, FileChange};
use filegate_core::usecases::uploads::parse_external_id;
use filegate_core::{Error, ErrorCode, Result};

use super::error::ApiResult;
use super::extract::{Json, MetadataQuery, Path, Query};
use super::views;
use crate::auth::Authenticated;
use crate::state::AppState;

/// A file's metadata and status.
#[utoipa::path(get, path = "/v1/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 200, body = FileView), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<FileView>> {
    Ok(Json(views::file(
        files::get(&state.services, &p, FileId::parse(&id)?).await?,
    )))
}

/// The cheap poll: status only.
#[utoipa::path(get, path = "/v1/files/{id}/status", tag = "files", params(("id" = String, Path)),
    responses((status = 200, body = StatusView), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusView>> {
    let file = files::get(&state.services, &p, FileId::parse(&id)?).await?;
    Ok(Json(views::status(&file)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    /// `attachment` (default) or `inline`.
    disposition: Option<String>,
}

/// A signed URL for the bytes, valid for an hour by default.
#[utoipa::path(get, path = "/v1/files/{id}/download", tag = "files", params(("id" = String, Path), DownloadParams),
    responses((status = 200, body = DownloadView), (status = 404, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    Query(params): Query<DownloadParams>,
) -> ApiResult<Json<DownloadView>> {
    let disposition = match params.disposition.as_deref() {
        None | Some("attachment") => Disposition::Attachment,
        Some("inline") => Disposition::Inline,
        Some(_) => return Err(Error::invalid(ErrorCode::InvalidQuery, "disposition is inline or attachment").into()),
    };
    let url = files::download_url(&state.services, &p, FileId::parse(&id)?, disposition).await?;
    Ok(Json(DownloadView {
        url: url.url,
        expires_at: url.expires_at,
    }))
}

// Read through `MetadataQuery`, which utoipa does not know for a query: say where they are.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    bucket: Option<String>,
    /// Paths beginning with this; a folder ends with `/`.
    prefix: Option<String>,
    /// `/`: only the files directly in the folder `prefix` names, not those in its
    /// subfolders (which `GET /v1/folders` lists).
    delimiter: Option<String>,
    status: Option<String>,
    content_type: Option<String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    /// Only the files with this external id (as given at upload).
    external_id: Option<String>,
    /// `created_at`, `-created_at`, `name`, `-name`, `size`, `-size`.
    sort: Option<String>,
    /// 1 to 1000, default 50.
    limit: Option<u32>,
    cursor: Option<String>,
    /// Instead of `cursor`; the answer then carries `total`.
    offset: Option<u64>,
}

fn parse_list(params: ListParams, metadata: Vec<(String, String)>) -> Result<FileQuery> {
    let sort = params.sort.as_deref().map(Sort::parse).transpose()?.unwrap_or_default();
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let start = match (params.cursor, params.offset) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                ErrorCode::InvalidQuery,
                "use cursor or offset, not both",
            ));
        }
        (Some(c), None) => PageStart::After(decode_cursor(sort, &c)?),
        (None, Some(o)) => PageStart::Offset(o),
        (None, None) => PageStart::First,
    };
    let content_type = match params.content_type {
        Some(ct) => {
            let probe = ct.replace('*', "x");
            filegate_core::domain::ContentType::parse(&probe)?;
            Some(ct.to_ascii_lowercase())
        }
        None => None,
    };
    let prefix = params.prefix.as_deref().map(parse_prefix).transpose()?;
    let direct = match params.delimiter.as_deref() {
        None => false,
        Some("/") if prefix.as_deref().is_none_or(|p| p.is_empty() || p.ends_with('/')) => true,
        Some("/") => {
            return Err(Error::invalid(
                ErrorCode::InvalidQuery,
                "with delimiter=/, the prefix is a folder: empty or ending with /",
            ));
        }
        Some(_) => return Err(Error::invalid(ErrorCode::InvalidQuery, "the only delimiter is /")),
    };
    Ok(FileQuery {
        bucket: params.bucket.as_deref().map(BucketName::parse).transpose()?,
        prefix,
        direct,
        status: params.status.as_deref().map(str::parse::<FileStatus>).transpose()?,
        content_type,
        created_after: params.created_after,
        created_before: params.created_before,
        min_size: params.min_size,
        max_size: params.max_size,
        metadata: parse_metadata_filters(metadata)?,
        external_id: params.external_id.as_deref().map(parse_external_id).transpose()?,
        owner: None,
        sort,
        limit,
        start,
    })
}

/// Files of the caller's tenant, filtered, sorted, paginated with a stable order.
#[utoipa::path(get, path = "/v1/files", tag = "files",
    params(ListParams, ("metadata.KEY" = Option<String>, Query,
        description = "Only the files whose metadata has KEY with exactly this value; repeat for more keys (all must hold, at most 16).")),
    responses((status = 200, body = FileList), (status = 400, body = filegate_api::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    query: MetadataQuery<ListParams>,
) -> ApiResult<Json<FileList>> {
    let page = files::list(&state.services, &p, parse_list(query.params, query.metadata)?).await?;
    Ok(Json(FileList {
        items: page.items.into_iter().map(views::file).collect(),
        next_cursor: page.next_cursor,
        total: page.total,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    /// The `next_cursor` of the previous answer; absent for the beginning.
    since: Option<String>,
    limit: Option<u32>,
}

/// What changed since a cursor, deletions included: how a sync client catches up.
#[utoipa::path(get, path = "/v1/files/changes", tag = "files", params(ChangesParams),
    responses((status = 200, body = ChangeList), (status = 400, body = filegate_api::ErrorBody)))]
pub async fn changes(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<ChangesParams>,
) -> ApiResult<Json<ChangeList>> {
    let since = match params.since.as_deref() {
        None | Some("") => ChangeCursor::START,
        Some(s) => s.parse::<ChangeCursor>().map_err(|_| {
            Error::invalid(
                ErrorCode::InvalidCursor,
                "since must be a cursor from a previous answer",
            )
        })?,
    };
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::invalid(ErrorCode::InvalidQuery, format!("limit must be 1 to {MAX_PAGE}")).into());
    }
    let page = files::changes(&state.services, &p, since, limit).await?;
    Ok(Json(ChangeList {
        items: page.items.into_iter().map(views::file).collect(),
        next_cursor: page.next_since.to_string(),
    }))
}

/// Renames a file or replaces its metadata.
#[utoipa::path(patch, path = "/v1/files/{id}", tag = "files", params(("id" = String, Path)), request_body = PatchFile,
    responses((status = 200, body = FileView), (status = 404, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    Json(req): Json<PatchFile>,
) -> ApiResult<Json<FileView>> {
    let id = FileId::parse(&id)?;
    let change = FileChange {
        path: req.path.as_deref().map(ObjectPath::parse).transpose()?,
        metadata: req.metadata.map(Metadata::parse).transpose()?,
    };
    Ok(Json(views::file(files::patch(&state.services, &p, id, change).await?)))
}

/// Soft delete: answered at once, restorable within the bucket's retention.
#[utoipa::path(delete, path = "/v1/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 200, body = FileView), (status = 404, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<FileView>> {
    Ok(Json(views::file(
        files::delete(&state.services, &p, FileId::parse(&id)?).await?,
    )))
}

/// Undoes a soft delete.
#[utoipa::path(post, path = "/v1/files/{id}/restore", tag = "files", params(("id" = String, Path)),
    responses((status = 200, body = FileView), (status = 404, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn restore(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<FileView>> {
    Ok(Json(views::file(
        files::restore(&state.services, &p, FileId::parse(&id)?).await?,
    )))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BatchDeleteParams {
    /// Comma-separated file ids, at most 1000.
    ids: String,
}

/// Deletes up to 1000 files at once.
#[utoipa::path(delete, path = "/v1/files", tag = "files", params(BatchDeleteParams),
    responses((status = 200, body = BatchDeleted), (status = 400, body = filegate_api::ErrorBody)))]
pub async fn delete_many(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(params): Query<BatchDeleteParams>,
) -> ApiResult<Json<BatchDeleted>> {
    let ids: Vec<String> = params
        .ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let out = files::delete_many(&state.services, &p, ids).await?;
    Ok(Json(BatchDeleted {
        deleted: out.deleted.iter().map(ToString::to_string).collect(),
        not_found: out.not_found,
    }))
}
