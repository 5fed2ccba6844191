//! Files: read, download, list, change feed, rename, soft delete, restore.

use chrono::{DateTime, Utc};

use serde_json::json;

use super::audit::{self, Actor};
use super::context::{HasAudit, HasBlobs, HasClock, HasDownloads, HasLookups, HasSettings, HasStore};
use super::{buckets, chrono_duration, outbox};
use crate::domain::{
    After, AuditRecord, ByteRange, ChangeCursor, ChangePage, FileAction, FileId, FilePage, FileQuery, FileRecord,
    FileStatus, Metadata, ObjectPath, Permission, Principal, encode_cursor,
};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::{ByteStream, Disposition, DownloadOptions, Job};

/// A file of the principal's tenant, any status; another tenant's id is `NotFound`, and so
/// is a file out of the principal's reach (another's upload, to a partner's machine).
pub async fn get(cx: &impl HasStore, principal: &Principal, id: FileId) -> Result<FileRecord> {
    principal.reach(FileAction::See)?;
    let file = load(cx, principal, id).await?;
    principal.require_on(FileAction::See, &file.owner)?;
    Ok(file)
}

pub(crate) async fn load(cx: &impl HasStore, principal: &Principal, id: FileId) -> Result<FileRecord> {
    cx.store()
        .get_file(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("file"))
}

pub(crate) fn servable(file: &FileRecord) -> Result<()> {
    if file.status.is_servable() {
        Ok(())
    } else {
        Err(Error::conflict(
            ErrorCode::FileNotReady,
            format!("the file is {}; only ready files can be downloaded", file.status),
        ))
    }
}

/// Whether the object at `blob_key` may be served through a signed URL, asked at serve
/// time: a URL a client still holds stops working when its file is deleted, fails or is
/// quarantined (it must not hand out the virus), and works again when the file is restored.
/// Objects no file references (thumbnails, bundles) are not this check's business.
pub async fn check_blob_servable(cx: &impl HasStore, blob_key: &str) -> Result<()> {
    let Some(tenant) = crate::domain::blob_key_tenant(blob_key) else {
        return Ok(());
    };
    blob_servable(&cx.store().blob_statuses(&tenant, blob_key).await?)
}

/// Files that share a blob (dedup) decide together: one quarantined refuses it (the bytes
/// are the virus whoever holds them); otherwise one ready file serves it, as that file's
/// own URLs carry the same key.
fn blob_servable(statuses: &[FileStatus]) -> Result<()> {
    let refuse = |status: FileStatus| {
        Err(Error::conflict(
            ErrorCode::FileNotReady,
            format!("the file is {status}; only ready files can be downloaded"),
        ))
    };
    match statuses {
        [] => Ok(()),
        _ if statuses.contains(&FileStatus::Quarantined) => refuse(FileStatus::Quarantined),
        _ if statuses.iter().any(|s| s.is_servable()) => Ok(()),
        [first, ..] => refuse(*first),
    }
}

pub struct DownloadUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A signed URL for the bytes (default 1 h).
pub async fn download_url(
    cx: &(impl HasStore + HasBlobs + HasAudit + HasSettings + HasDownloads + HasClock),
    principal: &Principal,
    id: FileId,
    disposition: Disposition,
) -> Result<DownloadUrl> {
    principal.require(Permission::Read)?;
    let file = load(cx, principal, id).await?;
    servable(&file)?;
    let disposition = super::disposition::for_file(cx, &file, disposition).await?;
    let expires_at = cx.clock().now() + chrono_duration(cx.settings().download_url_ttl);
    let options = DownloadOptions {
        disposition,
        filename: file.name().to_owned(),
        content_type: file.content_type.clone(),
    };
    let url = cx.blobs().presign_get(&file.blob_key, &options, expires_at)?;
    audit::record(
        cx,
        &Actor::of(principal),
        "file.download_url_issued",
        Some(file.id),
        json!({"disposition": disposition.as_str(), "expires_at": expires_at}),
    )
    .await?;
    // One download: the bytes go from storage, out of our sight (see `downloads`).
    cx.downloads().record(&file.tenant, file.id);
    Ok(DownloadUrl { url, expires_at })
}

/// What `GET /v1/files/{id}/content` answers.
pub enum Content {
    /// The client's `If-None-Match` matched.
    NotModified(FileRecord),
    /// The bytes, whole or the requested range.
    Bytes {
        file: FileRecord,
        range: Option<ByteRange>,
        body: ByteStream,
    },
    /// The range asked for lies outside the file (416, with the file's size).
    Unsatisfiable { size: u64, error: Error },
}

