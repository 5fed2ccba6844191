//! The change feed under concurrent writers.

use filegate_core::ports::Effects;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use filegate_core::domain::{FileId, FileQuery, FileRecord, FileStatus};

use super::{Queue, START, Store, new_file, tenant};

const WRITERS: usize = 6;
const FILES_EACH: usize = 20;

/// A reader following the feed while several writers commit at once ends up having seen the
/// last version of every file: nothing commits behind a position the reader has already
/// passed (numbering from a plain sequence, without the horizon, would let that happen).
pub async fn change_feed_followers_miss_no_write(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let writers_done = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn({
        let (store, a, done) = (store.clone(), a.clone(), writers_done.clone());
        async move {
            let mut seen: HashMap<FileId, FileRecord> = HashMap::new();
            let mut since = START;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = store.changed_files(&a, since, 50).await.unwrap();
                assert!(page.next_since >= since, "the feed goes forward");
                since = page.next_since;
                for f in page.items {
                    seen.insert(f.id, f);
                }
                if finished {
                    return (seen, since);
                }
                tokio::task::yield_now().await;
            }
        }
    });

    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (store, a) = (store.clone(), a.clone());
        writers.spawn(async move {
            for i in 0..FILES_EACH {
                let pending = store
                    .insert_file(&new_file(&a, &format!("w{w}/{i}")), &Effects::NONE)
                    .await
                    .unwrap();
                let mut uploaded = pending.clone();
                uploaded.status = FileStatus::Uploaded;
                store
                    .update_file(&uploaded, &[FileStatus::Pending], &Effects::NONE)
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    writers_done.store(true, Ordering::SeqCst);
    let (mut seen, mut since) = follower.await.unwrap();

    // Every write has committed. Following on from where the follower stopped must bring
    // the last version of every file, within moments (a change shows once every older
    // transaction of the server has ended): a change numbered behind a position already
    // handed out would never come, and this would time out.
    let stored: HashMap<FileId, FileRecord> = store
        .list_files(
            &a,
            &FileQuery {
                limit: 1000,
                ..FileQuery::default()
            },
        )
        .await
        .unwrap()
        .0
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    assert_eq!(stored.len(), WRITERS * FILES_EACH);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen != stored {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed never brought {} of the files' last versions",
            stored.iter().filter(|(id, f)| seen.get(id) != Some(f)).count()
        );
        let page = store.changed_files(&a, since, 50).await.unwrap();
        since = page.next_since;
        for f in page.items {
            seen.insert(f.id, f);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
