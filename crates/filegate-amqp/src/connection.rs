//! `AmqpConnection`: one connection to RabbitMQ kept alive by a supervisor task.
//!
//! The supervisor connects, opens the publishing channel (publisher confirms on), declares
//! the topology, and publishes the resulting *session*. It then watches it: when the
//! connection or a channel we depend on dies (the broker closed it, the network dropped, a
//! consumer was cancelled), the session is withdrawn and the supervisor reconnects with
//! exponential backoff and jitter, forever, until the last handle is dropped or `close`d.
//!
//! While no session is up, every call fails at once with `StoreError::Unavailable`: nothing
//! waits on a broker that is away. Consumers (`AmqpQueue`) follow the sessions: each new
//! session gets a new consumer; deliveries of the old one are forgotten (RabbitMQ hands
//! them out again, since they were never acknowledged).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use filegate_core::StoreError;
use futures::StreamExt as _;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Confirmation, ConnectionProperties};
use rand::Rng as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::config::AmqpConfig;
use crate::message::Outgoing;
use crate::topology;

/// How often the supervisor looks at the connection's state besides its error events.
const HEALTH_CHECK: Duration = Duration::from_millis(250);
/// A session that lived this long resets the backoff: the next drop reconnects quickly.
const STABLE_SESSION: Duration = Duration::from_secs(30);
/// How long a graceful close may take before we just drop the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn unavailable(message: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("RabbitMQ: {message}"))
}

/// One live connection with its publishing channel.
pub(crate) struct Session {
    /// 1 for the first connection, +1 per reconnection.
    pub(crate) generation: u64,
    pub(crate) connection: lapin::Connection,
    publisher: Channel,
    broken: CancellationToken,
    why: Mutex<Option<String>>,
}

impl Session {
    /// Tells the supervisor to replace this session (a consumer died, the topology is gone).
    pub(crate) fn mark_broken(&self, why: impl Into<String>) {
        let mut slot = self.why.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(why.into());
        }
        self.broken.cancel();
    }

    fn healthy(&self) -> bool {
        !self.broken.is_cancelled() && self.connection.status().connected() && self.publisher.status().connected()
    }

    fn reason(&self) -> String {
        self.why
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "the connection or its channel closed".to_owned())
    }
}

