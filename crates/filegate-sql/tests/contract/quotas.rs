//! Tenant quotas: stored per tenant, enforced by `insert_file` and `insert_deduplicated` in
//! the transaction that inserts, to the exact byte and file; the usage counts every file
//! that holds storage (`expired` and `purged` rows do not), per bucket.

use filegate_core::StoreError;
use filegate_core::domain::{
    FileRecord, FileStatus, Quota, QuotaExceeded, QuotaLimit, Sha256Hex, StorageUsage, UploadPlan,
};
use filegate_core::ports::Effects;

use super::{Queue, Store, bname, bucket, new_file, now, tenant, tid};

fn sized(tenant: &filegate_core::domain::TenantId, path: &str, size: u64) -> FileRecord {
    let mut f = new_file(tenant, path);
    f.size = size;
    f
}

#[track_caller]
fn exceeded(result: Result<FileRecord, StoreError>) -> QuotaExceeded {
    match result {
        Err(StoreError::QuotaExceeded(e)) => e,
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
}

async fn set_status(store: &Store, f: &FileRecord, status: FileStatus) -> FileRecord {
    let mut next = f.clone();
    next.status = status;
    store
        .update_file(&next, &[f.status], &Effects::NONE)
        .await
        .expect("status change")
}

pub async fn quotas_are_stored_per_tenant_and_unlimited_by_default(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    assert_eq!(store.tenant_quota(&a).await.unwrap(), Quota::UNLIMITED);

    let quota = Quota {
        max_bytes: Some(u64::try_from(i64::MAX).unwrap()),
        max_files: Some(0),
    };
    store.set_tenant_quota(&a, &quota, now(), &Effects::NONE).await.unwrap();
    assert_eq!(store.tenant_quota(&a).await.unwrap(), quota);
    assert_eq!(store.tenant_quota(&b).await.unwrap(), Quota::UNLIMITED);
    // Replaced as a whole.
    let bytes_only = Quota {
        max_bytes: Some(10),
        max_files: None,
    };
    store
        .set_tenant_quota(&a, &bytes_only, now(), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(store.tenant_quota(&a).await.unwrap(), bytes_only);

    let r = store
        .set_tenant_quota(&tid("nobody"), &quota, now(), &Effects::NONE)
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert_eq!(store.tenant_quota(&tid("nobody")).await.unwrap(), Quota::UNLIMITED);
}

pub async fn quota_limits_are_exact_to_the_byte_and_the_file(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let quota = Quota {
        max_bytes: Some(100),
        max_files: Some(3),
    };
    store.set_tenant_quota(&a, &quota, now(), &Effects::NONE).await.unwrap();

    store
        .insert_file(&sized(&a, "sixty", 60), &Effects::NONE)
        .await
        .unwrap();
    store
        .insert_file(&sized(&a, "forty", 40), &Effects::NONE)
        .await
        .expect("exactly max_bytes");
    let over = sized(&a, "one-more-byte", 1);
    assert_eq!(
        exceeded(store.insert_file(&over, &Effects::NONE).await),
        QuotaExceeded {
            limit: QuotaLimit::Bytes,
            used: 100,
            adding: 1,
            max: 100,
        }
    );
    assert_eq!(store.get_file(&a, over.id).await.unwrap(), None, "nothing was written");

    store
        .insert_file(&sized(&a, "empty", 0), &Effects::NONE)
        .await
        .expect("exactly max_files");
    let e = exceeded(store.insert_file(&sized(&a, "fourth", 0), &Effects::NONE).await);
    assert_eq!((e.limit, e.used, e.max), (QuotaLimit::Files, 3, 3));

    // Another tenant is not limited by it.
    let b = tenant(&store, "b").await;
    store
        .insert_file(&sized(&b, "big", 1_000_000), &Effects::NONE)
        .await
        .unwrap();
}

pub async fn usage_counts_files_that_hold_storage_per_bucket(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    store
        .create_bucket(&bucket(&a, "photos"), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(store.tenant_usage(&a).await.unwrap().total, StorageUsage::default());

    let pending = store
        .insert_file(&sized(&a, "pending", 1), &Effects::NONE)
        .await
        .unwrap();
    let mut kinds = Vec::new();
    for (i, status) in [
        FileStatus::Uploaded,
        FileStatus::Processing,
        FileStatus::Ready,
        FileStatus::Quarantined,
        FileStatus::Failed,
        FileStatus::Deleted,
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = sized(&a, &format!("f{i}"), 10);
        f.bucket = bname("photos");
        f.status = status;
        kinds.push(store.insert_file(&f, &Effects::NONE).await.unwrap());
    }
    store
        .insert_file(&sized(&b, "theirs", 1000), &Effects::NONE)
        .await
        .unwrap();

    let usage = store.tenant_usage(&a).await.unwrap();
    assert_eq!(usage.total, StorageUsage { bytes: 61, files: 7 });
    assert_eq!(
        usage.buckets,
        vec![
            (bname("default"), StorageUsage { bytes: 1, files: 1 }),
            (bname("photos"), StorageUsage { bytes: 60, files: 6 }),
        ]
    );

    // Expired and purged rows hold nothing.
    set_status(&store, &pending, FileStatus::Expired).await;
    let deleted = kinds.last().expect("the deleted file");
    set_status(&store, deleted, FileStatus::Purged).await;
    let usage = store.tenant_usage(&a).await.unwrap();
    assert_eq!(usage.total, StorageUsage { bytes: 50, files: 5 });
    assert_eq!(
        usage.buckets,
        vec![(bname("photos"), StorageUsage { bytes: 50, files: 5 })]
    );
}

pub async fn a_dedup_insert_counts_its_full_size_against_the_quota(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let mut source = sized(&a, "source", 100);
    source.status = FileStatus::Ready;
    source.sha256 = Some(Sha256Hex::parse(&"a".repeat(64)).unwrap());
    let source = store.insert_file(&source, &Effects::NONE).await.unwrap();
    store
        .set_tenant_quota(
            &a,
            &Quota {
                max_bytes: Some(199),
                max_files: None,
            },
            now(),
            &Effects::NONE,
        )
        .await
        .unwrap();
    let mut copy = sized(&a, "copy", 100);
    copy.status = FileStatus::Uploaded;
    copy.blob_key = source.blob_key.clone();
    copy.sha256 = source.sha256.clone();
    copy.upload = UploadPlan::Deduplicated { source: source.id };
    let e = match store.insert_deduplicated(&copy, source.id, &Effects::NONE).await {
        Err(StoreError::QuotaExceeded(e)) => e,
        other => panic!("expected QuotaExceeded, got {other:?}"),
    };
    assert_eq!((e.limit, e.used, e.adding, e.max), (QuotaLimit::Bytes, 100, 100, 199));
    store
        .set_tenant_quota(
            &a,
            &Quota {
                max_bytes: Some(200),
                max_files: None,
            },
            now(),
            &Effects::NONE,
        )
        .await
        .unwrap();
    store
        .insert_deduplicated(&copy, source.id, &Effects::NONE)
        .await
        .expect("exactly the limit");
    assert_eq!(store.tenant_usage(&a).await.unwrap().total.bytes, 200);
}

pub async fn concurrent_inserts_never_pass_a_quota_together(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    store
        .set_tenant_quota(
            &a,
            &Quota {
                max_bytes: Some(100),
                max_files: None,
            },
            now(),
            &Effects::NONE,
        )
        .await
        .unwrap();
    let inserts = (0..25).map(|i| {
        let store = store.clone();
        let a = a.clone();
        tokio::spawn(async move {
            store
                .insert_file(&sized(&a, &format!("f{i}"), 10), &Effects::NONE)
                .await
        })
    });
    let mut accepted = 0;
    for insert in futures::future::join_all(inserts).await {
        match insert.expect("task") {
            Ok(_) => accepted += 1,
            Err(StoreError::QuotaExceeded(e)) => assert_eq!(e.limit, QuotaLimit::Bytes),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 10);
    assert_eq!(
        store.tenant_usage(&a).await.unwrap().total,
        StorageUsage { bytes: 100, files: 10 }
    );
}
