//! Configuration: built-in defaults, then one TOML file, then `FILEGATE_*` environment
//! variables (nested keys joined by `__`, e.g. `FILEGATE_WORKERS__CONCURRENCY=4`), then the
//! command line. `Config` and its sections (`sections`) are the one source of every
//! default and of the text of `docs/configuration.md`, which is generated from their doc
//! comments (`reference`); `validate` checks every value before the server starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where the database, the objects and the signing secret live.
    pub data_dir: PathBuf,
    /// The base URL clients reach this server at; signed URLs point here. Unset:
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// Metadata and job queue engine: `sqlite://PATH` or `postgres://…`. Unset:
    /// `sqlite://<data_dir>/filegate.db`.
    pub database: Option<String>,
    /// Object storage: `file://PATH` or `s3://BUCKET?endpoint=URL&region=R&path_style=true`.
    /// Unset: `file://<data_dir>/objects`.
    pub storage: Option<String>,
    /// The queue workers consume jobs from. Unset: the database; or RabbitMQ,
    /// `amqp://user:pass@host:5672/%2f?prefix=filegate&prefetch=8&events_exchange=filegate.events`.
    pub queue: Option<String>,
    /// Cache for hot reads and the shared rate limits. Unset: in process (no file cache); or
    /// `redis://host:6379/0?prefix=filegate:`.
    pub cache: Option<String>,
    /// The signing secret (64 hex characters) that every process of one deployment shares
    /// (JWTs, signed URLs). Unset: `<data_dir>/secret`, created on first start.
    pub secret: Option<Redacted>,
    pub rate_limit: RateLimitConfig,
    pub auth: crate::auth::AuthConfig,
    pub uploads: UploadsConfig,
    pub downloads: DownloadsConfig,
    pub workers: WorkersConfig,
    pub scanner: ScannerConfig,
    pub pipeline: PipelineConfig,
    pub http: HttpConfig,
    pub web: WebConfig,
    pub log: LogConfig,
    pub webhooks: WebhooksConfig,
    pub smtp: SmtpConfig,
    pub alerts: AlertsConfig,
    pub exchange: ExchangeConfig,
    pub shares: SharesConfig,
    pub public_buckets: PublicBucketsConfig,
    pub quotas: QuotasConfig,
    pub archives: ArchivesConfig,
    /// Named outbound calls (`[triggers.NAME]`), fired by `POST /v1/triggers/{name}`.
    pub triggers: std::collections::BTreeMap<String, crate::trigger_config::TriggerConfig>,
}

/// A secret in the config: never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::ops::Deref for Redacted {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./filegate-data"),
            public_url: None,
            database: None,
            storage: None,
            queue: None,
            cache: None,
            secret: None,
            rate_limit: RateLimitConfig::default(),
            auth: crate::auth::AuthConfig::default(),
            uploads: UploadsConfig::default(),
            downloads: DownloadsConfig::default(),
            workers: WorkersConfig::default(),
            scanner: ScannerConfig::default(),
            pipeline: PipelineConfig::default(),
            http: HttpConfig::default(),
            web: WebConfig::default(),
            log: LogConfig::default(),
            webhooks: WebhooksConfig::default(),
            smtp: SmtpConfig::default(),
            alerts: AlertsConfig::default(),
            exchange: ExchangeConfig::default(),
            shares: SharesConfig::default(),
            public_buckets: PublicBucketsConfig::default(),
            quotas: QuotasConfig::default(),
            archives: ArchivesConfig::default(),
            triggers: Default::default(),
        }
    }
}

impl Config {
    /// Defaults, then `file` (when given), then `FILEGATE_*` variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(file.exists(), "config file {} does not exist", file.display());
            figment = figment.merge(Toml::file(file));
        }
        // The secret is hex, which the environment provider would read as a number when it
        // happens to be all digits: it is taken verbatim instead.
        let mut config: Config = figment
            .merge(
                Env::prefixed("FILEGATE_")
                    // FILEGATE_TEST_* belong to the test suite, not to the server.
                    .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
                    .split("__")
                    .ignore(&["secret"]),
            )
            .extract()?;
        if let Ok(secret) = std::env::var("FILEGATE_SECRET") {
            config.secret = Some(Redacted(secret));
        }
        Ok(config)
    }

    /// The base URL signed URLs point at.
    pub fn public_url(&self) -> anyhow::Result<url::Url> {
        let raw = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen));
        let url = url::Url::parse(&raw).map_err(|e| anyhow::anyhow!("public_url {raw:?}: {e}"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "public_url must be http or https"
        );
        Ok(url)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.http.shutdown_timeout_secs)
    }
}

mod reference;
mod sections;
mod validate;

pub use reference::{reference_markdown, undocumented_keys};
pub use sections::*;
pub use validate::InvalidConfig;

#[cfg(test)]
mod tests;
