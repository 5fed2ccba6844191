//! Storage quotas per tenant: how many bytes and files a tenant may keep, and what it keeps.
//!
//! What counts (the usage) is every file of the tenant that holds, or has reserved, storage:
//! `pending` uploads by their declared size, then `uploaded`, `processing`, `ready`,
//! `quarantined`, `failed`, and `deleted` files until they are purged (soft-deleted bytes
//! are still stored and restorable). `expired` and `purged` rows hold nothing. Sizes are
//! logical: a deduplicated file counts its full size although it shares its bytes, which is
//! what the tenant sees and is billed for.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::BucketName;

/// A tenant's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub max_bytes: Option<u64>,
    pub max_files: Option<u64>,
}

impl Quota {
    pub const UNLIMITED: Quota = Quota {
        max_bytes: None,
        max_files: None,
    };

    pub fn is_unlimited(&self) -> bool {
        self.max_bytes.is_none() && self.max_files.is_none()
    }

    /// Whether one more file of `size` bytes fits next to `usage`; the limit it would break
    /// otherwise. Reaching a limit exactly is allowed.
    pub fn admit(&self, usage: &StorageUsage, size: u64) -> Result<(), QuotaExceeded> {
        if let Some(max) = self.max_files
            && usage.files.saturating_add(1) > max
        {
            return Err(QuotaExceeded {
                limit: QuotaLimit::Files,
                used: usage.files,
                adding: 1,
                max,
            });
        }
        if let Some(max) = self.max_bytes
            && usage.bytes.saturating_add(size) > max
        {
            return Err(QuotaExceeded {
                limit: QuotaLimit::Bytes,
                used: usage.bytes,
                adding: size,
                max,
            });
        }
        Ok(())
    }

    /// How many more bytes fit (`None`: unlimited), for a body whose size is known only
    /// while it streams.
    pub fn bytes_left(&self, usage: &StorageUsage) -> Option<u64> {
        self.max_bytes.map(|max| max.saturating_sub(usage.bytes))
    }
}

/// What a tenant (or one of its buckets) keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageUsage {
    pub bytes: u64,
    pub files: u64,
}

/// A tenant's usage with its breakdown per bucket (buckets without counted files are left
/// out), ordered by bucket name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantUsage {
    pub total: StorageUsage,
    pub buckets: Vec<(BucketName, StorageUsage)>,
}

/// Which limit a request would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaLimit {
    Bytes,
    Files,
}

impl QuotaLimit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bytes => "max_bytes",
            Self::Files => "max_files",
        }
    }
}

/// A request refused by a quota: the limit, what is used, what the request would add (for
/// a streamed body, the bytes it had sent when it ran past the room left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub limit: QuotaLimit,
    pub used: u64,
    pub adding: u64,
    pub max: u64,
}

impl fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            QuotaLimit::Bytes => write!(
                f,
                "the tenant's storage quota is exceeded (max_bytes): {} of {} bytes are used; {} more do not fit",
                self.used, self.max, self.adding
            ),
            QuotaLimit::Files => write!(
                f,
                "the tenant's file quota is exceeded (max_files): {} of {} files are kept",
                self.used, self.max
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(bytes: u64, files: u64) -> StorageUsage {
        StorageUsage { bytes, files }
    }

    #[test]
    fn reaching_a_limit_exactly_is_allowed_one_past_it_is_not() {
        let quota = Quota {
            max_bytes: Some(100),
            max_files: Some(3),
        };
        assert!(quota.admit(&usage(60, 2), 40).is_ok());
        let over = quota.admit(&usage(60, 2), 41).unwrap_err();
        assert_eq!(
            (over.limit, over.used, over.adding, over.max),
            (QuotaLimit::Bytes, 60, 41, 100)
        );
        let full = quota.admit(&usage(0, 3), 0).unwrap_err();
        assert_eq!(full.limit, QuotaLimit::Files);
        assert!(full.to_string().contains("3 of 3 files"), "{full}");
        assert!(over.to_string().contains("60 of 100 bytes"), "{over}");
    }

    #[test]
    fn unlimited_admits_anything_and_sums_do_not_overflow() {
        assert!(Quota::UNLIMITED.admit(&usage(u64::MAX, u64::MAX), u64::MAX).is_ok());
        let quota = Quota {
            max_bytes: Some(u64::MAX - 1),
            max_files: None,
        };
        assert!(quota.admit(&usage(u64::MAX - 1, 0), 1).is_err());
        assert_eq!(quota.bytes_left(&usage(u64::MAX, 0)), Some(0));
        assert_eq!(Quota::UNLIMITED.bytes_left(&usage(5, 0)), None);
    }
}
