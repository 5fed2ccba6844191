//! The one way core writes a changed file: the new state, the work it causes, and the event
//! announcing it commit together (the transactional outbox), or none of them does.

use crate::domain::{FileEvent, FileRecord, FileStatus};
use crate::error::StoreError;
use crate::ports::{Job, MetadataStore, NewJob};

/// Writes `next` if the stored status is one of `expected`, enqueueing `work` (if any) and
/// the event for the change from `previous`.
pub(crate) async fn save(
    store: &dyn MetadataStore,
    previous: FileStatus,
    next: &FileRecord,
    expected: &[FileStatus],
    work: Option<Job>,
) -> Result<FileRecord, StoreError> {
    let mut jobs = Vec::with_capacity(2);
    if let Some(job) = work {
        jobs.push(NewJob::now(job));
    }
    jobs.push(NewJob::now(Job::PublishEvent {
        event: FileEvent::of_change(previous, next),
    }));
    store.update_file(next, expected, &jobs).await
}
