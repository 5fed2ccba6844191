//! Shared blobs and download counts: the dedup lookup and its atomic insert, whether a blob
//! is still in use, the thumbnails of a blob, batched download counts.

use filegate_core::ports::Effects;
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{FileEvent, FileId, FileRecord, FileStatus, Sha256Hex, TenantId, UploadPlan};
use filegate_core::ports::{Job, NewJob};

use super::{Queue, START, Store, bname, bucket, new_file, settle_feed, tenant};

const LEASE: Duration = Duration::from_secs(60);

fn sha(c: char) -> Sha256Hex {
    Sha256Hex::parse(&c.to_string().repeat(64)).expect("sha256")
}

/// A `ready` file at `path` whose computed sha256 is `hash`.
async fn ready(store: &Store, tenant: &TenantId, path: &str, hash: &Sha256Hex) -> FileRecord {
    let mut f = new_file(tenant, path);
    f.status = FileStatus::Ready;
    f.sha256 = Some(hash.clone());
    store.insert_file(&f, &Effects::NONE).await.expect("insert ready file")
}

/// A new `uploaded` file of `tenant` sharing `source`'s blob.
fn sharing(tenant: &TenantId, path: &str, source: &FileRecord) -> FileRecord {
    let mut f = new_file(tenant, path);
    f.status = FileStatus::Uploaded;
    f.blob_key = source.blob_key.clone();
    f.sha256 = source.sha256.clone();
    f.size = source.size;
    f.upload = UploadPlan::Deduplicated { source: source.id };
    f
}

async fn set_status(store: &Store, f: &FileRecord, status: FileStatus) -> FileRecord {
    let mut next = f.clone();
    next.status = status;
    store
        .update_file(&next, &[f.status], &Effects::NONE)
        .await
        .expect("status change")
}

pub async fn dedup_sources_are_ready_files_with_the_computed_hash(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    store.create_bucket(&bucket(&a, "other"), &Effects::NONE).await.unwrap();
    let hash = sha('a');

    // Nothing qualifies yet: a pending file that only *declared* the hash, an uploaded one
    // whose hash was computed but is not ready, and another tenant's ready file.
    let mut declared = new_file(&a, "declared");
    declared.declared_sha256 = Some(hash.clone());
    store.insert_file(&declared, &Effects::NONE).await.unwrap();
    let mut uploaded = new_file(&a, "uploaded");
    uploaded.status = FileStatus::Uploaded;
    uploaded.sha256 = Some(hash.clone());
    store.insert_file(&uploaded, &Effects::NONE).await.unwrap();
    ready(&store, &b, "theirs", &hash).await;
    assert_eq!(store.find_dedup_source(&a, &hash, 100, None).await.unwrap(), None);

    // A ready file in bucket `other`: found tenant-wide, and in its own bucket only.
    let mut elsewhere = new_file(&a, "elsewhere");
    elsewhere.bucket = bname("other");
    elsewhere.status = FileStatus::Ready;
    elsewhere.sha256 = Some(hash.clone());
    let elsewhere = store.insert_file(&elsewhere, &Effects::NONE).await.unwrap();
    assert_eq!(
        store.find_dedup_source(&a, &hash, 100, None).await.unwrap(),
        Some(elsewhere.clone())
    );
    assert_eq!(
        store
            .find_dedup_source(&a, &hash, 100, Some(&bname("other")))
            .await
            .unwrap(),
        Some(elsewhere.clone())
    );
    assert_eq!(
        store
            .find_dedup_source(&a, &hash, 100, Some(&bname("default")))
            .await
            .unwrap(),
        None
    );
    // Same hash, another size: not the same file.
    assert_eq!(store.find_dedup_source(&a, &hash, 101, None).await.unwrap(), None);
    // Another hash: nothing.
    assert_eq!(store.find_dedup_source(&a, &sha('b'), 100, None).await.unwrap(), None);

    // Deleted, it is no source any more.
    set_status(&store, &elsewhere, FileStatus::Deleted).await;
    assert_eq!(store.find_dedup_source(&a, &hash, 100, None).await.unwrap(), None);
}

