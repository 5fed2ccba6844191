//! Choosing and opening the engines from the config. One URL per engine, its scheme picks
//! the implementation; every combination with the embedded defaults is valid:
//!
//! | engine | embedded default | scale-out |
//! |---|---|---|
//! | `database` (metadata + job queue) | `sqlite://PATH` | `postgres://…` |
//! | `storage` | `file://PATH` | `s3://BUCKET?endpoint=…&region=…` |
//! | `queue` (workers consume from) | the database | `amqp://…` |
//! | `cache` (hot reads, rate limits) | in process | `redis://…` |

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use filegate_blobs::LocalBlobStore;
use filegate_blobs::signing::UrlSigner;
use filegate_core::StoreError;
use filegate_core::ports::{BlobStore, EventSink, JobQueue, LogSink, MetadataStore};
use filegate_core::usecases::{Services, Settings};
use filegate_sql::SqliteStore;

use crate::config::Config;
use crate::secret::Secret;

pub const DATABASE_FILE: &str = "filegate.db";
pub const OBJECTS_DIR: &str = "objects";
/// Key-derivation label of the local store's URL signatures.
pub const URL_KEY_PURPOSE: &str = "filegate/url/v1";

type PingFuture = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// A readiness check of one engine, for `/readyz`.
#[derive(Clone)]
pub struct Probe {
    pub name: &'static str,
    ping: Arc<dyn Fn() -> PingFuture + Send + Sync>,
}

impl Probe {
    fn new<F, Fut>(name: &'static str, ping: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        Self {
            name,
            ping: Arc::new(move || Box::pin(ping())),
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        (self.ping)().await
    }
}

/// The opened engines, behind their ports.
pub struct Engines {
    pub services: Services,
    /// Set when objects live in the local directory: filegate then serves the signed URLs.
    pub local_blobs: Option<Arc<LocalBlobStore>>,
    pub probes: Vec<Probe>,
}

impl Engines {
    pub async fn open(config: &Config, secret: &Secret, settings: Settings) -> anyhow::Result<Self> {
        let mut probes = Vec::new();

        let (store, queue): (Arc<dyn MetadataStore>, Arc<dyn JobQueue>) = match scheme(config.database.as_deref()) {
            None | Some("sqlite") => {
                let sql = Arc::new(SqliteStore::open(&sqlite_path(config)?).await?);
                (sql.clone(), sql)
            }
            Some(other) => anyhow::bail!("database: unsupported scheme {other:?} (sqlite://, postgres://)"),
        };
        let db = store.clone();
        probes.push(Probe::new("database", move || {
            let db = db.clone();
            async move { db.ping().await }
        }));

        let mut local_blobs = None;
        let blobs: Arc<dyn BlobStore> = match scheme(config.storage.as_deref()) {
            None | Some("file") => {
                let signer = UrlSigner::new(secret.derive(URL_KEY_PURPOSE));
                let local = Arc::new(LocalBlobStore::open(
                    storage_root(config)?,
                    signer,
                    config.public_url()?,
                )?);
                local_blobs = Some(local.clone());
                local
            }
            Some(other) => anyhow::bail!("storage: unsupported scheme {other:?} (file://, s3://)"),
        };
        let storage = blobs.clone();
        probes.push(Probe::new("storage", move || {
            let storage = storage.clone();
            async move { storage.ping().await }
        }));

        let events: Arc<dyn EventSink> = Arc::new(LogSink);
        let services = Services {
            store,
            queue,
            blobs,
            events,
            settings: Arc::new(settings),
        };
        Ok(Self {
            services,
            local_blobs,
            probes,
        })
    }
}

/// The scheme of an engine URL (`postgres` of `postgres://…`).
fn scheme(url: Option<&str>) -> Option<&str> {
    url.map(|u| u.split_once("://").map_or(u, |(s, _)| s))
}

fn sqlite_path(config: &Config) -> anyhow::Result<PathBuf> {
    match config.database.as_deref() {
        None => Ok(config.data_dir.join(DATABASE_FILE)),
        Some(url) => match url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => anyhow::bail!("database {url:?}: expected sqlite://PATH"),
        },
    }
}

fn storage_root(config: &Config) -> anyhow::Result<PathBuf> {
    match config.storage.as_deref() {
        None => Ok(config.data_dir.join(OBJECTS_DIR)),
        Some(url) => match url.strip_prefix("file://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => anyhow::bail!("storage {url:?}: expected file://PATH"),
        },
    }
}