/// The bytes through the gateway (not through a signed URL), honouring `If-None-Match` and one `Range`.
pub async fn content(
    cx: &(impl HasStore + HasBlobs + HasAudit + HasDownloads + HasClock),
    principal: &Principal,
    id: FileId,
    if_none_match: Option<&str>,
    range: Option<&str>,
) -> Result<Content> {
    principal.require(Permission::Read)?;
    let file = load(cx, principal, id).await?;
    let answer = prepare_content(cx, file, if_none_match, range).await?;
    if let Content::Bytes { file, range, .. } = &answer {
        let served = range.map_or(json!({"bytes": file.size}), |r| json!({"range": [r.start, r.end]}));
        audit::record(cx, &Actor::of(principal), "file.downloaded", Some(file.id), served).await?;
        count_download(cx, file, *range);
    }
    Ok(answer)
}

/// What to answer for the bytes of `file`, whoever asks (the API, a share link, a public
/// bucket's URL): refused unless it is servable; `NotModified` when `if_none_match` names
/// its etag; else the stream of the whole file or of the one range asked for. Neither audits
/// nor counts: the caller does, in its own name.
pub(crate) async fn prepare_content(
    cx: &impl HasBlobs,
    file: FileRecord,
    if_none_match: Option<&str>,
    range: Option<&str>,
) -> Result<Content> {
    servable(&file)?;
    if let (Some(header), Some(etag)) = (if_none_match, &file.etag)
        && etag_list_matches(header, etag.as_str())
    {
        return Ok(Content::NotModified(file));
    }
    let range = match range.map(|r| ByteRange::parse(r, file.size)).transpose() {
        Ok(range) => range.flatten(),
        Err(
            error @ Error::Invalid {
                code: ErrorCode::RangeNotSatisfiable,
                ..
            },
        ) => return Ok(Content::Unsatisfiable { size: file.size, error }),
        Err(e) => return Err(e),
    };
    let body = cx.blobs().get(&file.blob_key, range).await.map_err(|e| match e {
        // The row says ready but the bytes are gone: an operator's problem, not the client's.
        StoreError::NotFound => Error::Internal(anyhow::anyhow!("blob {} of a ready file is missing", file.blob_key)),
        other => other.into(),
    })?;
    Ok(Content::Bytes { file, range, body })
}

/// A transfer from the first byte is one download; later ranges continue it.
pub(crate) fn count_download(cx: &impl HasDownloads, file: &FileRecord, range: Option<ByteRange>) {
    if range.is_none_or(|r| r.start == 0) {
        cx.downloads().record(&file.tenant, file.id);
    }
}

/// `If-None-Match: "a", W/"b"` or `*`.
fn etag_list_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate).trim_matches('"') == etag
    })
}

/// A page of files. The tenant is the principal's (and, for a principal that sees only its
/// own files, the owner too); the order is total (id breaks ties).
pub async fn list(cx: &impl HasStore, principal: &Principal, mut query: FileQuery) -> Result<FilePage> {
    query.owner = principal.owner_filter(FileAction::See)?.map(str::to_owned);
    let (mut items, total) = cx.store().list_files(&principal.tenant, &query).await?;
    let limit = query.limit as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items
            .last()
            .map(|last| encode_cursor(query.sort, &After::of(last, query.sort.key)))
    } else {
        None
    };
    Ok(FilePage {
        items,
        total,
        next_cursor,
    })
}

/// What changed since `since`, deletions included: what a sync client asks to catch up
/// from its cursor.
pub async fn changes(cx: &impl HasStore, principal: &Principal, since: ChangeCursor, limit: u32) -> Result<ChangePage> {
    principal.require(Permission::Read)?;
    Ok(cx.store().changed_files(&principal.tenant, since, limit).await?)
}

#[derive(Debug, Clone, Default)]
pub struct FileChange {
    pub path: Option<ObjectPath>,
    pub metadata: Option<Metadata>,
}

#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn patch(
    cx: &(impl HasStore + HasClock),
    principal: &Principal,
    id: FileId,
    change: FileChange,
) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let file = load(cx, principal, id).await?;
    if !file.status.is_deletable() {
        return Err(Error::conflict(
            ErrorCode::WrongStatus,
            format!("a {} file cannot be changed", file.status),
        ));
    }
    let mut next = file.clone();
    if let Some(path) = change.path {
        next.path = path;
    }
    if let Some(metadata) = change.metadata {
        next.metadata = metadata;
    }
    next.updated_at = cx.clock().now();
    let details = json!({
        "path": {"from": file.path.to_string(), "to": next.path.to_string()},
        "metadata_changed": file.metadata != next.metadata,
    });
    let record = audit::entry(cx, &Actor::of(principal), "file.updated", Some(id), details);
    write_if_unchanged(cx, &next, file.status, None, record).await
}

