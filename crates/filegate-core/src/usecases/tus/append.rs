//! `PATCH`: append a body at the upload's offset.
//!
//! The request first takes a lease on the upload (written in its row, compare-and-set on the
//! change number), renews it while the body streams, and gives it back with the write that
//! records the new offset. So of two requests on one upload only one appends at a time,
//! whichever gateway they reach, and one that died holds the upload for [`LEASE`] at most.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::checksum::Checked;
use super::{TusStatus, max_length, size_limit, tus_file};
use crate::domain::{Concat, FileAction, FileId, FileRecord, Lease, Principal, TusUpload, UploadChecksum, UploadPlan};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::{AppendLimits, Appended, ByteStream};
use crate::usecases::context::{HasBlobs, HasClock, HasLookups, HasSettings, HasStore};
use crate::usecases::uploads::{self, Completion};
use crate::usecases::{buckets, chrono_duration, quotas};

/// How long a lease holds without being renewed.
const LEASE: Duration = Duration::from_secs(30);
/// How often a request that is still appending renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// What a `PATCH` says besides its body.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// `Upload-Offset`: must be the stored offset.
    pub offset: u64,
    /// `Upload-Length`, for an upload whose length was deferred.
    pub length: Option<u64>,
    /// `Content-Length`, when sent: a body that would pass the length is refused unread.
    pub content_length: Option<u64>,
    pub checksum: Option<UploadChecksum>,
}

fn tus_of(file: &FileRecord) -> Result<&TusUpload> {
    match &file.upload {
        UploadPlan::Tus(tus) => Ok(tus),
        _ => Err(Error::not_found("upload")),
    }
}

fn with_tus(file: &FileRecord, change: impl FnOnce(&mut TusUpload)) -> FileRecord {
    let mut next = file.clone();
    if let UploadPlan::Tus(tus) = &mut next.upload {
        change(tus);
    }
    next
}

fn locked(until: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> Error {
    Error::Locked {
        code: ErrorCode::UploadLocked,
        message: "another request is appending to this upload; retry shortly".into(),
        retry_after: (until - now).to_std().unwrap_or(Duration::from_secs(1)),
    }
}

/// Appends `body` at `patch.offset` and answers where the upload stands. The last byte
/// completes the file (`uploads::complete`), so the answer may be an `uploaded` file.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %id))]
pub async fn append(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock + HasLookups),
    principal: &Principal,
    id: FileId,
    patch: Patch,
    body: ByteStream,
) -> Result<TusStatus> {
    let (file, pending) = tus_file(cx, principal, id, FileAction::FinishUpload).await?;
    if let UploadPlan::Tus(TusUpload {
        concat: Some(Concat::Final(_)),
        ..
    }) = &file.upload
    {
        return Err(Error::Forbidden {
            code: ErrorCode::TusFinalUpload,
            message: "a final upload's bytes are its partial uploads': nothing is appended to it".into(),
        });
    }
    let Some(tus) = pending else {
        return Err(Error::conflict(
            ErrorCode::WrongStatus,
            format!("the upload is {}, not pending", file.status),
        ));
    };
    if patch.offset != tus.offset() {
        return Err(Error::conflict(
            ErrorCode::OffsetMismatch,
            format!("Upload-Offset is {}, the upload is at {}", patch.offset, tus.offset()),
        ));
    }
    let partial = tus.concat == Some(Concat::Partial);
    let bucket = buckets::get_for(cx, principal, &file.bucket).await?;
    let length = declared_length(cx, principal, &file, &tus, patch.length).await?;
    let max_offset = max_length(size_limit(&bucket, partial), length);
    if let Some(sent) = patch.content_length
        && tus.offset().saturating_add(sent) > max_offset
    {
        return Err(past_length(length, max_offset));
    }

    let now = cx.clock().now();
    if let Some(lease) = tus.lease.as_ref().filter(|l| l.until > now) {
        return Err(locked(lease.until, now));
    }
    let holder = uuid::Uuid::new_v4().to_string();
    let mut leased = with_tus(&file, |t| {
        t.length = length;
        t.lease = Some(Lease {
            holder: holder.clone(),
            until: now + chrono_duration(LEASE),
        });
    });
    leased.size = length.unwrap_or(leased.size);
    let leased = cx
        .store()
        .record_upload(&file, &leased)
        .await
        .map_err(|e| lost(e, now))?;

    let (checked, body) = match &patch.checksum {
        Some(expected) => {
            let (checked, body) = Checked::wrap(expected, body);
            (Some(checked), body)
        }
        None => (None, body),
    };
    let limits = AppendLimits { max_offset, length };
    let latest = Mutex::new(leased);
    let appended = {
        let from = tus_of(&latest.lock().unwrap_or_else(PoisonError::into_inner))?
            .appending
            .clone();
        tokio::select! {
            appended = cx.blobs().append(&file.blob_key, &from, body, limits) => appended,
            // Another request holds the upload now: it records, not this one.
            lost = renew(cx, &latest) => return Err(lost),
        }
    };
    let latest = latest.into_inner().unwrap_or_else(PoisonError::into_inner);

    let kept = match appended {
        Ok(appended) => keep(checked.as_ref(), patch.checksum.as_ref(), appended),
        Err(e) => Err(match e {
            StoreError::TooLarge(_) => past_length(length, max_offset),
            StoreError::Conflict(_) => locked(now + chrono_duration(LEASE), now),
            other => other.into(),
        }),
    };
    // The lease goes back with the last write, which records the new state if there is one.
    let mut next = with_tus(&latest, |t| {
        t.lease = None;
        if let Ok((state, _)) = &kept {
            t.appending = state.clone();
        }
    });
    let at = cx.clock().now();
    if kept.is_ok() {
        next.upload_expires_at = at + chrono_duration(cx.settings().upload_url_ttl);
    }
    next.updated_at = at;
    let stored = cx.store().record_upload(&latest, &next).await.map_err(|e| lost(e, at));
    let (_, broke) = kept?;
    let stored = stored?;
    if let Some(reason) = broke {
        return Err(Error::invalid(ErrorCode::BodyInvalid, reason));
    }
    let tus = tus_of(&stored)?;
    // A partial upload's last byte makes no file: it waits for its final upload.
    if tus.length == Some(tus.offset()) && tus.concat != Some(Concat::Partial) {
        let done = uploads::complete(cx, principal, id, Completion::default()).await?;
        return Ok(TusStatus::of(&done));
    }
    Ok(TusStatus::of(&stored))
}

