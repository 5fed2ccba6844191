//! tus concatenation (docs/tus.md): a final upload joins finished partial uploads.
//!
//! A partial upload (`Upload-Concat: partial`) is a pending file kept out of every listing,
//! folder, change feed and event, whose last byte completes nothing. A final upload
//! (`Upload-Concat: final;<urls>`) is checked as any upload is, for the joined length and
//! its own bucket, path and content type (bucket policy, quota, permission), before
//! anything is joined. Then storage fills the final upload with the partials' bytes
//! (`BlobStore::concat_append`), the joined state is recorded in its row, and
//! `uploads::complete` verifies and enqueues it like any upload. The partials it used end
//! `expired`, their bytes freed by a job. A join that fails abandons the final upload and
//! leaves the partials as they were, for the client to try again.

use serde_json::json;

use super::{arrived, insert, tus_file};
use crate::domain::{
    Concat, FileAction, FileId, FileRecord, FileStatus, Permission, Principal, TusMetadata, TusUpload, UploadPlan,
};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Appending;
use crate::usecases::audit::{self, Actor};
use crate::usecases::context::{HasBlobs, HasClock, HasLookups, HasSettings, HasStore};
use crate::usecases::uploads::{self, Completion, remove_blob_job};
use crate::usecases::{buckets, outbox, quotas};

/// `POST /v1/tus/` with `Upload-Concat: final;…`: the final upload of `parts`, in order,
/// joined and completed (so `uploaded`, or refused with nothing changed).
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, bucket = %meta.bucket, parts = parts.len()))]
pub async fn create_final(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock + HasLookups),
    principal: &Principal,
    meta: TusMetadata,
    parts: Vec<FileId>,
) -> Result<FileRecord> {
    principal.require(Permission::Upload)?;
    let mut partials = Vec::with_capacity(parts.len());
    let mut length = 0u64;
    for id in &parts {
        let (file, tus) = usable_partial(cx, principal, *id).await?;
        length = length
            .checked_add(tus.offset())
            .ok_or_else(|| Error::too_large("the partial uploads hold more bytes than a file may"))?;
        partials.push((file, tus));
    }
    let bucket = buckets::get_for(cx, principal, &meta.bucket).await?;
    bucket.policy.admit(Some(length), &meta.content_type)?;
    // The partials still count until they are freed: the quota holds both for a moment.
    quotas::precheck(cx, &principal.tenant, length).await?;

    let file = insert(cx, principal, meta, Some(length), Some(Concat::Final(parts))).await?;
    match join(cx, principal, &file, &partials).await {
        Ok(done) => {
            for (partial, _) in &partials {
                retire(cx, principal, partial, file.id).await;
            }
            tracing::info!(file_id = %file.id, length, "partial tus uploads joined");
            Ok(done)
        }
        Err(e) => {
            if let Err(abort) = uploads::abort(cx, principal, file.id).await {
                tracing::warn!(error = %abort, file_id = %file.id, "a final upload that failed is left to expire");
            }
            Err(e)
        }
    }
}

/// The partial upload `id` with all its bytes, as the caller may see it.
async fn usable_partial(cx: &impl HasStore, principal: &Principal, id: FileId) -> Result<(FileRecord, TusUpload)> {
    let (file, pending) = tus_file(cx, principal, id, FileAction::FinishUpload).await?;
    if !file.is_tus_partial() {
        return Err(Error::conflict(
            ErrorCode::NotPartialUpload,
            format!("the upload {id} is not a partial upload (`Upload-Concat: partial`)"),
        ));
    }
    // Joined into another final upload, terminated or expired: gone, as `HEAD` says.
    let tus = pending.ok_or(Error::not_found("upload"))?;
    if tus.length != Some(tus.offset()) {
        return Err(Error::conflict(
            ErrorCode::PartialUploadUnfinished,
            format!("the partial upload {id} holds {}", arrived(&tus)),
        ));
    }
    Ok((file, tus))
}

/// Fills the final upload `file` with the partials' bytes, records it, and completes it.
async fn join(
    cx: &(impl HasStore + HasBlobs + HasClock + HasLookups),
    principal: &Principal,
    file: &FileRecord,
    partials: &[(FileRecord, TusUpload)],
) -> Result<FileRecord> {
    let UploadPlan::Tus(tus) = &file.upload else {
        return Err(Error::not_found("upload"));
    };
    let sources: Vec<(String, Appending)> = partials
        .iter()
        .map(|(partial, tus)| (partial.blob_key.clone(), tus.appending.clone()))
        .collect();
    let joined = cx
        .blobs()
        .concat_append(&file.blob_key, &tus.appending, &sources)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::conflict(ErrorCode::UploadMissing, "the bytes of a partial upload are gone"),
            other => other.into(),
        })?;
    let mut next = file.clone();
    if let UploadPlan::Tus(tus) = &mut next.upload {
        tus.appending = joined;
    }
    next.updated_at = cx.clock().now();
    cx.store().record_upload(file, &next).await?;
    uploads::complete(cx, principal, file.id, Completion::default()).await
}

/// A partial upload joined into `final_id` ends `expired`, and a job frees its bytes. Best
/// effort: one left behind expires like any pending upload.
async fn retire(cx: &(impl HasStore + HasClock), principal: &Principal, partial: &FileRecord, final_id: FileId) {
    let mut next = partial.clone();
    next.status = FileStatus::Expired;
    next.status_reason = Some(format!("joined into the final upload {final_id}"));
    next.updated_at = cx.clock().now();
    let details = json!({"final": final_id});
    let record = audit::entry(
        cx,
        &Actor::of(principal),
        "file.upload_joined",
        Some(partial.id),
        details,
    );
    let saved = outbox::save(
        cx.store(),
        FileStatus::Pending,
        &next,
        &[FileStatus::Pending],
        Some(remove_blob_job(partial)),
        Some(record),
    )
    .await;
    if let Err(e) = saved {
        tracing::warn!(error = %e, file_id = %partial.id, "a joined partial upload is left to expire");
    }
}
