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

use anyhow::Context as _;
use filegate_amqp::{AmqpConfig, AmqpConnection, AmqpQueue, Relay, RelaySettings};
use filegate_blobs::signing::UrlSigner;
use filegate_blobs::{LocalBlobStore, S3BlobStore};
use filegate_core::StoreError;
use filegate_core::cache::{CachedStore, GuardedLimiter, MemoryRateLimiter};
use filegate_core::ports::{
    AuditLog, BlobStore, EventSink, ExchangeStore, JobQueue, LogSink, MetadataStore, RateLimiter,
};
use filegate_core::sealer::Sealer;
use filegate_core::usecases::{Services, Settings};
use filegate_redis::{Redis, RedisConfig};
use filegate_sql::{PostgresStore, SqliteStore};

use crate::config::Config;
use crate::secret::Secret;

pub const DATABASE_FILE: &str = "filegate.db";
pub const OBJECTS_DIR: &str = "objects";
/// Key-derivation label of the local store's URL signatures.
pub const URL_KEY_PURPOSE: &str = "filegate/url/v1";
/// Key-derivation label of the key sealing exchange passphrases at rest: changing it (or the
/// deployment secret) makes the stored passphrases unreadable.
pub const EXCHANGE_KEY_PURPOSE: &str = "filegate/exchange/v1";

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
    /// What the gateway's use cases run on. `services.queue` is the database queue (the
    /// outbox); workers get [`Engines::worker_services`].
    pub services: Services,
    /// The queue workers consume from: RabbitMQ when configured, else the database.
    pub worker_queue: Arc<dyn JobQueue>,
    /// Set when objects live in the local directory: filegate then serves the signed URLs.
    pub local_blobs: Option<Arc<LocalBlobStore>>,
    pub limiter: Arc<dyn RateLimiter>,
    /// Moves jobs and events from the database outbox to RabbitMQ, when configured.
    pub relay: Option<Relay>,
    pub probes: Vec<Probe>,
}

impl Engines {
    pub async fn open(config: &Config, secret: &Secret, settings: Settings) -> anyhow::Result<Self> {
        let mut probes = Vec::new();

        #[allow(clippy::type_complexity)]
        let (store, database_queue, audit, exchange): (
            Arc<dyn MetadataStore>,
            Arc<dyn JobQueue>,
            Arc<dyn AuditLog>,
            Arc<dyn ExchangeStore>,
        ) = match scheme(config.database.as_deref()) {
            None | Some("sqlite") => {
                let sql = Arc::new(SqliteStore::open(&sqlite_path(config)?).await?);
                (sql.clone(), sql.clone(), sql.clone(), sql)
            }
            Some("postgres" | "postgresql") => {
                let url = config.database.as_deref().unwrap_or_default();
                let pg = Arc::new(PostgresStore::connect(url).await.context("database")?);
                (pg.clone(), pg.clone(), pg.clone(), pg)
            }
            Some(other) => anyhow::bail!("database: unsupported scheme {other:?} (sqlite://, postgres://)"),
        };
        let db = store.clone();
        probes.push(Probe::new("database", move || {
            let db = db.clone();
            async move { db.ping().await }
        }));

        let (blobs, local_blobs): (Arc<dyn BlobStore>, _) = match scheme(config.storage.as_deref()) {
            None | Some("file") => {
                let signer = UrlSigner::new(secret.derive(URL_KEY_PURPOSE));
                let local = Arc::new(LocalBlobStore::open(
                    storage_root(config)?,
                    signer,
                    config.public_url()?,
                )?);
                (local.clone(), Some(local))
            }
            Some("s3") => {
                let url = config.storage.as_deref().unwrap_or_default();
                (Arc::new(S3BlobStore::from_url(url).context("storage")?), None)
            }
            Some(other) => anyhow::bail!("storage: unsupported scheme {other:?} (file://, s3://)"),
        };
        let storage = blobs.clone();
        probes.push(Probe::new("storage", move || {
            let storage = storage.clone();
            async move { storage.ping().await }
        }));

        // A file cache is only safe when every process sees the same one: no cache without
        // Redis. The rate limiter is per process without Redis, shared with it.
        let (store, limiter): (Arc<dyn MetadataStore>, Arc<dyn RateLimiter>) = match config.cache.as_deref() {
            None => (store, Arc::new(MemoryRateLimiter::new(100_000))),
            Some(url) if scheme(Some(url)) == Some("redis") || scheme(Some(url)) == Some("rediss") => {
                let redis = Redis::open(&redis_config(url)?).context("cache")?;
                let probe = redis.clone();
                probes.push(Probe::new("cache", move || {
                    let redis = probe.clone();
                    async move { redis.ping().await }
                }));
                let cached: Arc<dyn MetadataStore> = Arc::new(
                    // Short: a process killed between its write and the invalidation leaves a
                    // stale entry for at most this long (the pipeline retries past it).
                    CachedStore::new(store, Arc::new(redis.cache())).with_ttl(std::time::Duration::from_secs(10)),
                );
                (cached, Arc::new(redis.rate_limiter()))
            }
            Some(url) => anyhow::bail!("cache: unsupported URL {url:?} (redis://)"),
        };
        let limiter: Arc<dyn RateLimiter> = Arc::new(GuardedLimiter::new(limiter));

        let (worker_queue, relay): (Arc<dyn JobQueue>, Option<Relay>) = match config.queue.as_deref() {
            None => (database_queue.clone(), None),
            Some(url) => {
                let broker = AmqpConnection::connect(AmqpConfig::from_url(url).context("queue")?)
                    .await
                    .context("queue")?;
                let probe = broker.clone();
                probes.push(Probe::new("queue", move || {
                    let broker = probe.clone();
                    async move { broker.ping().await }
                }));
                let relay = Relay::new(database_queue.clone(), broker.clone(), RelaySettings::default());
                (Arc::new(AmqpQueue::new(broker)), Some(relay))
            }
        };

        let events: Arc<dyn EventSink> = Arc::new(LogSink);
        let services = Services {
            store,
            queue: database_queue,
            blobs,
            events,
            audit,
            settings: Arc::new(settings),
            exchange,
            sealer: Sealer::new(&secret.derive(EXCHANGE_KEY_PURPOSE)),
        };
        Ok(Self {
            services,
            worker_queue,
            local_blobs,
            limiter,
            relay,
            probes,
        })
    }

    /// The services workers run with: the same engines, consuming from the worker queue.
    pub fn worker_services(&self) -> Services {
        Services {
            queue: self.worker_queue.clone(),
            ..self.services.clone()
        }
    }
}

/// `redis://host:port/db?prefix=…`: the prefix (default `filegate:`) keeps deployments that
/// share a Redis apart; the rest of the URL goes to the client as is.
fn redis_config(url: &str) -> anyhow::Result<RedisConfig> {
    let mut parsed = url::Url::parse(url).context("cache URL")?;
    let mut prefix = None;
    let rest: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "prefix" {
                prefix = Some(v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(rest);
    }
    let config = RedisConfig::new(parsed.to_string());
    Ok(match prefix {
        Some(p) => config.with_prefix(p),
        None => config,
    })
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
