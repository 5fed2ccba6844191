//! The pipeline's narrow transitions (`start_processing`, `finish_processing`): each writes
//! only what the pipeline owns, only while the file is as the pipeline last saw it, takes a
//! change number the feed shows, and commits with its jobs. (SQLite runs them in its group
//! commit, beside whole-row updates; one refused there must fail alone.)

use filegate_core::ports::Effects;
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{
    ChangeCursor, ContentType, ETag, FileRecord, FileStatus, Metadata, ObjectPath, Processing, ProcessingOutcome,
    Sha256Hex, TenantId, Verdict,
};
use filegate_core::ports::{Job, NewJob};
use futures::future::{BoxFuture, join_all};

use super::{Queue, START, Store, eventually, new_file, secs, settle_feed, tenant, with_seq};

const LEASE: Duration = Duration::from_secs(60);

fn marker(f: &FileRecord) -> NewJob {
    NewJob::now(Job::ProcessFile {
        tenant: f.tenant.clone(),
        file_id: f.id,
    })
}

async fn uploaded(store: &Store, f: &FileRecord) -> FileRecord {
    let mut next = f.clone();
    next.status = FileStatus::Uploaded;
    next.updated_at = f.updated_at + secs(1);
    store
        .update_file(&next, &[FileStatus::Pending], &Effects::NONE)
        .await
        .unwrap()
}

async fn claimed_only(queue: &Queue, job: &NewJob) {
    let claimed = queue
        .claim("w", LEASE)
        .await
        .unwrap()
        .expect("the job committed with the change");
    assert_eq!((claimed.id, &claimed.job), (job.id, &job.job));
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);
}

/// The first changes the feed shows after `since` (PostgreSQL shows a change once every
/// older transaction has ended: wait for it).
async fn changes_after(store: &Store, tenant: &TenantId, since: ChangeCursor) -> Vec<FileRecord> {
    eventually(Duration::from_secs(10), || async {
        let page = store.changed_files(tenant, since, 100).await.unwrap();
        (!page.items.is_empty()).then_some(page.items)
    })
    .await
}

fn is_conflict(r: &Result<FileRecord, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

pub async fn narrow_transitions_write_only_what_the_pipeline_owns(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let read = uploaded(
        &store,
        &store
            .insert_file(&new_file(&a, "in/scan.pdf"), &Effects::NONE)
            .await
            .unwrap(),
    )
    .await;

    // Renamed after the pipeline read it: the start from the old copy writes nothing.
    let mut renamed = read.clone();
    renamed.path = ObjectPath::parse("in/renamed.pdf").unwrap();
    let renamed = store
        .update_file(&renamed, &[FileStatus::Uploaded], &Effects::NONE)
        .await
        .unwrap();
    let at = renamed.updated_at + secs(1);
    let job = marker(&read);
    let stale = store.start_processing(&read, at, &Effects::jobs([job.clone()])).await;
    assert!(is_conflict(&stale), "{stale:?}");
    assert_eq!(store.get_file(&a, read.id).await.unwrap().as_ref(), Some(&renamed));
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);

    // From the stored copy: the status and the time change, the rename stays, and the
    // change is in the feed after everything before it.
    settle_feed(&store, &a, &renamed).await;
    let feed_before = store.changed_files(&a, START, 100).await.unwrap().next_since;
    let started = store
        .start_processing(&renamed, at, &Effects::jobs([job.clone()]))
        .await
        .unwrap();
    let mut expect = with_seq(&renamed, started.change_seq);
    (expect.status, expect.updated_at) = (FileStatus::Processing, at);
    assert_eq!(started, expect);
    assert!(started.change_seq > renamed.change_seq);
    assert_eq!(store.get_file(&a, read.id).await.unwrap().as_ref(), Some(&started));
    assert_eq!(
        changes_after(&store, &a, feed_before).await,
        std::slice::from_ref(&started)
    );
    claimed_only(&queue, &job).await;
    // Once: the status moved on.
    let again = store.start_processing(&renamed, at, &Effects::NONE).await;
    assert!(is_conflict(&again), "{again:?}");

    // Tagged while the stages ran: the finish from the copy before it writes nothing.
    let mut tagged = started.clone();
    tagged.external_id = Some("case-7".into());
    tagged.metadata = Metadata::parse([("ward".to_owned(), "4b".to_owned())].into()).unwrap();
    let tagged = store
        .update_file(&tagged, &[FileStatus::Processing], &Effects::NONE)
        .await
        .unwrap();
    let outcome = ProcessingOutcome {
        verdict: Verdict::Quarantined {
            signature: "Eicar-Test-Signature".into(),
        },
        sha256: Some(Sha256Hex::from_digest(&[9; 32])),
        processing: Processing {
            scan: Some("infected".into()),
            sniffed_type: Some("application/pdf".into()),
            ..Processing::default()
        },
        blob_key: format!("{}.plain", tagged.blob_key),
        size: 42,
        content_type: ContentType::parse("application/pdf").unwrap(),
        etag: Some(ETag::new_unchecked("abc".into())),
        at: at + secs(1),
    };
    let job = marker(&tagged);
    let stale = store
        .finish_processing(&started, &outcome, &Effects::jobs([job.clone()]))
        .await;
    assert!(is_conflict(&stale), "{stale:?}");
    assert_eq!(store.get_file(&a, read.id).await.unwrap().as_ref(), Some(&tagged));
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);

    settle_feed(&store, &a, &tagged).await;
    let feed_before = store.changed_files(&a, START, 100).await.unwrap().next_since;
    let done = store
        .finish_processing(&tagged, &outcome, &Effects::jobs([job.clone()]))
        .await
        .unwrap();
    assert_eq!(done, with_seq(&outcome.applied_to(&tagged), done.change_seq));
    assert!(done.change_seq > tagged.change_seq);
    assert_eq!(
        (
            done.path.as_str(),
            done.external_id.as_deref(),
            done.status_reason.as_deref()
        ),
        ("in/renamed.pdf", Some("case-7"), Some("Eicar-Test-Signature"))
    );
    assert_eq!(store.get_file(&a, read.id).await.unwrap().as_ref(), Some(&done));
    assert_eq!(
        changes_after(&store, &a, feed_before).await,
        std::slice::from_ref(&done)
    );
    claimed_only(&queue, &job).await;
    let again = store.finish_processing(&tagged, &outcome, &Effects::NONE).await;
    assert!(is_conflict(&again), "{again:?}");

    // Another tenant's view of the file, or a file never stored: NotFound.
    let b = tenant(&store, "b").await;
    let mut foreign = tagged.clone();
    foreign.tenant = b;
    let r = store.finish_processing(&foreign, &outcome, &Effects::NONE).await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    let unknown = new_file(&a, "never/stored.pdf");
    let r = store.start_processing(&unknown, at, &Effects::NONE).await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert_eq!(queue.stats().await.unwrap().queued, 0);
}

