//! Buckets and their policy.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BucketName, ContentType, TenantId};
use crate::error::{Error, ErrorCode};

/// The largest file any bucket may take: S3's object limit (5 TiB), and far inside the
/// integer range of every metadata engine, so no declared size can overflow a column.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Bucket limits when an admin does not set them.
pub const DEFAULT_MAX_FILE_SIZE: u64 = MAX_FILE_SIZE;
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// The processing stages a bucket may run, in pipeline order.
pub const KNOWN_STAGES: [&str; 8] = [
    "verify",
    "decrypt",
    "hash",
    "scan",
    "sniff",
    "metadata",
    "thumbnail",
    "index",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DedupScope {
    #[default]
    Off,
    Bucket,
    Tenant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketPolicy {
    pub public: bool,
    pub max_file_size: u64,
    /// Empty means any type. Entries are `type/subtype`, `type/*` or `*/*`.
    pub allowed_content_types: Vec<String>,
    pub retention_days: u32,
    pub stages: Vec<String>,
    pub dedup: DedupScope,
    /// Show active types (HTML, SVG, XML, script: `ContentType::is_active`) inline when
    /// asked; off, they are served as attachments. The sandbox CSP applies either way.
    #[serde(default)]
    pub inline_active: bool,
}

impl Default for BucketPolicy {
    fn default() -> Self {
        Self {
            public: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            allowed_content_types: Vec::new(),
            retention_days: DEFAULT_RETENTION_DAYS,
            stages: vec!["verify".into(), "hash".into()],
            dedup: DedupScope::Off,
            inline_active: false,
        }
    }
}

impl BucketPolicy {
    /// Checks an admin's policy: stages must be known, types must be patterns, sizes sane.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=MAX_FILE_SIZE).contains(&self.max_file_size) {
            return Err(Error::invalid(
                ErrorCode::InvalidPolicy,
                format!("max_file_size must be 1 to {MAX_FILE_SIZE}"),
            ));
        }
        if self.retention_days > 36_500 {
            return Err(Error::invalid(
                ErrorCode::InvalidPolicy,
                "retention_days must be at most 36500",
            ));
        }
        for stage in &self.stages {
            if !KNOWN_STAGES.contains(&stage.as_str()) {
                return Err(Error::invalid(
                    ErrorCode::InvalidPolicy,
                    format!("unknown stage {stage:?}; known: {}", KNOWN_STAGES.join(", ")),
                ));
            }
        }
        if self.allowed_content_types.len() > 256 {
            return Err(Error::invalid(
                ErrorCode::InvalidPolicy,
                "at most 256 allowed content types",
            ));
        }
        for pattern in &self.allowed_content_types {
            let probe = pattern.replace('*', "x");
            if ContentType::parse(&probe).is_err() || pattern.contains(';') {
                return Err(Error::invalid(
                    ErrorCode::InvalidPolicy,
                    format!("{pattern:?} is not a content type pattern"),
                ));
            }
        }
        Ok(())
    }

    /// Whether bytes of type `ct` may be shown inline (else they go as an attachment).
    pub fn shows_inline(&self, ct: &ContentType) -> bool {
        self.inline_active || !ct.is_active()
    }

    pub fn allows_type(&self, ct: &ContentType) -> bool {
        self.allowed_content_types.is_empty() || self.allowed_content_types.iter().any(|p| ct.matches(p))
    }

    /// Refuses a type the bucket does not allow (415) and a size over its limit (413).
    pub fn admit(&self, size: Option<u64>, ct: &ContentType) -> Result<(), Error> {
        let limit = self.max_file_size.min(MAX_FILE_SIZE);
        if let Some(size) = size
            && size > limit
        {
            return Err(Error::too_large(format!(
                "size {size} exceeds the bucket limit of {limit}"
            )));
        }
        if !self.allows_type(ct) {
            return Err(Error::UnsupportedType {
                message: format!("content type {} is not allowed in this bucket", ct.essence()),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub tenant: TenantId,
    pub name: BucketName,
    pub policy: BucketPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_by_size_and_type() {
        let policy = BucketPolicy {
            max_file_size: 10,
            allowed_content_types: vec!["image/*".into(), "application/pdf".into()],
            ..BucketPolicy::default()
        };
        let png = ContentType::parse("image/png").unwrap();
        let csv = ContentType::parse("text/csv").unwrap();
        assert!(policy.admit(Some(10), &png).is_ok());
        assert!(matches!(policy.admit(Some(11), &png), Err(Error::TooLarge { .. })));
        assert!(matches!(
            policy.admit(Some(1), &csv),
            Err(Error::UnsupportedType { .. })
        ));
    }

    #[test]
    fn validates_stages_and_patterns() {
        let mut p = BucketPolicy::default();
        assert!(p.validate().is_ok());
        p.stages.push("teleport".into());
        assert!(p.validate().is_err());
        let p = BucketPolicy {
            allowed_content_types: vec!["nonsense".into()],
            ..Default::default()
        };
        assert!(p.validate().is_err());
    }
}
