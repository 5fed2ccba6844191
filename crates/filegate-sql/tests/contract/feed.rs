//! The change feed under concurrent writers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use filegate_core::domain::{FileId, FileRecord, FileStatus};

use super::{Queue, Store, new_file, tenant};

const WRITERS: usize = 6;
const FILES_EACH: usize = 20;

/// A reader following the feed while several writers commit at once ends up having seen the
/// last version of every file: positions are handed out in commit order, so nothing commits
/// behind a position the reader has already passed (a plain sequence would let that happen).
pub async fn change_feed_followers_miss_no_write(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let writers_done = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn({
        let (store, a, done) = (store.clone(), a.clone(), writers_done.clone());
        async move {
            let mut seen: HashMap<FileId, FileRecord> = HashMap::new();
            let mut since = 0;
            loop {
                // Read the flag before the page: the last page read after it is set is complete.
                let finished = done.load(Ordering::SeqCst);
                let page = store.changed_files(&a, since, 50).await.unwrap();
                for f in page.iter() {
                    assert!(f.change_seq > since, "the feed goes forward");
                    since = f.change_seq;
                    seen.insert(f.id, f.clone());
                }
                if page.is_empty() {
                    if finished {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
    });

    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (store, a) = (store.clone(), a.clone());
        writers.spawn(async move {
            for i in 0..FILES_EACH {
                let pending = store.insert_file(&new_file(&a, &format!("w{w}/{i}"))).await.unwrap();
                let mut uploaded = pending.clone();
                uploaded.status = FileStatus::Uploaded;
                store.update_file(&uploaded, &[FileStatus::Pending], &[]).await.unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    writers_done.store(true, Ordering::SeqCst);
    let seen = follower.await.unwrap();

    assert_eq!(seen.len(), WRITERS * FILES_EACH, "every file appeared in the feed");
    for (id, last_seen) in seen {
        let stored = store.get_file(&a, id).await.unwrap().unwrap();
        assert_eq!(last_seen, stored, "the follower saw the last write of {id}");
    }
}
