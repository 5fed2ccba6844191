//! tus uploads (docs/tus.md): create, read the offset, append, terminate, join partial
//! uploads (`concat`). A tus upload is a pending file whose plan is [`UploadPlan::Tus`]; its
//! last byte sends it through `uploads::complete` like any other upload (a partial upload's
//! does not: it waits to be joined).

mod append;
mod checksum;
mod concat;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, Actor};
use super::context::{HasBlobs, HasClock, HasLookups, HasSettings, HasStore};
use super::uploads::{MIN_PART_SIZE, part_size_for};
use super::{buckets, chrono_duration, quotas};
use crate::domain::{
    Bucket, Concat, FileAction, FileId, FileRecord, FileStatus, MAX_FILE_SIZE, NewFile, ObjectPath, Permission,
    Principal, TusMetadata, TusUpload, UploadPlan, blob_key_for,
};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::{BlobMeta, Effects};

pub use append::{Patch, append};
pub use concat::create_final;

/// The most a tus upload whose length is deferred may grow to: S3's 10 000 parts of the
/// smallest part size (48.8 GiB). Its part size has to be chosen before its length is known.
pub const DEFERRED_MAX: u64 = 10_000 * MIN_PART_SIZE;

/// What `POST /v1/tus/` asks for (a final upload: [`create_final`]).
#[derive(Debug, Clone)]
pub struct NewTusUpload {
    /// For a partial upload, [`TusMetadata::parse_partial`]'s.
    pub meta: TusMetadata,
    /// `None`: deferred (`Upload-Defer-Length: 1`).
    pub length: Option<u64>,
    /// `Upload-Concat: partial`: bytes kept for a final upload, no file of its own.
    pub partial: bool,
}

/// What `HEAD` answers about a tus upload.
#[derive(Debug, Clone)]
pub struct TusStatus {
    pub file_id: FileId,
    /// `None` for a final upload not finished yet (tus answers no offset for it).
    pub offset: Option<u64>,
    pub length: Option<u64>,
    pub metadata: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub concat: Option<Concat>,
}

impl TusStatus {
    /// A pending file's progress, or a finished one's whole length.
    pub fn of(file: &FileRecord) -> Self {
        let (offset, length, metadata, expires_at, concat) = match &file.upload {
            UploadPlan::Tus(tus) if file.status == FileStatus::Pending => (
                match tus.concat {
                    Some(Concat::Final(_)) => None,
                    _ => Some(tus.offset()),
                },
                tus.length,
                tus.metadata.clone(),
                Some(file.upload_expires_at),
                tus.concat.clone(),
            ),
            UploadPlan::Tus(tus) => (
                Some(file.size),
                Some(file.size),
                tus.metadata.clone(),
                None,
                tus.concat.clone(),
            ),
            _ => (Some(file.size), Some(file.size), String::new(), None, None),
        };
        Self {
            file_id: file.id,
            offset,
            length,
            metadata,
            expires_at,
            concat,
        }
    }
}

/// The most bytes a file may hold in `bucket`; a partial upload, which belongs to no
/// bucket's files yet, as many as any file may (its final upload is checked).
fn size_limit(bucket: &Bucket, partial: bool) -> u64 {
    match partial {
        true => MAX_FILE_SIZE,
        false => bucket.policy.max_file_size.min(MAX_FILE_SIZE),
    }
}

/// The most bytes an upload may hold, with its length known or not.
fn max_length(limit: u64, length: Option<u64>) -> u64 {
    length.map_or(limit.min(DEFERRED_MAX), |l| l.min(limit))
}

/// Creates the pending file and the storage upload its bytes will be appended to. Policy,
/// quota and permission are checked first: a refused upload prepares nothing. A partial
/// upload is held to the quota and to the largest file size only: policy applies to the
/// final upload that joins it.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, bucket = %req.meta.bucket))]
pub async fn create(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock + HasLookups),
    principal: &Principal,
    req: NewTusUpload,
) -> Result<FileRecord> {
    principal.require(Permission::Upload)?;
    let bucket = buckets::get_for(cx, principal, &req.meta.bucket).await?;
    if req.partial {
        if let Some(length) = req.length.filter(|l| *l > MAX_FILE_SIZE) {
            return Err(Error::too_large(format!(
                "a partial upload of {length} bytes is larger than any file may be ({MAX_FILE_SIZE})"
            )));
        }
    } else {
        bucket.policy.admit(req.length, &req.meta.content_type)?;
    }
    quotas::precheck(cx, &principal.tenant, req.length.unwrap_or(0)).await?;
    let concat = req.partial.then_some(Concat::Partial);
    insert(cx, principal, req.meta, req.length, concat).await
}

