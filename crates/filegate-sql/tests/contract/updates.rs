//! Concurrent compare-and-set updates: each commits whole or not at all, whatever commits
//! beside it. (SQLite commits the updates that arrive together in one transaction; one that
//! fails there must fail alone.)

use filegate_core::ports::Effects;
use std::collections::HashSet;
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{FileRecord, FileStatus};
use filegate_core::ports::{Job, NewJob};
use futures::future::{BoxFuture, join_all};

use super::{Queue, Store, new_file, secs, tenant};

const LEASE: Duration = Duration::from_secs(60);

fn uploaded(f: &FileRecord) -> FileRecord {
    let mut next = f.clone();
    next.status = FileStatus::Uploaded;
    next.size = 777;
    next.updated_at = f.updated_at + secs(1);
    next
}

fn process(f: &FileRecord) -> NewJob {
    NewJob::now(Job::ProcessFile {
        tenant: f.tenant.clone(),
        file_id: f.id,
    })
}

pub async fn concurrent_updates_each_commit_whole_or_not_at_all(store: Store, queue: Queue) {
    let a = tenant(&store, "a").await;
    let mut files = Vec::new();
    for i in 0..48 {
        files.push(
            store
                .insert_file(&new_file(&a, &format!("in/{i:02}.bin")), &Effects::NONE)
                .await
                .unwrap(),
        );
    }
    let last_insert = files.iter().map(|f| f.change_seq).max().unwrap();
    // A job already queued: an update that enqueues it again is refused.
    let clash = process(&files[0]);
    queue.enqueue(&clash).await.unwrap();

    let mut jobs = vec![clash.clone()];
    jobs.extend(files.iter().skip(1).map(process));
    let twice = process(&files[2]);
    let unknown = new_file(&a, "never/inserted.bin");
    let updates: Vec<(FileRecord, Vec<FileStatus>, NewJob)> = [
        // 0: its job exists already; 1: expects a status the file does not have.
        (uploaded(&files[0]), vec![FileStatus::Pending], clash.clone()),
        (uploaded(&files[1]), vec![FileStatus::Ready], jobs[1].clone()),
        // 2: two updates of the same file from `pending` at once: one wins.
        (uploaded(&files[2]), vec![FileStatus::Pending], jobs[2].clone()),
        (uploaded(&files[2]), vec![FileStatus::Pending], twice.clone()),
        (uploaded(&unknown), vec![FileStatus::Pending], process(&unknown)),
    ]
    .into_iter()
    .chain(
        files
            .iter()
            .zip(&jobs)
            .skip(3)
            .map(|(f, job)| (uploaded(f), vec![FileStatus::Pending], job.clone())),
    )
    .collect();
    let effects: Vec<Effects> = updates.iter().map(|(_, _, job)| Effects::jobs([job.clone()])).collect();
    let calls: Vec<BoxFuture<'_, Result<FileRecord, StoreError>>> = updates
        .iter()
        .zip(&effects)
        .map(|((next, expected, _), effects)| store.update_file(next, expected, effects))
        .collect();
    let results = join_all(calls).await;

    assert!(matches!(results[0], Err(StoreError::Conflict(_))), "{:?}", results[0]);
    assert!(matches!(results[1], Err(StoreError::Conflict(_))), "{:?}", results[1]);
    for refused in &files[..2] {
        assert_eq!(store.get_file(&a, refused.id).await.unwrap().as_ref(), Some(refused));
    }
    let raced = [&results[2], &results[3]];
    assert_eq!(raced.iter().filter(|r| r.is_ok()).count(), 1, "{raced:?}");
    assert!(
        raced.iter().any(|r| matches!(r, Err(StoreError::Conflict(_)))),
        "{raced:?}"
    );
    assert!(matches!(results[4], Err(StoreError::NotFound)), "{:?}", results[4]);

    let committed: Vec<&FileRecord> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(committed.len(), 46, "files 2 (once) and 3..48");
    let mut seqs = HashSet::new();
    for stored in &committed {
        assert_eq!((stored.status, stored.size), (FileStatus::Uploaded, 777));
        assert!(stored.change_seq > last_insert && seqs.insert(stored.change_seq));
        assert_eq!(store.get_file(&a, stored.id).await.unwrap().as_ref(), Some(*stored));
    }

    // The queue holds the job that was there and the job of each committed update: none of
    // a refused one, and one of the raced pair.
    let claimed: HashSet<_> = queue
        .claim_batch("w", LEASE, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let winner = if results[2].is_ok() { jobs[2].id } else { twice.id };
    let mut expected: HashSet<_> = jobs.iter().skip(3).map(|j| j.id).collect();
    expected.extend([clash.id, winner]);
    assert_eq!(claimed, expected);
}