/// Soft delete: answered at once; the bytes go after the bucket's retention.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn delete(
    cx: &(impl HasStore + HasClock + HasLookups),
    principal: &Principal,
    id: FileId,
) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let file = load(cx, principal, id).await?;
    if !file.status.is_deletable() {
        return Err(Error::conflict(
            ErrorCode::WrongStatus,
            format!("the file is already {}", file.status),
        ));
    }
    let bucket = buckets::get_for(cx, principal, &file.bucket).await?;
    let now = cx.clock().now();
    let mut next = file.clone();
    next.previous_status = Some(file.status);
    next.status = FileStatus::Deleted;
    next.deleted_at = Some(now);
    next.purge_after = Some(now + chrono::Duration::days(i64::from(bucket.policy.retention_days)));
    next.updated_at = now;
    let details = json!({"path": next.path.to_string(), "purge_after": next.purge_after});
    let record = audit::entry(cx, &Actor::of(principal), "file.deleted", Some(id), details);
    write_if_unchanged(cx, &next, file.status, None, record).await
}

/// Undoes a soft delete within the retention period: the file returns to its old status.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn restore(cx: &(impl HasStore + HasClock), principal: &Principal, id: FileId) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let file = load(cx, principal, id).await?;
    if file.status != FileStatus::Deleted {
        return Err(Error::conflict(
            ErrorCode::WrongStatus,
            format!("the file is {}, not deleted", file.status),
        ));
    }
    let mut next = file.clone();
    next.status = file.previous_status.unwrap_or(FileStatus::Ready);
    // A file deleted mid-processing goes back to the queue's view of it: uploaded again,
    // with a fresh job, so the pipeline finishes what it started.
    let job = if matches!(next.status, FileStatus::Uploaded | FileStatus::Processing) {
        next.status = FileStatus::Uploaded;
        Some(Job::ProcessFile {
            tenant: file.tenant.clone(),
            file_id: file.id,
        })
    } else {
        None
    };
    next.previous_status = None;
    next.deleted_at = None;
    next.purge_after = None;
    next.updated_at = cx.clock().now();
    let details = json!({"path": next.path.to_string(), "status": next.status});
    let record = audit::entry(cx, &Actor::of(principal), "file.restored", Some(id), details);
    write_if_unchanged(cx, &next, FileStatus::Deleted, job, record).await
}

/// Writes `next` with its `job` and its audit `record` if the file is still `seen`.
async fn write_if_unchanged(
    cx: &impl HasStore,
    next: &FileRecord,
    seen: FileStatus,
    job: Option<Job>,
    record: AuditRecord,
) -> Result<FileRecord> {
    outbox::save(cx.store(), seen, next, &[seen], job, Some(record))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Error::conflict(
                ErrorCode::StatusChanged,
                "the file changed meanwhile; read it again and retry",
            ),
            StoreError::NotFound => Error::not_found("file"),
            other => other.into(),
        })
}

pub struct BatchDeleted {
    pub deleted: Vec<FileId>,
    pub not_found: Vec<String>,
}

/// Deletes up to 1000 files in one request. Ids that are malformed, unknown, another tenant's
/// or already deleted are listed as `not_found`; the others are deleted.
pub async fn delete_many(
    cx: &(impl HasStore + HasSettings + HasClock + HasLookups),
    principal: &Principal,
    ids: Vec<String>,
) -> Result<BatchDeleted> {
    principal.require(Permission::Write)?;
    if ids.is_empty() || ids.len() > cx.settings().max_batch {
        return Err(Error::invalid(
            ErrorCode::TooManyItems,
            format!("delete 1 to {} ids at a time", cx.settings().max_batch),
        ));
    }
    let mut out = BatchDeleted {
        deleted: Vec::new(),
        not_found: Vec::new(),
    };
    for raw in ids {
        let Ok(id) = FileId::parse(&raw) else {
            out.not_found.push(raw);
            continue;
        };
        match delete(cx, principal, id).await {
            Ok(_) => out.deleted.push(id),
            Err(Error::NotFound { .. } | Error::Conflict { .. }) => out.not_found.push(raw),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_served_while_a_file_holding_it_is_ready_and_none_is_quarantined() {
        use FileStatus::*;
        assert!(blob_servable(&[]).is_ok(), "not a file's blob");
        assert!(blob_servable(&[Ready]).is_ok());
        assert!(blob_servable(&[Deleted, Ready]).is_ok(), "a dedup copy still ready");
        for refused in [
            &[Deleted][..],
            &[Failed],
            &[Pending],
            &[Purged],
            &[Quarantined],
            &[Ready, Quarantined],
        ] {
            assert!(
                matches!(
                    blob_servable(refused),
                    Err(Error::Conflict {
                        code: ErrorCode::FileNotReady,
                        ..
                    })
                ),
                "{refused:?}"
            );
        }
    }
}
