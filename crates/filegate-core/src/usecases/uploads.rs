//! Uploads: create (signed PUT, form POST or multipart), more part URLs, complete, abort.

use chrono::{DateTime, Utc};

use serde_json::json;

use super::audit::{self, Actor};
use super::{Services, buckets, chrono_duration, dedup, outbox, quotas, requests, verify};
use crate::domain::{
    BucketName, ContentType, ETag, Encryption, FileId, FileRecord, FileStatus, Metadata, NewFile, ObjectPath,
    Permission, Principal, RequestId, Sha256Hex, UploadPlan, blob_key_for, parse_blob_key,
};
use crate::error::{Error, Result, StoreError};
use crate::ports::{Job, SignedRequest, UploadConstraints};

/// S3 refuses parts under 5 MiB (except the last); we never ask for smaller ones.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// How the client wants to send the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// Signed PUT, or multipart when the file is over the threshold.
    Auto,
    Put,
    Form,
    Multipart,
}

#[derive(Debug, Clone)]
pub struct NewUpload {
    pub bucket: BucketName,
    pub path: ObjectPath,
    pub size: u64,
    pub content_type: ContentType,
    pub sha256: Option<Sha256Hex>,
    pub metadata: Metadata,
    pub external_id: Option<String>,
    pub transfer: Transfer,
    /// The bytes will arrive encrypted (`decrypt` replaces them with the plaintext).
    pub encryption: Option<Encryption>,
    /// The file request this upload answers.
    pub request_id: Option<RequestId>,
}

/// What the client does next.
#[derive(Debug, Clone)]
pub enum Instructions {
    Single(SignedRequest),
    Multipart {
        upload_id: String,
        part_size: u64,
        part_count: u32,
        parts: Vec<(u32, String)>,
    },
    /// Nothing to send: the file shares the bytes of an identical file (dedup) and is
    /// already `uploaded`.
    Deduplicated,
}

#[derive(Debug, Clone)]
pub struct CreatedUpload {
    pub file: FileRecord,
    pub expires_at: DateTime<Utc>,
    pub instructions: Instructions,
}

/// What the client reports when it is done sending bytes.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub size: Option<u64>,
    pub sha256: Option<Sha256Hex>,
    pub etag: Option<ETag>,
    pub parts: Vec<(u32, ETag)>,
}

/// Checks the free-form external id a client may attach (seed 002).
pub fn parse_external_id(s: &str) -> Result<String> {
    if s.is_empty() || s.len() > 255 || s.chars().any(char::is_control) {
        return Err(Error::invalid(
            "invalid-external-id",
            "external_id is 1-255 characters without control characters",
        ));
    }
    Ok(s.to_owned())
}

