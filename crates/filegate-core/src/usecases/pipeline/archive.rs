//! `BuildArchive`: streams the files of a pending archive into one zip in storage, then
//! marks the archive `ready` with its record (its list of files: the trace of what went into
//! the zip) in the same transaction. Also the sweep of expired archives.
//!
//! Idempotent: a run finds the archive in the state the last one left. `pending` builds
//! (again — `BlobStore::put` replaces the object whole); `ready`, `failed` or `expired`
//! does nothing (the outcome committed with its record). A file that is no longer `ready`,
//! or whose bytes are gone or do not match its size, fails the archive for good; storage
//! trouble is retried, and when retries run out the worker calls [`give_up`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::StageError;
use super::zip;
use crate::domain::{Archive, ArchiveId, ArchiveStatus, FileId, FileRecord, TenantId};
use crate::error::StoreError;
use crate::ports::{Effects, ZipSink};
use crate::usecases::archives::{LOOKUP_BATCH, micros};
use crate::usecases::audit::{self, Actor};
use crate::usecases::{Services, chrono_duration};

#[tracing::instrument(skip(services))]
pub(crate) async fn build(services: &Services, tenant: &TenantId, id: ArchiveId) -> Result<(), StageError> {
    let Some(archive) = services.archives.get_archive(tenant, id).await? else {
        tracing::warn!("the archive no longer exists");
        return Ok(());
    };
    if archive.status != ArchiveStatus::Pending {
        return Ok(());
    }
    let _turn = super::streams::turn(services).await?;
    let size = match write_zip(services, &archive).await {
        Ok(size) => size,
        Err(StageError::Fail(reason)) => return fail(services, archive, reason).await,
        Err(retry) => return Err(retry),
    };
    // A stored bundle counts against the tenant's byte quota: one that does not fit (files
    // arrived since it was asked for) is not kept.
    let fits = crate::usecases::quotas::admit_bundle(services, &archive.tenant, size)
        .await
        .map_err(|e| StageError::Retry(anyhow::Error::new(e)))?;
    if let Err(exceeded) = fits {
        services.blobs.delete(&archive.blob_key()).await?;
        return fail(services, archive, exceeded.to_string()).await;
    }
    // As stored: the record of the outcome says the same.
    let now = micros(services.clock.now());
    let ready = Archive {
        status: ArchiveStatus::Ready,
        size: Some(size),
        updated_at: now,
        // The bundle is kept for its whole lifetime from the moment it can be fetched.
        expires_at: micros(now + chrono_duration(services.settings.archive_ttl)),
        ..archive
    };
    match services
        .archives
        .update_archive(&ready, &[ArchiveStatus::Pending], &outcome(services, &ready))
        .await
    {
        Ok(stored) => {
            tracing::info!(size, files = stored.entries.len(), "archive ready");
            metrics::counter!("filegate_archives_total", "outcome" => "ready").increment(1);
            Ok(())
        }
        // Expired (or gone) while it was being built: the zip must not outlive it.
        Err(StoreError::Conflict(_) | StoreError::NotFound) => {
            services.blobs.delete(&ready.blob_key()).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Called by the worker when the build's retries ran out: the archive fails with `reason`.
pub(crate) async fn give_up(
    services: &Services,
    tenant: &TenantId,
    id: ArchiveId,
    reason: &str,
) -> Result<(), StoreError> {
    let Some(archive) = services.archives.get_archive(tenant, id).await? else {
        return Ok(());
    };
    if archive.status != ArchiveStatus::Pending {
        return Ok(());
    }
    fail(services, archive, reason.to_owned())
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("{e}")))
}

async fn fail(services: &Services, archive: Archive, reason: String) -> Result<(), StageError> {
    tracing::warn!(reason = %reason, "archive failed");
    let failed = Archive {
        status: ArchiveStatus::Failed,
        error: Some(reason),
        updated_at: services.clock.now(),
        ..archive
    };
    match services
        .archives
        .update_archive(&failed, &[ArchiveStatus::Pending], &outcome(services, &failed))
        .await
    {
        Ok(_) => {
            metrics::counter!("filegate_archives_total", "outcome" => "failed").increment(1);
            Ok(())
        }
        Err(StoreError::Conflict(_) | StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The record of `archive`'s outcome, to commit with it: `archive.ready` with every file of
/// the zip, or `archive.failed` with the reason; under a key of the archive, so once per
/// archive however often a build runs.
fn outcome(services: &Services, archive: &Archive) -> Effects {
    let (action, details) = match archive.status {
        ArchiveStatus::Ready => (
            "archive.ready",
            json!({
                "archive_id": archive.id,
                "size": archive.size,
                "file_count": archive.entries.len(),
                "expires_at": archive.expires_at,
                "files": archive.entries.iter().map(|e| json!({
                    "file_id": e.file_id, "path": e.path, "name": e.name, "size": e.size,
                })).collect::<Vec<_>>(),
            }),
        ),
        ArchiveStatus::Failed => (
            "archive.failed",
            json!({"archive_id": archive.id, "reason": archive.error}),
        ),
        ArchiveStatus::Pending | ArchiveStatus::Expired => return Effects::NONE,
    };
    Effects::NONE.audited(audit::entry_once(
        services,
        &Actor::system(archive.tenant.clone(), "archiver"),
        audit::once_key(action, &archive.id.to_string()),
        action,
        None,
        details,
    ))
}

/// Streams the zip into storage; returns its size.
async fn write_zip(services: &Services, archive: &Archive) -> Result<u64, StageError> {
    let key = archive.blob_key();
    let limit = services
        .zip
        .size_bound(&mut archive.entries.iter().map(|e| (e.name.as_str(), e.size)));
    let (writer, failer, body) = zip::channel();
    let produce = async move {
        let result = fill(services, archive, services.zip.start(Box::new(writer))).await;
        if let Err(e) = &result {
            failer.fail(&e.to_string()).await;
        }
        result
    };
    let (produced, stored) = tokio::join!(produce, services.blobs.put(&key, body, limit));
    match (produced, stored) {
        (Ok(()), Ok(meta)) => Ok(meta.size),
        // What went wrong with the files explains best; the store only saw a broken body.
        (Err(StageError::Fail(reason)), _) => Err(StageError::Fail(reason)),
        (_, Err(e)) => Err(StageError::Retry(anyhow::Error::new(e).context("storing the archive"))),
        (Err(e), Ok(_)) => {
            // The stream ended in an error, so the store cannot have kept it; be sure.
            services.blobs.delete(&key).await?;
            Err(e)
        }
    }
}

/// Adds every entry, in order, reading the current record of each file in batches.
async fn fill(services: &Services, archive: &Archive, mut sink: Box<dyn ZipSink>) -> Result<(), StageError> {
    for batch in archive.entries.chunks(LOOKUP_BATCH) {
        let ids: Vec<FileId> = batch.iter().map(|e| e.file_id).collect();
        let files: HashMap<FileId, FileRecord> = services
            .archives
            .files_by_id(&archive.tenant, &ids)
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
        for entry in batch {
            let file = files
                .get(&entry.file_id)
                .filter(|f| f.status.is_servable())
                .ok_or_else(|| {
                    StageError::Fail(format!("file {} ({}) is no longer ready", entry.file_id, entry.path))
                })?;
            let body = services.blobs.get(&file.blob_key, None).await.map_err(|e| match e {
                StoreError::NotFound => StageError::Fail(format!("the bytes of file {} are missing", file.id)),
                other => other.into(),
            })?;
            let written = sink
                .add(&entry.name, file.created_at, body)
                .await
                .map_err(|e| StageError::Retry(anyhow::Error::new(e).context(format!("zipping file {}", file.id))))?;
            if written != file.size {
                return Err(StageError::Fail(format!(
                    "file {} has {written} bytes stored, not {}",
                    file.id, file.size
                )));
            }
        }
    }
    sink.finish()
        .await
        .map_err(|e| StageError::Retry(anyhow::Error::new(e).context("finishing the zip")))?;
    Ok(())
}

/// Archives past their expiry: the zip is deleted, then the archive marked `expired`
/// (deleting first: a crash in between leaves it due, and deleting again is harmless).
/// Returns how many expired.
pub(crate) async fn sweep(services: &Services, now: DateTime<Utc>, limit: u32) -> Result<usize, StoreError> {
    let mut expired = 0;
    for archive in services.archives.archives_due(now, limit).await? {
        services.blobs.delete(&archive.blob_key()).await?;
        let previous = archive.status;
        let next = Archive {
            status: ArchiveStatus::Expired,
            updated_at: now,
            ..archive
        };
        let key = audit::once_key("archive.expired", &next.id.to_string());
        let actor = Actor::system(next.tenant.clone(), "sweeper");
        let details = json!({"archive_id": next.id, "was": previous});
        let record = audit::entry_once(services, &actor, key, "archive.expired", None, details);
        match services
            .archives
            .update_archive(
                &next,
                &[ArchiveStatus::Pending, ArchiveStatus::Ready, ArchiveStatus::Failed],
                &Effects::NONE.audited(record),
            )
            .await
        {
            Ok(_) => expired += 1,
            Err(StoreError::Conflict(_) | StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    if expired > 0 {
        tracing::info!(expired, "sweep expired archives");
    }
    Ok(expired)
}
