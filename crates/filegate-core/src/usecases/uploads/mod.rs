//! Uploads: create (signed PUT, form POST, multipart or a tus upload), more part URLs,
//! complete, abort.

use chrono::{DateTime, Utc};

use serde_json::json;

use super::audit::{self, Actor};
use super::context::{HasBlobs, HasClock, HasExchange, HasLookups, HasSettings, HasStore};
use super::{buckets, chrono_duration, dedup, outbox, quotas, requests, verify};
use crate::domain::{
    AuditRecord, BucketName, ContentType, ETag, Encryption, FileAction, FileId, FileRecord, FileStatus, Metadata,
    NewFile, ObjectPath, Permission, Principal, RequestId, Sha256Hex, TusUpload, UploadPlan, blob_key_for,
    parse_blob_key,
};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::{Effects, Job, SignedRequest, UploadConstraints};

mod multipart;

pub use multipart::{MIN_PART_SIZE, part_limit, part_size_for, part_urls_for};
use multipart::{assemble, part_count_for, part_urls};

/// How the client wants to send the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// Signed PUT, or multipart when the file is over the threshold.
    Auto,
    Put,
    Form,
    Multipart,
    /// A tus upload (docs/tus.md) the client appends to through a signed tus URL, for clients
    /// that must not hold a token.
    Tus,
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
    /// Append the bytes with tus to the upload of this file: the HTTP layer answers a
    /// signed tus URL (the core holds no key to sign it with).
    Tus,
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

/// Checks the free-form external id a client may attach (its own name for the file).
pub fn parse_external_id(s: &str) -> Result<String> {
    if s.is_empty() || s.len() > 255 || s.chars().any(char::is_control) {
        return Err(Error::invalid(
            ErrorCode::InvalidExternalId,
            "external_id is 1-255 characters without control characters",
        ));
    }
    Ok(s.to_owned())
}

