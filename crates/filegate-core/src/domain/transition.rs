//! The pipeline's narrow transitions: `uploaded` → `processing` → `ready` (or
//! `quarantined`). Each writes only what the pipeline owns — the status and what the stages
//! found — and only if the stored file is still the one the pipeline last saw (its status and
//! its change number): a rename or a metadata change made meanwhile is never written over,
//! and the event of the transition describes the file as it is stored.

use chrono::{DateTime, Utc};

use super::{ContentType, ETag, FileRecord, FileStatus, Processing, Sha256Hex};

/// The longest `status_reason` a verdict records.
const MAX_REASON: usize = 500;

/// How processing ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// The scanner found `signature`: the file is `quarantined`, the signature its reason.
    Quarantined {
        signature: String,
    },
}

/// What the stages found, as `finish_processing` writes it: these fields, the verdict's
/// status and reason, and nothing else of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingOutcome {
    pub verdict: Verdict,
    pub sha256: Option<Sha256Hex>,
    pub processing: Processing,
    /// `decrypt` replaces the bytes: the file then describes the plaintext (key, size, type,
    /// etag).
    pub blob_key: String,
    pub size: u64,
    pub content_type: ContentType,
    pub etag: Option<ETag>,
    /// The new `updated_at`.
    pub at: DateTime<Utc>,
}

impl ProcessingOutcome {
    pub fn status(&self) -> FileStatus {
        match self.verdict {
            Verdict::Ready => FileStatus::Ready,
            Verdict::Quarantined { .. } => FileStatus::Quarantined,
        }
    }

    pub fn status_reason(&self) -> Option<String> {
        match &self.verdict {
            Verdict::Ready => None,
            Verdict::Quarantined { signature } => Some(signature.chars().take(MAX_REASON).collect()),
        }
    }

    /// `seen` as `finish_processing` leaves it (but for the change number, which the store
    /// assigns): what its event and follow-up work are made from.
    pub fn applied_to(&self, seen: &FileRecord) -> FileRecord {
        let mut file = seen.clone();
        file.status = self.status();
        file.status_reason = self.status_reason();
        file.sha256.clone_from(&self.sha256);
        file.processing.clone_from(&self.processing);
        file.blob_key.clone_from(&self.blob_key);
        file.size = self.size;
        file.content_type = self.content_type.clone();
        file.etag.clone_from(&self.etag);
        file.updated_at = self.at;
        file
    }
}

/// `seen` as `start_processing` leaves it (but for the change number): `processing` since
/// `at`, nothing else changed.
pub fn processing_started(seen: &FileRecord, at: DateTime<Utc>) -> FileRecord {
    let mut file = seen.clone();
    file.status = FileStatus::Processing;
    file.updated_at = at;
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BucketName, FileId, Metadata, NewFile, ObjectPath, TenantId, UploadPlan};

    fn file() -> FileRecord {
        let now = Utc::now();
        let mut f = FileRecord::pending(NewFile {
            id: FileId::new(),
            tenant: TenantId::parse("acme").unwrap(),
            owner: "alice".into(),
            bucket: BucketName::parse("docs").unwrap(),
            path: ObjectPath::parse("a/b.txt").unwrap(),
            size: 5,
            content_type: ContentType::parse("text/plain").unwrap(),
            declared_sha256: None,
            metadata: Metadata::default(),
            external_id: Some("ext".into()),
            upload: UploadPlan::Put,
            upload_expires_at: now,
            now,
            encryption: None,
            request_id: None,
        });
        f.status = FileStatus::Processing;
        f
    }

    #[test]
    fn finishing_changes_only_what_the_pipeline_owns() {
        let seen = file();
        let at = seen.updated_at + chrono::Duration::seconds(3);
        let outcome = ProcessingOutcome {
            verdict: Verdict::Quarantined {
                signature: "x".repeat(600),
            },
            sha256: Some(Sha256Hex::from_digest(&[7; 32])),
            processing: Processing {
                scan: Some("infected".into()),
                ..Processing::default()
            },
            blob_key: "t/acme/plain".into(),
            size: 4,
            content_type: ContentType::parse("image/png").unwrap(),
            etag: Some(ETag::new_unchecked("e".into())),
            at,
        };
        let done = outcome.applied_to(&seen);
        assert_eq!(done.status, FileStatus::Quarantined);
        assert_eq!(done.status_reason.as_deref().map(str::len), Some(MAX_REASON));
        assert_eq!(
            (done.size, done.blob_key.as_str(), done.updated_at),
            (4, "t/acme/plain", at)
        );
        assert_eq!(done.processing.scan.as_deref(), Some("infected"));
        // Everything a user may change stays as seen.
        assert_eq!(
            (&done.path, &done.metadata, &done.external_id),
            (&seen.path, &seen.metadata, &seen.external_id)
        );
        assert_eq!(
            (done.id, done.change_seq, done.created_at),
            (seen.id, seen.change_seq, seen.created_at)
        );

        let ready = ProcessingOutcome {
            verdict: Verdict::Ready,
            ..outcome
        };
        assert_eq!(ready.status(), FileStatus::Ready);
        assert_eq!(ready.applied_to(&seen).status_reason, None);
    }

    #[test]
    fn starting_changes_the_status_and_time_only() {
        let mut seen = file();
        seen.status = FileStatus::Uploaded;
        let at = seen.updated_at + chrono::Duration::seconds(1);
        let started = processing_started(&seen, at);
        assert_eq!((started.status, started.updated_at), (FileStatus::Processing, at));
        let mut back = started.clone();
        (back.status, back.updated_at) = (seen.status, seen.updated_at);
        assert_eq!(back, seen);
    }
}
