//! filegate's RabbitMQ engine: the transactional outbox's relay, the job queue workers
//! consume from, and the events exchange other services subscribe to.
//!
//! The database stays the outbox: a state change and the jobs it causes commit together
//! there. When `queue = "amqp://…"` is configured:
//!
//! - every process that has the database runs a [`Relay`] that moves due jobs from the
//!   database queue to RabbitMQ with publisher confirms (pipeline jobs to the work queue,
//!   webhook, email and trigger deliveries to the deliveries queue, events to the
//!   `filegate.events` topic exchange), completing each database job only after the broker
//!   confirmed it: at least once;
//! - worker processes use an [`AmqpQueue`] as their `JobQueue` (manual ack, a consumer and
//!   prefetch per lane, retries through delay queues, dead letters through a dead-letter
//!   exchange);
//! - [`AmqpEventSink`] publishes events from workers instead, when the relay routes them
//!   there ([`EventRoute::Workers`]).
//!
//! All share one supervised [`AmqpConnection`] per process, which reconnects with backoff
//! and fails calls fast (`StoreError::Unavailable`) while the broker is away.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use filegate_core::ports::JobQueue;
//! # use tokio_util::sync::CancellationToken;
//! # async fn wire(database_queue: Arc<dyn JobQueue>, shutdown: CancellationToken) -> anyhow::Result<()> {
//! use filegate_amqp::{AmqpConfig, AmqpConnection, AmqpQueue, Relay, RelaySettings};
//!
//! let broker = AmqpConnection::connect(AmqpConfig::from_url("amqp://guest:guest@127.0.0.1:5672/%2f?prefetch=4")?).await?;
//! tokio::spawn(Relay::new(database_queue, broker.clone(), RelaySettings::default()).run(shutdown.clone()));
//! let worker_queue: Arc<dyn JobQueue> = Arc::new(AmqpQueue::new(broker.clone()));
//! // Services { queue: worker_queue, events: Arc::new(LogSink), .. } for the workers.
//! # Ok(()) }
//! ```
//!
//! Metrics: `filegate_amqp_published_total{kind}` (confirmed publishes; `kind` is the job
//! kind for relayed and enqueued jobs, `publish_event` for events, `retry` and `dead` for
//! the copies `retry` and `bury` publish) and `filegate_amqp_reconnects_total`.

mod config;
mod connection;
mod message;
mod queue;
mod relay;
mod sink;
mod topology;

pub use config::{AmqpConfig, DEFAULT_DELIVERY_LIMIT, DEFAULT_EVENTS_EXCHANGE, DEFAULT_PREFETCH, DEFAULT_PREFIX};
pub use connection::AmqpConnection;
pub use message::{HEADER_DEAD_AT, HEADER_ERROR, string_header};
pub use queue::AmqpQueue;
pub use relay::{EventRoute, Relay, RelaySettings};
pub use sink::AmqpEventSink;
