//! Running a bucket's stages over one file: `uploaded` → `processing` → `ready`.

use chrono::Utc;
use tracing::Instrument as _;

use super::{StageContext, StageError, ready, registry};
use crate::domain::{FileId, FileStatus, TenantId};
use crate::error::StoreError;
use crate::usecases::Services;
use crate::usecases::outbox::{save, save_with};

/// Processes one file. Idempotent: a file that is gone, deleted or already past processing
/// is left as it is, and a run cut off half-way simply runs again.
#[tracing::instrument(skip(services))]
pub async fn process_file(services: &Services, tenant: &TenantId, file_id: FileId) -> Result<(), StageError> {
    let Some(file) = services.store.get_file(tenant, file_id).await? else {
        return Ok(());
    };
    if !matches!(file.status, FileStatus::Uploaded | FileStatus::Processing) {
        tracing::debug!(status = %file.status, "nothing to do");
        return Ok(());
    }
    let bucket = services
        .store
        .get_bucket(tenant, &file.bucket)
        .await?
        .ok_or_else(|| StageError::Fail(format!("bucket {} no longer exists", file.bucket)))?;

    // A retry finds the file already `processing`: nothing to announce again.
    let file = if file.status == FileStatus::Uploaded {
        let mut processing = file.clone();
        processing.status = FileStatus::Processing;
        processing.updated_at = Utc::now();
        match save(
            services.store.as_ref(),
            file.status,
            &processing,
            &[FileStatus::Uploaded],
            None,
        )
        .await
        {
            Ok(f) => f,
            // Deleted (or otherwise moved on) meanwhile: not ours to finish.
            Err(StoreError::NotFound) => return Ok(()),
            Err(StoreError::Conflict(seen)) => return Err(moved(seen)),
            Err(e) => return Err(e.into()),
        }
    } else {
        file
    };

    let mut ctx = StageContext { services, file };
    for stage in registry() {
        if bucket.policy.stages.iter().any(|s| s == stage.name()) {
            stage
                .run(&mut ctx)
                .instrument(tracing::debug_span!("stage", name = stage.name()))
                .await?;
        }
    }

    // Re-read so that a rename or metadata change made while the stages ran survives: the
    // pipeline writes back only what it owns.
    let outcome = ctx.file;
    let Some(mut ready) = services.store.get_file(tenant, file_id).await? else {
        return Ok(());
    };
    let previous_blob_key = ready.blob_key.clone();
    ready.sha256 = outcome.sha256;
    ready.processing = outcome.processing;
    // `decrypt` replaces the bytes: the file now describes the plaintext.
    ready.blob_key = outcome.blob_key;
    ready.size = outcome.size;
    ready.content_type = outcome.content_type;
    ready.etag = outcome.etag;
    ready.status = FileStatus::Ready;
    ready.status_reason = None;
    ready.updated_at = Utc::now();
    let (work, events) = ready::follow_up(&ready, &previous_blob_key);
    match save_with(
        services.store.as_ref(),
        FileStatus::Processing,
        &ready,
        &[FileStatus::Processing],
        work,
        events,
    )
    .await
    {
        Ok(_) => {
            tracing::info!("file ready");
            Ok(())
        }
        Err(StoreError::NotFound) => Ok(()),
        Err(StoreError::Conflict(seen)) => Err(moved(seen)),
        Err(e) => Err(e.into()),
    }
}

/// Marks a file `failed` with a reason, unless it has moved on meanwhile.
pub(crate) async fn mark_failed(
    services: &Services,
    tenant: &TenantId,
    file_id: FileId,
    reason: &str,
) -> Result<(), StoreError> {
    let Some(file) = services.store.get_file(tenant, file_id).await? else {
        return Ok(());
    };
    let previous = file.status;
    let mut failed = file;
    failed.status = FileStatus::Failed;
    failed.status_reason = Some(reason.chars().take(500).collect());
    failed.updated_at = Utc::now();
    match save(
        services.store.as_ref(),
        previous,
        &failed,
        &[FileStatus::Uploaded, FileStatus::Processing],
        None,
    )
    .await
    {
        Ok(_) | Err(StoreError::Conflict(_) | StoreError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The file changed under us, or what we read was stale (a cache another process had not yet
/// invalidated). Either way: try again later. The next run reads the file afresh and, if it
/// really moved on (deleted, already ready), finishes without doing anything.
fn moved(seen: String) -> StageError {
    StageError::Retry(anyhow::anyhow!("the file changed while processing: {seen}"))
}
