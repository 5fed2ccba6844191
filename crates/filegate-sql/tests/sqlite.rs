//! The contract scenarios against SQLite, one fresh database file per test, plus what is
//! particular to SQLite (reopening, closing, undecodable rows).

mod contract;

use filegate_core::ports::Effects;
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

contract::scenarios!(contract_tests);
contract::quota_scenarios!(contract_tests);

contract::notification_scenarios!(contract_tests);

macro_rules! exchange_contract_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (_dir, store) = open().await;
                contract::$name(store.clone(), store.clone(), store).await;
            }
        )*
    };
}

contract::exchange_scenarios!(exchange_contract_tests);

macro_rules! share_contract_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (_dir, store) = open().await;
                contract::$name(store.clone(), store.clone(), store.clone(), store).await;
            }
        )*
    };
}

contract::share_scenarios!(share_contract_tests);
contract::archive_scenarios!(exchange_contract_tests);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_inserted_rows_are_the_rows_insert_file_writes() {
    let (_dir, store) = open().await;
    let bulk = store.clone();
    contract::bulk_inserted_rows_are_the_rows_insert_file_writes(store, move |files| {
        let bulk = bulk.clone();
        async move { bulk.insert_files_bulk(&files).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_commits_with_its_audit_records_or_not_at_all() {
    let (dir, store) = open().await;
    let path = dir.path().join("filegate.db");
    contract::a_change_commits_with_its_audit_records_or_not_at_all(
        store.clone(),
        store.clone(),
        store,
        filegate_sql::testing::AuditTrail::Sqlite(path),
    )
    .await;
}

#[tokio::test]
async fn data_survives_reopening_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.db");
    let store: Arc<dyn MetadataStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let a = contract::tenant(&store, "a").await;
    let file = store
        .insert_file(&contract::new_file(&a, "kept.txt"), &Effects::NONE)
        .await
        .unwrap();
    drop(store);

    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(reopened.get_file(&a, file.id).await.unwrap(), Some(file.clone()));
    // The change sequence carries on from where it was.
    let next = reopened
        .insert_file(&contract::new_file(&a, "next.txt"), &Effects::NONE)
        .await
        .unwrap();
    assert!(next.change_seq > file.change_seq);
}

/// The database holds every file's metadata, the audit trail and sealed secrets: only the
/// user filegate runs as may read it, whatever the umask, and so the WAL and shared-memory
/// files SQLite makes next to it.
#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_directory_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("filegate.db");
    let store: Arc<dyn MetadataStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let a = contract::tenant(&store, "a").await;
    store
        .insert_file(&contract::new_file(&a, "private.txt"), &Effects::NONE)
        .await
        .unwrap();

    assert_eq!(mode(&path), 0o600, "the database");
    for suffix in ["-wal", "-shm"] {
        let side = data.join(format!("filegate.db{suffix}"));
        assert!(side.exists(), "{suffix} exists while the store is open (WAL mode)");
        assert_eq!(mode(&side), 0o600, "{suffix}");
    }
    assert_eq!(mode(&data), 0o700, "the data directory");
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

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_audit_records() {
    use filegate_core::ports::AuditLog;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filegate.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let record = filegate_core::domain::AuditRecord {
        id: uuid::Uuid::now_v7(),
        tenant: contract::tid("a"),
        actor: "alice".into(),
        action: "file.downloaded".into(),
        file_id: None,
        request_id: None,
        client_ip: None,
        user_agent: None,
        at: chrono::Utc::now(),
        details: serde_json::json!({}),
        seq: 0,
    };
    store.append(&record).await.unwrap();
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for statement in ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"] {
        let err = sqlx::query(statement).execute(&raw).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{statement}: {err}");
    }
    raw.close().await;
    let kept = store
        .list(
            &contract::tid("a"),
            &filegate_core::domain::AuditQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].actor, "alice");
}
