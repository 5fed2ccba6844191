//! File records: round trip, compare-and-set with its job, isolation, change feed, sweep.

use filegate_core::ports::Effects;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{
    Decryption, ETag, Encryption, FileQuery, FileStatus, Metadata, ObjectPath, Processing, RequestId, Sha256Hex,
    UploadPlan,
};
use filegate_core::ports::{Job, NewJob};

use super::{Queue, START, Store, bname, bucket, ct, new_file, now, secs, settle_feed, tenant};

const LEASE: Duration = Duration::from_secs(60);

pub async fn file_records_round_trip_every_field(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let mut f = new_file(&a, "2026/11/ward-a.csv");
    f.size = 5_000_000_000;
    f.content_type = ct("text/csv; charset=utf-8");
    f.declared_sha256 = Some(Sha256Hex::parse(&"ab".repeat(32)).unwrap());
    f.sha256 = Some(Sha256Hex::parse(&"cd".repeat(32)).unwrap());
    f.etag = Some(ETag::parse("\"d41d8cd98f00b204e9800998ecf8427e-3\"").unwrap());
    f.status_reason = Some("why not".into());
    f.previous_status = Some(FileStatus::Ready);
    f.external_id = Some("ext-42".into());
    f.metadata = Metadata::parse(BTreeMap::from([("patient".into(), "123".into())])).unwrap();
    f.processing = Processing {
        scan: Some("clean".into()),
        sniffed_type: Some("text/csv".into()),
        image: Some(serde_json::json!({"width": 10, "height": 20})),
        thumbnails: vec![serde_json::json!({"size": 64})],
        decryption: Some(Decryption {
            passphrase_version: 3,
            old_passphrase: true,
        }),
    };
    f.encryption = Some(Encryption::Age);
    f.request_id = Some(RequestId::new());
    f.download_count = 7;
    f.upload = UploadPlan::Multipart {
        upload_id: "u-1".into(),
        part_size: 8 << 20,
        part_count: 3,
    };
    f.deleted_at = Some(now());
    f.purge_after = Some(now() + secs(86_400));

    let stored = store.insert_file(&f, &Effects::NONE).await.unwrap();
    assert!(stored.change_seq > 0);
    assert_eq!(stored, super::with_seq(&f, stored.change_seq));
    assert_eq!(store.get_file(&a, f.id).await.unwrap(), Some(stored.clone()));

    let dup = store.insert_file(&f, &Effects::NONE).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(store.get_file(&a, f.id).await.unwrap(), Some(stored));
}

