//! `AmqpConfig`: where the broker is and what our queues and exchanges are called.
//!
//! One URL configures everything: `amqp://user:pass@host:5672/%2f?prefix=filegate&prefetch=8`.
//! Our own query parameters (below) are read here; lapin's (`heartbeat`, `frame_max`,
//! `channel_max`, `connection_timeout`, `auth_mechanism`) pass through to the connection.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use filegate_core::ports::Lane;
use lapin::uri::AMQPUri;

/// The topic exchange other services bind to for file events.
pub const DEFAULT_EVENTS_EXCHANGE: &str = "filegate.events";
pub const DEFAULT_PREFIX: &str = "filegate";
pub const DEFAULT_PREFETCH: u16 = 8;
/// Deliveries of one message (crashed workers included) before RabbitMQ dead-letters it.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 10;

/// Routing keys on the dead-letter exchange `<prefix>.dlx`.
pub(crate) const DLX_KEY_JOBS: &str = "jobs";
pub(crate) const DLX_KEY_DELIVERIES: &str = "deliveries";
pub(crate) const DLX_KEY_DEAD: &str = "dead";

/// Everything the RabbitMQ engine needs. Build it with [`AmqpConfig::from_url`], then adjust
/// the public fields (tests shorten the timeouts, or name their own events exchange).
#[derive(Clone)]
pub struct AmqpConfig {
    uri: AMQPUri,
    /// Names derive from it: `<prefix>.jobs`, `<prefix>.jobs.retry`, `<prefix>.deliveries`,
    /// `<prefix>.deliveries.retry`, `<prefix>.jobs.dead`, `<prefix>.dlx`. URL parameter
    /// `prefix`.
    pub prefix: String,
    /// Unacknowledged pipeline jobs one worker process holds at most (`basic.qos` of the
    /// work queue's consumer). Set it at least to the worker's concurrency. URL parameter
    /// `prefetch`.
    pub prefetch: u16,
    /// The same for delivery jobs (webhooks, emails, trigger calls), consumed from their own
    /// queue on a channel of their own: about `workers.delivery_concurrency`. URL parameter
    /// `delivery_prefetch`.
    pub delivery_prefetch: u16,
    /// The topic exchange events go to (routing key = event type). URL parameter
    /// `events_exchange`.
    pub events_exchange: String,
    /// `x-delivery-limit` of the work queue: a message delivered this many times without
    /// being settled (its workers kept dying) is dead-lettered by RabbitMQ. URL parameter
    /// `delivery_limit`.
    pub delivery_limit: u32,
    /// Shown in RabbitMQ's connection list. URL parameter `name`.
    pub connection_name: String,
    /// How long `AmqpConnection::connect` waits for the first connection.
    pub connect_timeout: Duration,
    /// How long a publish waits for the broker's confirm before it counts as failed.
    pub publish_timeout: Duration,
    /// First delay before reconnecting; doubles per failed attempt up to `reconnect_max`.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
}

impl AmqpConfig {
    /// Parses `amqp://` / `amqps://` URLs. Unknown query parameters are refused, so a typo
    /// does not silently fall back to a default.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url).context("queue URL is not a URL")?;
        if !matches!(parsed.scheme(), "amqp" | "amqps") {
            bail!("queue URL must start with amqp:// or amqps://");
        }
        let uri = AMQPUri::from_str(url).map_err(|e| anyhow::anyhow!("invalid AMQP URL: {e}"))?;
        let mut config = Self {
            uri,
            prefix: DEFAULT_PREFIX.to_owned(),
            prefetch: DEFAULT_PREFETCH,
            delivery_prefetch: DEFAULT_PREFETCH,
            events_exchange: DEFAULT_EVENTS_EXCHANGE.to_owned(),
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
            connection_name: "filegate".to_owned(),
            connect_timeout: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(15),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(30),
        };
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "prefix" => config.prefix = value.into_owned(),
                "prefetch" => {
                    config.prefetch = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .context("prefetch must be a number from 1 to 65535")?;
                }
                "delivery_prefetch" => {
                    config.delivery_prefetch = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .context("delivery_prefetch must be a number from 1 to 65535")?;
                }
                "events_exchange" => config.events_exchange = value.into_owned(),
                "delivery_limit" => {
                    config.delivery_limit = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .context("delivery_limit must be a positive number")?;
                }
                "name" => config.connection_name = value.into_owned(),
                "heartbeat" | "frame_max" | "channel_max" | "connection_timeout" | "auth_mechanism" => {}
                other => bail!("unknown queue URL parameter {other:?}"),
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the names a caller may have changed after `from_url`.
    pub fn validate(&self) -> anyhow::Result<()> {
        check_name("prefix", &self.prefix, 200)?;
        check_name("events_exchange", &self.events_exchange, 255)?;
        if self.prefetch == 0 || self.delivery_prefetch == 0 {
            bail!("prefetch and delivery_prefetch must be at least 1");
        }
        Ok(())
    }

    pub(crate) fn uri(&self) -> &AMQPUri {
        &self.uri
    }

