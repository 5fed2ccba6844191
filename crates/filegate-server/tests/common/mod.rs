//! The test harness: each test gets its own server on port 0, its own data directory (a
//! fresh SQLite database and object directory), and a worker it drives itself —
//! `run_jobs()` processes every due job, so no test ever sleeps waiting for the pipeline.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use filegate_client::Client;
use filegate_core::usecases::Services;
use filegate_core::usecases::pipeline::Worker;
use filegate_server::{Config, Gateway};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub struct TestApp {
    pub address: SocketAddr,
    pub base_url: String,
    pub data_dir: TempDir,
    pub worker: Worker,
    /// The gateway's engines and settings, for tests that drive the sweeper with their own
    /// `now`, flush download counts themselves, or cause what no route can (an alert event).
    pub services: Services,
    /// An admin of the `default` tenant.
    pub client: Client,
    /// A client without credentials.
    pub anonymous: Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after letting the test adjust its config.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with_clock(adjust, std::sync::Arc::new(filegate_core::ports::SystemClock)).await
    }

    /// [`TestApp::spawn_with`] on a clock the test moves (a `ManualClock`): time-dependent
    /// rules (share expiry, password locks) are tested without sleeping.
    pub async fn spawn_with_clock(
        adjust: impl FnOnce(&mut Config),
        clock: std::sync::Arc<dyn filegate_core::ports::Clock>,
    ) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            filegate_server::telemetry::init(&filegate_server::config::LogConfig {
                format: "pretty".into(),
                level: "debug".into(),
            });
        }
        Self::spawn_in(tempfile::tempdir().expect("temp dir"), adjust, clock).await
    }

    /// Stops this gateway and starts another on the same data directory, with the default
    /// config, as a restart does: what the first one acknowledged must still be there.
    pub async fn restart(mut self) -> Self {
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        drop(self);
        Self::spawn_in(data_dir, |_| {}, std::sync::Arc::new(filegate_core::ports::SystemClock)).await
    }

    async fn spawn_in(
        data_dir: TempDir,
        adjust: impl FnOnce(&mut Config),
        clock: std::sync::Arc<dyn filegate_core::ports::Clock>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let address = listener.local_addr().expect("local addr");
        let mut config = Config {
            listen: address,
            data_dir: data_dir.path().to_owned(),
            ..Config::default()
        };
        config.workers.enabled = false;
        adjust(&mut config);
        let gateway = Gateway::open_with_clock(config, clock).await.expect("gateway opens");
        let worker = gateway.worker();
        let services = gateway.state().services.clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = gateway
                .serve(listener, async move {
                    let _ = rx.await;
                })
                .await;
        });
        let base_url = format!("http://{address}");
        let anonymous = Client::new(&base_url).expect("client");
        let mut app = Self {
            address,
            base_url,
            data_dir,
            worker,
            services,
            client: anonymous.clone(),
            anonymous,
            shutdown: Some(tx),
        };
        app.client = app.client_as("default", "admin");
        app
    }

    pub fn token(&self, tenant: &str, role: &str) -> String {
        self.token_for(tenant, role, "tester")
    }

    pub fn token_for(&self, tenant: &str, role: &str, subject: &str) -> String {
        filegate_server::tokens::issue(self.data_dir.path(), tenant, role, subject, Duration::from_secs(600))
            .expect("token")
    }

    pub fn client_as(&self, tenant: &str, role: &str) -> Client {
        self.anonymous.with_token(self.token(tenant, role))
    }

    /// Creates a tenant (with its `default` bucket) and returns an admin client for it.
    pub async fn tenant(&self, id: &str) -> Client {
        let root = self.client_as("default", "superadmin");
        root.create_tenant(&filegate_api::CreateTenant { id: id.into() })
            .await
            .expect("create tenant");
        self.client_as(id, "admin")
    }

    /// Creates a bucket with the default policy through `client` (an admin of its tenant).
    pub async fn bucket(&self, client: &Client, name: &str) -> filegate_api::BucketView {
        let request = filegate_api::CreateBucket {
            name: name.into(),
            ..Default::default()
        };
        client.create_bucket(&request).await.expect("create bucket")
    }

    /// Runs every due job to completion.
    pub async fn run_jobs(&self) -> usize {
        self.worker.run_until_idle().await.expect("queue reachable")
    }

    /// Uploads through a signed PUT, completes, processes: a `ready` file.
    pub async fn ready_file(&self, client: &Client, bucket: &str, path: &str, bytes: &[u8]) -> filegate_api::FileView {
        let file = client
            .upload_bytes(
                bucket,
                path,
                "application/octet-stream",
                bytes::Bytes::copy_from_slice(bytes),
            )
            .await
            .expect("upload");
        self.run_jobs().await;
        let file = client.get_file(&file.id).await.expect("get");
        assert_eq!(file.status, "ready", "{file:?}");
        file
    }

    /// Files and directories under the object store, for "nothing was stored" checks.
    pub fn stored_objects(&self) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.is_dir() { walk(&p, out) } else { out.push(p) }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.data_dir.path().join("objects").join("objects"), &mut out);
        out
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    /// Starts a graceful shutdown, as SIGTERM does; requests in flight may still finish.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