pub async fn transitions_committed_beside_updates_each_keep_their_own_guard(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let mut files = Vec::new();
    for i in 0..24 {
        let pending = store
            .insert_file(&new_file(&a, &format!("in/{i:02}.bin")), &Effects::NONE)
            .await
            .unwrap();
        files.push(uploaded(&store, &pending).await);
    }
    let last = files.iter().map(|f| f.change_seq).max().unwrap();
    let at = files[0].updated_at + secs(5);
    // Every third file starts, every third starts from a copy that is not the stored one
    // (refused), every third is renamed by a whole-row update: all at once.
    let jobs: Vec<NewJob> = files.iter().map(marker).collect();
    let stale: Vec<FileRecord> = files
        .iter()
        .map(|f| FileRecord {
            change_seq: f.change_seq - 1,
            ..f.clone()
        })
        .collect();
    let renamed: Vec<FileRecord> = files
        .iter()
        .map(|f| FileRecord {
            path: ObjectPath::parse(&format!("out/{}", f.name())).unwrap(),
            ..f.clone()
        })
        .collect();
    let effects: Vec<Effects> = jobs.iter().map(|j| Effects::jobs([j.clone()])).collect();
    let calls: Vec<BoxFuture<'_, Result<FileRecord, StoreError>>> = (0..files.len())
        .map(|i| {
            let job = &effects[i];
            match i % 3 {
                0 => store.start_processing(&files[i], at, job),
                1 => store.start_processing(&stale[i], at, job),
                _ => store.update_file(&renamed[i], &[FileStatus::Uploaded], job),
            }
        })
        .collect();
    let results = join_all(calls).await;

    let mut seqs = Vec::new();
    for (i, result) in results.iter().enumerate() {
        let stored = store.get_file(&a, files[i].id).await.unwrap().unwrap();
        match i % 3 {
            1 => {
                assert!(is_conflict(result), "{i}: {result:?}");
                assert_eq!(stored, files[i], "{i}: nothing written");
            }
            kind => {
                let written = result.as_ref().unwrap_or_else(|e| panic!("{i}: {e:?}"));
                assert_eq!(&stored, written);
                let (status, path) = if kind == 0 {
                    (FileStatus::Processing, files[i].path.as_str())
                } else {
                    (FileStatus::Uploaded, renamed[i].path.as_str())
                };
                assert_eq!((stored.status, stored.path.as_str()), (status, path), "{i}");
                assert!(stored.change_seq > last, "{i}");
                seqs.push(stored.change_seq);
            }
        }
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 16, "every write took a change number of its own");
    // Only the writes that happened enqueued their jobs.
    assert_eq!(queue.stats().await.unwrap().queued, 16);
}
