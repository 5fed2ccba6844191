//! Assembling the gateway from its config: open the engines, bootstrap the data directory,
//! build the router, and run the HTTP server and the workers until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use filegate_amqp::Relay;
use filegate_core::ports::{Clock, SystemClock};
use filegate_core::usecases::pipeline::Worker;
use filegate_core::usecases::shares::ShareSettings;
use filegate_core::usecases::{self, Settings, downloads, tenants};

use crate::auth::Authenticator;
use crate::auth::jwt::JwtKeys;
use crate::auth::tus_urls::TusUrls;
use crate::config::Config;
use crate::connections;
use crate::engines::Engines;
use crate::http;
use crate::secret::Secret;
use crate::state::AppState;

/// Key-derivation label of the JWT key: changing it invalidates every token.
pub const JWT_KEY_PURPOSE: &str = "filegate/jwt/v1";

/// A gateway ready to serve: engines open, data directory initialised.
pub struct Gateway {
    config: Config,
    state: AppState,
    router: Router,
    worker: Worker,
    relay: Option<Relay>,
    /// Whether this start created the `default` tenant (a fresh data directory).
    pub first_start: bool,
}

/// The use cases' rules from a validated config (the config holds every tunable default).
pub(crate) fn settings(config: &Config) -> anyhow::Result<Settings> {
    Ok(Settings {
        upload_url_ttl: Duration::from_secs(config.uploads.url_ttl_secs),
        upload_expiry_grace: Duration::from_secs(config.uploads.expiry_grace_secs),
        download_url_ttl: Duration::from_secs(config.downloads.url_ttl_secs),
        multipart_threshold: config.uploads.multipart_threshold,
        part_size: config.uploads.part_size,
        max_parts: config.uploads.max_parts,
        thumbnail_sizes: config.pipeline.thumbnail_sizes()?,
        image_limits: config.pipeline.image_limits(),
        max_thumbnail_source: config.pipeline.max_thumbnail_source,
        // Past 22 one crafted header costs 4 GiB and a minute per version: never.
        max_scrypt_work_factor: config.exchange.max_scrypt_work_factor.min(22),
        shares: share_settings(config)?,
        public_max_age: Duration::from_secs(config.public_buckets.max_age_secs),
        default_quota: config.quotas.default_quota()?,
        archive_ttl: Duration::from_secs(config.archives.ttl_secs.max(1)),
        archive_max_files: config.archives.max_files,
        archive_max_bytes: config.archives.max_bytes,
        part_urls_per_request: usecases::PART_URLS_PER_REQUEST,
        max_batch: usecases::MAX_BATCH,
        image_types: usecases::IMAGE_TYPES.iter().map(|t| (*t).to_owned()).collect(),
    })
}

fn share_settings(config: &Config) -> anyhow::Result<ShareSettings> {
    let s = &config.shares;
    Ok(ShareSettings {
        base_url: config.public_url()?.to_string(),
        default_expiry: Duration::from_secs(s.default_expires_in_secs),
        max_expiry: Duration::from_secs(s.max_expires_in_secs),
        password_attempts: s.password_attempts,
        lockout: Duration::from_secs(s.lockout_secs.max(1)),
        max_lockout: Duration::from_secs(s.max_lockout_secs.max(s.lockout_secs).max(1)),
        email: config.smtp.url.is_some(),
    })
}

