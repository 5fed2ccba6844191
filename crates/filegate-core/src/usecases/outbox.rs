//! The one way core writes a changed file: the new state, the work it causes, the event
//! announcing it and the audit record telling who made it commit together (the
//! transactional outbox), or none of them does.

use crate::domain::{AuditRecord, FileEvent, FileRecord, FileStatus, is_searchable};
use crate::error::StoreError;
use crate::ports::{Effects, Job, MetadataStore, NewJob};

/// Writes `next` if the stored status is one of `expected`, enqueueing `work` (if any) and
/// the event for the change from `previous`, and appending `audit` (if any), all in one
/// transaction.
pub(crate) async fn save(
    store: &dyn MetadataStore,
    previous: FileStatus,
    next: &FileRecord,
    expected: &[FileStatus],
    work: Option<Job>,
    audit: Option<AuditRecord>,
) -> Result<FileRecord, StoreError> {
    let effects = Effects {
        jobs: jobs_of_change(previous, next, work.into_iter().collect(), Vec::new()),
        audit: audit.into_iter().collect(),
    };
    store.update_file(next, expected, &effects).await
}

/// What commits with the change from `previous` to `next`: `work`, the search index update
/// when the file's entry appears, changes or goes, the event announcing the change, then
/// `events`.
pub(crate) fn jobs_of_change(
    previous: FileStatus,
    next: &FileRecord,
    work: Vec<Job>,
    events: Vec<FileEvent>,
) -> Vec<NewJob> {
    let mut jobs: Vec<NewJob> = work.into_iter().map(NewJob::now).collect();
    if next.is_tus_partial() {
        // No file of its own: never searchable, and nothing to announce.
        return jobs;
    }
    // The file's search entry appears, changes or goes: the index follows in a job that
    // commits with the change, so a crash cannot leave the index behind for good.
    if is_searchable(previous) || is_searchable(next.status) {
        jobs.push(NewJob::now(Job::IndexFile {
            tenant: next.tenant.clone(),
            file_id: next.id,
        }));
    }
    jobs.push(NewJob::now(Job::PublishEvent {
        event: FileEvent::of_change(previous, next),
    }));
    jobs.extend(events.into_iter().map(|event| NewJob::now(Job::PublishEvent { event })));
    jobs
}
