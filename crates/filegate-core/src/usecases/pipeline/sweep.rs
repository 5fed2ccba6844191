//! The sweeper: pending uploads that were never confirmed expire, deleted files whose
//! retention ended are purged. Both hand the byte removal to a job (`RemoveBlob`, which keeps
//! bytes another file still shares).
//!
//! A pending upload expires `upload_expiry_grace` after its URLs did: a PUT or part that
//! started just before the expiry is still accepted to the end (storage checks the expiry
//! when a request starts), and its client may still complete it during the grace.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::FileStatus;
use crate::error::StoreError;
use crate::usecases::audit::{self, Actor};
use crate::usecases::outbox::save;
use crate::usecases::uploads::remove_blob_job;
use crate::usecases::{Services, chrono_duration};

/// One sweep over at most `limit` due files; returns how many changed.
pub async fn sweep(services: &Services, now: DateTime<Utc>, limit: u32) -> Result<usize, StoreError> {
    let mut changed = 0;
    // An absurd grace (a config typo) never expires anything rather than overflowing.
    let expired_before = now
        .checked_sub_signed(chrono_duration(services.settings.upload_expiry_grace))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    for file in services.store.due_for_sweep(expired_before, now, limit).await? {
        let (status, reason) = match file.status {
            FileStatus::Pending => (FileStatus::Expired, "the upload was not completed before it expired"),
            FileStatus::Deleted => (FileStatus::Purged, "retention ended"),
            _ => continue,
        };
        let mut next = file.clone();
        next.status = status;
        next.status_reason = Some(reason.into());
        next.updated_at = now;
        let job = remove_blob_job(&file);
        // Once per file, even if two sweepers raced to the same row; it commits with the
        // change.
        let action = format!("file.{status}");
        let key = audit::once_key(&action, &file.id.to_string());
        let actor = Actor::system(file.tenant.clone(), "sweeper");
        let details = json!({"reason": reason, "blob_key": file.blob_key});
        let record = audit::entry_once(services, &actor, key, &action, Some(file.id), details);
        match save(
            services.store.as_ref(),
            file.status,
            &next,
            &[file.status],
            Some(job),
            Some(record),
        )
        .await
        {
            Ok(_) => changed += 1,
            // Completed or restored at the last moment: it is no longer due.
            Err(StoreError::Conflict(_) | StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    if changed > 0 {
        tracing::info!(changed, "sweep expired or purged files");
    }
    changed += super::archive::sweep(services, now, limit).await?;
    Ok(changed)
}
