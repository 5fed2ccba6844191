//! `MemoryLookups` over the real `SqliteStore`: a copy is served until this process changes
//! what it copied (then the next read sees the change at once), and a change made behind
//! its back (another process) shows within the TTL.

use std::time::Duration;

use chrono::Utc;
use filegate_core::domain::{Bucket, BucketName, BucketPolicy, Quota, Tenant, TenantId};
use filegate_core::ports::{Effects, Lookups, MetadataStore};
use filegate_memory::MemoryLookups;
use filegate_sql::SqliteStore;

async fn store_with_tenant(dir: &tempfile::TempDir) -> (SqliteStore, TenantId) {
    let store = SqliteStore::open(&dir.path().join("filegate.db"))
        .await
        .expect("open sqlite");
    let tenant = TenantId::parse("acme").expect("tenant id");
    let now = Utc::now();
    let bucket = Bucket {
        tenant: tenant.clone(),
        name: BucketName::default_bucket(),
        policy: BucketPolicy::default(),
        created_at: now,
        updated_at: now,
    };
    let row = Tenant {
        id: tenant.clone(),
        created_at: now,
    };
    store
        .create_tenant(&row, &bucket, &Effects::NONE)
        .await
        .expect("create tenant");
    (store, tenant)
}

/// The bucket's `max_file_size` as `lookups` answers it.
async fn max_size(lookups: &MemoryLookups, store: &SqliteStore, tenant: &TenantId) -> u64 {
    let bucket = lookups.bucket(store, tenant, &BucketName::default_bucket()).await;
    bucket.expect("read").expect("bucket").policy.max_file_size
}

async fn change_max_size(store: &SqliteStore, tenant: &TenantId, max_file_size: u64) {
    let mut bucket = store
        .get_bucket(tenant, &BucketName::default_bucket())
        .await
        .expect("read")
        .expect("bucket");
    bucket.policy.max_file_size = max_file_size;
    store.update_bucket(&bucket, &Effects::NONE).await.expect("update");
}

#[tokio::test]
async fn a_copy_is_served_until_this_process_forgets_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, tenant) = store_with_tenant(&dir).await;
    let lookups = MemoryLookups::new(Duration::from_secs(3600));
    let before = max_size(&lookups, &store, &tenant).await;

    change_max_size(&store, &tenant, before + 1).await;
    assert_eq!(max_size(&lookups, &store, &tenant).await, before, "the copy");
    lookups.forget_bucket(&tenant, &BucketName::default_bucket()).await;
    assert_eq!(max_size(&lookups, &store, &tenant).await, before + 1, "read again");

    assert_eq!(*lookups.quota(&store, &tenant).await.expect("quota"), Quota::UNLIMITED);
    let quota = Quota {
        max_bytes: Some(10),
        max_files: None,
    };
    store
        .set_tenant_quota(&tenant, &quota, Utc::now(), &Effects::NONE)
        .await
        .expect("set quota");
    assert_eq!(*lookups.quota(&store, &tenant).await.expect("quota"), Quota::UNLIMITED);
    lookups.forget_quota(&tenant).await;
    assert_eq!(*lookups.quota(&store, &tenant).await.expect("quota"), quota);
}

#[tokio::test]
async fn a_change_behind_its_back_shows_within_the_ttl() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, tenant) = store_with_tenant(&dir).await;
    let lookups = MemoryLookups::new(Duration::from_millis(50));
    let before = max_size(&lookups, &store, &tenant).await;
    change_max_size(&store, &tenant, before + 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while max_size(&lookups, &store, &tenant).await != before + 1 {
        assert!(tokio::time::Instant::now() < deadline, "the change never showed");
        tokio::task::yield_now().await;
    }
}