#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, bucket = %req.bucket))]
pub async fn create(services: &Services, principal: &Principal, req: NewUpload) -> Result<CreatedUpload> {
    principal.require(Permission::Write)?;
    let settings = &services.settings;
    let bucket = buckets::get_for(services, principal, &req.bucket).await?;
    bucket.policy.admit(Some(req.size), &req.content_type)?;
    // Refused rather than decrypted anyway: the bucket's stage list is the admin's pipeline,
    // and a stage that is needed is never run (or skipped) silently.
    if req.encryption.is_some() && !bucket.policy.stages.iter().any(|s| s == "decrypt") {
        return Err(Error::invalid(
            "decrypt-not-enabled",
            format!(
                "bucket {} does not run the decrypt stage; an admin adds \"decrypt\" to its stages",
                bucket.name
            ),
        ));
    }
    if let Some(request_id) = req.request_id {
        requests::require_pending(services, &principal.tenant, request_id).await?;
    }

    // Before anything is prepared in storage (a multipart upload would be left behind). The
    // declared size is reserved from here until the file expires or is purged.
    quotas::precheck(services, &principal.tenant, req.size).await?;
    let now = Utc::now();
    if let Some(file) = dedup::share_existing(services, principal, &bucket, &req, now).await? {
        return Ok(CreatedUpload {
            file,
            expires_at: now,
            instructions: Instructions::Deduplicated,
        });
    }

    let multipart = match req.transfer {
        Transfer::Auto => req.size > settings.multipart_threshold,
        Transfer::Multipart => true,
        Transfer::Put | Transfer::Form => false,
    };
    let expires_at = now + chrono_duration(settings.upload_url_ttl);
    let id = FileId::new();
    let blob_key = blob_key_for(&principal.tenant, id);

    let plan = if multipart {
        let part_size = part_size_for(req.size, settings.part_size, settings.max_parts)?;
        let part_count = part_count_for(req.size, part_size);
        let upload_id = services.blobs.create_multipart(&blob_key, &req.content_type).await?;
        UploadPlan::Multipart {
            upload_id,
            part_size,
            part_count,
        }
    } else if req.transfer == Transfer::Form {
        UploadPlan::Form
    } else {
        UploadPlan::Put
    };

    let record = FileRecord::pending(NewFile {
        id,
        tenant: principal.tenant.clone(),
        owner: principal.subject.clone(),
        bucket: req.bucket,
        path: req.path,
        size: req.size,
        content_type: req.content_type,
        declared_sha256: req.sha256,
        metadata: req.metadata,
        external_id: req.external_id,
        upload: plan,
        upload_expires_at: expires_at,
        now,
        encryption: req.encryption,
        request_id: req.request_id,
    });
    let file = match services.store.insert_file(&record).await {
        Ok(file) => file,
        Err(e) => {
            // A concurrent upload took the room since the precheck (or the database failed):
            // nothing may stay behind in storage.
            if let UploadPlan::Multipart { upload_id, .. } = &record.upload
                && let Err(abort) = services.blobs.abort_multipart(&blob_key, upload_id).await
            {
                tracing::warn!(error = %abort, "could not abort the multipart upload of a refused file");
            }
            return Err(e.into());
        }
    };
    let instructions = instructions_for(services, &file, expires_at)?;
    tracing::info!(file_id = %file.id, size = file.size, "upload created");
    let details = json!({"bucket": file.bucket.as_str(), "path": file.path.to_string(), "size": file.size});
    audit::record_change(
        services,
        &Actor::of(principal),
        "file.upload_created",
        Some(file.id),
        details,
    )
    .await;
    Ok(CreatedUpload {
        file,
        expires_at,
        instructions,
    })
}

fn instructions_for(services: &Services, file: &FileRecord, expires_at: DateTime<Utc>) -> Result<Instructions> {
    let constraints = UploadConstraints {
        size: file.size,
        content_type: file.content_type.clone(),
    };
    let blobs = &services.blobs;
    Ok(match &file.upload {
        UploadPlan::Form => Instructions::Single(blobs.presign_post(&file.blob_key, &constraints, expires_at)?),
        UploadPlan::Multipart {
            upload_id,
            part_size,
            part_count,
        } => {
            let first = (*part_count).min(services.settings.part_urls_per_request);
            let numbers: Vec<u32> = (1..=first).collect();
            Instructions::Multipart {
                upload_id: upload_id.clone(),
                part_size: *part_size,
                part_count: *part_count,
                parts: part_urls(services, file, upload_id, &numbers, expires_at)?,
            }
        }
        UploadPlan::Put | UploadPlan::Proxied => {
            Instructions::Single(blobs.presign_put(&file.blob_key, &constraints, expires_at)?)
        }
        UploadPlan::Deduplicated { .. } => Instructions::Deduplicated,
    })
}

fn part_urls(
    services: &Services,
    file: &FileRecord,
    upload_id: &str,
    numbers: &[u32],
    expires_at: DateTime<Utc>,
) -> Result<Vec<(u32, String)>> {
    numbers
        .iter()
        .map(|n| {
            Ok((
                *n,
                services.blobs.presign_part(&file.blob_key, upload_id, *n, expires_at)?,
            ))
        })
        .collect()
}

