//! The contract scenarios against PostgreSQL, one fresh database per test (the search
//! scenarios too: `PostgresStore` is also a `SearchIndex`), plus what is particular to a
//! database that several processes share: two stores (two pools, as two processes would
//! have) claiming and waking each other, migrations racing, the listener surviving a
//! dropped connection, and a server that cannot be reached.
//!
//! The server comes from `FILEGATE_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1/test`).
//! Unset, the tests are skipped with a note, except under `CI=true`, where they fail.

mod contract;
mod search;

use filegate_core::ports::Effects;
use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileStatus};
use filegate_core::ports::{Job, JobQueue, MetadataStore, NewJob, QueueStats};
use filegate_sql::PostgresStore;
use futures::FutureExt as _;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, PgPool};

const LEASE: Duration = Duration::from_secs(60);
const DEADLINE: Duration = Duration::from_secs(10);

/// The server's URL, or `None` to skip (never in CI).
fn server_url() -> Option<String> {
    match std::env::var("FILEGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "FILEGATE_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL tests \
                 (scripts/engines.sh starts a server and prints the variable)"
            );
            eprintln!("note: FILEGATE_TEST_POSTGRES_URL is not set; skipping this PostgreSQL test");
            None
        }
    }
}

/// `server` with its database replaced by `database`.
fn with_database(server: &str, database: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..].find('/').map_or(base, |i| &base[..authority + i]);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// Runs `test` with the URL of a database of its own, created for it on the test server and
/// dropped afterwards (whether the test passed or not, as far as dropping goes).
async fn with_db<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(server) = server_url() else {
        return;
    };
    let name = format!("fg_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the PostgreSQL server at FILEGATE_TEST_POSTGRES_URL: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");

    let outcome = AssertUnwindSafe(test(with_database(&server, &name)))
        .catch_unwind()
        .await;

    // Best effort: FORCE ends the connections pools may still hold.
    if let Err(e) = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await
    {
        eprintln!("note: could not drop the test database {name}: {e}");
    }
    let _ = admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn connect(url: &str) -> Arc<PostgresStore> {
    Arc::new(PostgresStore::connect(url).await.expect("connect to the test database"))
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                with_db(|url| async move {
                    let store = connect(&url).await;
                    contract::$name(store.clone(), store).await;
                })
                .await;
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
                with_db(|url| async move {
                    let store = connect(&url).await;
                    contract::$name(store.clone(), store.clone(), store).await;
                })
                .await;
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
                with_db(|url| async move {
                    let store = connect(&url).await;
                    contract::$name(store.clone(), store.clone(), store.clone(), store).await;
                })
                .await;
            }
        )*
    };
}

contract::share_scenarios!(share_contract_tests);

macro_rules! search_tests {
    ($($name:ident),* $(,)?) => {
        mod search_index {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    with_db(|url| async move {
                        let index: search::Index = connect(&url).await;
                        search::$name(index).await;
                    })
                    .await;
                }
            )*
        }
    };
}

search::search_scenarios!(search_tests);
contract::archive_scenarios!(exchange_contract_tests);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_inserted_rows_are_the_rows_insert_file_writes() {
    with_db(|url| async move {
        let store = connect(&url).await;
        let bulk = store.clone();
        contract::bulk_inserted_rows_are_the_rows_insert_file_writes(store, move |files| {
            let bulk = bulk.clone();
            async move { bulk.insert_files_bulk(&files).await }
        })
        .await;
    })
    .await;
}

fn job() -> NewJob {
    NewJob::now(Job::ProcessFile {
        tenant: contract::tid("a"),
        file_id: FileId::new(),
    })
}

fn idle() -> QueueStats {
    QueueStats::default()
}

