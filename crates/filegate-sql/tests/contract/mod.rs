//! Contract ("story") scenarios every `MetadataStore` + `JobQueue` engine must pass.
//!
//! Each scenario is `pub async fn name(store: Store, queue: Queue)` and expects a fresh,
//! empty database whose store and queue share it (as `SqliteStore` and `PostgresStore` do).
//! An engine's test binary opens one per test and runs every scenario [`scenarios!`] lists;
//! see `tests/sqlite.rs` and `tests/postgres.rs`.

#![allow(dead_code)]

mod archives;
mod atomic;
mod audit;
mod blobs;
mod bulk;
mod effects;
mod exchange;
mod feed;
mod files;
mod folders;
mod listing;
mod paging;
mod queue;
mod quotas;
mod shares;
mod tenants;
mod transitions;
mod updates;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use filegate_core::domain::{
    Bucket, BucketName, BucketPolicy, ContentType, FileId, FileRecord, FileStatus, Metadata, ObjectPath, Processing,
    Tenant, TenantId, UploadPlan, blob_key_for,
};
use filegate_core::ports::{Effects, JobQueue, MetadataStore};

/// The beginning of every tenant's change feed.
pub const START: filegate_core::domain::ChangeCursor = filegate_core::domain::ChangeCursor::START;

pub use archives::*;
pub use atomic::*;
pub use audit::*;
pub use blobs::*;
pub use bulk::*;
pub use effects::*;
pub use exchange::*;
pub use feed::*;
pub use files::*;
pub use folders::*;
pub use listing::*;
pub use paging::*;
pub use queue::*;
pub use quotas::*;
pub use shares::*;
pub use tenants::*;
pub use transitions::*;
pub use updates::*;
pub use webhooks::*;

/// Calls `$run!(scenario, …)` with the name of every scenario, so that each engine's test
/// binary runs all of them: a scenario added here runs against every engine.
macro_rules! scenarios {
    ($run:ident) => {
        $run!(
            tenant_and_first_bucket_are_created_together,
            buckets_are_created_updated_and_listed_per_tenant,
            api_keys_are_found_by_hash_and_revoked_within_their_tenant,
            effects_are_written_only_with_their_change,
            file_records_round_trip_every_field,
            update_is_compare_and_set_and_commits_its_job,
            an_update_whose_job_fails_changes_nothing,
            concurrent_updates_each_commit_whole_or_not_at_all,
            narrow_transitions_write_only_what_the_pipeline_owns,
            transitions_committed_beside_updates_each_keep_their_own_guard,
            tenants_never_see_each_others_files,
            change_feed_is_ordered_and_includes_deletions,
            change_feed_followers_miss_no_write,
            sweep_finds_expired_uploads_and_ended_retention,
            list_applies_every_filter,
            a_listing_narrowed_to_an_owner,
            list_finds_files_by_metadata_and_external_id,
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
            a_batch_claims_the_due_jobs_once,
            a_batch_completes_only_what_the_worker_holds,
            concurrent_batch_claimers_never_share_a_job,
            claims_are_fair_across_tenants,
            a_delivery_job_never_takes_a_pipeline_slot,
            concurrent_uploads_and_claims,
            waiting_workers_wake_on_new_work,
            audit_records_round_trip_once_and_newest_first,
            audit_records_appended_together_keep_their_order,
            audit_is_filtered_and_paged_within_the_tenant,
            dedup_sources_are_ready_files_with_the_computed_hash,
            a_dedup_insert_commits_only_while_its_source_is_ready,
            a_blob_is_in_use_while_a_live_row_references_it,
            thumbnail_sizes_of_every_row_sharing_a_blob,
            the_statuses_of_every_row_sharing_a_blob,
            download_counts_add_up_without_a_change,
        );
    };
}
pub(crate) use scenarios;

/// Like [`scenarios`], for the scenarios that also take the engine's `ExchangeStore`.
macro_rules! exchange_scenarios {
    ($run:ident) => {
        $run!(
            passphrase_versions_are_added_in_order_and_retire_the_previous,
            file_requests_are_listed_by_status_and_closed_once_with_their_jobs,
        );
    };
}
pub(crate) use exchange_scenarios;

/// Like [`scenarios`], for tenant quotas and usage.
macro_rules! quota_scenarios {
    ($run:ident) => {
        $run!(
            quotas_are_stored_per_tenant_and_unlimited_by_default,
            quota_limits_are_exact_to_the_byte_and_the_file,
            usage_counts_files_that_hold_storage_per_bucket,
            a_dedup_insert_counts_its_full_size_against_the_quota,
            concurrent_inserts_never_pass_a_quota_together,
        );
    };
}
pub(crate) use quota_scenarios;

pub type Exchange = Arc<dyn filegate_core::ports::ExchangeStore>;

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
        .create_tenant(&t, &bucket(&id, "default"), &Effects::NONE)
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
        encryption: None,
        request_id: None,
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

/// Waits until `tenant`'s change feed shows `last`, the tenant's last write. PostgreSQL
/// shows a change once every older transaction of the server has ended (other tests'
/// included), a moment after its commit; from then on the feed up to it stays as it is.
pub async fn settle_feed(store: &Store, tenant: &TenantId, last: &FileRecord) {
    eventually(Duration::from_secs(10), || async {
        let page = store.changed_files(tenant, START, 100_000).await.unwrap();
        page.items.iter().any(|f| f == last).then_some(())
    })
    .await;
}

/// `f` as the store returns it after assigning `seq`.
pub fn with_seq(f: &FileRecord, seq: i64) -> FileRecord {
    FileRecord {
        change_seq: seq,
        ..f.clone()
    }
}