/// Inserts a new tus upload's pending file, its storage upload begun (freed again when the
/// insert is refused). A partial upload is named `tus-partials/{id}`.
async fn insert(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock),
    principal: &Principal,
    meta: TusMetadata,
    length: Option<u64>,
    concat: Option<Concat>,
) -> Result<FileRecord> {
    let settings = cx.settings();
    let part_size = part_size_for(length.unwrap_or(DEFERRED_MAX), MIN_PART_SIZE, settings.max_parts)?;
    let now = cx.clock().now();
    let id = FileId::new();
    let blob_key = blob_key_for(&principal.tenant, id);
    let path = match concat {
        Some(Concat::Partial) => ObjectPath::parse(&format!("tus-partials/{id}"))?,
        _ => meta.path,
    };
    let appending = cx
        .blobs()
        .begin_append(&blob_key, &meta.content_type, part_size)
        .await?;
    let upload_id = appending.upload_id.clone();
    let mut details = json!({"bucket": meta.bucket.as_str(), "path": path.to_string(),
        "size": length, "protocol": "tus"});
    match &concat {
        Some(Concat::Partial) => details["concat"] = json!("partial"),
        Some(Concat::Final(parts)) => details["concat"] = json!({"final": parts}),
        None => {}
    }
    let record = FileRecord::pending(NewFile {
        id,
        tenant: principal.tenant.clone(),
        owner: principal.subject.clone(),
        bucket: meta.bucket,
        path,
        size: length.unwrap_or(0),
        content_type: meta.content_type,
        declared_sha256: None,
        metadata: meta.metadata,
        external_id: None,
        upload: UploadPlan::Tus(TusUpload {
            length,
            appending,
            metadata: meta.raw,
            lease: None,
            concat,
        }),
        upload_expires_at: now + chrono_duration(settings.upload_url_ttl),
        now,
        encryption: None,
        request_id: None,
    });
    let audited = Effects::NONE.audited(audit::entry(
        cx,
        &Actor::of(principal),
        "file.upload_created",
        Some(id),
        details,
    ));
    match cx.store().insert_file(&record, &audited).await {
        Ok(file) => {
            tracing::info!(file_id = %file.id, ?length, "tus upload created");
            Ok(file)
        }
        Err(e) => {
            // Refused (the quota, most likely): nothing may stay behind in storage.
            if let Err(abort) = cx.blobs().abort_append(&blob_key, &upload_id).await {
                tracing::warn!(error = %abort, "could not free the storage of a refused tus upload");
            }
            Err(e.into())
        }
    }
}

/// The tus upload `id` as `action` may see it: another tenant's, another owner's (for an
/// exchange client) and a file that is not a tus upload are all `NotFound`.
async fn tus_file(
    cx: &impl HasStore,
    principal: &Principal,
    id: FileId,
    action: FileAction,
) -> Result<(FileRecord, Option<TusUpload>)> {
    principal.reach(action)?;
    // From the store of record: an offset one gateway answers must be the one another
    // gateway takes.
    let file = cx
        .store()
        .get_file_fresh(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("upload"))?;
    principal.require_on(action, &file.owner)?;
    let UploadPlan::Tus(tus) = &file.upload else {
        return Err(Error::not_found("upload"));
    };
    let pending = (file.status == FileStatus::Pending).then(|| tus.clone());
    Ok((file, pending))
}

/// `HEAD`: where the upload stands. A finished upload answers its whole length; an aborted
/// or expired one is gone (`NotFound`).
pub async fn status(cx: &impl HasStore, principal: &Principal, id: FileId) -> Result<TusStatus> {
    let (file, _) = tus_file(cx, principal, id, FileAction::FinishUpload).await?;
    match file.status {
        FileStatus::Expired | FileStatus::Purged | FileStatus::Deleted => Err(Error::not_found("upload")),
        _ => Ok(TusStatus::of(&file)),
    }
}

/// Termination: the upload is aborted as `DELETE /v1/uploads/{id}` does (its bytes are
/// freed by a job).
pub async fn terminate(cx: &(impl HasStore + HasClock), principal: &Principal, id: FileId) -> Result<()> {
    tus_file(cx, principal, id, FileAction::FinishUpload).await?;
    super::uploads::abort(cx, principal, id).await?;
    Ok(())
}

/// `n of m bytes`: how much of an unfinished upload is there, for its errors.
fn arrived(tus: &TusUpload) -> String {
    let length = tus
        .length
        .map_or("an undeclared number of".to_owned(), |l| l.to_string());
    format!("{} of {length} bytes", tus.offset())
}

/// For `uploads::complete`: the object made of the appended bytes, once all have arrived.
/// A partial upload is never completed on its own.
pub(crate) async fn finish_bytes(cx: &impl HasBlobs, file: &FileRecord, tus: &TusUpload) -> Result<BlobMeta> {
    if tus.concat == Some(Concat::Partial) {
        return Err(Error::conflict(
            ErrorCode::WrongStatus,
            "a partial tus upload is no file: a final upload (`Upload-Concat: final;…`) joins it",
        ));
    }
    if tus.length != Some(tus.offset()) {
        return Err(Error::conflict(
            ErrorCode::UploadMissing,
            format!("{} have arrived", arrived(tus)),
        ));
    }
    cx.blobs()
        .finish_append(&file.blob_key, &tus.appending)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::conflict(ErrorCode::UploadMissing, "the upload's bytes are gone"),
            other => other.into(),
        })
}
