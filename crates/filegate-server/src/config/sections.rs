//! The sections of the configuration (`[workers]`, `[http]`, ...): each struct's fields,
//! doc comments and `Default` are the one source of its keys, defaults and reference text.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Redacted;

/// Share links (`POST /v1/files/{id}/shares`, `/s/{token}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SharesConfig {
    /// Lifetime of a share created without `expires_in`, in seconds.
    pub default_expires_in_secs: u64,
    /// The longest lifetime a share may ask for, in seconds (the shortest is 60 s).
    pub max_expires_in_secs: u64,
    /// Wrong passwords allowed per share before each further attempt waits out a lock.
    pub password_attempts: u32,
    /// The first lock, in seconds; each later one doubles, up to `max_lockout_secs`.
    pub lockout_secs: u64,
    /// The longest lock, in seconds.
    pub max_lockout_secs: u64,
}

impl Default for SharesConfig {
    fn default() -> Self {
        Self {
            default_expires_in_secs: 86_400,
            max_expires_in_secs: 30 * 86_400,
            password_attempts: 5,
            lockout_secs: 60,
            max_lockout_secs: 3600,
        }
    }
}

/// The unsigned URLs of public buckets (`/p/{tenant}/{bucket}/{path}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PublicBucketsConfig {
    /// `Cache-Control: public, max-age=…` in seconds: how long browsers and CDNs may keep a
    /// public file without asking again (a new upload to the path shows after at most this).
    pub max_age_secs: u64,
}

impl Default for PublicBucketsConfig {
    fn default() -> Self {
        Self { max_age_secs: 86_400 }
    }
}

/// `[quotas]`: the storage quota every new tenant starts with (a superadmin changes a
/// tenant's with `PUT /v1/admin/quotas`). Unset: unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct QuotasConfig {
    /// Most bytes a tenant created from now on may keep. Unset: unlimited.
    pub default_max_bytes: Option<u64>,
    /// Most files a tenant created from now on may keep. Unset: unlimited.
    pub default_max_files: Option<u64>,
}

impl QuotasConfig {
    /// Refuses limits the database cannot hold (past `i64::MAX`).
    pub fn default_quota(&self) -> anyhow::Result<filegate_core::domain::Quota> {
        for (name, limit) in [
            ("default_max_bytes", self.default_max_bytes),
            ("default_max_files", self.default_max_files),
        ] {
            anyhow::ensure!(
                limit.is_none_or(|n| i64::try_from(n).is_ok()),
                "quotas.{name} is at most {}",
                i64::MAX
            );
        }
        Ok(filegate_core::domain::Quota {
            max_bytes: self.default_max_bytes,
            max_files: self.default_max_files,
        })
    }
}

/// Zip bundles (`POST /v1/archives`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ArchivesConfig {
    /// How long a built zip is kept, in seconds, counted from when it is ready (a request
    /// still pending after this long is given up too). Then the sweeper deletes it.
    pub ttl_secs: u64,
    /// Most files in one bundle (more: `413 archive-too-large`).
    pub max_files: u32,
    /// Most bytes of files in one bundle (more: `413 archive-too-large`).
    pub max_bytes: u64,
}

impl Default for ArchivesConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 24 * 3600,
            max_files: 10_000,
            max_bytes: 10 * 1024 * 1024 * 1024,
        }
    }
}

/// Exchange passphrases and the `decrypt` stage (the hospital exchange: partners upload age
/// files encrypted with the tenant's passphrase; docs/guides/hospital-exchange.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The largest scrypt work factor (log2 N) accepted in an age file's header; values past
    /// 22 count as 22. 18 is what `age -p` writes (256 MiB and about a second per passphrase
    /// version tried).
    pub max_scrypt_work_factor: u8,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            max_scrypt_work_factor: 18,
        }
    }
}

