//! The queues and exchanges, declared (idempotently) on every (re)connection.
//!
//! ```text
//! default exchange ──<prefix>.jobs──────────> <prefix>.jobs         quorum; workers consume
//!        │                                        │  x-dead-letter-exchange = <prefix>.dlx
//!        │                                        │  x-dead-letter-routing-key = dead
//!        │                                        │  x-delivery-limit (crash loops end here)
//!        └─<prefix>.jobs.retry──> <prefix>.jobs.retry                classic; per-message TTL
//!                                        │  x-dead-letter-exchange = <prefix>.dlx
//!                                        │  x-dead-letter-routing-key = jobs
//! <prefix>.dlx (direct) ──jobs──> <prefix>.jobs      (a retry whose delay ran out)
//!                       ──dead──> <prefix>.jobs.dead (buried jobs, with x-filegate-error;
//!                                                    rejected or over-delivered messages)
//! filegate.events (topic) ──<event type>──> whatever other services bind (`file.#`)
//! ```
//!
//! Delivery jobs (webhooks, emails, trigger calls) take the same shape under their own names:
//! `<prefix>.deliveries` (quorum, consumed with `delivery_prefetch`) and
//! `<prefix>.deliveries.retry`, which dead-letters due retries with routing key `deliveries`;
//! their dead letters share `<prefix>.jobs.dead`. Workers consume each queue on a channel of
//! its own, so receivers that hold every call cannot take the prefetch files need.
//!
//! The work queue is a quorum queue because it counts deliveries (`x-delivery-count`): a job
//! whose worker died is handed out again with its attempt counted, as the database queue
//! does, and one that kills every worker is dead-lettered after `delivery_limit` deliveries.
//! The retry queue is classic because it holds messages by per-message TTL. RabbitMQ expires
//! messages only at the head of a queue, so a retry may wait behind a longer one queued
//! before it: at most the longest backoff (`WorkerSettings::backoff_max`) late, never early.

use filegate_core::StoreError;
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use filegate_core::ports::Lane;

use crate::config::{AmqpConfig, DLX_KEY_DEAD, DLX_KEY_DELIVERIES, DLX_KEY_JOBS};
use crate::connection::unavailable;

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

pub(crate) async fn declare(channel: &Channel, config: &AmqpConfig) -> lapin::Result<()> {
    let dlx = config.dead_letter_exchange();
    channel
        .exchange_declare(
            dlx.as_str().into(),
            ExchangeKind::Direct,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            config.events_exchange.as_str().into(),
            ExchangeKind::Topic,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;

    for (lane, back_key) in [(Lane::Pipeline, DLX_KEY_JOBS), (Lane::Delivery, DLX_KEY_DELIVERIES)] {
        let mut work_args = FieldTable::default();
        work_args.insert("x-queue-type".into(), text("quorum"));
        work_args.insert("x-dead-letter-exchange".into(), text(&dlx));
        work_args.insert("x-dead-letter-routing-key".into(), text(DLX_KEY_DEAD));
        work_args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(i32::try_from(config.delivery_limit).unwrap_or(i32::MAX)),
        );
        channel
            .queue_declare(
                config.lane_queue(lane).as_str().into(),
                QueueDeclareOptions::durable(),
                work_args,
            )
            .await?;

        let mut retry_args = FieldTable::default();
        retry_args.insert("x-dead-letter-exchange".into(), text(&dlx));
        retry_args.insert("x-dead-letter-routing-key".into(), text(back_key));
        channel
            .queue_declare(
                config.lane_retry_queue(lane).as_str().into(),
                QueueDeclareOptions::durable(),
                retry_args,
            )
            .await?;
    }

    channel
        .queue_declare(
            config.dead_queue().as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;

    for (queue, key) in [
        (config.jobs_queue(), DLX_KEY_JOBS),
        (config.lane_queue(Lane::Delivery), DLX_KEY_DELIVERIES),
        (config.dead_queue(), DLX_KEY_DEAD),
    ] {
        channel
            .queue_bind(
                queue.as_str().into(),
                dlx.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Ready messages in each queue, by passive declares (which fail, and close the channel,
/// when a queue is missing: the caller gives a channel of its own).
pub(crate) async fn ready_counts(channel: &Channel, queues: &[String]) -> Result<Vec<u64>, StoreError> {
    let mut counts = Vec::with_capacity(queues.len());
    for queue in queues {
        let declared = channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| unavailable(format!("counting the messages of {queue}: {e}")))?;
        counts.push(u64::from(declared.message_count()));
    }
    Ok(counts)
}

/// Deletes the prefix's queues and exchange (and the events exchange when asked): for
/// tests and uninstalling. Messages in them are lost.
pub(crate) async fn delete(channel: &Channel, config: &AmqpConfig, events_exchange: bool) -> lapin::Result<()> {
    let lanes = Lane::ALL
        .into_iter()
        .flat_map(|lane| [config.lane_queue(lane), config.lane_retry_queue(lane)]);
    for queue in lanes.chain([config.dead_queue()]) {
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    channel
        .exchange_delete(
            config.dead_letter_exchange().as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await?;
    if events_exchange {
        channel
            .exchange_delete(config.events_exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await?;
    }
    Ok(())
}