/// The length after this `PATCH`: the one declared at creation, or one declared now for an
/// upload that deferred it, checked as creation checks a length.
async fn declared_length(
    cx: &(impl HasStore + HasLookups),
    principal: &Principal,
    file: &FileRecord,
    tus: &TusUpload,
    now_declared: Option<u64>,
) -> Result<Option<u64>> {
    let bad = |m: String| Error::invalid(ErrorCode::InvalidTusHeader, m);
    match (tus.length, now_declared) {
        (known, None) => Ok(known),
        (Some(known), Some(sent)) if known == sent => Ok(Some(known)),
        (Some(known), Some(sent)) => Err(bad(format!("Upload-Length is {known}, not {sent}"))),
        (None, Some(sent)) if sent < tus.offset() => Err(bad(format!(
            "Upload-Length {sent} is below the {} bytes already stored",
            tus.offset()
        ))),
        (None, Some(sent)) => {
            if !file.is_tus_partial() {
                let bucket = buckets::get_for(cx, principal, &file.bucket).await?;
                bucket.policy.admit(Some(sent), &file.content_type)?;
            }
            if sent > super::DEFERRED_MAX {
                return Err(Error::too_large(format!(
                    "an upload whose length was deferred holds at most {} bytes",
                    super::DEFERRED_MAX
                )));
            }
            quotas::precheck(cx, &principal.tenant, sent).await?;
            Ok(Some(sent))
        }
    }
}

fn past_length(length: Option<u64>, max_offset: u64) -> Error {
    match length {
        Some(length) => Error::TooLarge {
            code: ErrorCode::UploadLengthExceeded,
            message: format!("the body would take the upload past its Upload-Length of {length}"),
        },
        None => Error::too_large(format!("the upload may hold at most {max_offset} bytes")),
    }
}

/// A store conflict while recording: another request moved the upload (took the lease).
fn lost(e: StoreError, now: chrono::DateTime<chrono::Utc>) -> Error {
    match e {
        StoreError::Conflict(_) => locked(now + chrono_duration(LEASE), now),
        StoreError::NotFound => Error::not_found("upload"),
        other => other.into(),
    }
}

/// What of an append is kept: all of it, unless a checksum was declared and the bytes do
/// not have it (or broke off, so cannot be checked).
fn keep(
    checked: Option<&Checked>,
    expected: Option<&UploadChecksum>,
    appended: Appended,
) -> Result<(crate::ports::Appending, Option<String>)> {
    if let (Some(checked), Some(expected)) = (checked, expected) {
        if let Some(reason) = appended.broke {
            return Err(Error::invalid(
                ErrorCode::BodyInvalid,
                format!("{reason}; with Upload-Checksum nothing of it is kept"),
            ));
        }
        if !checked.matches(expected) {
            return Err(Error::Mismatch {
                code: ErrorCode::TusChecksumMismatch,
                message: "the body does not have its Upload-Checksum; nothing of it was kept".into(),
            });
        }
    }
    Ok((appended.state, appended.broke))
}

/// Renews the lease in `latest` every [`RENEW_EVERY`] until it cannot: runs beside the
/// append, which is dropped (stopped) when this returns.
async fn renew(cx: &(impl HasStore + HasClock), latest: &Mutex<FileRecord>) -> Error {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let seen = latest.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let now = cx.clock().now();
        let next = with_tus(&seen, |t| {
            if let Some(lease) = &mut t.lease {
                lease.until = now + chrono_duration(LEASE);
            }
        });
        match cx.store().record_upload(&seen, &next).await {
            Ok(stored) => *latest.lock().unwrap_or_else(PoisonError::into_inner) = stored,
            Err(e) => {
                tracing::warn!(error = %e, "lost the lease on a tus upload while appending");
                return lost(e, now);
            }
        }
    }
}
