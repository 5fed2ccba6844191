//! `RemoveBlob`: freeing the bytes of a file that was aborted, expired, or purged.
//!
//! ## Reference counting without a counter
//!
//! Deduplicated files share one blob, so removing a file must not remove bytes another file
//! uses. There is no counter to drift (a job run twice, a crash between two writes): a blob
//! key is *in use* while any file row that references it is in a status that still needs
//! the bytes — every status but `expired` and `purged` (a `deleted` file may be restored).
//! The job removes the bytes only when no other row is in use
//! ([`MetadataStore::blob_in_use`](crate::ports::MetadataStore::blob_in_use), an index on
//! `blob_key`).
//!
//! Why a purge racing a dedup can never leave a file pointing at deleted bytes:
//!
//! 1. A new reference to a blob appears only through a dedup insert, which is atomic with
//!    its check: the row is inserted only if, in the same transaction, its source row still
//!    references the blob and is `ready` — and the source row stays locked until the insert
//!    commits (SQLite: one writer at a time; PostgreSQL: `FOR SHARE`), so it cannot be
//!    deleted half-way. (A fresh upload always gets a blob key of its own.)
//! 2. So a new reference needs a live reference at the moment it commits: a `ready` row is
//!    in use. Once no row is in use, none can ever be again — `expired` and `purged` are
//!    final, and restore only revives `deleted` rows, which count as in use.
//! 3. This job runs after the transaction that made the removed file `expired`/`purged`
//!    committed (it is enqueued in it). If its check finds another row in use, the bytes
//!    stay (that row's own removal will check again). If it finds none, by 2 no dedup can
//!    pick the blob any more, and any dedup that committed before the check was seen by it.
//!    Removing the bytes afterwards is therefore safe, and idempotent if the job runs twice.
//!
//! Thumbnails live beside the blob (`thumbnail_key`) and go with it: the sizes the removed
//! file recorded (carried in the job) plus any size another row that shared the blob
//! recorded (a file purged earlier, whose removal kept the bytes for this one).

use super::StageError;
use crate::domain::{FileId, TenantId, thumbnail_key};
use crate::usecases::Services;

pub(crate) struct Removal<'a> {
    pub tenant: &'a TenantId,
    pub file_id: FileId,
    pub blob_key: &'a str,
    pub multipart_upload_id: Option<&'a str>,
    /// The upload is a tus upload: freed with what it keeps beside the object.
    pub appending: bool,
    pub thumbnail_sizes: &'a [u32],
}

pub(crate) async fn remove_blob(services: &Services, job: Removal<'_>) -> Result<(), StageError> {
    // The parts of an unfinished multipart upload belong to this pending file alone: no file
    // can share a blob before it is `ready`.
    match job.multipart_upload_id {
        Some(upload_id) if job.appending => services.blobs.abort_append(job.blob_key, upload_id).await?,
        Some(upload_id) => services.blobs.abort_multipart(job.blob_key, upload_id).await?,
        None => {}
    }
    if services
        .store
        .blob_in_use(job.tenant, job.blob_key, job.file_id)
        .await?
    {
        tracing::info!(blob_key = job.blob_key, "blob still used by another file; kept");
        return Ok(());
    }
    let mut sizes = services.store.blob_thumbnail_sizes(job.tenant, job.blob_key).await?;
    sizes.extend_from_slice(job.thumbnail_sizes);
    sizes.sort_unstable();
    sizes.dedup();
    // Thumbnails first: a job cut off half-way runs again and finds the blob still to remove.
    for size in sizes {
        services.blobs.delete(&thumbnail_key(job.blob_key, size)).await?;
    }
    // A browser form posted after its file completed leaves bytes beside the blob.
    services.blobs.discard_form_upload(job.blob_key).await?;
    services.blobs.delete(job.blob_key).await?;
    tracing::info!(blob_key = job.blob_key, "blob removed");
    Ok(())
}
