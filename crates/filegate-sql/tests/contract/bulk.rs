//! `insert_files_bulk` (each engine's own method, for benchmarks and imports): the rows it
//! writes are the rows `insert_file` writes one by one, in one transaction.

use filegate_core::ports::Effects;
use std::future::Future;

use filegate_core::StoreError;
use filegate_core::domain::{FileQuery, FileRecord, FileStatus};

use super::{START, Store, eventually, new_file, tenant, with_seq};

/// More files than one multi-row statement holds, so the batching is exercised.
const FILES: usize = 1234;

/// `bulk` is the engine's `insert_files_bulk` on the same database as `store`.
pub async fn bulk_inserted_rows_are_the_rows_insert_file_writes<F, Fut>(store: Store, bulk: F)
where
    F: Fn(Vec<FileRecord>) -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    let t = tenant(&store, "bulk").await;
    let first = store
        .insert_file(&new_file(&t, "first.bin"), &Effects::NONE)
        .await
        .expect("one insert");
    let files: Vec<FileRecord> = (0..FILES)
        .map(|i| {
            let mut f = new_file(&t, &format!("bulk/{i:05}.bin"));
            f.status = FileStatus::Ready;
            f.size = i as u64;
            f
        })
        .collect();
    bulk(files.clone()).await.expect("bulk insert");

    // Every field round-trips, and the change feed has them in order after the first (once
    // it shows them all: see `settle_feed`).
    eventually(std::time::Duration::from_secs(10), || async {
        let all = store.changed_files(&t, START, FILES as u32 + 10).await.expect("feed");
        (all.items.len() == FILES + 1).then_some(())
    })
    .await;
    let after_first = store.changed_files(&t, START, 1).await.expect("feed").next_since;
    let feed = store
        .changed_files(&t, after_first, FILES as u32 + 10)
        .await
        .expect("feed")
        .items;
    assert_eq!(feed.len(), FILES);
    let mut previous = first.change_seq;
    for (i, (got, sent)) in feed.iter().zip(&files).enumerate() {
        assert!(got.change_seq > previous, "file {i} numbered after the one before");
        previous = got.change_seq;
        assert_eq!(got, &with_seq(sent, got.change_seq), "file {i}");
    }
    let stored = store.get_file(&t, files[FILES / 2].id).await.expect("get");
    assert_eq!(
        stored.as_ref().map(|f| f.path.as_str()),
        Some(files[FILES / 2].path.as_str())
    );
    let listed = store
        .list_files(
            &t,
            &FileQuery {
                limit: 1000,
                start: filegate_core::domain::PageStart::Offset(0),
                ..FileQuery::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(listed.1, Some(FILES as u64 + 1), "the listing counts every row");

    // A batch with an existing id conflicts, and none of it is written.
    let fresh = new_file(&t, "never.bin");
    let again = bulk(vec![fresh.clone(), files[0].clone()]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.get_file(&t, fresh.id).await.expect("get"), None);
    // And the feed goes on after the bulk rows.
    let next = store
        .insert_file(&new_file(&t, "last.bin"), &Effects::NONE)
        .await
        .expect("insert after");
    assert!(next.change_seq > feed.last().map_or(0, |f| f.change_seq));
}