pub async fn a_dedup_insert_commits_only_while_its_source_is_ready(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let source = ready(&store, &a, "source", &sha('a')).await;
    let copy = sharing(&a, "copy", &source);
    let event = NewJob::now(Job::PublishEvent {
        event: FileEvent::of_change(FileStatus::Pending, &copy),
    });

    // A row that does not share the source's blob (or hash) is refused.
    let mut wrong_blob = copy.clone();
    wrong_blob.blob_key = format!("{}-x", source.blob_key);
    let r = store.insert_deduplicated(&wrong_blob, source.id, &Effects::NONE).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let mut wrong_hash = copy.clone();
    wrong_hash.sha256 = Some(sha('b'));
    let r = store.insert_deduplicated(&wrong_hash, source.id, &Effects::NONE).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    // Another tenant cannot point at this tenant's file.
    let b = tenant(&store, "b").await;
    let foreign = sharing(&b, "foreign", &source);
    let r = store.insert_deduplicated(&foreign, source.id, &Effects::NONE).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(store.get_file(&b, foreign.id).await.unwrap(), None);

    // While the source is ready: the row and its job commit together.
    let stored = store
        .insert_deduplicated(&copy, source.id, &Effects::jobs([event.clone()]))
        .await
        .unwrap();
    assert_eq!(stored, super::with_seq(&copy, stored.change_seq));
    assert_eq!(store.get_file(&a, copy.id).await.unwrap(), Some(stored));
    let claimed = queue.claim("w", LEASE).await.unwrap().expect("the event job");
    assert_eq!(claimed.job, event.job);
    queue.complete(claimed.id, "w").await.unwrap();

    // Once the source is deleted: refused, nothing written, no job.
    set_status(&store, &source, FileStatus::Deleted).await;
    let late = sharing(&a, "late", &source);
    let job = NewJob::now(Job::ProcessFile {
        tenant: a.clone(),
        file_id: late.id,
    });
    let r = store.insert_deduplicated(&late, source.id, &Effects::jobs([job])).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(store.get_file(&a, late.id).await.unwrap(), None);
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);
}

pub async fn a_blob_is_in_use_while_a_live_row_references_it(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let source = ready(&store, &a, "source", &sha('a')).await;
    let key = source.blob_key.clone();
    let nobody = FileId::new();

    assert!(
        store.blob_in_use(&a, &key, nobody).await.unwrap(),
        "its own file uses it"
    );
    assert!(!store.blob_in_use(&a, &key, source.id).await.unwrap(), "no one else");
    assert!(!store.blob_in_use(&b, &key, nobody).await.unwrap(), "scoped by tenant");

    let copy = store
        .insert_deduplicated(&sharing(&a, "copy", &source), source.id, &Effects::NONE)
        .await
        .unwrap();
    assert!(store.blob_in_use(&a, &key, source.id).await.unwrap());
    assert!(store.blob_in_use(&a, &key, copy.id).await.unwrap());

    // Deleted still needs the bytes (it may be restored); purged and expired do not.
    let copy = set_status(&store, &copy, FileStatus::Deleted).await;
    assert!(store.blob_in_use(&a, &key, source.id).await.unwrap());
    set_status(&store, &copy, FileStatus::Purged).await;
    assert!(!store.blob_in_use(&a, &key, source.id).await.unwrap());
    let source = set_status(&store, &source, FileStatus::Deleted).await;
    set_status(&store, &source, FileStatus::Purged).await;
    assert!(!store.blob_in_use(&a, &key, nobody).await.unwrap());

    let mut pending = new_file(&a, "pending");
    pending.status = FileStatus::Pending;
    let pending = store.insert_file(&pending, &Effects::NONE).await.unwrap();
    assert!(store.blob_in_use(&a, &pending.blob_key, nobody).await.unwrap());
    set_status(&store, &pending, FileStatus::Expired).await;
    assert!(!store.blob_in_use(&a, &pending.blob_key, nobody).await.unwrap());
}

