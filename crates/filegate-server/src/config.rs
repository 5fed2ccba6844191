//! Configuration: built-in defaults, then one TOML file, then `FILEGATE_*` environment
//! variables (nested keys joined by `__`, e.g. `FILEGATE_WORKERS__CONCURRENCY=4`), then the
//! command line. Every option is listed in the README.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where the database, the objects and the signing secret live.
    pub data_dir: PathBuf,
    /// The base URL clients reach this server at; signed URLs for the local store point
    /// here. Defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Metadata and queue engine. Default: `sqlite://<data_dir>/filegate.db`.
    pub database: Option<String>,
    /// Object storage. Default: `file://<data_dir>/objects`; or
    /// `s3://BUCKET?endpoint=URL&region=R&path_style=true`.
    pub storage: Option<String>,
    /// The queue workers consume jobs from. Default: the database; or `amqp://…` (RabbitMQ).
    pub queue: Option<String>,
    /// Cache for hot reads and the shared rate limiter. Default: in process; or `redis://…`.
    pub cache: Option<String>,
    /// The signing secret (64 hex characters) that every gateway of one deployment shares.
    /// Default: `<data_dir>/secret`, created on first start.
    pub secret: Option<Redacted>,
    pub rate_limit: RateLimitConfig,
    pub auth: crate::auth::AuthConfig,
    pub uploads: UploadsConfig,
    pub downloads: DownloadsConfig,
    pub workers: WorkersConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub exchange: ExchangeConfig,
}

/// Exchange passphrases and the `decrypt` stage (seed 000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The largest scrypt work factor (log2 N) accepted in an age file's header, at most 22.
    /// 18 is what `age -p` writes (256 MiB and about a second per passphrase version tried).
    pub max_scrypt_work_factor: u8,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            max_scrypt_work_factor: 18,
        }
    }
}

/// A secret in the config: never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests one principal may make per window; 0 turns the limit off.
    pub requests: u32,
    pub window_secs: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests: 6000,
            window_secs: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Lifetime of signed upload URLs and of a pending upload, in seconds.
    pub url_ttl_secs: u64,
    /// Above this size an upload is multipart unless the client says otherwise.
    pub multipart_threshold: u64,
    pub part_size: u64,
    pub max_parts: u32,
    /// Largest decoded image `POST /v1/images` accepts, in bytes.
    pub max_image_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownloadsConfig {
    /// Lifetime of signed download URLs, in seconds.
    pub url_ttl_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkersConfig {
    /// Run the processing workers in this process.
    pub enabled: bool,
    pub concurrency: usize,
    pub lease_secs: u64,
    pub max_attempts: u32,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    pub sweep_interval_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Set it only when every request comes through a proxy that overwrites the header.
    pub client_ip_header: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (default) or `pretty`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `filegate=debug,info`. `RUST_LOG` wins when set.
    pub level: String,
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
            http: HttpConfig::default(),
            log: LogConfig::default(),
            exchange: ExchangeConfig::default(),
        }
    }
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            url_ttl_secs: 3600,
            multipart_threshold: 100 * 1024 * 1024,
            part_size: 8 * 1024 * 1024,
            max_parts: 10_000,
            max_image_bytes: 10 * 1024 * 1024,
        }
    }
}

impl Default for DownloadsConfig {
    fn default() -> Self {
        Self { url_ttl_secs: 3600 }
    }
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 2,
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

#[cfg(test)]
// `figment::Jail` fixes the closures' error type (`figment::Error`, which is large).
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "filegate.toml",
                "listen = \"127.0.0.1:9000\"\n[workers]\nconcurrency = 7\n",
            )?;
            jail.set_env("FILEGATE_WORKERS__CONCURRENCY", "3");
            jail.set_env("FILEGATE_DATA_DIR", "/tmp/x");
            let c = Config::load(Some(Path::new("filegate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.workers.concurrency, 3);
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
            assert_eq!(c.uploads.url_ttl_secs, 3600);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("filegate.toml", "lisen = \"127.0.0.1:9000\"\n")?;
            assert!(Config::load(Some(Path::new("filegate.toml"))).is_err());
            Ok(())
        });
    }
}
