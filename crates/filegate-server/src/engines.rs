//! Choosing and opening the engines from the config. One URL per engine, its scheme picks
//! the implementation; every combination with the embedded defaults is valid:
//!
//! | engine | embedded default | scale-out |
//! |---|---|---|
//! | `database` (metadata + job queue) | `sqlite://PATH` | `postgres://…` |
//! | `storage` | `file://PATH` | `s3://BUCKET?endpoint=…&region=…` |
//! | `queue` (workers consume from) | the database | `amqp://…` |
//! | `cache` (hot reads, rate limits) | in process | `redis://…` |
//! | `scanner.url` (virus scan) | none | `tcp://…` or `unix://…` (clamd) |

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use filegate_amqp::{AmqpConfig, AmqpConnection, AmqpEventSink, AmqpQueue, EventRoute, Relay, RelaySettings};
use filegate_blobs::signing::UrlSigner;
use filegate_blobs::{LocalBlobStore, S3BlobStore};
use filegate_clamd::ClamdScanner;
use filegate_core::StoreError;
use filegate_core::cache::GuardedLimiter;
use filegate_core::domain::EmailAddress;
use filegate_core::ports::ArchiveStore;
use filegate_core::ports::{
    AuditLog, BlobStore, EventSink, ExchangeStore, FilesByPath, JobQueue, LogMailer, LogSink, Mailer, MetadataStore,
    NotificationStore, RateLimiter, Scanner, SearchIndex, ShareStore, SystemClock,
};
use filegate_core::usecases::downloads::DownloadCounter;
use filegate_core::usecases::notifications::Notifications;
use filegate_core::usecases::triggers::Triggers;
use filegate_core::usecases::{Services, Settings};
use filegate_crypto::{AgeDecryptor, Argon2Hasher, Sealer};
use filegate_media::MediaEngine;
use filegate_memory::{BatchedAuditLog, CachedStore, MemoryLookups, MemoryRateLimiter};
use filegate_redis::{Redis, RedisConfig};
use filegate_smtp::SmtpMailer;
use filegate_sql::{PostgresStore, SqliteStore};
use filegate_tantivy::TantivyIndex;
use filegate_webhooks::{HttpTriggerCaller, HttpWebhookClient};
use filegate_zip::AsyncZipWriter;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::secret::Secret;
use crate::trigger_config::parse_triggers;

pub const DATABASE_FILE: &str = "filegate.db";
pub const OBJECTS_DIR: &str = "objects";
/// The embedded search index, under the data directory.
pub const SEARCH_DIR: &str = "search";
/// Key-derivation label of the local store's URL signatures.
pub const URL_KEY_PURPOSE: &str = "filegate/url/v1";
/// Key-derivation label of the key sealing exchange passphrases at rest: changing it (or the
/// deployment secret) makes the stored passphrases unreadable.
pub const EXCHANGE_KEY_PURPOSE: &str = "filegate/exchange/v1";
/// Key-derivation label of the key sealing webhook secrets at rest: changing it (or the
/// deployment secret) makes existing webhooks' deliveries fail, saying to recreate them.
pub const WEBHOOK_KEY_PURPOSE: &str = "filegate/webhook-secrets/v1";

/// The ports the database serves: one SQLite file or one PostgreSQL database holds them
/// all, so that a state change and the work it causes commit together.
struct DatabasePorts {
    store: Arc<dyn MetadataStore>,
    queue: Arc<dyn JobQueue>,
    audit: Arc<dyn AuditLog>,
    notifications: Arc<dyn NotificationStore>,
    exchange: Arc<dyn ExchangeStore>,
    shares: Arc<dyn ShareStore>,
    paths: Arc<dyn FilesByPath>,
    archives: Arc<dyn ArchiveStore>,
    /// The database's own (PostgreSQL), or an embedded index beside it (SQLite).
    search: Arc<dyn SearchIndex>,
}

