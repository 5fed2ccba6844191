//! Running a bucket's stages over one file: `uploaded` → `processing` → `ready`, or
//! `quarantined` when the scan stage halts it.

use tracing::Instrument as _;

use super::{Halt, StageContext, StageError, ready, registry, streams};
use crate::domain::{FileId, FileRecord, FileStatus, TenantId};
use crate::error::StoreError;
use crate::usecases::Services;
use crate::usecases::audit::{self, Actor};
use crate::usecases::outbox::{save, save_with};

/// Processes one file. Idempotent: a file that is gone, deleted or already past processing
/// is left as it is, and a run cut off half-way simply runs again. Reads skip the cache
/// (`get_file_fresh`): a cached copy from before the upload completed would say `pending`,
/// and the job would end with the file left `uploaded` for good.
#[tracing::instrument(skip(services))]
pub async fn process_file(services: &Services, tenant: &TenantId, file_id: FileId) -> Result<(), StageError> {
    let Some(file) = services.store.get_file_fresh(tenant, file_id).await? else {
        return Ok(());
    };
    if file.status == FileStatus::Quarantined {
        // A run that quarantined the file and died before auditing it: finish that part.
        return audit_quarantine(services, &file).await;
    }
    if !matches!(file.status, FileStatus::Uploaded | FileStatus::Processing) {
        tracing::debug!(status = %file.status, "nothing to do");
        return Ok(());
    }
    let bucket = services
        .lookups
        .bucket(services.store.as_ref(), tenant, &file.bucket)
        .await?
        .ok_or_else(|| StageError::Fail(format!("bucket {} no longer exists", file.bucket)))?;
    // A file whose processing streams waits here for a turn (on a first attempt it is still
    // `uploaded`, so it shows as queued), while small files go on past it.
    let _turn = if streams::needs_turn(&file, &bucket) {
        Some(streams::turn(services).await?)
    } else {
        None
    };

    // A retry finds the file already `processing`: nothing to announce again.
    let file = if file.status == FileStatus::Uploaded {
        let mut processing = file.clone();
        processing.status = FileStatus::Processing;
        processing.updated_at = services.clock.now();
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

    let mut ctx = StageContext::new(services, &bucket, file);
    for stage in registry() {
        if bucket.policy.stages.iter().any(|s| s == stage.name()) {
            stage
                .run(&mut ctx)
                .instrument(tracing::debug_span!("stage", name = stage.name()))
                .await?;
            if ctx.halt.is_some() {
                break;
            }
        }
    }

    // Re-read so that a rename or metadata change made while the stages ran survives: the
    // pipeline writes back only what it owns.
    let outcome = ctx.file;
    let Some(mut ready) = services.store.get_file_fresh(tenant, file_id).await? else {
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
    // The status change is the alert: `file.quarantined` goes out through the outbox in the
    // same transaction, to webhooks and the broker, like every status change.
    (ready.status, ready.status_reason) = match ctx.halt {
        None => (FileStatus::Ready, None),
        Some(Halt::Quarantine { signature }) => (FileStatus::Quarantined, Some(signature.chars().take(500).collect())),
    };
    ready.updated_at = services.clock.now();
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
        Ok(saved) => {
            tracing::info!(status = %saved.status, "file processed");
            if saved.status == FileStatus::Quarantined {
                audit_quarantine(services, &saved).await?;
            }
            Ok(())
        }
        Err(StoreError::NotFound) => Ok(()),
        Err(StoreError::Conflict(seen)) => Err(moved(seen)),
        Err(e) => Err(e.into()),
    }
}

/// Security staff find every quarantine in the audit trail, exactly once however often the
/// job runs (the key is derived from the file). A failure here retries the job, which then
/// finds the file quarantined and records it again under the same key.
async fn audit_quarantine(services: &Services, file: &FileRecord) -> Result<(), StageError> {
    let actor = Actor::system(file.tenant.clone(), "pipeline");
    let action = "file.quarantined";
    let details = serde_json::json!({
        "signature": file.status_reason,
        "bucket": file.bucket.to_string(),
        "path": file.path.to_string(),
        "sha256": file.sha256.as_ref().map(ToString::to_string),
    });
    audit::record_once(
        services,
        &actor,
        audit::once_key(action, &file.id.to_string()),
        action,
        Some(file.id),
        details,
    )
    .await
    .map_err(|e| StageError::Retry(anyhow::anyhow!("recording the quarantine in the audit trail: {e}")))
}

/// Marks a file `failed` with a reason, unless it has moved on meanwhile.
pub(crate) async fn mark_failed(
    services: &Services,
    tenant: &TenantId,
    file_id: FileId,
    reason: &str,
) -> Result<(), StoreError> {
    let Some(file) = services.store.get_file_fresh(tenant, file_id).await? else {
        return Ok(());
    };
    let previous = file.status;
    let mut failed = file;
    failed.status = FileStatus::Failed;
    failed.status_reason = Some(reason.chars().take(500).collect());
    failed.updated_at = services.clock.now();
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

/// The file changed under us (its status moved while the stages ran): try again later. The
/// next run reads the file afresh and, if it really moved on (deleted, already ready),
/// finishes without doing anything.
fn moved(seen: String) -> StageError {
    StageError::Retry(anyhow::anyhow!("the file changed while processing: {seen}"))
}