impl Gateway {
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Gateway::open`] with another clock for the rules that depend on time (share
    /// expiry, password lockouts): tests move it instead of sleeping.
    pub async fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        config.validate()?;
        let secret = Secret::for_config(&config)?;
        let mut engines = Engines::open(&config, &secret, settings(&config)?).await?;
        engines.services.clock = clock;
        let services = engines.services.clone();
        let first_start = tenants::ensure_default(&services).await?;

        let (routes, doc) = http::routes(&config.http, config.uploads.max_image_bytes);
        let routes = if config.web.enabled {
            routes.merge(http::web::routes(&config)?)
        } else {
            routes
        };
        let state = AppState {
            services: services.clone(),
            auth: Arc::new(Authenticator::new(
                JwtKeys::new(&secret.derive(JWT_KEY_PURPOSE)),
                &config.auth,
            )?),
            tus_urls: Arc::new(TusUrls::new(&secret, &config.public_url()?)),
            local_blobs: engines.local_blobs.clone(),
            limiter: engines.limiter.clone(),
            rate_limit: config.rate_limit.clone(),
            client_ip_header: config.http.client_ip_header.as_deref().map(str::to_ascii_lowercase),
            body_idle_timeout: std::time::Duration::from_secs(config.http.body_idle_timeout_secs),
            probes: Arc::new(engines.probes.clone()),
            metrics: http::metrics::recorder()?,
            openapi: Arc::new(doc.to_json()?),
        };
        let router = http::with_middleware(routes.with_state(state.clone()), &config.http);
        // The per-address limits of the routes without a bearer token find theirs here.
        let ip_limits = http::rate_limit::IpLimits::new(
            engines.limiter.clone(),
            &config.rate_limit,
            state.client_ip_header.clone(),
        )?;
        let router = router.layer(ip_limits.extension());
        let worker = Worker::new(engines.worker_services(), config.workers.worker_settings());
        Ok(Self {
            config,
            state,
            router,
            worker,
            relay: engines.relay,
            first_start,
        })
    }

    /// The processing worker, for callers that drive the queue themselves (tests).
    pub fn worker(&self) -> Worker {
        self.worker.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP on `listener` (and runs the workers when enabled) until `shutdown`
    /// resolves; then stops accepting, and waits up to the configured deadline for
    /// in-flight requests and jobs.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let worker = self.config.workers.enabled.then(|| self.worker.clone());
        let mut background = background(worker, self.relay, &stop);
        let services = self.state.services.clone();
        background.push(tokio::spawn(downloads::run_flusher(
            services.clone(),
            Duration::from_secs(self.config.downloads.count_flush_secs.max(1)),
            stop.child_token(),
        )));
        // Header and idle timeouts, a connection limit with a reserve for health checks
        // (slowloris: clients that trickle requests to hold connections), sized to the descriptors the process may open.
        let descriptors = connections::raise_descriptor_limit();
        let limits = connections::Limits::from_config(&self.config.http).fitted_to(descriptors);
        let overloaded = connections::overloaded_router(&self.config.http);
        let server = connections::serve(listener, self.router, overloaded, limits, stop.clone());
        let mut server = tokio::spawn(server);
        tokio::select! {
            result = &mut server => return result?.map_err(Into::into),
            () = shutdown => tracing::info!("shutting down"),
        }
        stop.cancel();
        let deadline = self.config.shutdown_timeout();
        let drained = tokio::time::timeout(deadline, async {
            let served = server.await;
            for task in background {
                let _ = task.await;
            }
            // After the last request: the downloads it counted are written too.
            if let Err(e) = downloads::flush(&services).await {
                tracing::warn!(error = %e, "could not write the last download counts");
            }
            served
        })
        .await;
        match drained {
            Ok(served) => served?.map_err(Into::into),
            Err(_) => {
                tracing::warn!(
                    ?deadline,
                    "shutdown deadline passed; abandoning in-flight work (it will be retried)"
                );
                Ok(())
            }
        }
    }
}

/// Opens the gateway for `config` and serves on `listener` until `shutdown`.
pub async fn serve(
    mut config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Signed URLs must name the address actually bound (it may have been port 0).
    config.listen = listener.local_addr()?;
    Gateway::open(config).await?.serve(listener, shutdown).await
}

/// `filegate worker`: the processing workers only, no HTTP, against the same engines as the
/// gateways. Stops claiming when `shutdown` resolves and lets the jobs in hand finish
/// within the configured deadline.
pub async fn work(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    config.validate()?;
    let secret = Secret::for_config(&config)?;
    let engines = Engines::open(&config, &secret, settings(&config)?).await?;
    let worker = Worker::new(engines.worker_services(), config.workers.worker_settings());
    tracing::info!(worker = worker.id(), "worker started");
    let stop = CancellationToken::new();
    let running = background(Some(worker), engines.relay, &stop);
    shutdown.await;
    stop.cancel();
    let deadline = config.shutdown_timeout();
    let drained = tokio::time::timeout(deadline, async {
        for task in running {
            let _ = task.await;
        }
    });
    if drained.await.is_err() {
        tracing::warn!(
            ?deadline,
            "shutdown deadline passed; abandoning jobs in hand (they will be retried)"
        );
    }
    Ok(())
}

/// Starts the background loops of a process: the workers, and the outbox relay when a
/// broker is configured (every process runs one; the database's leases keep them apart).
fn background(worker: Option<Worker>, relay: Option<Relay>, stop: &CancellationToken) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(worker) = worker {
        tasks.push(tokio::spawn(worker.run(stop.child_token())));
    }
    if let Some(relay) = relay {
        tasks.push(tokio::spawn(relay.run(stop.child_token())));
    }
    tasks
}