/// Request limits, each a token bucket (GCRA) shared by every gateway when Redis is
/// configured. Over a limit: 429 `rate-limited` with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests one principal may make per window (a bucket of `requests` tokens refilled
    /// evenly over `window_secs`); 0 turns the limit off.
    pub requests: u32,
    /// The window of `requests`, in seconds.
    pub window_secs: u64,
    /// Per client address, on the signed URLs (`/blob/…`, `/blob-form`) and public bucket
    /// files (`/p/…`).
    pub signed_urls: BucketConfig,
    /// Per client address, on the other routes without a bearer token (share links `/s/…`,
    /// public triggers).
    pub anonymous: BucketConfig,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests: 6000,
            window_secs: 60,
            signed_urls: BucketConfig {
                burst: 1000,
                per_second: 100.0,
            },
            anonymous: BucketConfig {
                burst: 60,
                per_second: 1.0,
            },
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`; a `burst` of 0
/// turns the limit off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Requests one client address may make at once; 0 turns the limit off.
    pub burst: u32,
    /// How fast the bucket refills, in requests per second (a positive number, fractions
    /// allowed).
    pub per_second: f64,
}

impl BucketConfig {
    /// `None` when off; an error names the setting that is wrong.
    pub fn bucket(&self, name: &str) -> anyhow::Result<Option<filegate_core::cache::TokenBucket>> {
        filegate_core::cache::TokenBucket::new(self.burst, self.per_second)
            .map_err(|e| anyhow::anyhow!("rate_limit.{name}: {e}"))
    }
}

/// Signed uploads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Lifetime of signed upload URLs, in seconds; a pending upload expires after it plus
    /// `uploads.expiry_grace_secs`.
    pub url_ttl_secs: u64,
    /// How long after its URLs expire a pending upload is kept (an upload that started in
    /// time may still be arriving, and then be completed) before it expires and its bytes
    /// and parts are removed, in seconds.
    pub expiry_grace_secs: u64,
    /// Above this size, in bytes, an upload is multipart unless the client says otherwise.
    pub multipart_threshold: u64,
    /// Preferred part size, in bytes (at least 5 MiB; grown to fit `max_parts`).
    pub part_size: u64,
    /// Most parts in one upload.
    pub max_parts: u32,
    /// Largest decoded image `POST /v1/images` accepts, in bytes.
    pub max_image_bytes: u64,
}

/// Signed downloads and download counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DownloadsConfig {
    /// Lifetime of signed download URLs, in seconds.
    pub url_ttl_secs: u64,
    /// How often the download counts gathered in memory are written to the database, in
    /// seconds (and always at shutdown).
    pub count_flush_secs: u64,
}

/// The processing workers: jobs (processing files, building bundles, deliveries) claimed
/// from the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WorkersConfig {
    /// Run the processing workers in this process.
    pub enabled: bool,
    /// Jobs in flight at once per process (claimed in one batch, completed in batches). Most
    /// of a job is waiting (on the database, storage, clamd), so this is well above the core
    /// count; the CPU-heavy part, decoding pictures for thumbnails, runs one per core
    /// whatever this says. For a stream of small files, 32 gave about 1.4x and 64 about 1.7x
    /// the embedded pipeline's rate at 16, for 1-3 MiB more worker memory (bench/LIMITS.md);
    /// `workers.streams` keeps what big files take where it was.
    pub concurrency: usize,
    /// Of the `concurrency` jobs, those that stream stored bytes at once: processing a file bigger than
    /// 256 KiB or in a bucket that scans, building a zip bundle. Each holds read buffers,
    /// and a scan a clamd connection; the others mostly wait, so `concurrency` can be well
    /// above this for a stream of small files. A file waiting for a turn stays `uploaded`;
    /// small files go on past it. `/metrics` shows the turns left
    /// (`filegate_stream_turns_free`; at 0, big files are waiting).
    pub streams: usize,
    /// Jobs that call out (webhook deliveries, alert and share emails, async trigger
    /// calls) in flight at once per process, in slots of their own: a receiver that holds
    /// every call for `webhooks.timeout_secs` takes these, never the `concurrency` slots
    /// files are processed in. With RabbitMQ, set the queue URL's `delivery_prefetch` to
    /// about this.
    pub delivery_concurrency: usize,
    /// The lease on a claimed job, in seconds, renewed every third of it by the worker (and
    /// by the outbox relay, which uses it too): how long the jobs of a process that died wait
    /// before another takes them.
    pub lease_secs: u64,
    /// Runs before a job becomes a dead letter.
    pub max_attempts: u32,
    /// The first retry delay, in seconds, doubling each attempt.
    pub backoff_base_secs: u64,
    /// The longest retry delay, in seconds.
    pub backoff_max_secs: u64,
    /// How often expired uploads and ended retentions are swept, in seconds.
    pub sweep_interval_secs: u64,
}

/// The virus scanner. Unset: no scanner, and buckets cannot ask for the `scan` stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerConfig {
    /// clamd: `tcp://host:3310` or `unix:///run/clamav/clamd.ctl`; enables the `scan`
    /// stage and its `/readyz` check.
    pub url: Option<String>,
}