    /// The work queue workers consume from.
    pub fn jobs_queue(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// Where a retried job waits out its delay (per-message TTL), then dead-letters back
    /// to the work queue.
    pub fn retry_queue(&self) -> String {
        format!("{}.jobs.retry", self.prefix)
    }

    /// The queue workers consume `lane`'s jobs from: the work queue, or the deliveries queue
    /// (webhooks, emails, trigger calls), so a slow receiver's backlog never sits in front
    /// of a file.
    pub fn lane_queue(&self, lane: Lane) -> String {
        match lane {
            Lane::Pipeline => self.jobs_queue(),
            Lane::Delivery => format!("{}.deliveries", self.prefix),
        }
    }

    /// Where a retried job of `lane` waits out its delay, then dead-letters back to
    /// [`lane_queue`](Self::lane_queue).
    pub fn lane_retry_queue(&self, lane: Lane) -> String {
        match lane {
            Lane::Pipeline => self.retry_queue(),
            Lane::Delivery => format!("{}.deliveries.retry", self.prefix),
        }
    }

    /// How many unacknowledged jobs of `lane` one process holds at most.
    pub fn lane_prefetch(&self, lane: Lane) -> u16 {
        match lane {
            Lane::Pipeline => self.prefetch,
            Lane::Delivery => self.delivery_prefetch,
        }
    }

    /// Dead letters: buried jobs (with their error) and messages RabbitMQ gave up on.
    pub fn dead_queue(&self) -> String {
        format!("{}.jobs.dead", self.prefix)
    }

    /// The direct exchange that routes dead letters (`dead`) and due retries (`jobs`).
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }
}

fn check_name(what: &str, name: &str, max: usize) -> anyhow::Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if name.is_empty() || name.len() > max || !ok_chars || name.starts_with("amq.") {
        bail!("{what} must be 1-{max} characters of A-Z, a-z, 0-9, '.', '-', '_', ':' and not start with \"amq.\"");
    }
    Ok(())
}

/// Never prints the password.
impl fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("host", &self.uri.authority.host)
            .field("port", &self.uri.authority.port)
            .field("vhost", &self.uri.vhost)
            .field("user", &self.uri.authority.userinfo.username)
            .field("prefix", &self.prefix)
            .field("prefetch", &self.prefetch)
            .field("delivery_prefetch", &self.delivery_prefetch)
            .field("events_exchange", &self.events_exchange)
            .field("delivery_limit", &self.delivery_limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_parameters_and_derives_names() {
        let c =
            AmqpConfig::from_url("amqp://guest:secret@127.0.0.1:5672/%2f?prefix=t1&prefetch=3&heartbeat=10").unwrap();
        assert_eq!(c.prefetch, 3);
        assert_eq!(c.jobs_queue(), "t1.jobs");
        assert_eq!(c.retry_queue(), "t1.jobs.retry");
        assert_eq!(c.dead_queue(), "t1.jobs.dead");
        assert_eq!(c.dead_letter_exchange(), "t1.dlx");
        assert_eq!(c.lane_queue(Lane::Pipeline), "t1.jobs");
        assert_eq!(c.lane_queue(Lane::Delivery), "t1.deliveries");
        assert_eq!(c.lane_retry_queue(Lane::Delivery), "t1.deliveries.retry");
        assert_eq!(
            (c.lane_prefetch(Lane::Pipeline), c.lane_prefetch(Lane::Delivery)),
            (3, DEFAULT_PREFETCH)
        );
        let deliveries = AmqpConfig::from_url("amqp://127.0.0.1?delivery_prefetch=32").unwrap();
        assert_eq!(deliveries.lane_prefetch(Lane::Delivery), 32);
        assert_eq!(c.events_exchange, "filegate.events");
        assert_eq!(c.uri().vhost, "/");
        assert_eq!(c.uri().query.heartbeat, Some(10));
    }

    #[test]
    fn defaults_without_parameters() {
        let c = AmqpConfig::from_url("amqp://127.0.0.1").unwrap();
        assert_eq!(c.prefix, "filegate");
        assert_eq!(c.prefetch, DEFAULT_PREFETCH);
        assert_eq!(c.jobs_queue(), "filegate.jobs");
        let c = AmqpConfig::from_url("amqp://127.0.0.1/%2f?events_exchange=test.events").unwrap();
        assert_eq!(c.events_exchange, "test.events");
    }

    #[test]
    fn refuses_bad_urls_and_values() {
        for bad in [
            "redis://127.0.0.1",
            "amqp://127.0.0.1?prefetch=0",
            "amqp://127.0.0.1?prefetch=70000",
            "amqp://127.0.0.1?prefetch=x",
            "amqp://127.0.0.1?delivery_prefetch=0",
            "amqp://127.0.0.1?prefix=",
            "amqp://127.0.0.1?prefix=a%20b",
            "amqp://127.0.0.1?prefix=amq.x",
            "amqp://127.0.0.1?prefech=3",
            "amqp://127.0.0.1?delivery_limit=0",
            "not a url",
        ] {
            assert!(AmqpConfig::from_url(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let c = AmqpConfig::from_url("amqp://guest:hunter2@127.0.0.1:5672/%2f").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("guest"), "{shown}");
    }
}
