//! The reads by key take their key's index on SQLite. SQLite plans without statistics and
//! counts an equality on `tenant` as selective, so a read by ids or by blob that also names
//! the tenant walked every file of the tenant through a tenant index (a search page of 20
//! read all 1M rows). These tests read the plans.

use filegate_core::domain::{FileId, TenantId};
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};

use super::SqliteStore;
use crate::engine::Engine as _;

async fn plan(store: &SqliteStore, q: QueryBuilder<Sqlite>) -> String {
    let mut conn = store.engine.reader().await.expect("a reader");
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", q.sql().as_str())))
            .fetch_all(&mut *conn)
            .await
            .expect("a plan");
    rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
}

#[tokio::test]
async fn reads_by_key_use_the_key_not_the_tenant() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = SqliteStore::open(&dir.path().join("plans.db")).await.expect("a store");
    let tenant = TenantId::default_tenant();
    let by_id = plan(
        &store,
        crate::archives::files_by_id::<Sqlite>(&tenant, &[FileId::new(), FileId::new()]),
    )
    .await;
    assert!(by_id.contains("sqlite_autoindex_files_1 (id=?)"), "{by_id}");
    let in_use = plan(&store, crate::blobs::blob_in_use::<Sqlite>(&tenant, "k", FileId::new())).await;
    assert!(in_use.contains("files_by_blob (blob_key=?)"), "{in_use}");
    let statuses = plan(&store, crate::blobs::blob_statuses::<Sqlite>(&tenant, "k")).await;
    assert!(statuses.contains("files_by_blob (blob_key=?)"), "{statuses}");
    let sizes = plan(&store, <Sqlite as crate::dialect::Dialect>::thumbnail_sizes("t", "k")).await;
    assert!(sizes.contains("files_by_blob (blob_key=?)"), "{sizes}");
    store.close().await;
}