impl DatabasePorts {
    fn of<S>(db: Arc<S>, search: Arc<dyn SearchIndex>) -> Self
    where
        S: MetadataStore
            + JobQueue
            + AuditLog
            + NotificationStore
            + ExchangeStore
            + ShareStore
            + FilesByPath
            + ArchiveStore,
    {
        Self {
            store: db.clone(),
            queue: db.clone(),
            audit: db.clone(),
            notifications: db.clone(),
            exchange: db.clone(),
            shares: db.clone(),
            archives: db.clone(),
            paths: db,
            search,
        }
    }
}

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

        let DatabasePorts {
            store,
            queue: database_queue,
            audit,
            notifications: notification_store,
            exchange,
            shares,
            paths,
            archives,
            search,
        } = match scheme(config.database.as_deref()) {
            None | Some("sqlite") => {
                let db = Arc::new(SqliteStore::open(&sqlite_path(config)?).await?);
                // The embedded index, in the data directory beside the database.
                DatabasePorts::of(db, Arc::new(TantivyIndex::open(&config.data_dir.join(SEARCH_DIR))?))
            }
            Some("postgres" | "postgresql") => {
                let url = config.database.as_deref().unwrap_or_default();
                let db = Arc::new(PostgresStore::connect(url).await.context("database")?);
                // PostgreSQL's own full text, in the same database: every gateway shares it.
                DatabasePorts::of(db.clone(), db)
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

        let (worker_queue, relay, events): (Arc<dyn JobQueue>, Option<Relay>, Arc<dyn EventSink>) =
            match config.queue.as_deref() {
                None => (database_queue.clone(), None, Arc::new(LogSink)),
                Some(url) => {
                    let broker = AmqpConnection::connect(AmqpConfig::from_url(url).context("queue")?)
                        .await
                        .context("queue")?;
                    let probe = broker.clone();
                    probes.push(Probe::new("queue", move || {
                        let broker = probe.clone();
                        async move { broker.ping().await }
                    }));
                    // Events go through the workers, which fan them out to webhooks and alert
                    // emails and then publish them to the events exchange themselves.
                    let relay_settings = RelaySettings {
                        events: EventRoute::Workers,
                        // The jobs of a process that died are taken over as fast as its
                        // workers' jobs are.
                        lease: std::time::Duration::from_secs(config.workers.lease_secs.max(1)),
                        ..RelaySettings::default()
                    };
                    let relay = Relay::new(database_queue.clone(), broker.clone(), relay_settings);
                    let sink = Arc::new(AmqpEventSink::new(broker.clone()));
                    (Arc::new(AmqpQueue::new(broker)), Some(relay), sink)
                }
            };

        let scanner: Option<Arc<dyn Scanner>> = match config.scanner.url.as_deref() {
            None => None,
            Some(url) => {
                let clamd = Arc::new(ClamdScanner::from_url(url).context("scanner")?);
                let probe = clamd.clone();
                probes.push(Probe::new("scanner", move || {
                    let clamd = probe.clone();
                    async move {
                        clamd
                            .ping()
                            .await
                            .map_err(|e| StoreError::Unavailable(anyhow::Error::new(e)))
                    }
                }));
                Some(clamd)
            }
        };
        let services = Services {
            store,
            queue: database_queue,
            blobs,
            events,
            // Concurrent appends share one statement (see `batch`): an upload cycle appends two.
            audit: Arc::new(BatchedAuditLog::new(audit)),
            notifications: notifications(config, secret, notification_store)?,
            scanner,
            media: Arc::new(MediaEngine),
            settings: Arc::new(settings),
            downloads: Arc::new(DownloadCounter::new()),
            exchange,
            sealer: Arc::new(Sealer::new(&secret.derive(EXCHANGE_KEY_PURPOSE))),
            passwords: Arc::new(Argon2Hasher),
            decryptor: Arc::new(AgeDecryptor),
            shares,
            paths,
            clock: Arc::new(SystemClock),
            search,
            archives,
            zip: Arc::new(AsyncZipWriter),
            triggers: Triggers::new(
                parse_triggers(&config.triggers)?,
                Arc::new(HttpTriggerCaller::new().context("trigger client")?),
            ),
            lookups: Arc::new(MemoryLookups::default()),
            stream_turns: Arc::new(Semaphore::new(config.workers.streams.max(1))),
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

/// Webhook delivery, the mailer (SMTP when configured, else logged) and the alert recipients.
fn notifications(config: &Config, secret: &Secret, store: Arc<dyn NotificationStore>) -> anyhow::Result<Notifications> {
    let webhooks = HttpWebhookClient::new(
        Duration::from_secs(config.webhooks.timeout_secs.max(1)),
        config.webhooks.allow_private_networks,
    )
    .context("webhook client")?;
    let mailer: Arc<dyn Mailer> = match config.smtp.url.as_deref() {
        Some(url) => Arc::new(
            SmtpMailer::new(
                url,
                &config.smtp.from,
                Duration::from_secs(config.smtp.timeout_secs.max(1)),
            )
            .context("smtp")?,
        ),
        None => Arc::new(LogMailer),
    };
    let platform_recipients = config
        .alerts
        .emails
        .iter()
        .map(|e| EmailAddress::parse(e).map_err(|err| anyhow::anyhow!("alerts.emails: {err}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Notifications {
        store,
        webhooks: Arc::new(webhooks),
        mailer,
        sealer: Arc::new(Sealer::new(&secret.derive(WEBHOOK_KEY_PURPOSE))),
        platform_recipients: Arc::new(platform_recipients),
    })
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