/// The part size: the preferred one, grown (in whole MiB) until the file fits in `max_parts`.
pub fn part_size_for(size: u64, preferred: u64, max_parts: u32) -> Result<u64> {
    let mib = 1024 * 1024;
    let needed = size.div_ceil(u64::from(max_parts.max(1)));
    let part_size = preferred.max(MIN_PART_SIZE).max(needed.div_ceil(mib) * mib);
    if part_size > MAX_PART_SIZE {
        return Err(Error::too_large(format!(
            "size {size} is too large for a multipart upload"
        )));
    }
    Ok(part_size)
}

pub fn part_count_for(size: u64, part_size: u64) -> u32 {
    u32::try_from(size.div_ceil(part_size).max(1)).unwrap_or(u32::MAX)
}

/// More signed part URLs for a multipart upload in progress.
pub async fn part_urls_for(
    services: &Services,
    principal: &Principal,
    id: FileId,
    numbers: Vec<u32>,
) -> Result<Vec<(u32, String)>> {
    principal.require(Permission::Write)?;
    let file = pending_file(services, principal, id).await?;
    let UploadPlan::Multipart {
        upload_id, part_count, ..
    } = &file.upload
    else {
        return Err(Error::conflict(
            "not-multipart",
            "this upload is not a multipart upload",
        ));
    };
    if numbers.is_empty() || numbers.len() > services.settings.part_urls_per_request as usize {
        return Err(Error::invalid(
            "invalid-parts",
            format!("ask for 1 to {} part numbers", services.settings.part_urls_per_request),
        ));
    }
    if let Some(n) = numbers.iter().find(|n| **n == 0 || **n > *part_count) {
        return Err(Error::invalid(
            "invalid-parts",
            format!("part {n} is outside 1..={part_count}"),
        ));
    }
    let expires_at = Utc::now() + chrono_duration(services.settings.upload_url_ttl);
    let urls = part_urls(services, &file, upload_id, &numbers, expires_at)?;
    // The upload lives as long as its newest URL: a long multipart upload that keeps asking
    // for part URLs must not be expired (and its parts removed) while they still work. Not
    // a status change, so no event.
    if expires_at > file.upload_expires_at {
        let mut next = file.clone();
        next.upload_expires_at = expires_at;
        services
            .store
            .update_file(&next, &[FileStatus::Pending], &[])
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::conflict("invalid-status", "the file is no longer pending"),
                StoreError::NotFound => Error::not_found("file"),
                other => other.into(),
            })?;
    }
    Ok(urls)
}

async fn pending_file(services: &Services, principal: &Principal, id: FileId) -> Result<FileRecord> {
    let file = services
        .store
        .get_file(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("file"))?;
    if file.status != FileStatus::Pending {
        return Err(Error::conflict(
            "invalid-status",
            format!("the file is {}, not pending", file.status),
        ));
    }
    Ok(file)
}