/// An update whose job cannot be enqueued (its id exists) changes nothing — not the row,
/// not the queue — and the store goes on working: the next update commits.
pub async fn an_update_whose_job_fails_changes_nothing(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let pending = store
        .insert_file(&new_file(&a, "in/report.pdf"), &Effects::NONE)
        .await
        .unwrap();
    let job = NewJob::now(Job::ProcessFile {
        tenant: a.clone(),
        file_id: pending.id,
    });
    queue.enqueue(&job).await.unwrap();
    let mut next = pending.clone();
    next.status = FileStatus::Uploaded;
    next.updated_at = pending.updated_at + secs(1);

    let clash = store
        .update_file(&next, &[FileStatus::Pending], &Effects::jobs([job.clone()]))
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(store.get_file(&a, pending.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(queue.stats().await.unwrap().queued, 1, "only the job that was there");

    let fresh = NewJob::now(Job::ProcessFile {
        tenant: a.clone(),
        file_id: pending.id,
    });
    let updated = store
        .update_file(&next, &[FileStatus::Pending], &Effects::jobs([fresh.clone()]))
        .await
        .unwrap();
    assert_eq!(updated.status, FileStatus::Uploaded);
    assert!(updated.change_seq > pending.change_seq);
    assert_eq!(queue.stats().await.unwrap().queued, 2);
}

pub async fn update_is_compare_and_set_and_commits_its_job(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    store
        .create_bucket(&bucket(&a, "archive"), &Effects::NONE)
        .await
        .unwrap();
    let pending = store
        .insert_file(&new_file(&a, "in/report.pdf"), &Effects::NONE)
        .await
        .unwrap();

    let mut next = pending.clone();
    next.status = FileStatus::Uploaded;
    next.bucket = bname("archive");
    next.path = ObjectPath::parse("out/final.pdf").unwrap();
    next.size = 4321;
    next.updated_at = pending.updated_at + secs(1);
    next.created_at = pending.created_at + secs(999); // must not be written
    let job = NewJob::now(Job::ProcessFile {
        tenant: a.clone(),
        file_id: pending.id,
    });

    // Wrong expected status: Conflict, nothing written, no job.
    let wrong = store
        .update_file(
            &next,
            &[FileStatus::Ready, FileStatus::Processing],
            &Effects::jobs([job.clone()]),
        )
        .await;
    assert!(matches!(wrong, Err(StoreError::Conflict(_))), "{wrong:?}");
    assert_eq!(store.get_file(&a, pending.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);

    // Another tenant's view of the same id, or an unknown id: NotFound.
    let mut foreign = next.clone();
    foreign.tenant = b.clone();
    let r = store
        .update_file(&foreign, &[FileStatus::Pending], &Effects::jobs([job.clone()]))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    let unknown = new_file(&a, "nowhere");
    let r = store
        .update_file(&unknown, &[FileStatus::Pending], &Effects::NONE)
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);

    let updated = store
        .update_file(&next, &[FileStatus::Pending], &Effects::jobs([job.clone()]))
        .await
        .unwrap();
    assert!(updated.change_seq > pending.change_seq);
    let mut expect = super::with_seq(&next, updated.change_seq);
    expect.created_at = pending.created_at;
    assert_eq!(updated, expect);
    assert_eq!(store.get_file(&a, pending.id).await.unwrap(), Some(updated.clone()));
    // Moved: listed under its new bucket and name, not the old ones.
    let q = FileQuery {
        bucket: Some(bname("archive")),
        limit: 10,
        ..Default::default()
    };
    let (items, _) = store.list_files(&a, &q).await.unwrap();
    assert_eq!(items.iter().map(|f| f.name()).collect::<Vec<_>>(), ["final.pdf"]);

    // The job committed with the row.
    let claimed = queue
        .claim("w", LEASE)
        .await
        .unwrap()
        .expect("the job was enqueued with the update");
    assert_eq!((claimed.id, &claimed.job, claimed.attempt), (job.id, &job.job, 1));
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);

    // A second CAS from the old status now fails: the status moved on.
    let again = store.update_file(&next, &[FileStatus::Pending], &Effects::NONE).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // An update without a job enqueues nothing.
    let mut ready = updated.clone();
    ready.status = FileStatus::Ready;
    store
        .update_file(&ready, &[FileStatus::Uploaded], &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(queue.stats().await.unwrap().queued, 0);
}

pub async fn tenants_never_see_each_others_files(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let mine = store
        .insert_file(&new_file(&a, "secret.txt"), &Effects::NONE)
        .await
        .unwrap();
    settle_feed(&store, &a, &mine).await;

    assert_eq!(store.get_file(&b, mine.id).await.unwrap(), None);
    let all = FileQuery {
        limit: 100,
        ..Default::default()
    };
    assert!(store.list_files(&b, &all).await.unwrap().0.is_empty());
    let offset = FileQuery {
        start: filegate_core::domain::PageStart::Offset(0),
        ..all.clone()
    };
    assert_eq!(store.list_files(&b, &offset).await.unwrap(), (vec![], Some(0)));
    assert!(store.changed_files(&b, START, 100).await.unwrap().items.is_empty());

    // The owner sees it everywhere.
    assert_eq!(store.get_file(&a, mine.id).await.unwrap(), Some(mine.clone()));
    assert_eq!(store.list_files(&a, &all).await.unwrap().0, vec![mine.clone()]);
    assert_eq!(store.changed_files(&a, START, 100).await.unwrap().items, vec![mine]);
}

fn set_status(f: &filegate_core::domain::FileRecord, status: FileStatus) -> filegate_core::domain::FileRecord {
    let mut next = f.clone();
    next.previous_status = Some(f.status);
    next.status = status;
    next
}

pub async fn change_feed_is_ordered_and_includes_deletions(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let one = store.insert_file(&new_file(&a, "one"), &Effects::NONE).await.unwrap();
    let theirs = store
        .insert_file(&new_file(&b, "theirs"), &Effects::NONE)
        .await
        .unwrap();
    let two = store.insert_file(&new_file(&a, "two"), &Effects::NONE).await.unwrap();
    let three = store.insert_file(&new_file(&a, "three"), &Effects::NONE).await.unwrap();
    let deleted = store
        .update_file(
            &set_status(&one, FileStatus::Deleted),
            &[FileStatus::Pending],
            &Effects::NONE,
        )
        .await
        .unwrap();
    let purged = store
        .update_file(
            &set_status(&two, FileStatus::Purged),
            &[FileStatus::Pending],
            &Effects::NONE,
        )
        .await
        .unwrap();

    settle_feed(&store, &a, &purged).await;
    settle_feed(&store, &b, &theirs).await;
    let feed = store.changed_files(&a, START, 100).await.unwrap();
    assert_eq!(feed.items, vec![three.clone(), deleted.clone(), purged.clone()]);
    assert!(feed.next_since > START);

    // Resuming after a position returns only what changed later; limit is honoured.
    let first = store.changed_files(&a, START, 1).await.unwrap();
    assert_eq!(first.items, vec![three.clone()]);
    assert!(first.next_since > START && first.next_since < feed.next_since);
    assert_eq!(
        store.changed_files(&a, first.next_since, 100).await.unwrap().items,
        vec![deleted.clone(), purged.clone()]
    );
    assert_eq!(
        store.changed_files(&a, START, 2).await.unwrap().items,
        vec![three, deleted]
    );
    // Nothing after the end, and the position stays where it was.
    let end = store.changed_files(&a, feed.next_since, 100).await.unwrap();
    assert!(end.items.is_empty());
    assert_eq!(end.next_since, feed.next_since);

    // Every write got its own position, across tenants too.
    let mut seqs = HashSet::new();
    for t in [&a, &b] {
        seqs.extend(
            store
                .changed_files(t, START, 100)
                .await
                .unwrap()
                .items
                .iter()
                .map(|f| f.change_seq),
        );
    }
    assert_eq!(seqs.len(), 4);
}

pub async fn sweep_finds_expired_uploads_and_ended_retention(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let t = now();
    let insert =
        |tenant: &filegate_core::domain::TenantId, path: &str, status: FileStatus, expires: i64, purge: Option<i64>| {
            let mut f = new_file(tenant, path);
            f.status = status;
            f.upload_expires_at = t + secs(expires);
            f.purge_after = purge.map(|p| t + secs(p));
            let store = store.clone();
            async move { store.insert_file(&f, &Effects::NONE).await.unwrap() }
        };
    let expired_a = insert(&a, "expired-a", FileStatus::Pending, -60, None).await;
    let expired_b = insert(&b, "expired-b", FileStatus::Pending, -30, None).await;
    insert(&a, "still-open", FileStatus::Pending, 60, None).await;
    let purge_b = insert(&b, "purge-b", FileStatus::Deleted, -3600, Some(-90)).await;
    insert(&a, "kept", FileStatus::Deleted, -3600, Some(60)).await;
    insert(&a, "ready", FileStatus::Ready, -3600, None).await;
    insert(&a, "purged", FileStatus::Purged, -3600, Some(-3600)).await;

    let due = store.due_for_sweep(t, t, 10).await.unwrap();
    let names: Vec<&str> = due.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["purge-b", "expired-a", "expired-b"], "oldest due first");
    assert_eq!(due, vec![purge_b.clone(), expired_a.clone(), expired_b]);
    assert_eq!(store.due_for_sweep(t, t, 1).await.unwrap(), vec![purge_b.clone()]);
    assert!(
        store
            .due_for_sweep(t - secs(7200), t - secs(7200), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The pending cut-off is separate from the purge one (the sweeper's expiry grace): 45 s
    // of grace leaves the upload that expired 30 s ago alone.
    assert_eq!(
        store.due_for_sweep(t - secs(45), t, 10).await.unwrap(),
        vec![purge_b, expired_a]
    );
}
