//! Zip bundles (a set of documents delivered as one download): a caller names files by id or by a query,
//! the request fixes the list and enqueues `Job::BuildArchive` in the same transaction, a
//! worker streams the zip into storage (`pipeline::archive`), and `get` hands out a signed
//! URL until the bundle expires.
//!
//! Rules:
//! - Only `ready` files of the caller's tenant. By id, every id must name a file of the
//!   tenant (another tenant's id is `not-found`, like an id of no file) that is `ready`
//!   (else `file-not-ready`); by query, only `ready` files match.
//! - At least one file (`archive-empty`), at most `archive_max_files` files and
//!   `archive_max_bytes` bytes (`archive-too-large`).
//! - A stored bundle counts against the tenant's byte quota until it expires: one that would
//!   not fit is refused (`quota-exceeded`, 413), when asked for and again when built.
//! - Audited: `archive.requested` with the selection, `archive.ready` with every file (id,
//!   path, name in the zip, size): the trace of what went into the zip —, `archive.failed`,
//!   `archive.download_url_issued` before a URL is handed out, `archive.expired`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, Actor};
use super::chrono_duration;
use super::context::{HasArchives, HasAudit, HasBlobs, HasClock, HasSettings, HasStore};
use crate::domain::{
    Archive, ArchiveEntry, ArchiveId, ArchiveSelection, ArchiveStatus, ContentType, FileId, FileRecord, Permission,
    Principal, entry_names,
};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{Disposition, DownloadOptions, Effects, Job, NewJob};

/// Ids looked up in one statement.
pub(crate) const LOOKUP_BATCH: usize = 500;

/// `POST /v1/archives`: fixes the list of files and enqueues the build. The archive answers
/// `pending` until a worker has stored the zip.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn create(
    cx: &(impl HasStore + HasSettings + HasClock + HasArchives),
    principal: &Principal,
    selection: ArchiveSelection,
) -> Result<Archive> {
    principal.require(Permission::Read)?;
    let settings = cx.settings();
    let files = match &selection {
        ArchiveSelection::Files(ids) => by_ids(cx, principal, ids).await?,
        ArchiveSelection::Query(query) => {
            let limit = settings.archive_max_files.saturating_add(1);
            let files = cx.archives().files_matching(&principal.tenant, query, limit).await?;
            if files.len() > settings.archive_max_files as usize {
                return Err(too_many(settings.archive_max_files));
            }
            files
        }
    };
    if files.is_empty() {
        return Err(Error::invalid(
            ErrorCode::ArchiveEmpty,
            "no ready file matches; an archive needs at least one file",
        ));
    }
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    if bytes > settings.archive_max_bytes {
        return Err(Error::TooLarge {
            code: ErrorCode::ArchiveTooLarge,
            message: format!(
                "the files add up to {bytes} bytes; an archive holds at most {}",
                settings.archive_max_bytes
            ),
        });
    }
    super::quotas::admit_bundle(cx, &principal.tenant, bytes)
        .await?
        .map_err(Error::quota_exceeded)?;
    let names = entry_names(files.iter().map(|f| f.path.as_str()));
    let entries = files
        .iter()
        .zip(names)
        .map(|(f, name)| ArchiveEntry {
            file_id: f.id,
            path: f.path.to_string(),
            name,
            size: f.size,
        })
        .collect();
    // The stores keep microseconds: answer what a later read returns.
    let now = micros(cx.clock().now());
    let archive = Archive {
        id: ArchiveId::new(),
        tenant: principal.tenant.clone(),
        status: ArchiveStatus::Pending,
        selection,
        entries,
        size: None,
        error: None,
        created_by: principal.subject.clone(),
        created_at: now,
        updated_at: now,
        expires_at: micros(now + chrono_duration(settings.archive_ttl)),
    };
    let job = NewJob::now(Job::BuildArchive {
        tenant: archive.tenant.clone(),
        archive_id: archive.id,
    });
    let record = audit::entry(
        cx,
        &Actor::of(principal),
        "archive.requested",
        None,
        json!({
            "archive_id": archive.id,
            "selection": archive.selection,
            "file_count": archive.entries.len(),
            "bytes": bytes,
        }),
    );
    cx.archives()
        .create_archive(&archive, &Effects::jobs([job]).audited(record))
        .await?;
    tracing::info!(archive_id = %archive.id, files = archive.entries.len(), bytes, "archive requested");
    Ok(archive)
}

fn too_many(max: u32) -> Error {
    Error::TooLarge {
        code: ErrorCode::ArchiveTooLarge,
        message: format!("an archive holds at most {max} files"),
    }
}

/// The files named by `ids`, in the order given (repeats dropped): each a `ready` file of
/// the tenant.
async fn by_ids(
    cx: &(impl HasSettings + HasArchives),
    principal: &Principal,
    ids: &[FileId],
) -> Result<Vec<FileRecord>> {
    let mut seen = HashSet::new();
    let ids: Vec<FileId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if ids.len() > cx.settings().archive_max_files as usize {
        return Err(too_many(cx.settings().archive_max_files));
    }
    let mut found: HashMap<FileId, FileRecord> = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(LOOKUP_BATCH) {
        for file in cx.archives().files_by_id(&principal.tenant, batch).await? {
            found.insert(file.id, file);
        }
    }
    ids.iter()
        .map(|id| match found.remove(id) {
            None => Err(Error::not_found("file")),
            Some(file) if !file.status.is_servable() => Err(Error::conflict(
                ErrorCode::FileNotReady,
                format!("file {id} is {}; only ready files can be archived", file.status),
            )),
            Some(file) => Ok(file),
        })
        .collect()
}

/// A signed URL for a ready archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// `GET /v1/archives/{id}`: the archive, and a signed URL for the zip while it is ready
/// (never outliving the archive). Handing out a URL is audited first.
pub async fn get(
    cx: &(impl HasBlobs + HasAudit + HasSettings + HasClock + HasArchives),
    principal: &Principal,
    id: ArchiveId,
) -> Result<(Archive, Option<ArchiveUrl>)> {
    principal.require(Permission::Read)?;
    let archive = cx
        .archives()
        .get_archive(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("archive"))?;
    let now = cx.clock().now();
    if archive.status != ArchiveStatus::Ready || archive.expires_at <= now {
        return Ok((archive, None));
    }
    let expires_at = (now + chrono_duration(cx.settings().download_url_ttl)).min(archive.expires_at);
    let options = DownloadOptions {
        disposition: Disposition::Attachment,
        filename: archive.download_name(),
        content_type: ContentType::zip(),
    };
    let url = cx.blobs().presign_get(&archive.blob_key(), &options, expires_at)?;
    audit::record(
        cx,
        &Actor::of(principal),
        "archive.download_url_issued",
        None,
        json!({"archive_id": archive.id, "expires_at": expires_at}),
    )
    .await?;
    Ok((archive, Some(ArchiveUrl { url, expires_at })))
}

/// `t` as the stores keep it (microseconds).
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