/// Verifies what arrived and moves the file to `uploaded`, enqueueing its processing in the
/// same transaction. Completing an already completed file answers it again (a client that
/// lost the first answer may retry). A mismatch leaves the file `pending` and completable.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn complete(services: &Services, principal: &Principal, id: FileId, done: Completion) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let file = services
        .store
        .get_file(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("file"))?;
    match file.status {
        FileStatus::Pending => {}
        FileStatus::Uploaded | FileStatus::Processing | FileStatus::Ready => return Ok(file),
        other => {
            return Err(Error::conflict(
                "invalid-status",
                format!("the file is {other}, not pending"),
            ));
        }
    }
    let meta = match &file.upload {
        UploadPlan::Multipart {
            upload_id, part_count, ..
        } => assemble(services, &file, upload_id, *part_count, &done.parts).await?,
        _ => services
            .blobs
            .head(&file.blob_key)
            .await?
            .ok_or_else(|| Error::conflict("upload-missing", "no bytes have arrived for this file yet"))?,
    };
    let declared = done.size.unwrap_or(file.size);
    if meta.size != file.size || meta.size != declared {
        return Err(Error::mismatch(
            "size-mismatch",
            format!("{} bytes arrived, {} were declared", meta.size, declared.max(file.size)),
        ));
    }
    if let Some(etag) = &done.etag
        && etag != &meta.etag
    {
        return Err(Error::mismatch(
            "etag-mismatch",
            "the etag does not match the stored object",
        ));
    }
    let bucket = buckets::get_for(services, principal, &file.bucket).await?;
    bucket.policy.admit(Some(meta.size), &file.content_type)?;

    let mut sha256 = None;
    if let Some(expected) = done.sha256.as_ref().or(file.declared_sha256.as_ref()) {
        let (actual, _) = verify::sha256_of(services.blobs.as_ref(), &file.blob_key).await?;
        if &actual != expected {
            return Err(Error::mismatch(
                "checksum-mismatch",
                "the sha256 of the stored bytes differs from the declared one",
            ));
        }
        sha256 = Some(actual);
    }

    let mut next = file.clone();
    next.status = FileStatus::Uploaded;
    next.size = meta.size;
    next.etag = Some(meta.etag);
    next.sha256 = sha256;
    next.updated_at = Utc::now();
    let job = Job::ProcessFile {
        tenant: file.tenant.clone(),
        file_id: file.id,
    };
    match outbox::save(
        services.store.as_ref(),
        file.status,
        &next,
        &[FileStatus::Pending],
        Some(job),
    )
    .await
    {
        Ok(stored) => {
            tracing::info!(size = stored.size, "upload completed");
            audit_uploaded(services, principal, &stored).await;
            Ok(stored)
        }
        // A concurrent complete won; answer with what it stored (not a cached copy of the
        // pending file this call started from).
        Err(StoreError::Conflict(_)) => services
            .store
            .get_file_fresh(&principal.tenant, id)
            .await?
            .ok_or(Error::not_found("file")),
        Err(e) => Err(e.into()),
    }
}

async fn assemble(
    services: &Services,
    file: &FileRecord,
    upload_id: &str,
    part_count: u32,
    parts: &[(u32, ETag)],
) -> Result<crate::ports::BlobMeta> {
    // A previous complete may have assembled the object and then failed a check.
    if let Some(meta) = services.blobs.head(&file.blob_key).await? {
        return Ok(meta);
    }
    if parts.is_empty() || parts.len() > part_count as usize {
        return Err(Error::invalid(
            "invalid-parts",
            format!("complete needs 1 to {part_count} parts"),
        ));
    }
    if !parts.windows(2).all(|w| w[0].0 < w[1].0) || parts.iter().any(|(n, _)| *n == 0 || *n > part_count) {
        return Err(Error::invalid(
            "invalid-parts",
            "part numbers must be ascending within the upload's part count",
        ));
    }
    services
        .blobs
        .complete_multipart(&file.blob_key, upload_id, parts)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => Error::mismatch("part-mismatch", m),
            StoreError::NotFound => Error::conflict("upload-missing", "the multipart upload has no parts"),
            other => other.into(),
        })
}

/// The most bytes one part of the multipart upload stored at `blob_key` may hold: its
/// planned part size. Storage serving a part URL asks, so a part cannot fill the disk.
pub async fn part_limit(services: &Services, blob_key: &str) -> Result<u64> {
    let (tenant, id) = parse_blob_key(blob_key).ok_or(Error::not_found("upload"))?;
    match services.store.get_file(&tenant, id).await? {
        Some(FileRecord {
            status: FileStatus::Pending,
            upload: UploadPlan::Multipart { part_size, .. },
            ..
        }) => Ok(part_size),
        _ => Err(Error::not_found("upload")),
    }
}

