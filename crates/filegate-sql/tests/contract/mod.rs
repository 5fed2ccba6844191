//! Contract ("story") scenarios every `MetadataStore` + `JobQueue` engine must pass.
//!
//! Each scenario is `pub async fn name(store: Store, queue: Queue)` and expects a fresh,
//! empty database whose store and queue share it (as `SqliteStore` does, and as a
//! PostgreSQL store will). An engine's test binary opens one per test and calls each
//! scenario; see `tests/sqlite.rs`.

#![allow(dead_code)]

mod files;
mod listing;
mod paging;
mod queue;
mod tenants;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use filegate_core::domain::{
    Bucket, BucketName, BucketPolicy, ContentType, FileId, FileRecord, FileStatus, Metadata, ObjectPath, Processing,
    Tenant, TenantId, UploadPlan, blob_key_for,
};
use filegate_core::ports::{JobQueue, MetadataStore};

pub use files::*;
pub use listing::*;
pub use paging::*;
pub use queue::*;
pub use tenants::*;

pub type Store = Arc<dyn MetadataStore>;
pub type Queue = Arc<dyn JobQueue>;

/// Now, at the microsecond precision engines keep, so records compare equal after a trip.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).expect("now is in range")
}

pub fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

pub fn tid(s: &str) -> TenantId {
    TenantId::parse(s).expect("tenant id")
}

pub fn bname(s: &str) -> BucketName {
    BucketName::parse(s).expect("bucket name")
}

pub fn bucket(tenant: &TenantId, name: &str) -> Bucket {
    let at = now();
    Bucket {
        tenant: tenant.clone(),
        name: bname(name),
        policy: BucketPolicy::default(),
        created_at: at,
        updated_at: at,
    }
}

/// Creates tenant `name` with its first bucket `default`.
pub async fn tenant(store: &Store, name: &str) -> TenantId {
    let id = tid(name);
    let t = Tenant {
        id: id.clone(),
        created_at: now(),
    };
    store
        .create_tenant(&t, &bucket(&id, "default"))
        .await
        .expect("create tenant");
    id
}

/// A pending file in bucket `default` at `path`, 100 bytes of octet-stream, created now.
pub fn new_file(tenant: &TenantId, path: &str) -> FileRecord {
    let id = FileId::new();
    let at = now();
    FileRecord {
        id,
        tenant: tenant.clone(),
        bucket: BucketName::default_bucket(),
        path: ObjectPath::parse(path).expect("path"),
        size: 100,
        content_type: ContentType::octet_stream(),
        declared_sha256: None,
        sha256: None,
        etag: None,
        status: FileStatus::Pending,
        status_reason: None,
        previous_status: None,
        owner: "user-1".into(),
        external_id: None,
        metadata: Metadata::default(),
        processing: Processing::default(),
        download_count: 0,
        blob_key: blob_key_for(tenant, id),
        upload: UploadPlan::Put,
        upload_expires_at: at + secs(3600),
        created_at: at,
        updated_at: at,
        deleted_at: None,
        purge_after: None,
        change_seq: 0,
    }
}

pub fn ct(s: &str) -> ContentType {
    ContentType::parse(s).expect("content type")
}

/// Waits for `check` to return `Some`, polling without a fixed sleep, up to `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "condition not met within {deadline:?}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `f` as the store returns it after assigning `seq`.
pub fn with_seq(f: &FileRecord, seq: i64) -> FileRecord {
    FileRecord {
        change_seq: seq,
        ..f.clone()
    }
}
