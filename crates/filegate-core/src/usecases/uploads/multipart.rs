//! Multipart uploads: the part size and count of a new one, more signed part URLs while it
//! runs, the parts assembled at complete, and the limit storage enforces on each part.

use chrono::{DateTime, Utc};

use super::pending_file;
use crate::domain::{ETag, FileAction, FileId, FileRecord, FileStatus, Principal, UploadPlan, parse_blob_key};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Effects;
use crate::usecases::chrono_duration;
use crate::usecases::context::{HasBlobs, HasClock, HasSettings, HasStore};

/// S3 refuses parts under 5 MiB (except the last); we never ask for smaller ones.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Signed URLs for the given parts of the upload, all expiring at `expires_at`.
pub(super) fn part_urls(
    cx: &impl HasBlobs,
    file: &FileRecord,
    upload_id: &str,
    numbers: &[u32],
    expires_at: DateTime<Utc>,
) -> Result<Vec<(u32, String)>> {
    numbers
        .iter()
        .map(|n| Ok((*n, cx.blobs().presign_part(&file.blob_key, upload_id, *n, expires_at)?)))
        .collect()
}

/// The part size: the preferred one, grown (in whole MiB) until the file fits in `max_parts`.
pub fn part_size_for(size: u64, preferred: u64, max_parts: u32) -> Result<u64> {
    let mib = 1024 * 1024;
    let needed = size.div_ceil(u64::from(max_parts.max(1)));
    let part_size = preferred.max(MIN_PART_SIZE).max(needed.div_ceil(mib) * mib);
    if part_size > MAX_PART_SIZE {
        return Err(Error::too_large(format!(
            "size {size} is too large for a multipart upload"
        )));
    }
    Ok(part_size)
}

pub fn part_count_for(size: u64, part_size: u64) -> u32 {
    u32::try_from(size.div_ceil(part_size).max(1)).unwrap_or(u32::MAX)
}

/// More signed part URLs for a multipart upload in progress.
pub async fn part_urls_for(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock),
    principal: &Principal,
    id: FileId,
    numbers: Vec<u32>,
) -> Result<Vec<(u32, String)>> {
    principal.reach(FileAction::FinishUpload)?;
    let file = pending_file(cx, principal, id).await?;
    let UploadPlan::Multipart {
        upload_id, part_count, ..
    } = &file.upload
    else {
        return Err(Error::conflict(
            ErrorCode::NotMultipart,
            "this upload is not a multipart upload",
        ));
    };
    if numbers.is_empty() || numbers.len() > cx.settings().part_urls_per_request as usize {
        return Err(Error::invalid(
            ErrorCode::InvalidParts,
            format!("ask for 1 to {} part numbers", cx.settings().part_urls_per_request),
        ));
    }
    if let Some(n) = numbers.iter().find(|n| **n == 0 || **n > *part_count) {
        return Err(Error::invalid(
            ErrorCode::InvalidParts,
            format!("part {n} is outside 1..={part_count}"),
        ));
    }
    let expires_at = cx.clock().now() + chrono_duration(cx.settings().upload_url_ttl);
    let urls = part_urls(cx, &file, upload_id, &numbers, expires_at)?;
    // The upload lives as long as its newest URL: a long multipart upload that keeps asking
    // for part URLs must not be expired (and its parts removed) while they still work. Not
    // a status change, so no event.
    if expires_at > file.upload_expires_at {
        let mut next = file.clone();
        next.upload_expires_at = expires_at;
        cx.store()
            .update_file(&next, &[FileStatus::Pending], &Effects::NONE)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::conflict(ErrorCode::WrongStatus, "the file is no longer pending"),
                StoreError::NotFound => Error::not_found("file"),
                other => other.into(),
            })?;
    }
    Ok(urls)
}

pub(super) async fn assemble(
    cx: &impl HasBlobs,
    file: &FileRecord,
    upload_id: &str,
    part_count: u32,
    parts: &[(u32, ETag)],
) -> Result<crate::ports::BlobMeta> {
    // A previous complete may have assembled the object and then failed a check.
    if let Some(meta) = cx.blobs().head(&file.blob_key).await? {
        return Ok(meta);
    }
    if parts.is_empty() || parts.len() > part_count as usize {
        return Err(Error::invalid(
            ErrorCode::InvalidParts,
            format!("complete needs 1 to {part_count} parts"),
        ));
    }
    if !parts.windows(2).all(|w| w[0].0 < w[1].0) || parts.iter().any(|(n, _)| *n == 0 || *n > part_count) {
        return Err(Error::invalid(
            ErrorCode::InvalidParts,
            "part numbers must be ascending within the upload's part count",
        ));
    }
    cx.blobs()
        .complete_multipart(&file.blob_key, upload_id, parts)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => Error::mismatch(ErrorCode::PartMismatch, m),
            StoreError::NotFound => Error::conflict(ErrorCode::UploadMissing, "the multipart upload has no parts"),
            other => other.into(),
        })
}

/// The most bytes one part of the multipart upload stored at `blob_key` may hold: its
/// planned part size. Storage serving a part URL asks, so a part cannot fill the disk.
pub async fn part_limit(cx: &impl HasStore, blob_key: &str) -> Result<u64> {
    let (tenant, id) = parse_blob_key(blob_key).ok_or(Error::not_found("upload"))?;
    match cx.store().get_file(&tenant, id).await? {
        Some(FileRecord {
            status: FileStatus::Pending,
            upload: UploadPlan::Multipart { part_size, .. },
            ..
        }) => Ok(part_size),
        _ => Err(Error::not_found("upload")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_to_fit_the_part_limit() {
        let mib = 1024 * 1024;
        assert_eq!(part_size_for(100 * mib, 8 * mib, 10_000).unwrap(), 8 * mib);
        assert_eq!(part_size_for(1, 1, 10_000).unwrap(), MIN_PART_SIZE);
        let huge = 200 * 1024 * mib * 1024; // 200 TiB
        assert!(part_size_for(huge, 8 * mib, 10_000).is_err());
        let big = 1024 * 1024 * mib; // 1 TiB
        let size = part_size_for(big, 8 * mib, 10_000).unwrap();
        assert!(part_count_for(big, size) <= 10_000);
    }

    #[test]
    fn part_count_rounds_up_and_is_never_zero() {
        assert_eq!(part_count_for(0, 5), 1);
        assert_eq!(part_count_for(10, 5), 2);
        assert_eq!(part_count_for(11, 5), 3);
    }
}