/// Whether the single upload (signed PUT or form) stored at `blob_key` still waits for its
/// bytes. Storage serving its signed URL asks first, so a URL that is still unexpired cannot
/// replace the bytes of a completed file, nor store bytes for an aborted or expired one.
pub async fn accepts_single_upload(services: &Services, blob_key: &str) -> Result<()> {
    let (tenant, id) = parse_blob_key(blob_key).ok_or(Error::not_found("upload"))?;
    match services.store.get_file(&tenant, id).await? {
        Some(FileRecord {
            status: FileStatus::Pending,
            upload: UploadPlan::Put | UploadPlan::Form,
            ..
        }) => Ok(()),
        _ => Err(Error::not_found("upload")),
    }
}

/// One item of a batch completion.
pub type BatchItem = (FileId, Completion);

/// Completes several uploads; each item succeeds or fails on its own (seed 002).
pub async fn complete_batch(
    services: &Services,
    principal: &Principal,
    items: Vec<BatchItem>,
) -> Result<Vec<(FileId, Result<FileRecord>)>> {
    principal.require(Permission::Write)?;
    if items.is_empty() || items.len() > services.settings.max_batch {
        return Err(Error::invalid(
            "too-many-items",
            format!("a batch holds 1 to {} items", services.settings.max_batch),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (id, done) in items {
        out.push((id, complete(services, principal, id, done).await));
    }
    Ok(out)
}

/// Aborts a pending upload: frees the parts and bytes; the file ends `expired`.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn abort(services: &Services, principal: &Principal, id: FileId) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let file = pending_file(services, principal, id).await?;
    let mut next = file.clone();
    next.status = FileStatus::Expired;
    next.status_reason = Some("upload aborted".into());
    next.updated_at = Utc::now();
    let job = remove_blob_job(&file);
    let saved = outbox::save(
        services.store.as_ref(),
        file.status,
        &next,
        &[FileStatus::Pending],
        Some(job),
    )
    .await?;
    audit::record_change(
        services,
        &Actor::of(principal),
        "file.upload_aborted",
        Some(id),
        json!({}),
    )
    .await;
    Ok(saved)
}

/// The audit record of bytes that arrived and were verified, whichever way they came.
pub(crate) async fn audit_uploaded(services: &Services, principal: &Principal, file: &FileRecord) {
    let details = json!({
        "bucket": file.bucket.as_str(),
        "path": file.path.to_string(),
        "size": file.size,
        "sha256": file.sha256.as_ref().map(ToString::to_string),
    });
    audit::record_change(services, &Actor::of(principal), "file.uploaded", Some(file.id), details).await;
}

/// The job that frees a file's unfinished multipart parts, and its bytes and thumbnails
/// unless another file still uses them.
pub(crate) fn remove_blob_job(file: &FileRecord) -> Job {
    let multipart_upload_id = match &file.upload {
        UploadPlan::Multipart { upload_id, .. } => Some(upload_id.clone()),
        _ => None,
    };
    Job::RemoveBlob {
        tenant: file.tenant.clone(),
        file_id: file.id,
        blob_key: file.blob_key.clone(),
        multipart_upload_id,
        thumbnail_sizes: file.thumbnail_sizes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_to_fit_the_part_limit() {
        let mib = 1024 * 1024;
        assert_eq!(part_size_for(100 * mib, 8 * mib, 10_000).unwrap(), 8 * mib);
        assert_eq!(part_size_for(1, 1, 10_000).unwrap(), MIN_PART_SIZE);
        let huge = 200 * 1024 * mib * 1024; // 200 TiB
        assert!(part_size_for(huge, 8 * mib, 10_000).is_err());
        let big = 1024 * 1024 * mib; // 1 TiB
        let size = part_size_for(big, 8 * mib, 10_000).unwrap();
        assert!(part_count_for(big, size) <= 10_000);
    }

    #[test]
    fn part_count_rounds_up_and_is_never_zero() {
        assert_eq!(part_count_for(0, 5), 1);
        assert_eq!(part_count_for(10, 5), 2);
        assert_eq!(part_count_for(11, 5), 3);
    }
}
