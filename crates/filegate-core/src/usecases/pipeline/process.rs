//! Running a bucket's stages over one file: `uploaded` → `processing` → `ready`, or
//! `quarantined` when the scan stage halts it.

use tracing::Instrument as _;

use super::{Halt, StageContext, StageError, ready, registry, streams};
use crate::domain::{
    AuditRecord, FileId, FileRecord, FileStatus, ProcessingOutcome, TenantId, Verdict, processing_started,
};
use crate::error::StoreError;
use crate::ports::Effects;
use crate::usecases::Services;
use crate::usecases::audit::{self, Actor};
use crate::usecases::outbox::{jobs_of_change, save};

/// Processes one file. Idempotent: a file that is gone, deleted or already past processing
/// is left as it is, and a run cut off half-way simply runs again. Reads skip the cache
/// (`get_file_fresh`): a cached copy from before the upload completed would say `pending`,
/// and the job would end with the file left `uploaded` for good.
#[tracing::instrument(skip(services))]
pub async fn process_file(services: &Services, tenant: &TenantId, file_id: FileId) -> Result<(), StageError> {
    let Some(file) = services.store.get_file_fresh(tenant, file_id).await? else {
        return Ok(());
    };
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
    let seen = if file.status == FileStatus::Uploaded {
        match transition(services, file, Step::Start).await? {
            Some(processing) => processing,
            // Deleted meanwhile: not ours to finish.
            None => return Ok(()),
        }
    } else {
        file
    };

    let mut ctx = StageContext::new(services, &bucket, seen.clone());
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

    // Only what the pipeline owns is written back, so a rename or metadata change made
    // while the stages ran survives. The status change is the alert: `file.quarantined`
    // goes out through the outbox in the same transaction, to webhooks and the broker, like
    // every status change.
    let found = ctx.file;
    let outcome = ProcessingOutcome {
        verdict: match ctx.halt {
            None => Verdict::Ready,
            Some(Halt::Quarantine { signature }) => Verdict::Quarantined { signature },
        },
        sha256: found.sha256,
        processing: found.processing,
        blob_key: found.blob_key,
        size: found.size,
        content_type: found.content_type,
        etag: found.etag,
        at: services.clock.now(),
    };
    let Some(saved) = transition(services, seen, Step::Finish(&outcome)).await? else {
        return Ok(());
    };
    tracing::info!(status = %saved.status, "file processed");
    Ok(())
}

/// The pipeline's two transitions.
#[derive(Clone, Copy)]
enum Step<'a> {
    /// `uploaded` → `processing`.
    Start,
    /// `processing` → the verdict, with what the stages found.
    Finish(&'a ProcessingOutcome),
}

/// How often a transition is tried again from a file that changed under it (a rename, a
/// metadata change) before the job is retried instead.
const TRANSITION_TRIES: usize = 3;

/// Makes `step` from the file as last `seen`, with the jobs and events it causes in the same
/// transaction; `None` when the file is gone. A file changed meanwhile by someone else, but
/// still in the status the step starts from, is read again and the step made from what is
/// stored (its event then tells the new path); one whose status moved on is left to a retry,
/// which finds it done or gone.
async fn transition(
    services: &Services,
    mut seen: FileRecord,
    step: Step<'_>,
) -> Result<Option<FileRecord>, StageError> {
    let store = services.store.as_ref();
    for _ in 0..TRANSITION_TRIES {
        let result = match step {
            Step::Start => {
                let at = services.clock.now();
                let next = processing_started(&seen, at);
                let effects = Effects::jobs(jobs_of_change(seen.status, &next, Vec::new(), Vec::new()));
                store.start_processing(&seen, at, &effects).await
            }
            Step::Finish(outcome) => {
                let next = outcome.applied_to(&seen);
                let (work, events) = ready::follow_up(&next, &seen.blob_key);
                let effects = Effects {
                    jobs: jobs_of_change(seen.status, &next, work, events),
                    audit: quarantine_record(services, &next).into_iter().collect(),
                };
                store.finish_processing(&seen, outcome, &effects).await
            }
        };
        let refused = match result {
            Ok(stored) => return Ok(Some(stored)),
            Err(StoreError::NotFound) => return Ok(None),
            Err(StoreError::Conflict(refused)) => refused,
            Err(e) => return Err(e.into()),
        };
        match store.get_file_fresh(&seen.tenant, seen.id).await? {
            None => return Ok(None),
            Some(stored) if stored.status == seen.status => seen = stored,
            Some(_) => return Err(moved(refused)),
        }
    }
    Err(moved(format!("file {} kept changing", seen.id)))
}

/// Security staff find every quarantine in the audit trail: the record of a file that
/// `finish` quarantines commits with that transition (a trail that cannot be written fails
/// the transition, and the job retries), once however often the job runs (the key is derived
/// from the file). `None` for any other verdict.
fn quarantine_record(services: &Services, file: &FileRecord) -> Option<AuditRecord> {
    if file.status != FileStatus::Quarantined {
        return None;
    }
    let actor = Actor::system(file.tenant.clone(), "pipeline");
    let action = "file.quarantined";
    let details = serde_json::json!({
        "signature": file.status_reason,
        "bucket": file.bucket.to_string(),
        "path": file.path.to_string(),
        "sha256": file.sha256.as_ref().map(ToString::to_string),
    });
    Some(audit::entry_once(
        services,
        &actor,
        audit::once_key(action, &file.id.to_string()),
        action,
        Some(file.id),
        details,
    ))
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
