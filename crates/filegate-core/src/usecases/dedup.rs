//! Deduplication (the same bytes uploaded again are not sent again): a create-upload that declares a sha256
//! already computed by us for a `ready` file of the same tenant (and bucket, when the
//! bucket's policy says `bucket`) gets a new file that shares that file's blob, and no upload.
//!
//! - **Only hashes we computed.** The match is on the `sha256` column, which only the server
//!   writes (completion hashing the stored bytes, or the `hash` stage); `declared_sha256` is
//!   never looked at. Size must match too: a sha256 that matches with another declared size
//!   is not a dedup (the upload then proceeds normally and fails its checksum at completion).
//! - **Never across tenants.** The lookup and the insert are scoped by the principal's tenant.
//! - **The target bucket's policy decides** (`dedup: off|bucket|tenant`); the source may sit
//!   in any bucket of the tenant under `tenant`. Sharing bytes never harms the source: blobs
//!   are reference-counted (see `pipeline::remove`).
//! - **The new file is `uploaded`, not `ready`.** Its own bucket's pipeline then runs over the
//!   shared bytes, exactly as for an upload: the scan, the sniffed type checked against *this*
//!   bucket's allow-list, thumbnails and index per *this* bucket's stages, and `file.uploaded`
//!   then `file.ready` (or `quarantined`, `failed`) through the outbox for webhooks and file
//!   requests. Copying the source's results instead would carry over verdicts made under
//!   another policy (another allow-list, no scan, older virus signatures), and would couple
//!   dedup to every stage's result format. What dedup saves is the transfer, the storage and
//!   the hashing; `hash` finds the sha256 already set, and thumbnails land on the blob's own
//!   keys, which the stage rewrites with the same bytes.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, Actor};
use super::context::{HasClock, HasStore};
use super::uploads::NewUpload;
use crate::domain::{
    Bucket, BucketName, DedupScope, FileEvent, FileRecord, FileStatus, NewFile, Principal, Sha256Hex, UploadPlan,
};
use crate::error::{Result, StoreError};
use crate::ports::{Effects, Job, NewJob};

/// How often a dedup looks for another source when the one it found went away (deleted)
/// between the lookup and the insert; after that the client simply uploads.
const ATTEMPTS: usize = 3;

/// The hash to look for and the bucket to look in (`None`: the whole tenant), when this
/// upload may be deduplicated at all.
fn eligible<'a>(bucket: &'a Bucket, req: &'a NewUpload) -> Option<(&'a Sha256Hex, Option<&'a BucketName>)> {
    // An upload declared `"encryption": "age"` sends ciphertext, and the sha256 it declares is
    // the ciphertext's: never deduplicated. (As a *source* an encrypted file is fine: the
    // decrypt stage leaves `sha256` as the hash of the plaintext it stored at `blob_key`.)
    if req.encryption.is_some() {
        return None;
    }
    let sha256 = req.sha256.as_ref()?;
    match bucket.policy.dedup {
        DedupScope::Off => None,
        DedupScope::Bucket => Some((sha256, Some(&bucket.name))),
        DedupScope::Tenant => Some((sha256, None)),
    }
}

/// A new `uploaded` file sharing `source`'s blob, with the caller's path, type and metadata.
fn shared_record(principal: &Principal, req: &NewUpload, source: &FileRecord, now: DateTime<Utc>) -> FileRecord {
    let mut file = FileRecord::pending(NewFile {
        id: crate::domain::FileId::new(),
        tenant: principal.tenant.clone(),
        owner: principal.subject.clone(),
        bucket: req.bucket.clone(),
        path: req.path.clone(),
        size: source.size,
        content_type: req.content_type.clone(),
        declared_sha256: req.sha256.clone(),
        metadata: req.metadata.clone(),
        external_id: req.external_id.clone(),
        encryption: None,
        request_id: req.request_id,
        upload: UploadPlan::Deduplicated { source: source.id },
        // Nothing to wait for: the bytes are there.
        upload_expires_at: now,
        now,
    });
    file.blob_key = source.blob_key.clone();
    file.sha256 = source.sha256.clone();
    file.etag = source.etag.clone();
    file.status = FileStatus::Uploaded;
    file
}

/// The new file sharing an existing blob, or `None` when this upload must send its bytes.
pub(crate) async fn share_existing(
    cx: &(impl HasStore + HasClock),
    principal: &Principal,
    bucket: &Bucket,
    req: &NewUpload,
    now: DateTime<Utc>,
) -> Result<Option<FileRecord>> {
    let Some((sha256, scope)) = eligible(bucket, req) else {
        return Ok(None);
    };
    for _ in 0..ATTEMPTS {
        let Some(source) = cx
            .store()
            .find_dedup_source(&principal.tenant, sha256, req.size, scope)
            .await?
        else {
            return Ok(None);
        };
        let file = shared_record(principal, req, &source, now);
        let details = json!({
            "bucket": file.bucket.as_str(),
            "path": file.path.to_string(),
            "size": file.size,
            "sha256": sha256.to_string(),
            "source": source.id.to_string(),
        });
        let effects = Effects {
            jobs: vec![
                NewJob::now(Job::ProcessFile {
                    tenant: file.tenant.clone(),
                    file_id: file.id,
                }),
                NewJob::now(Job::PublishEvent {
                    event: FileEvent::of_change(FileStatus::Pending, &file),
                }),
            ],
            audit: vec![audit::entry(
                cx,
                &Actor::of(principal),
                "file.deduplicated",
                Some(file.id),
                details,
            )],
        };
        match cx.store().insert_deduplicated(&file, source.id, &effects).await {
            Ok(stored) => {
                tracing::info!(file_id = %stored.id, source = %source.id, size = stored.size, "upload deduplicated");
                return Ok(Some(stored));
            }
            // The source stopped being `ready` (deleted) since the lookup: look again.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}