/// Waits on `queue` in the background; the handle finishes when it is woken (or after a minute).
fn waiter(queue: &Arc<PostgresStore>) -> tokio::task::JoinHandle<()> {
    let queue = queue.clone();
    tokio::spawn(async move { queue.wait_for_work(Duration::from_secs(60)).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_commits_with_its_audit_records_or_not_at_all() {
    with_db(|url| async move {
        let store = connect(&url).await;
        contract::a_change_commits_with_its_audit_records_or_not_at_all(
            store.clone(),
            store.clone(),
            store,
            filegate_sql::testing::AuditTrail::Postgres(url.clone()),
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_claiming_at_once_never_get_the_same_job() {
    with_db(|url| async move {
        let (a, b) = (connect(&url).await, connect(&url).await);
        let mut all = HashSet::new();
        for i in 0..300 {
            let j = job();
            all.insert(j.id);
            let via = if i % 2 == 0 { &a } else { &b };
            via.enqueue(&j).await.unwrap();
        }
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..8 {
            let queue = if w % 2 == 0 { a.clone() } else { b.clone() };
            workers.spawn(async move {
                let worker = format!("w{w}");
                let mut mine = Vec::new();
                while let Some(c) = queue.claim(&worker, LEASE).await.unwrap() {
                    assert_eq!(c.attempt, 1, "a job claimed once is never handed out again");
                    queue.complete(c.id, &worker).await.unwrap();
                    mine.push(c.id);
                }
                mine
            });
        }
        let mut claimed = Vec::new();
        while let Some(mine) = workers.join_next().await {
            claimed.extend(mine.unwrap());
        }
        assert_eq!(claimed.len(), 300, "each job claimed exactly once");
        assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), all);
        assert_eq!(a.stats().await.unwrap(), idle());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn work_enqueued_in_one_process_wakes_a_worker_waiting_in_another() {
    with_db(|url| async move {
        let (a, b) = (connect(&url).await, connect(&url).await);
        let store: contract::Store = a.clone();
        let t = contract::tenant(&store, "a").await;

        let waiting = waiter(&b);
        a.enqueue(&job()).await.unwrap();
        tokio::time::timeout(DEADLINE, waiting)
            .await
            .expect("woken by an enqueue on the other store")
            .unwrap();

        let waiting = waiter(&b);
        let pending = a
            .insert_file(&contract::new_file(&t, "x"), &Effects::NONE)
            .await
            .unwrap();
        let mut uploaded = pending.clone();
        uploaded.status = FileStatus::Uploaded;
        let j = NewJob::now(Job::ProcessFile {
            tenant: t,
            file_id: pending.id,
        });
        a.update_file(&uploaded, &[FileStatus::Pending], &Effects::jobs([j]))
            .await
            .unwrap();
        tokio::time::timeout(DEADLINE, waiting)
            .await
            .expect("woken by update_file committing a job on the other store")
            .unwrap();
        assert!(b.claim("w", LEASE).await.unwrap().is_some());
    })
    .await;
}

/// The listeners' backends in the current database: (pid, last query).
async fn listeners(db: &PgPool) -> Vec<(i32, String)> {
    sqlx::query_as(
        "SELECT pid, query FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'filegate-listener'",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_listener_listens_again_after_its_connection_is_killed() {
    with_db(|url| async move {
        let (a, b) = (connect(&url).await, connect(&url).await);
        let admin = PgPool::connect(&url).await.unwrap();
        let before = listeners(&admin).await;
        assert_eq!(before.len(), 2, "one listener per store: {before:?}");
        let killed: HashSet<i32> = before.iter().map(|(pid, _)| *pid).collect();
        for pid in &killed {
            sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .execute(&admin)
                .await
                .unwrap();
        }

        // Both stores open new connections and subscribe on them again.
        contract::eventually(DEADLINE, || {
            let (admin, killed) = (&admin, &killed);
            async move {
                let now = listeners(admin).await;
                let fresh = now
                    .iter()
                    .filter(|(pid, query)| !killed.contains(pid) && query.starts_with("LISTEN"))
                    .count();
                (fresh == 2).then_some(())
            }
        })
        .await;

        // A reconnected listener wakes one worker for what it may have missed, so a wait or
        // two can end without a notification; three rounds in a row need working ones.
        for round in 0..3 {
            let waiting = waiter(&b);
            a.enqueue(&job()).await.unwrap();
            tokio::time::timeout(DEADLINE, waiting)
                .await
                .unwrap_or_else(|_| panic!("round {round}: not woken after the listener reconnected"))
                .unwrap();
        }
        admin.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_that_ends_in_one_process_is_reclaimed_by_another() {
    with_db(|url| async move {
        let (a, b) = (connect(&url).await, connect(&url).await);
        let j = job();
        a.enqueue(&j).await.unwrap();
        let first = a.claim("a-worker", Duration::from_millis(20)).await.unwrap().unwrap();
        assert_eq!((first.id, first.attempt), (j.id, 1));

        // The worker in process a "dies"; once its lease ends, process b takes the job over.
        let second = contract::eventually(DEADLINE, || async { b.claim("b-worker", LEASE).await.unwrap() }).await;
        assert_eq!((second.id, second.attempt), (j.id, 2));
        assert!(matches!(
            a.extend(j.id, "a-worker", LEASE).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(a.complete(j.id, "a-worker").await, Err(StoreError::NotFound)));
        assert_eq!(a.stats().await.unwrap().running, 1, "b's lease is live for a too");
        a.complete(j.id, "b-worker").await.unwrap();
        assert_eq!(b.stats().await.unwrap(), idle());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_apply_once_however_many_processes_start_together() {
    with_db(|url| async move {
        let starts = (0..4).map(|_| PostgresStore::connect(&url));
        let stores: Vec<PostgresStore> = futures::future::try_join_all(starts)
            .await
            .expect("concurrent starts all succeed");
        let store: contract::Store = Arc::new(stores[0].clone());
        let a = contract::tenant(&store, "a").await;
        let file = store
            .insert_file(&contract::new_file(&a, "kept.txt"), &Effects::NONE)
            .await
            .unwrap();
        for s in &stores {
            s.close().await;
        }

        // Started again: nothing is applied twice, nothing is lost, the feed carries on.
        let again = connect(&url).await;
        assert_eq!(again.get_file(&a, file.id).await.unwrap(), Some(file.clone()));
        let store: contract::Store = again.clone();
        contract::settle_feed(&store, &a, &file).await;
        let after_file = store.changed_files(&a, contract::START, 10).await.unwrap().next_since;
        let next = again
            .insert_file(&contract::new_file(&a, "next.txt"), &Effects::NONE)
            .await
            .unwrap();
        assert!(next.change_seq > file.change_seq);
        contract::settle_feed(&store, &a, &next).await;
        assert_eq!(store.changed_files(&a, after_file, 10).await.unwrap().items, vec![next]);

        let mut conn = PgConnection::connect(&url).await.unwrap();
        let (applied, ok): (i64, bool) = sqlx::query_as("SELECT count(*), bool_and(success) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .unwrap()
            .count();
        assert_eq!((applied, ok), (i64::try_from(files).unwrap(), true));
        let _ = conn.close().await;
    })
    .await;
}

/// The change feed's promise where it is hardest to keep: a transaction that wrote a file
/// early but commits late (a slow commit, a long transaction) must not land behind a
/// position already handed out. Here a transaction changes `late.txt` and stays open while
/// the store commits a change of `early.txt`; a follower reads the feed meanwhile, then
/// again after the late commit, and must see both. Numbering from a plain sequence (or by
/// commit time) without the visibility horizon fails this: `early.txt` would be handed out
/// first with the higher position, and `late.txt` would land behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_that_commits_late_is_not_skipped_by_the_feed() {
    with_db(|url| async move {
        let store: contract::Store = connect(&url).await;
        let a = contract::tenant(&store, "a").await;
        let late = store
            .insert_file(&contract::new_file(&a, "late.txt"), &Effects::NONE)
            .await
            .unwrap();
        let early = store
            .insert_file(&contract::new_file(&a, "early.txt"), &Effects::NONE)
            .await
            .unwrap();
        contract::settle_feed(&store, &a, &early).await;

        // The slow writer: its transaction has its id before the store's write below.
        let mut slow = PgConnection::connect(&url).await.unwrap();
        let mut tx = slow.begin().await.unwrap();
        sqlx::query(
            "UPDATE files SET path = 'late-renamed.txt', change_seq = nextval('files_change_seq'), \
             change_xid = pg_current_xact_id()::text::bigint WHERE id = $1",
        )
        .bind(late.id.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();

        // Meanwhile the store commits a change of the other file, and a follower reads.
        let mut uploaded = early.clone();
        uploaded.status = FileStatus::Uploaded;
        let early_now = store
            .update_file(&uploaded, &[FileStatus::Pending], &Effects::NONE)
            .await
            .unwrap();
        // `late.txt` as last committed; `early.txt` changed after the open transaction began.
        let start = store.changed_files(&a, contract::START, 10).await.unwrap();
        assert_eq!(
            start.items,
            vec![late.clone()],
            "nothing newer than the open transaction shows"
        );
        let during = store.changed_files(&a, start.next_since, 10).await.unwrap();
        assert!(
            during.items.is_empty(),
            "the committed change waits for the older open one: {:?}",
            during.items
        );

        tx.commit().await.unwrap();
        let _ = slow.close().await;
        let after = contract::eventually(DEADLINE, || async {
            let page = store.changed_files(&a, during.next_since, 10).await.unwrap();
            (page.items.len() == 2).then_some(page)
        })
        .await;
        let paths: Vec<&str> = after.items.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["late-renamed.txt", "early.txt"],
            "both changes, in transaction order"
        );
        assert_eq!(after.items[1], early_now);
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_as_unavailable() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/filegate");
    let err = tokio::time::timeout(Duration::from_secs(30), PostgresStore::connect(&url))
        .await
        .expect("gives up within the acquire timeout, not hanging")
        .expect_err("nothing listens there");
    assert!(
        matches!(err.downcast_ref::<StoreError>(), Some(StoreError::Unavailable(_))),
        "{err:#}"
    );
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    with_db(|url| async move {
        let store = connect(&url).await;
        store.ping().await.unwrap();
        store.close().await;
        assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
        assert!(matches!(store.claim("w", LEASE).await, Err(StoreError::Unavailable(_))));
        // Waiting still ends at its maximum.
        tokio::time::timeout(DEADLINE, store.wait_for_work(Duration::from_millis(10)))
            .await
            .expect("wait is bounded");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_does_not_decode_becomes_a_dead_letter() {
    with_db(|url| async move {
        let store = connect(&url).await;
        let good = job();
        // A row written by some other version of filegate, older than the good job.
        let mut raw = PgConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO jobs (id, kind, payload, run_at, attempts, created_at) \
             VALUES ('00000000-0000-7000-8000-000000000001', 'teleport', '{\"kind\":\"teleport\"}', 0, 0, 0)",
        )
        .execute(&mut raw)
        .await
        .unwrap();
        store.enqueue(&good).await.unwrap();

        let claimed = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!(claimed.id, good.id, "the poison job is skipped, not handed out");
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.dead, stats.running, stats.queued), (1, 1, 0));
        let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM jobs WHERE kind = 'teleport'")
            .fetch_one(&mut raw)
            .await
            .unwrap();
        assert!(error.is_some_and(|e| e.contains("job.payload")));
        let _ = raw.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_to_change_or_remove_audit_records() {
    use filegate_core::ports::AuditLog;
    with_db(|url| async move {
        let store = connect(&url).await;
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
        let mut raw = PgConnection::connect(&url).await.unwrap();
        for statement in ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"] {
            let err = sqlx::query(statement).execute(&mut raw).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{statement}: {err}");
        }
        let _ = raw.close().await;
        let query = filegate_core::domain::AuditQuery {
            limit: 10,
            ..Default::default()
        };
        let kept = store.list(&contract::tid("a"), &query).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].actor, "alice");
    })
    .await;
}