/// Tunables of the processing stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Thumbnail sizes rendered for every picture (the longer side): 1 to 8 sizes, each 16
    /// to 2048 px.
    pub thumbnail_sizes: Vec<u32>,
    /// Pictures wider or taller than this are not decoded (the file fails `image-too-large`).
    pub max_image_side: u32,
    /// Pictures with more pixels than this are not decoded.
    pub max_image_pixels: u64,
    /// Most memory one decode may allocate, in bytes.
    pub max_image_alloc: u64,
    /// Largest stored picture thumbnails are made from, in bytes (it is read whole).
    pub max_thumbnail_source: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let limits = filegate_core::domain::ImageLimits::default();
        Self {
            thumbnail_sizes: vec![256],
            max_image_side: limits.max_side,
            max_image_pixels: limits.max_pixels,
            max_image_alloc: limits.max_alloc,
            max_thumbnail_source: 64 * 1024 * 1024,
        }
    }
}

impl PipelineConfig {
    /// The sizes, checked: a typo must not make the server render 100000 px "thumbnails".
    pub fn thumbnail_sizes(&self) -> anyhow::Result<Vec<u32>> {
        let mut sizes = self.thumbnail_sizes.clone();
        sizes.sort_unstable();
        sizes.dedup();
        anyhow::ensure!(
            (1..=8).contains(&sizes.len()) && sizes.iter().all(|s| (16..=2048).contains(s)),
            "pipeline.thumbnail_sizes: 1 to 8 sizes, each 16 to 2048 px"
        );
        Ok(sizes)
    }

    pub fn image_limits(&self) -> filegate_core::domain::ImageLimits {
        filegate_core::domain::ImageLimits {
            max_side: self.max_image_side,
            max_pixels: self.max_image_pixels,
            max_alloc: self.max_image_alloc,
        }
    }
}

/// The HTTP server: bodies, browsers, proxies, timeouts and connection limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest JSON request body, in bytes.
    pub max_json_body: usize,
    /// Origins allowed to call the API and the signed URLs from a browser; `*` for any.
    pub cors_origins: Vec<String>,
    /// How long shutdown waits for in-flight requests and jobs, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Behind a reverse proxy: the header holding the client's address (e.g.
    /// `x-forwarded-for`; its first address is taken). Unset: the connection's peer address.
    /// It feeds the audit trail and the per-address rate limits. Set it only when every
    /// request comes through a proxy that overwrites the header.
    pub client_ip_header: Option<String>,
    /// How long an upload body to a signed URL (a `PUT`, a part, a form) may send nothing,
    /// in seconds; then it is answered `408 body-timeout` and nothing is stored.
    pub body_idle_timeout_secs: u64,
    /// Seconds a client has to send a request's line and headers, counted from when the
    /// server starts waiting for them (a new connection, or the previous answer's end on a
    /// kept-alive one); then the connection is closed (slowloris).
    pub header_timeout_secs: u64,
    /// Seconds a connection may move no byte either way while no handler works on it (a
    /// client that stopped reading an answer); then it is dropped.
    pub idle_timeout_secs: u64,
    /// Connections served at once. Lowered at start to what the process's descriptor limit
    /// (raised to its hard limit first) can hold beside 256 for the engines and the reserve.
    pub max_connections: usize,
    /// Connections past `max_connections` that answer only `/healthz`, `/heartbeat`,
    /// `/readyz` and `/metrics` (503 `unavailable` otherwise) and must send their request
    /// within 2 s: a full server still answers its health checks. Past both, a new
    /// connection is closed at once.
    pub health_reserve: usize,
}