pub async fn thumbnail_sizes_of_every_row_sharing_a_blob(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let mut source = new_file(&a, "source");
    source.status = FileStatus::Ready;
    source.sha256 = Some(sha('a'));
    source.processing.thumbnails = vec![
        serde_json::json!({"size": 256, "key": "ignored"}),
        serde_json::json!({"size": 64}),
        serde_json::json!("not an object"),
        serde_json::json!({"size": "big"}),
    ];
    let source = store.insert_file(&source, &Effects::NONE).await.unwrap();
    let mut copy = sharing(&a, "copy", &source);
    copy.processing.thumbnails = vec![serde_json::json!({"size": 64}), serde_json::json!({"size": 1024})];
    let copy = store
        .insert_deduplicated(&copy, source.id, &Effects::NONE)
        .await
        .unwrap();
    // Purged rows count too: their thumbnails are still on the blob.
    set_status(&store, &copy, FileStatus::Purged).await;
    let unrelated = ready(&store, &a, "unrelated", &sha('b')).await;

    assert_eq!(
        store.blob_thumbnail_sizes(&a, &source.blob_key).await.unwrap(),
        vec![64, 256, 1024]
    );
    assert!(
        store
            .blob_thumbnail_sizes(&a, &unrelated.blob_key)
            .await
            .unwrap()
            .is_empty()
    );
    let b = tenant(&store, "b").await;
    assert!(
        store
            .blob_thumbnail_sizes(&b, &source.blob_key)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn download_counts_add_up_without_a_change(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let one = ready(&store, &a, "one", &sha('a')).await;
    let two = ready(&store, &a, "two", &sha('b')).await;
    let theirs = ready(&store, &b, "theirs", &sha('a')).await;

    store
        .add_download_counts(&[
            (a.clone(), one.id, 3),
            (a.clone(), two.id, 1),
            (a.clone(), one.id, 2),        // the same file twice in a batch: both count
            (a.clone(), FileId::new(), 9), // unknown: ignored
            (b.clone(), one.id, 100),      // the wrong tenant for that id: ignored
        ])
        .await
        .unwrap();
    store.add_download_counts(&[]).await.unwrap();
    store.add_download_counts(&[(a.clone(), one.id, 1)]).await.unwrap();

    let one_now = store.get_file(&a, one.id).await.unwrap().unwrap();
    assert_eq!(one_now.download_count, 6);
    let two_now = store.get_file(&a, two.id).await.unwrap().unwrap();
    assert_eq!(two_now.download_count, 1);
    assert_eq!(store.get_file(&b, theirs.id).await.unwrap().unwrap().download_count, 0);
    // Not a change: same position in the feed, same updated_at.
    assert_eq!(one_now.change_seq, one.change_seq);
    assert_eq!(one_now.updated_at, one.updated_at);
    settle_feed(&store, &a, &two_now).await;
    let feed = store.changed_files(&a, START, 10).await.unwrap();
    assert_eq!(
        feed.items.last().map(|f| f.id),
        Some(two.id),
        "the counts moved nothing in the feed"
    );

    // A later write of the file (read before the counts landed) does not undo them.
    let mut renamed = one.clone();
    renamed.metadata =
        filegate_core::domain::Metadata::parse([("k".to_owned(), "v".to_owned())].into_iter().collect()).unwrap();
    let written = store
        .update_file(&renamed, &[FileStatus::Ready], &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(written.download_count, 6);
}

/// What a signed URL asks at serve time: the status of every row sharing the blob.
pub async fn the_statuses_of_every_row_sharing_a_blob(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let source = ready(&store, &a, "source", &sha('c')).await;
    let key = source.blob_key.clone();
    assert_eq!(store.blob_statuses(&a, &key).await.unwrap(), [FileStatus::Ready]);
    assert!(
        store.blob_statuses(&b, &key).await.unwrap().is_empty(),
        "scoped by tenant"
    );
    assert!(store.blob_statuses(&a, "t/a/nothing").await.unwrap().is_empty());

    let copy = store
        .insert_deduplicated(&sharing(&a, "copy", &source), source.id, &Effects::NONE)
        .await
        .unwrap();
    let copy = set_status(&store, &copy, FileStatus::Ready).await;
    assert_eq!(
        store.blob_statuses(&a, &key).await.unwrap(),
        [FileStatus::Ready],
        "once each"
    );
    set_status(&store, &copy, FileStatus::Deleted).await;
    let mut statuses = store.blob_statuses(&a, &key).await.unwrap();
    statuses.sort_by_key(|s| s.as_str());
    assert_eq!(statuses, [FileStatus::Deleted, FileStatus::Ready]);
}
