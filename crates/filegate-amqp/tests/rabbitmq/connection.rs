//! The connection: reconnecting after the broker closes it, failing fast while it is away.

use std::time::Duration;

use filegate_amqp::{AmqpConfig, AmqpConnection, AmqpEventSink, AmqpQueue, Relay, RelaySettings};
use filegate_core::StoreError;
use filegate_core::ports::{EventSink, JobQueue, NewJob};
use tokio::time::Instant;

use super::support::*;

#[tokio::test]
async fn the_connection_comes_back_after_the_broker_closes_it() {
    let Some(broker) = Broker::new().await else { return };
    if broker_connection_pid("-").is_none() {
        eprintln!("note: rabbitmqctl is not usable here; the client-side drop test covers reconnection");
        return;
    }
    let conn = broker.connect().await;
    let queue = AmqpQueue::new(conn.clone());
    let job = NewJob::now(process_file());
    queue.enqueue(&job).await.unwrap();
    let claimed = next_job(&queue, "w").await;

    let pid = eventually("the connection listed by rabbitmqctl", || async {
        broker_connection_pid(&broker.config.connection_name).flatten()
    })
    .await;
    let closed = std::process::Command::new("rabbitmqctl")
        .args(["close_connection", &pid, "filegate test: forced close"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(closed.status.success(), "{}", String::from_utf8_lossy(&closed.stderr));

    eventually("a reconnection", || async {
        (conn.reconnects() == 1 && conn.is_connected()).then_some(())
    })
    .await;
    assert!(matches!(
        queue.complete(claimed.id, "w").await,
        Err(StoreError::NotFound)
    ));
    let again = next_job(&queue, "w").await;
    assert_eq!((again.id, again.attempt), (job.id, 2));
    queue.complete(again.id, "w").await.unwrap();
    queue.enqueue(&NewJob::now(process_file())).await.unwrap();
    let after = next_job(&queue, "w").await;
    queue.complete(after.id, "w").await.unwrap();
}

/// The broker's pid for the connection named `name`: `None` when rabbitmqctl cannot run,
/// `Some(None)` when no such connection is listed.
fn broker_connection_pid(name: &str) -> Option<Option<String>> {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let listing = String::from_utf8_lossy(&out.stdout);
    let quoted = format!("{{\"connection_name\",\"{name}\"}}");
    Some(
        listing
            .lines()
            .find(|line| line.contains(&quoted))
            .and_then(|line| line.split('\t').next())
            .map(str::to_owned),
    )
}

#[tokio::test]
async fn calls_fail_fast_while_the_broker_is_unreachable() {
    // Nothing listens on port 1: no broker needed for this one.
    let mut config = AmqpConfig::from_url("amqp://guest:guest@127.0.0.1:1/%2f?prefix=fgtest-unreachable").unwrap();
    config.connect_timeout = Duration::from_millis(300);
    assert!(AmqpConnection::connect(config.clone()).await.is_err());

    let conn = AmqpConnection::start(config);
    let queue = AmqpQueue::new(conn.clone());
    let started = Instant::now();
    assert!(matches!(
        queue.enqueue(&NewJob::now(process_file())).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(queue.claim("w", LEASE).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(queue.stats().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        AmqpEventSink::new(conn.clone()).publish(&event("file.ready")).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(conn.ping().await, Err(StoreError::Unavailable(_))));

    // The relay leaves the outbox alone rather than claiming what it cannot publish.
    let (_dir, db) = database().await;
    db.enqueue(&NewJob::now(process_file())).await.unwrap();
    let relay = Relay::new(db.clone(), conn.clone(), RelaySettings::default());
    assert!(matches!(relay.run_next().await, Err(StoreError::Unavailable(_))));
    let outbox = db.stats().await.unwrap();
    assert_eq!((outbox.queued, outbox.running), (1, 0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered without waiting on the broker"
    );
    conn.close().await;
}