#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, bucket = %req.bucket))]
pub async fn create(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasExchange + HasClock + HasLookups),
    principal: &Principal,
    req: NewUpload,
) -> Result<CreatedUpload> {
    principal.require(Permission::Upload)?;
    let settings = cx.settings();
    let bucket = buckets::get_for(cx, principal, &req.bucket).await?;
    bucket.policy.admit(Some(req.size), &req.content_type)?;
    // Refused rather than decrypted anyway: the bucket's stage list is the admin's pipeline,
    // and a stage that is needed is never run (or skipped) silently.
    if req.encryption.is_some() && !bucket.policy.stages.iter().any(|s| s == "decrypt") {
        return Err(Error::invalid(
            ErrorCode::DecryptNotEnabled,
            format!(
                "bucket {} does not run the decrypt stage; an admin adds \"decrypt\" to its stages",
                bucket.name
            ),
        ));
    }
    if let Some(request_id) = req.request_id {
        requests::require_pending(cx, &principal.tenant, request_id).await?;
    }

    // Before anything is prepared in storage (a multipart upload would be left behind). The
    // declared size is reserved from here until the file expires or is purged.
    quotas::precheck(cx, &principal.tenant, req.size).await?;
    let now = cx.clock().now();
    if let Some(file) = dedup::share_existing(cx, principal, &bucket, &req, now).await? {
        return Ok(CreatedUpload {
            file,
            expires_at: now,
            instructions: Instructions::Deduplicated,
        });
    }

    let multipart = match req.transfer {
        Transfer::Auto => req.size > settings.multipart_threshold,
        Transfer::Multipart => true,
        Transfer::Put | Transfer::Form | Transfer::Tus => false,
    };
    let expires_at = now + chrono_duration(settings.upload_url_ttl);
    let id = FileId::new();
    let blob_key = blob_key_for(&principal.tenant, id);

    let plan = if req.transfer == Transfer::Tus {
        let part_size = part_size_for(req.size, MIN_PART_SIZE, settings.max_parts)?;
        UploadPlan::Tus(TusUpload {
            length: Some(req.size),
            appending: cx.blobs().begin_append(&blob_key, &req.content_type, part_size).await?,
            metadata: String::new(),
            lease: None,
            concat: None,
        })
    } else if multipart {
        let part_size = part_size_for(req.size, settings.part_size, settings.max_parts)?;
        let part_count = part_count_for(req.size, part_size);
        let upload_id = cx.blobs().create_multipart(&blob_key, &req.content_type).await?;
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
    let details = json!({"bucket": record.bucket.as_str(), "path": record.path.to_string(), "size": record.size});
    let audited = Effects::NONE.audited(audit::entry(
        cx,
        &Actor::of(principal),
        "file.upload_created",
        Some(record.id),
        details,
    ));
    let file = match cx.store().insert_file(&record, &audited).await {
        Ok(file) => file,
        Err(e) => {
            // A concurrent upload took the room since the precheck (or the database failed):
            // nothing may stay behind in storage.
            let freed = match &record.upload {
                UploadPlan::Multipart { upload_id, .. } => cx.blobs().abort_multipart(&blob_key, upload_id).await,
                UploadPlan::Tus(tus) => cx.blobs().abort_append(&blob_key, &tus.appending.upload_id).await,
                _ => Ok(()),
            };
            if let Err(abort) = freed {
                tracing::warn!(error = %abort, "could not free the storage of a refused upload");
            }
            return Err(e.into());
        }
    };
    let instructions = instructions_for(cx, &file, expires_at)?;
    tracing::info!(file_id = %file.id, size = file.size, "upload created");
    Ok(CreatedUpload {
        file,
        expires_at,
        instructions,
    })
}

fn instructions_for(
    cx: &(impl HasBlobs + HasSettings),
    file: &FileRecord,
    expires_at: DateTime<Utc>,
) -> Result<Instructions> {
    let constraints = UploadConstraints {
        size: file.size,
        content_type: file.content_type.clone(),
        sha256: file.declared_sha256.clone(),
    };
    let blobs = cx.blobs();
    Ok(match &file.upload {
        UploadPlan::Form => Instructions::Single(blobs.presign_post(&file.blob_key, &constraints, expires_at)?),
        UploadPlan::Multipart {
            upload_id,
            part_size,
            part_count,
        } => {
            let first = (*part_count).min(cx.settings().part_urls_per_request);
            let numbers: Vec<u32> = (1..=first).collect();
            Instructions::Multipart {
                upload_id: upload_id.clone(),
                part_size: *part_size,
                part_count: *part_count,
                parts: part_urls(cx, file, upload_id, &numbers, expires_at)?,
            }
        }
        UploadPlan::Put | UploadPlan::Proxied => {
            Instructions::Single(blobs.presign_put(&file.blob_key, &constraints, expires_at)?)
        }
        UploadPlan::Deduplicated { .. } => Instructions::Deduplicated,
        UploadPlan::Tus(_) => Instructions::Tus,
    })
}

async fn pending_file(cx: &impl HasStore, principal: &Principal, id: FileId) -> Result<FileRecord> {
    let file = cx
        .store()
        .get_file(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("file"))?;
    // Before the status, which would tell a partner's machine that another's file exists.
    principal.require_on(FileAction::FinishUpload, &file.owner)?;
    if file.status != FileStatus::Pending {
        return Err(Error::conflict(
            ErrorCode::WrongStatus,
            format!("the file is {}, not pending", file.status),
        ));
    }
    Ok(file)
}

/// Verifies what arrived and moves the file to `uploaded`, enqueueing its processing in the
/// same transaction. Completing an already completed file answers it again (a client that
/// lost the first answer may retry). A mismatch leaves the file `pending` and completable.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn complete(
    cx: &(impl HasStore + HasBlobs + HasClock + HasLookups),
    principal: &Principal,
    id: FileId,
    done: Completion,
) -> Result<FileRecord> {
    principal.reach(FileAction::FinishUpload)?;
    let file = cx
        .store()
        .get_file(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("file"))?;
    principal.require_on(FileAction::FinishUpload, &file.owner)?;
    match file.status {
        FileStatus::Pending => {}
        FileStatus::Uploaded | FileStatus::Processing | FileStatus::Ready => return Ok(file),
        other => {
            return Err(Error::conflict(
                ErrorCode::WrongStatus,
                format!("the file is {other}, not pending"),
            ));
        }
    }
    let meta = match &file.upload {
        UploadPlan::Multipart {
            upload_id, part_count, ..
        } => assemble(cx, &file, upload_id, *part_count, &done.parts).await?,
        UploadPlan::Tus(tus) => super::tus::finish_bytes(cx, &file, tus).await?,
        // A form that is still valid can post again: what it brought so far becomes the
        // file's bytes for good, so that the ones verified below are the ones served.
        UploadPlan::Form => cx
            .blobs()
            .adopt_form_upload(&file.blob_key)
            .await?
            .ok_or_else(missing_upload)?,
        _ => cx.blobs().head(&file.blob_key).await?.ok_or_else(missing_upload)?,
    };
    let declared = done.size.unwrap_or(file.size);
    if meta.size != file.size || meta.size != declared {
        return Err(Error::mismatch(
            ErrorCode::SizeMismatch,
            format!("{} bytes arrived, {} were declared", meta.size, declared.max(file.size)),
        ));
    }
    if let Some(etag) = &done.etag
        && etag != &meta.etag
    {
        return Err(Error::mismatch(
            ErrorCode::EtagMismatch,
            "the etag does not match the stored object",
        ));
    }
    let bucket = buckets::get_for(cx, principal, &file.bucket).await?;
    bucket.policy.admit(Some(meta.size), &file.content_type)?;

    let mut sha256 = None;
    if file.declared_sha256.is_some() || done.sha256.is_some() {
        let actual = verify::stored_sha256(cx.blobs(), &file.blob_key, &meta).await?;
        // The sha256 declared at create binds every completion: bytes that differ from it
        // can never complete this file, so they are removed to make room for the right ones.
        if file
            .declared_sha256
            .as_ref()
            .is_some_and(|declared| declared != &actual)
        {
            let removed = discard_refused_bytes(cx, &file, &meta).await?;
            return Err(Error::mismatch(
                ErrorCode::ChecksumMismatch,
                if removed {
                    "the sha256 of the stored bytes differs from the one declared at create; they were \
                     removed: send the right bytes to the same URL, then complete again"
                } else {
                    "the sha256 of the stored bytes differs from the one declared at create"
                },
            ));
        }
        if done.sha256.as_ref().is_some_and(|claimed| claimed != &actual) {
            return Err(Error::mismatch(
                ErrorCode::ChecksumMismatch,
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
    next.updated_at = cx.clock().now();
    let job = Job::ProcessFile {
        tenant: file.tenant.clone(),
        file_id: file.id,
    };
    let record = uploaded_record(cx, principal, &next);
    match outbox::save(
        cx.store(),
        file.status,
        &next,
        &[FileStatus::Pending],
        Some(job),
        Some(record),
    )
    .await
    {
        Ok(stored) => {
            tracing::info!(size = stored.size, "upload completed");
            Ok(stored)
        }
        // A concurrent complete won; answer with what it stored (not a cached copy of the
        // pending file this call started from).
        Err(StoreError::Conflict(_)) => cx
            .store()
            .get_file_fresh(&principal.tenant, id)
            .await?
            .ok_or(Error::not_found("file")),
        Err(e) => Err(e.into()),
    }
}

fn missing_upload() -> Error {
    Error::conflict(ErrorCode::UploadMissing, "no bytes have arrived for this file yet")
}

/// Removes the bytes of a single upload (signed PUT or form) that `complete` refused for
/// good, so that the same URL can bring the right ones: storage keeps a single upload's
/// first bytes and refuses any later ones (`upload-already-stored`), so that bytes a
/// completion verified can never be replaced. Only bytes no completion can accept are
/// removed (they differ from the sha256 declared at create), so no concurrent completion
/// can have verified them; and only if they are still the ones refused. `true` if removed.
async fn discard_refused_bytes(
    cx: &impl HasBlobs,
    file: &FileRecord,
    refused: &crate::ports::BlobMeta,
) -> Result<bool> {
    if !matches!(file.upload, UploadPlan::Put | UploadPlan::Form) {
        // A multipart upload's parts are gone once assembled: nothing could be sent again.
        return Ok(false);
    }
    if cx.blobs().head(&file.blob_key).await?.as_ref() != Some(refused) {
        return Ok(false);
    }
    cx.blobs().delete(&file.blob_key).await?;
    tracing::info!(file_id = %file.id, "removed bytes that differ from the declared sha256");
    Ok(true)
}

/// Whether the single upload (signed PUT or form) stored at `blob_key` still waits for its
/// bytes. Storage serving its signed URL asks first, so a URL that is still unexpired cannot
/// replace the bytes of a completed file, nor store bytes for an aborted or expired one.
pub async fn accepts_single_upload(cx: &impl HasStore, blob_key: &str) -> Result<()> {
    let (tenant, id) = parse_blob_key(blob_key).ok_or(Error::not_found("upload"))?;
    match cx.store().get_file(&tenant, id).await? {
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

/// Completes several uploads; each item succeeds or fails on its own.
pub async fn complete_batch(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock + HasLookups),
    principal: &Principal,
    items: Vec<BatchItem>,
) -> Result<Vec<(FileId, Result<FileRecord>)>> {
    principal.reach(FileAction::FinishUpload)?;
    if items.is_empty() || items.len() > cx.settings().max_batch {
        return Err(Error::invalid(
            ErrorCode::TooManyItems,
            format!("a batch holds 1 to {} items", cx.settings().max_batch),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (id, done) in items {
        out.push((id, complete(cx, principal, id, done).await));
    }
    Ok(out)
}

/// Aborts a pending upload: frees the parts and bytes; the file ends `expired`.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn abort(cx: &(impl HasStore + HasClock), principal: &Principal, id: FileId) -> Result<FileRecord> {
    principal.reach(FileAction::FinishUpload)?;
    let file = pending_file(cx, principal, id).await?;
    let mut next = file.clone();
    next.status = FileStatus::Expired;
    next.status_reason = Some("upload aborted".into());
    next.updated_at = cx.clock().now();
    let job = remove_blob_job(&file);
    let record = audit::entry(cx, &Actor::of(principal), "file.upload_aborted", Some(id), json!({}));
    Ok(outbox::save(
        cx.store(),
        file.status,
        &next,
        &[FileStatus::Pending],
        Some(job),
        Some(record),
    )
    .await?)
}

/// The audit record of bytes that arrived and were verified, whichever way they came: it
/// commits with the file's move to `uploaded`.
pub(crate) fn uploaded_record(cx: &impl HasClock, principal: &Principal, file: &FileRecord) -> AuditRecord {
    let details = json!({
        "bucket": file.bucket.as_str(),
        "path": file.path.to_string(),
        "size": file.size,
        "sha256": file.sha256.as_ref().map(ToString::to_string),
    });
    audit::entry(cx, &Actor::of(principal), "file.uploaded", Some(file.id), details)
}

/// The job that frees a file's unfinished multipart parts, and its bytes and thumbnails
/// unless another file still uses them.
pub(crate) fn remove_blob_job(file: &FileRecord) -> Job {
    let (multipart_upload_id, appending) = match &file.upload {
        UploadPlan::Multipart { upload_id, .. } => (Some(upload_id.clone()), false),
        UploadPlan::Tus(tus) => (Some(tus.appending.upload_id.clone()), true),
        _ => (None, false),
    };
    Job::RemoveBlob {
        tenant: file.tenant.clone(),
        file_id: file.id,
        blob_key: file.blob_key.clone(),
        multipart_upload_id,
        appending,
        thumbnail_sizes: file.thumbnail_sizes(),
    }
}
