//! The engines filegate runs on in a measurement: embedded (SQLite and the local directory,
//! nothing else), PostgreSQL (metadata and queue, local directory), or scaled out
//! (PostgreSQL, an S3 server that checks signatures (s3s-fs), RabbitMQ). Each deployment
//! gets a database of its own, dropped at the end, and its S3 server is a child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::AssertSqlSafe;
use tokio::process::{Child, Command};

/// Where the optional engines are (flags, or the `FILEGATE_TEST_*` variables
/// `scripts/engines.sh` prints).
#[derive(Debug, Clone, Default)]
pub struct EngineUrls {
    pub postgres: Option<String>,
    pub amqp: Option<String>,
    pub s3s_fs: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    Postgres,
    ScaleOut,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Embedded => "embedded (SQLite, local directory)",
            Kind::Postgres => "PostgreSQL, local directory",
            Kind::ScaleOut => "scale-out (PostgreSQL, S3 (s3s-fs), RabbitMQ)",
        }
    }

    /// Why this deployment cannot run here, if it cannot.
    pub fn missing(self, urls: &EngineUrls) -> Option<&'static str> {
        match self {
            Kind::Embedded => None,
            Kind::Postgres => urls
                .postgres
                .is_none()
                .then_some("no PostgreSQL URL (FILEGATE_TEST_POSTGRES_URL)"),
            Kind::ScaleOut => {
                if urls.postgres.is_none() || urls.amqp.is_none() || urls.s3s_fs.is_none() {
                    Some("needs FILEGATE_TEST_POSTGRES_URL, FILEGATE_TEST_AMQP_URL and FILEGATE_TEST_S3S_FS")
                } else {
                    None
                }
            }
        }
    }
}

/// A database of our own on the PostgreSQL server, dropped by [`Deployment::finish`].
struct Database {
    admin_url: String,
    name: String,
}

/// One deployment's engines, ready for `Filegate::serve(dir, …, &deployment.env)`.
pub struct Deployment {
    pub kind: Kind,
    /// `FILEGATE_*` configuration of the processes under test.
    pub env: Vec<(&'static str, String)>,
    /// The database URL (PostgreSQL only), for seeding through the store layer.
    pub database_url: Option<String>,
    database: Option<Database>,
    s3: Option<Child>,
    amqp: Option<filegate_amqp::AmqpConfig>,
}

/// Set (to anything): a deployment's PostgreSQL database is kept after the run, to look at
/// the plans of what was measured (`EXPLAIN`).
pub const KEEP_DATABASE: &str = "FILEGATE_BENCH_KEEP_DATABASE";

/// The RabbitMQ names of the benchmark: one prefix, deleted at the end of each deployment.
const AMQP_PREFIX: &str = "filegate_bench";

impl Deployment {
    /// Starts what `kind` needs; `dir` holds the S3 server's files.
    pub async fn start(kind: Kind, urls: &EngineUrls, dir: &Path) -> anyhow::Result<Self> {
        let mut deployment = Self {
            kind,
            env: Vec::new(),
            database_url: None,
            database: None,
            s3: None,
            amqp: None,
        };
        if kind == Kind::Embedded {
            return Ok(deployment);
        }
        let admin_url = urls.postgres.clone().context("no PostgreSQL URL")?;
        let name = format!("fg_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .context("creating the benchmark's database")?;
        admin.close().await;
        let mut url = url::Url::parse(&admin_url).context("the PostgreSQL URL")?;
        url.set_path(&name);
        deployment.env.push(("FILEGATE_DATABASE", url.to_string()));
        deployment.database_url = Some(url.to_string());
        deployment.database = Some(Database { admin_url, name });
        if kind == Kind::Postgres {
            return Ok(deployment);
        }

        let s3s_fs = urls.s3s_fs.clone().context("no s3s-fs")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let root = dir.join("s3");
        std::fs::create_dir_all(root.join("files"))?;
        let child = Command::new(&s3s_fs)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", "AKBENCH", "--secret-key", "SKBENCH"])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", s3s_fs.display()))?;
        deployment.s3 = Some(child);
        wait_for_port(port).await?;
        deployment.env.push((
            "FILEGATE_STORAGE",
            format!(
                "s3://files?endpoint=http://127.0.0.1:{port}&region=us-east-1&path_style=true&access_key=AKBENCH&secret_key=SKBENCH"
            ),
        ));
        let mut queue = url::Url::parse(urls.amqp.as_deref().context("no RabbitMQ URL")?)?;
        queue
            .query_pairs_mut()
            .append_pair("prefix", AMQP_PREFIX)
            .append_pair("events_exchange", &format!("{AMQP_PREFIX}.events"));
        deployment.amqp = Some(filegate_amqp::AmqpConfig::from_url(queue.as_str())?);
        deployment.env.push(("FILEGATE_QUEUE", queue.to_string()));
        Ok(deployment)
    }

    /// Drops the database (unless `FILEGATE_BENCH_KEEP_DATABASE` is set), deletes the RabbitMQ queues (and the jobs left in them: the
    /// control plane runs no worker), stops the S3 server.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(config) = self.amqp.take() {
            let connection = filegate_amqp::AmqpConnection::start(config);
            if connection.wait_connected(Duration::from_secs(10)).await.is_ok() {
                connection.delete_topology(true).await.ok();
            }
            connection.close().await;
        }
        if let Some(mut s3) = self.s3.take() {
            s3.kill().await.ok();
        }
        if let Some(db) = self.database.take() {
            // Kept on request, to look at the plans of what was measured (`EXPLAIN`).
            if std::env::var_os(KEEP_DATABASE).is_some() {
                eprintln!("bench: kept the database {} (drop it yourself)", db.name);
                return Ok(());
            }
            let admin = sqlx::PgPool::connect(&db.admin_url).await?;
            sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                db.name
            )))
            .execute(&admin)
            .await
            .context("dropping the benchmark's database")?;
            admin.close().await;
        }
        Ok(())
    }
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("nothing listens on port {port}")
}

/// The PostgreSQL server's version, for the report.
pub async fn postgres_version(url: &str) -> Option<String> {
    let pool = sqlx::PgPool::connect(url).await.ok()?;
    let version: Option<String> = sqlx::query_scalar("SHOW server_version").fetch_one(&pool).await.ok();
    pool.close().await;
    version
}