struct Inner {
    config: AmqpConfig,
    current: watch::Sender<Option<Arc<Session>>>,
    stop: CancellationToken,
    reconnects: AtomicU64,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

/// A supervised connection to RabbitMQ. Cheap to clone; the connection closes when the last
/// clone is dropped (or at once with [`AmqpConnection::close`]).
#[derive(Clone)]
pub struct AmqpConnection {
    inner: Arc<Inner>,
    _stop_on_drop: Arc<DropGuard>,
}

impl std::fmt::Debug for AmqpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConnection")
            .field("config", &self.inner.config)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl AmqpConnection {
    /// Starts the supervisor and returns at once; the connection comes up in the background
    /// (and calls fail with `Unavailable` until it does). Needs a Tokio runtime.
    pub fn start(config: AmqpConfig) -> Self {
        let stop = CancellationToken::new();
        let (current, _) = watch::channel(None);
        let inner = Arc::new(Inner {
            config,
            current,
            stop: stop.clone(),
            reconnects: AtomicU64::new(0),
            supervisor: Mutex::new(None),
        });
        let task = tokio::spawn(supervise(inner.clone()));
        *inner.supervisor.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Self {
            inner,
            _stop_on_drop: Arc::new(stop.drop_guard()),
        }
    }

    /// Starts the supervisor and waits up to `config.connect_timeout` for the first
    /// connection, so a wrong URL or a broker that is down is reported at start-up.
    pub async fn connect(config: AmqpConfig) -> anyhow::Result<Self> {
        let wait = config.connect_timeout;
        let connection = Self::start(config);
        if let Err(e) = connection.wait_connected(wait).await {
            connection.close().await;
            anyhow::bail!("{e}");
        }
        Ok(connection)
    }

    pub fn config(&self) -> &AmqpConfig {
        &self.inner.config
    }

    pub fn is_connected(&self) -> bool {
        self.inner.current.borrow().as_ref().is_some_and(|s| s.healthy())
    }

    /// Times the connection was re-established after a drop.
    pub fn reconnects(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    /// For `/readyz`: `Unavailable` unless a healthy session is up.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.session().map(|_| ())
    }

    /// Waits until a session is up, at most `max`.
    pub async fn wait_connected(&self, max: Duration) -> Result<(), StoreError> {
        let mut sessions = self.inner.current.subscribe();
        let up = tokio::time::timeout(max, sessions.wait_for(|s| s.as_ref().is_some_and(|s| s.healthy()))).await;
        match up {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(unavailable("the connection was closed")),
            Err(_) => Err(unavailable(format!("not connected after {max:?}"))),
        }
    }

    /// Drops the current connection as a network failure would (without stopping the
    /// supervisor, which reconnects). For operators' tools and for tests.
    pub async fn drop_connection(&self) {
        let session = self.inner.current.borrow().clone();
        if let Some(session) = session {
            let _ = tokio::time::timeout(
                CLOSE_TIMEOUT,
                session.connection.close(320, "dropped on request".into()),
            )
            .await;
        }
    }

    /// Stops the supervisor and closes the connection gracefully: unacknowledged deliveries
    /// go back to their queue at once.
    pub async fn close(&self) {
        self.inner.stop.cancel();
        let task = self.inner.supervisor.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Deletes this prefix's queues and dead-letter exchange, and the events exchange when
    /// `events_exchange`. For tests and uninstalling: queued messages are lost.
    pub async fn delete_topology(&self, events_exchange: bool) -> Result<(), StoreError> {
        let session = self.session()?;
        let channel = session
            .connection
            .create_channel()
            .await
            .map_err(|e| unavailable(format!("opening a channel: {e}")))?;
        let result = topology::delete(&channel, &self.inner.config, events_exchange).await;
        let _ = channel.close(200, "OK".into()).await;
        result.map_err(|e| unavailable(format!("deleting the topology: {e}")))
    }

    /// The current session, or `Unavailable` at once when there is none.
    pub(crate) fn session(&self) -> Result<Arc<Session>, StoreError> {
        match self.inner.current.borrow().as_ref() {
            Some(session) if session.healthy() => Ok(session.clone()),
            _ => Err(unavailable("not connected")),
        }
    }

    pub(crate) fn sessions(&self) -> watch::Receiver<Option<Arc<Session>>> {
        self.inner.current.subscribe()
    }

    /// Ready messages in `queues`, on a channel of its own.
    pub(crate) async fn ready_counts(&self, queues: &[String]) -> Result<Vec<u64>, StoreError> {
        let session = self.session()?;
        let channel = session
            .connection
            .create_channel()
            .await
            .map_err(|e| unavailable(format!("opening a channel: {e}")))?;
        let counts = topology::ready_counts(&channel, queues).await;
        if channel.status().connected() {
            let _ = channel.close(200, "OK".into()).await;
        }
        counts
    }

    /// Publishes and waits for the broker's confirm. A message the broker did not take
    /// (nack, no confirm in time, returned as unroutable, connection lost) is an error:
    /// the caller still holds the job and tries again later.
    pub(crate) async fn publish(&self, message: &Outgoing) -> Result<(), StoreError> {
        let session = self.session()?;
        let publish = async {
            session
                .publisher
                .basic_publish(
                    message.exchange.as_str().into(),
                    message.routing_key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: message.mandatory,
                        ..BasicPublishOptions::default()
                    },
                    &message.body,
                    message.properties.clone(),
                )
                .await?
                .await
        };
        let target = if message.exchange.is_empty() {
            &message.routing_key
        } else {
            &message.exchange
        };
        let confirmation = match tokio::time::timeout(self.inner.config.publish_timeout, publish).await {
            Err(_) => {
                return Err(unavailable(format!(
                    "no confirm from {target} within {:?}",
                    self.inner.config.publish_timeout
                )));
            }
            Ok(Err(e)) => return Err(unavailable(format!("publishing to {target}: {e}"))),
            Ok(Ok(confirmation)) => confirmation,
        };
        match confirmation {
            Confirmation::Ack(None) => {
                metrics::counter!("filegate_amqp_published_total", "kind" => message.kind).increment(1);
                Ok(())
            }
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                // Our own queue is gone (deleted by hand?): a new session declares it again.
                session.mark_broken(format!("a message to {target} was returned: {}", returned.reply_text));
                Err(unavailable(format!(
                    "{target} did not route the message ({}); redeclaring the topology",
                    returned.reply_text
                )))
            }
            Confirmation::Nack(None) => Err(unavailable(format!("{target} refused the message (nack)"))),
            Confirmation::NotRequested => Err(StoreError::Other(anyhow::anyhow!(
                "publisher confirms are off on the publishing channel"
            ))),
        }
    }
}

