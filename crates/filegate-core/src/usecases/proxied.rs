//! Uploads streamed through the gateway (`POST /v1/files`, for clients that cannot use a
//! signed URL), and the shared step
//! that `images` uses too. The body goes straight to the blob store, never whole in memory.

use super::context::{HasBlobs, HasClock, HasLookups, HasSettings, HasStore};
use super::{buckets, chrono_duration, outbox, quotas};
use crate::domain::{
    BucketName, ContentType, FileId, FileRecord, FileStatus, Metadata, NewFile, ObjectPath, Permission, Principal,
    UploadPlan, blob_key_for,
};
use crate::error::{Error, Result, StoreError};
use crate::ports::{ByteStream, Effects, Job};

#[derive(Debug, Clone)]
pub struct ProxiedUpload {
    pub bucket: BucketName,
    pub path: ObjectPath,
    pub content_type: ContentType,
    pub metadata: Metadata,
    pub external_id: Option<String>,
}

/// Streams `body` into storage under the bucket's size limit, then records the file as
/// `uploaded` with its processing job. Bad input (too large, refused type, broken body)
/// stores nothing and records nothing.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, bucket = %req.bucket))]
pub async fn upload(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock + HasLookups),
    principal: &Principal,
    req: ProxiedUpload,
    body: ByteStream,
) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let bucket = buckets::get_for(cx, principal, &req.bucket).await?;
    bucket.policy.admit(None, &req.content_type)?;

    // The size is known only once the body has streamed: the room left under the tenant's
    // quota is the body's limit when it is the smaller one, and the insert below checks
    // again (another upload may have taken the room meanwhile).
    let room = quotas::room(cx, &principal.tenant)
        .await?
        .filter(|room| room.bytes() < bucket.policy.max_file_size);
    let limit = room.map_or(bucket.policy.max_file_size, |room| room.bytes());

    let id = FileId::new();
    let blob_key = blob_key_for(&principal.tenant, id);
    let meta = cx
        .blobs()
        .put(&blob_key, body, limit)
        .await
        .map_err(|e| match (e, room) {
            (StoreError::TooLarge(_), Some(room)) => room.exceeded(),
            (e, _) => Error::from(e),
        })?;

    // Bytes first, then the row: a crash in between leaves unreferenced bytes, never a row
    // pointing at nothing.
    let now = cx.clock().now();
    let mut record = FileRecord::pending(NewFile {
        id,
        tenant: principal.tenant.clone(),
        owner: principal.subject.clone(),
        bucket: req.bucket,
        path: req.path,
        size: meta.size,
        content_type: req.content_type,
        declared_sha256: None,
        metadata: req.metadata,
        external_id: req.external_id,
        upload: UploadPlan::Proxied,
        upload_expires_at: now + chrono_duration(cx.settings().upload_url_ttl),
        now,
        encryption: None,
        request_id: None,
    });
    record.etag = Some(meta.etag);
    // The bytes are all there: the file is born `uploaded`, and its processing, its event
    // and its audit record commit with the row.
    record.status = FileStatus::Uploaded;
    let job = Job::ProcessFile {
        tenant: record.tenant.clone(),
        file_id: id,
    };
    let effects = Effects {
        jobs: outbox::jobs_of_change(FileStatus::Pending, &record, vec![job], Vec::new()),
        audit: vec![super::uploads::uploaded_record(cx, principal, &record)],
    };
    let stored = match cx.store().insert_file(&record, &effects).await {
        Ok(stored) => stored,
        Err(e) => {
            // Refused (the quota, most likely): the bytes must not stay behind unreferenced.
            if let Err(delete) = cx.blobs().delete(&blob_key).await {
                tracing::warn!(error = %delete, "could not remove the bytes of a refused upload");
            }
            return Err(e.into());
        }
    };
    tracing::info!(file_id = %stored.id, size = stored.size, "proxied upload stored");
    Ok(stored)
}