/// `[web]`: the web app, served by the binary at `/` and `/app/…` (its files are embedded:
/// nothing to build or install). It speaks only the public HTTP API, with the token or API
/// key a person signs in with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Serve the web app. Off: `/`, `/app/…` and `/assets/…` answer 404 like any unknown
    /// route, and the API is unchanged.
    pub enabled: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Logs, written to stderr.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` or `pretty` (for people).
    pub format: String,
    /// A tracing filter, e.g. `info` or `filegate=debug,info`. `RUST_LOG` wins when set.
    pub level: String,
}

/// Webhook deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// How long one delivery attempt may take, in seconds (connect, send, answer; connect at
    /// most 5 s of it).
    pub timeout_secs: u64,
    /// Allow webhook URLs on loopback, private, link-local and other non-public addresses
    /// (internal receivers).
    /// Off by default: a tenant admin could otherwise make filegate call internal services.
    pub allow_private_networks: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 10,
            allow_private_networks: false,
        }
    }
}

/// Alert emails go out through this server; without `url` they are only logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp://host:25`, `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://user:pass@host:465`. May carry credentials: never printed. Unset: emails are
    /// logged, not sent.
    pub url: Option<Redacted>,
    /// The sender: `filegate@example.org` or `Filegate <filegate@example.org>`.
    pub from: String,
    /// How long one SMTP command may take, in seconds.
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            url: None,
            from: "filegate@localhost".into(),
            timeout_secs: 30,
        }
    }
}

/// Alerts by email.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// The platform's admins, emailed about every tenant's alerts (in the environment:
    /// `[a@x.org,b@y.org]`).
    pub emails: Vec<String>,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            url_ttl_secs: 3600,
            expiry_grace_secs: 15 * 60,
            multipart_threshold: 100 * 1024 * 1024,
            part_size: 8 * 1024 * 1024,
            max_parts: 10_000,
            max_image_bytes: 10 * 1024 * 1024,
        }
    }
}

impl Default for DownloadsConfig {
    fn default() -> Self {
        Self {
            url_ttl_secs: 3600,
            count_flush_secs: 10,
        }
    }
}

impl WorkersConfig {
    /// The worker's settings; values that would stall it (a zero lease) count as 1.
    pub fn worker_settings(&self) -> filegate_core::usecases::pipeline::WorkerSettings {
        filegate_core::usecases::pipeline::WorkerSettings {
            concurrency: self.concurrency,
            delivery_concurrency: self.delivery_concurrency,
            lease: Duration::from_secs(self.lease_secs.max(1)),
            max_attempts: self.max_attempts.max(1),
            backoff_base: Duration::from_secs(self.backoff_base_secs),
            backoff_max: Duration::from_secs(self.backoff_max_secs),
            idle_wait: Duration::from_secs(1),
            sweep_interval: Duration::from_secs(self.sweep_interval_secs.max(1)),
        }
    }
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 16,
            streams: 16,
            delivery_concurrency: 16,
            lease_secs: 60,
            max_attempts: 5,
            backoff_base_secs: 2,
            backoff_max_secs: 300,
            sweep_interval_secs: 60,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_json_body: 1024 * 1024,
            cors_origins: vec!["*".into()],
            shutdown_timeout_secs: 30,
            client_ip_header: None,
            body_idle_timeout_secs: 60,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 10_000,
            health_reserve: 64,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "json".into(),
            level: "info".into(),
        }
    }
}