enum Ended {
    Stopped,
    Broken(String),
}

async fn supervise(inner: Arc<Inner>) {
    let config = &inner.config;
    let mut failures = 0u32;
    let mut generation = 0u64;
    let mut connected_before = false;
    loop {
        generation += 1;
        let attempt = tokio::select! {
            () = inner.stop.cancelled() => return,
            attempt = tokio::time::timeout(config.connect_timeout, establish(config, generation)) => attempt,
        };
        let session = match attempt {
            Ok(Ok(session)) => Arc::new(session),
            Ok(Err(e)) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %format!("{e:#}"), failures, "could not connect to RabbitMQ");
                if pause(&inner, failures).await.is_err() {
                    return;
                }
                continue;
            }
            Err(_) => {
                failures = failures.saturating_add(1);
                tracing::warn!(failures, "connecting to RabbitMQ timed out");
                if pause(&inner, failures).await.is_err() {
                    return;
                }
                continue;
            }
        };

        let started = Instant::now();
        if connected_before {
            inner.reconnects.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("filegate_amqp_reconnects_total").increment(1);
        }
        connected_before = true;
        tracing::info!(generation, prefix = %config.prefix, "connected to RabbitMQ");
        inner.current.send_replace(Some(session.clone()));
        let ended = watch_session(&inner, &session).await;
        inner.current.send_replace(None);
        if session.connection.status().connected() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "OK".into())).await;
        }
        match ended {
            Ended::Stopped => {
                tracing::info!("RabbitMQ connection closed");
                return;
            }
            Ended::Broken(why) => {
                tracing::warn!(reason = %why, "lost the RabbitMQ connection; reconnecting");
                if started.elapsed() >= STABLE_SESSION {
                    failures = 0;
                }
                failures = failures.saturating_add(1);
                if pause(&inner, failures).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Waits out the backoff for the `failures`-th failure in a row; `Err` when stopped meanwhile.
async fn pause(inner: &Inner, failures: u32) -> Result<(), ()> {
    let delay = backoff(inner.config.reconnect_min, inner.config.reconnect_max, failures);
    // Jitter: processes that lost the broker together do not come back in lockstep.
    let delay = delay.mul_f64(rand::rng().random_range(0.5..=1.0));
    tokio::select! {
        () = inner.stop.cancelled() => Err(()),
        () = tokio::time::sleep(delay) => Ok(()),
    }
}

pub(crate) use filegate_core::usecases::pipeline::backoff;

async fn establish(config: &AmqpConfig, generation: u64) -> anyhow::Result<Session> {
    let properties = ConnectionProperties::default().with_connection_name(config.connection_name.as_str().into());
    let connection = lapin::Connection::connect_uri(config.uri().clone(), properties).await?;
    let publisher = connection.create_channel().await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    topology::declare(&publisher, config).await?;
    Ok(Session {
        generation,
        connection,
        publisher,
        broken: CancellationToken::new(),
        why: Mutex::new(None),
    })
}

async fn watch_session(inner: &Inner, session: &Session) -> Ended {
    let mut events = std::pin::pin!(session.connection.events_listener());
    let mut tick = tokio::time::interval(HEALTH_CHECK);
    loop {
        tokio::select! {
            () = inner.stop.cancelled() => return Ended::Stopped,
            () = session.broken.cancelled() => return Ended::Broken(session.reason()),
            event = events.next() => match event {
                // Channel errors arrive here too (a passive declare of a missing queue):
                // only a dead connection or publishing channel ends the session.
                Some(lapin::Event::Error(e)) if !session.healthy() => return Ended::Broken(e.to_string()),
                Some(_) => {}
                None => return Ended::Broken("the connection's event stream ended".to_owned()),
            },
            _ = tick.tick() => {
                if !session.healthy() {
                    return Ended::Broken(session.reason());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let ms = Duration::from_millis;
        assert_eq!(backoff(ms(100), ms(30_000), 1), ms(100));
        assert_eq!(backoff(ms(100), ms(30_000), 2), ms(200));
        assert_eq!(backoff(ms(100), ms(30_000), 4), ms(800));
        assert_eq!(backoff(ms(100), ms(30_000), 40), ms(30_000));
    }
}
