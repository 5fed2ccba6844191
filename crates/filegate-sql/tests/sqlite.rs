//! The contract scenarios against SQLite, one fresh database file per test, plus what is
//! particular to SQLite (reopening, closing, undecodable rows).

mod contract;

use std::sync::Arc;

use filegate_core::StoreError;
use filegate_core::ports::{JobQueue, MetadataStore};
use filegate_sql::SqliteStore;
use tempfile::TempDir;

async fn open() -> (TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("filegate.db"))
        .await
        .expect("open store");
    (dir, Arc::new(store))
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (_dir, store) = open().await;
                contract::$name(store.clone(), store).await;
            }
        )*
    };
}

contract_tests!(
    tenant_and_first_bucket_are_created_together,
    buckets_are_created_updated_and_listed_per_tenant,
    api_keys_are_found_by_hash_and_revoked_within_their_tenant,
    file_records_round_trip_every_field,
    update_is_compare_and_set_and_commits_its_job,
    tenants_never_see_each_others_files,
    change_feed_is_ordered_and_includes_deletions,
    sweep_finds_expired_uploads_and_ended_retention,
    list_applies_every_filter,
    prefix_characters_are_literal,
    every_sort_order_pages_through_every_file_once,
    offset_pages_report_the_total,
    claimed_jobs_are_leased_then_completed,
    jobs_are_claimed_oldest_due_first,
    an_ended_lease_makes_the_job_claimable_again,
    retried_jobs_wait_until_due,
    buried_jobs_are_dead_letters,
    only_the_lease_holder_may_settle_a_job,
    concurrent_claimers_never_share_a_job,
    concurrent_uploads_and_claims,
    waiting_workers_wake_on_new_work,
);

#[tokio::test]
async fn data_survives_reopening_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.db");
    let store: Arc<dyn MetadataStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let a = contract::tenant(&store, "a").await;
    let file = store.insert_file(&contract::new_file(&a, "kept.txt")).await.unwrap();
    drop(store);

    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(reopened.get_file(&a, file.id).await.unwrap(), Some(file.clone()));
    // The change sequence carries on from where it was.
    let next = reopened.insert_file(&contract::new_file(&a, "next.txt")).await.unwrap();
    assert!(next.change_seq > file.change_seq);
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let (_dir, store) = open().await;
    store.ping().await.unwrap();
    store.close().await;
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        store.claim("w", std::time::Duration::from_secs(1)).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_job_that_does_not_decode_becomes_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filegate.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let good = filegate_core::ports::NewJob {
        run_at: chrono::Utc::now(),
        ..filegate_core::ports::NewJob::now(filegate_core::ports::Job::ProcessFile {
            tenant: contract::tid("a"),
            file_id: filegate_core::domain::FileId::new(),
        })
    };
    // A row written by some other version of filegate, older than the good job.
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, run_at, attempts, created_at) \
         VALUES ('00000000-0000-7000-8000-000000000001', 'teleport', '{\"kind\":\"teleport\"}', 0, 0, 0)",
    )
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    store.enqueue(&good).await.unwrap();

    let claimed = store
        .claim("w", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, good.id, "the poison job is skipped, not handed out");
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.dead, stats.running, stats.queued), (1, 1, 0));
}
