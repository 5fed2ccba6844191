//! Uploads streamed through the gateway (`POST /v1/files`, seed 003), and the shared step
//! that `images` uses too. The body goes straight to the blob store, never whole in memory.

use chrono::Utc;

use super::{Services, buckets, chrono_duration, outbox};
use crate::domain::{
    BucketName, ContentType, FileId, FileRecord, FileStatus, Metadata, NewFile, ObjectPath, Permission, Principal,
    UploadPlan, blob_key_for,
};
use crate::error::Result;
use crate::ports::{ByteStream, Job};

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
    services: &Services,
    principal: &Principal,
    req: ProxiedUpload,
    body: ByteStream,
) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let bucket = buckets::get_for(services, principal, &req.bucket).await?;
    bucket.policy.admit(None, &req.content_type)?;

    let id = FileId::new();
    let blob_key = blob_key_for(&principal.tenant, id);
    let meta = services.blobs.put(&blob_key, body, bucket.policy.max_file_size).await?;

    // Bytes first, then the row: a crash in between leaves unreferenced bytes, never a row
    // pointing at nothing. The pending row expires by itself if we die before the update.
    let now = Utc::now();
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
        upload_expires_at: now + chrono_duration(services.settings.upload_url_ttl),
        now,
        encryption: None,
        request_id: None,
    });
    record.etag = Some(meta.etag);
    let pending = services.store.insert_file(&record).await?;
    let mut uploaded = pending;
    uploaded.status = FileStatus::Uploaded;
    let job = Job::ProcessFile {
        tenant: uploaded.tenant.clone(),
        file_id: id,
    };
    let stored = outbox::save(
        services.store.as_ref(),
        FileStatus::Pending,
        &uploaded,
        &[FileStatus::Pending],
        Some(job),
    )
    .await?;
    tracing::info!(file_id = %stored.id, size = stored.size, "proxied upload stored");
    super::uploads::audit_uploaded(services, principal, &stored).await;
    Ok(stored)
}
