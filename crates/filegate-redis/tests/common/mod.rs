//! Helpers for the Redis tests: the Redis under test, a Redis of our own that a test may
//! kill, a fresh SQLite store, metrics, and waiting on a condition with a deadline.

#![allow(dead_code)]

use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::Utc;
use filegate_core::domain::{
    Bucket, BucketName, BucketPolicy, ContentType, FileId, FileRecord, Metadata, NewFile, ObjectPath, Tenant, TenantId,
    UploadPlan,
};
use filegate_core::ports::{Effects, MetadataStore};
use filegate_redis::{Redis, RedisConfig};
use filegate_sql::SqliteStore;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::process::{Child, Command};

/// The Redis named by `FILEGATE_TEST_REDIS_URL`. Unset: the test is skipped, except under
/// `CI=true`, where it fails.
pub fn redis_url() -> Option<String> {
    match std::env::var("FILEGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_or_fail("FILEGATE_TEST_REDIS_URL is not set");
            None
        }
    }
}

fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}, and CI=true: Redis tests must run"
    );
    eprintln!("skipped: {why}");
}

/// A key prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    format!("filegate-test:{test}:{}:", FileId::new())
}

/// A handle on the Redis under test with a unique prefix.
pub fn redis(url: &str, prefix: &str) -> Redis {
    Redis::open(&RedisConfig::new(url).with_prefix(prefix)).expect("open redis")
}

/// A plain connection for looking at (and meddling with) what the adapters stored.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// Polls `check` until it returns `Some`, failing after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < until, "{what}: not within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A `redis-server` of the test's own, on a free port, without persistence, that the test
/// can kill and start again. Killed when dropped.
pub struct OwnRedis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    /// `None` (skipped) when `redis-server` is not installed, except under `CI=true`.
    pub async fn start() -> Option<Self> {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self { child: None, port, dir };
        match server.spawn() {
            Ok(()) => {}
            Err(e) => {
                skip_or_fail(&format!("cannot start redis-server: {e}"));
                return None;
            }
        }
        server.wait_ready().await;
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_ready(&self) {
        let url = self.url();
        eventually(Duration::from_secs(10), "own redis-server answers PING", || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
                (pong == "PONG").then_some(())
            }
        })
        .await;
    }

    /// Kills the server (SIGKILL) and waits until it is gone: Redis stopped mid-run.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// Starts it again on the same port (empty: nothing was persisted).
    pub async fn restart(&mut self) {
        self.spawn().expect("restart redis-server");
        self.wait_ready().await;
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A port where nothing listens.
pub fn dead_port() -> u16 {
    free_port()
}

/// Records this process's metrics so tests can read the counters.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).expect("install the metrics recorder");
        handle
    })
}

/// The value of counter `name` summed over the series whose labels contain `label`
/// (e.g. `op="get"`; empty for all).
pub fn counter(name: &str, label: &str) -> u64 {
    metrics()
        .render()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter(|line| line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

/// A fresh SQLite database file in `dir`, opened as a store.
pub async fn sqlite(dir: &Path) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&dir.join("filegate.db")).await.expect("open sqlite"))
}

/// Creates tenant `name` with its bucket `default`.
pub async fn tenant(store: &dyn MetadataStore, name: &str) -> TenantId {
    let id = TenantId::parse(name).expect("tenant id");
    let now = Utc::now();
    let bucket = Bucket {
        tenant: id.clone(),
        name: BucketName::default_bucket(),
        policy: BucketPolicy::default(),
        created_at: now,
        updated_at: now,
    };
    store
        .create_tenant(
            &Tenant {
                id: id.clone(),
                created_at: now,
            },
            &bucket,
            &Effects::NONE,
        )
        .await
        .expect("create tenant");
    id
}

/// A pending file record of `tenant` at `path`, not yet stored.
pub fn pending_file(tenant: &TenantId, path: &str) -> FileRecord {
    let now = Utc::now();
    FileRecord::pending(NewFile {
        id: FileId::new(),
        tenant: tenant.clone(),
        owner: "user-1".into(),
        bucket: BucketName::default_bucket(),
        path: ObjectPath::parse(path).expect("path"),
        size: 100,
        content_type: ContentType::octet_stream(),
        declared_sha256: None,
        metadata: Metadata::default(),
        external_id: None,
        upload: UploadPlan::Put,
        upload_expires_at: now + chrono::Duration::hours(1),
        now,
        encryption: None,
        request_id: None,
    })
}
