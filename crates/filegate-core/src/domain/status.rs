//! The file state machine: `pending` → `uploaded` → `processing` → `ready`, or `failed`,
//! `quarantined`, `expired`, `deleted` and `purged`; the transitions allowed are below.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Created; waiting for the bytes and the client's confirmation.
    Pending,
    /// Bytes confirmed and verified; processing job enqueued.
    Uploaded,
    /// A worker is running the pipeline.
    Processing,
    /// Processed; can be downloaded.
    Ready,
    /// A virus was found; never served.
    Quarantined,
    /// Processing gave up (after retries, or a permanent error).
    Failed,
    /// Never confirmed before the upload URL expired.
    Expired,
    /// Soft-deleted; restorable within the bucket's retention.
    Deleted,
    /// Bytes removed after retention; the row stays as a tombstone.
    Purged,
}

impl FileStatus {
    pub const ALL: [FileStatus; 9] = [
        Self::Pending,
        Self::Uploaded,
        Self::Processing,
        Self::Ready,
        Self::Quarantined,
        Self::Failed,
        Self::Expired,
        Self::Deleted,
        Self::Purged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Uploaded => "uploaded",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Quarantined => "quarantined",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
            Self::Purged => "purged",
        }
    }

    /// Statuses from which a soft delete is allowed: anything still alive.
    pub fn is_deletable(self) -> bool {
        !matches!(self, Self::Deleted | Self::Purged)
    }

    /// Whether the bytes may be served to clients.
    pub fn is_servable(self) -> bool {
        matches!(self, Self::Ready)
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidStatus, format!("unknown status {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        for st in FileStatus::ALL {
            assert_eq!(st.as_str().parse::<FileStatus>().unwrap(), st);
        }
        assert!("READY".parse::<FileStatus>().is_err());
    }
}
