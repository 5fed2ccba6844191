//! The work queue: claims, acknowledgements, retries, dead letters, prefetch, lanes.

use std::time::Duration;

use chrono::Utc;
use filegate_amqp::{AmqpConnection, AmqpQueue, HEADER_DEAD_AT, HEADER_ERROR, string_header};
use filegate_core::StoreError;
use filegate_core::domain::{JobId, WebhookId};
use filegate_core::ports::{Job, JobQueue, Lane, NewJob};
use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions};
use tokio::time::Instant;

use super::support::*;

#[tokio::test]
async fn complete_acknowledges_and_an_unsettled_delivery_comes_back_after_a_reconnect() {
    let Some(broker) = Broker::new().await else { return };
    let conn = broker.connect().await;
    let queue = AmqpQueue::new(conn.clone());
    let (a, b) = (NewJob::now(process_file()), NewJob::now(process_file()));
    queue.enqueue(&a).await.unwrap();
    queue.enqueue(&b).await.unwrap();
    let first = next_job(&queue, "w").await;
    let second = next_job(&queue, "w").await;
    assert_eq!((first.id, second.id), (a.id, b.id));
    queue.extend(a.id, "w", LEASE).await.unwrap();
    assert!(matches!(
        queue.extend(a.id, "other", LEASE).await,
        Err(StoreError::NotFound)
    ));
    queue.complete(a.id, "w").await.unwrap();
    assert!(
        matches!(queue.complete(a.id, "w").await, Err(StoreError::NotFound)),
        "settled once"
    );

    // The connection drops with `b` in hand: the lease is lost, and `b` comes back.
    conn.drop_connection().await;
    eventually("a reconnection", || async {
        (conn.reconnects() == 1 && conn.is_connected()).then_some(())
    })
    .await;
    assert!(
        matches!(queue.complete(b.id, "w").await, Err(StoreError::NotFound)),
        "lease lost"
    );
    let again = next_job(&queue, "w").await;
    assert_eq!(again.id, b.id);
    assert_eq!(again.attempt, 2, "an unsettled delivery counts as an attempt");
    queue.complete(b.id, "w").await.unwrap();

    // `a` was acknowledged: it is neither in the queue nor on its way to us.
    eventually("an empty work queue", || async {
        (broker.ready(&broker.config.jobs_queue()).await == 0).then_some(())
    })
    .await;
    assert_eq!(queue.in_flight(), 0);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 0));
}

#[tokio::test]
async fn retry_brings_the_job_back_after_its_delay_as_attempt_two() {
    let Some(broker) = Broker::new().await else { return };
    let queue = AmqpQueue::new(broker.connect().await);
    let job = NewJob::now(remove_blob());
    queue.enqueue(&job).await.unwrap();
    let claimed = next_job(&queue, "w").await;
    assert_eq!(claimed.attempt, 1);

    let delay = Duration::from_millis(800);
    let retried_at = Instant::now();
    let run_at = Utc::now() + chrono::Duration::from_std(delay).unwrap();
    queue.retry(job.id, "w", run_at, "the store was busy").await.unwrap();
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None, "not before its time");
    assert_eq!(
        broker.ready(&broker.config.retry_queue()).await,
        1,
        "waiting in the retry queue"
    );
    assert_eq!(queue.stats().await.unwrap().queued, 1);

    let again = next_job(&queue, "w").await;
    assert!(
        retried_at.elapsed() >= delay - Duration::from_millis(50),
        "came back after {:?}",
        retried_at.elapsed()
    );
    assert_eq!((again.id, again.attempt), (job.id, 2));
    assert_eq!(again.job, job.job);
    queue.complete(job.id, "w").await.unwrap();

    // A retry already due goes straight back to the work queue.
    queue.enqueue(&NewJob::now(process_file())).await.unwrap();
    let next = next_job(&queue, "w").await;
    queue.retry(next.id, "w", Utc::now(), "again").await.unwrap();
    let back = next_job(&queue, "w").await;
    assert_eq!((back.id, back.attempt), (next.id, 2));
}

#[tokio::test]
async fn bury_puts_the_job_in_the_dead_letter_queue_with_its_error() {
    let Some(broker) = Broker::new().await else { return };
    let queue = AmqpQueue::new(broker.connect().await);
    let job = NewJob::now(process_file());
    queue.enqueue(&job).await.unwrap();
    let claimed = next_job(&queue, "w").await;
    queue
        .bury(claimed.id, "w", "the scanner refused the file")
        .await
        .unwrap();
    assert_eq!(queue.stats().await.unwrap().dead, 1);
    assert!(matches!(
        queue.complete(claimed.id, "w").await,
        Err(StoreError::NotFound)
    ));

    let channel = broker.channel().await;
    let dead = channel
        .basic_get(broker.config.dead_queue().as_str().into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("a dead letter");
    assert_eq!(message_id(&dead), job.id.to_string());
    assert_eq!(
        string_header(&dead.properties, HEADER_ERROR).as_deref(),
        Some("the scanner refused the file")
    );
    assert!(string_header(&dead.properties, HEADER_DEAD_AT).is_some());
    assert_eq!(serde_json::from_slice::<Job>(&dead.data).unwrap(), job.job);

    // A message no worker can read is dead-lettered by RabbitMQ through the exchange.
    channel
        .basic_publish(
            "".into(),
            broker.config.jobs_queue().as_str().into(),
            BasicPublishOptions::default(),
            b"not a job",
            BasicProperties::default().with_message_id(JobId::new().to_string().into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    eventually("the unreadable message in the dead-letter queue", || async {
        let _ = queue.claim("w", LEASE).await;
        (broker.ready(&broker.config.dead_queue()).await == 1).then_some(())
    })
    .await;
    assert_eq!(broker.ready(&broker.config.jobs_queue()).await, 0);
}

#[tokio::test]
async fn a_worker_that_dies_holding_a_job_loses_it_to_another_worker() {
    let Some(broker) = Broker::new().await else { return };
    let first = AmqpQueue::new(broker.connect().await);
    let job = NewJob::now(process_file());
    first.enqueue(&job).await.unwrap();
    let claimed = next_job(&first, "first").await;
    assert_eq!((claimed.id, claimed.attempt), (job.id, 1));

    let second = AmqpQueue::new(broker.connect().await);
    second.wait_for_work(Duration::from_millis(1)).await; // starts consuming
    // The first worker's process dies: its connection ends without an acknowledgement.
    first.connection().close().await;

    let taken_over = next_job(&second, "second").await;
    assert_eq!((taken_over.id, taken_over.attempt), (job.id, 2));
    assert_eq!(taken_over.job, job.job);
    second.complete(job.id, "second").await.unwrap();
    assert!(
        first.complete(job.id, "first").await.is_err(),
        "the dead worker's lease is gone"
    );
}

#[tokio::test]
async fn a_worker_holds_at_most_prefetch_unacknowledged_jobs() {
    let Some(broker) = Broker::new().await else { return };
    let queue = AmqpQueue::new(
        AmqpConnection::connect(broker.config_with(|c| c.prefetch = 3))
            .await
            .unwrap(),
    );
    for _ in 0..10 {
        queue.enqueue(&NewJob::now(process_file())).await.unwrap();
    }
    let jobs = broker.config.jobs_queue();
    eventually("three deliveries in hand and seven left", || async {
        queue.wait_for_work(Duration::from_millis(50)).await;
        (queue.in_flight() == 3 && broker.ready(&jobs).await == 7).then_some(())
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(queue.claim("w", LEASE).await.unwrap().expect("a buffered job"));
    }
    assert_eq!(
        queue.claim("w", LEASE).await.unwrap(),
        None,
        "no fourth while three are unsettled"
    );
    assert_eq!(broker.ready(&jobs).await, 7);

    queue.complete(held[0].id, "w").await.unwrap();
    let fourth = next_job(&queue, "w").await;
    assert!(held.iter().all(|h| h.id != fourth.id));
    assert_eq!(broker.ready(&jobs).await, 6);
}

/// Delivery jobs have their queue, consumer and prefetch: with one delivery in hand (a
/// receiver that never answers) and another waiting behind it, a pipeline job published after
/// both is still claimed at once; a delivery retried goes back to the deliveries queue.
#[tokio::test]
async fn a_delivery_in_hand_never_holds_back_pipeline_jobs() {
    let Some(broker) = Broker::new().await else { return };
    let config = broker.config_with(|c| {
        c.prefetch = 1;
        c.delivery_prefetch = 1;
    });
    let queue = AmqpQueue::new(AmqpConnection::connect(config).await.unwrap());
    let deliveries: Vec<NewJob> = (0..2)
        .map(|_| {
            NewJob::now(Job::DeliverWebhook {
                webhook_id: WebhookId::new(),
                event: event("file.ready"),
            })
        })
        .collect();
    for job in &deliveries {
        queue.enqueue(job).await.unwrap();
    }
    let process = NewJob::now(process_file());
    queue.enqueue(&process).await.unwrap();

    let hanging = next_in_lane(&queue, Lane::Delivery, "w").await;
    assert_eq!(hanging.id, deliveries[0].id);
    assert_eq!(
        queue.claim_lane(Lane::Delivery, "w", LEASE, 10).await.unwrap(),
        [],
        "delivery_prefetch = 1: the next delivery waits"
    );
    let next = next_in_lane(&queue, Lane::Pipeline, "w").await;
    assert_eq!(next.id, process.id, "the pipeline job is not behind the deliveries");
    assert_eq!(broker.ready(&broker.config.lane_queue(Lane::Delivery)).await, 1);
    queue.complete(next.id, "w").await.unwrap();

    queue.retry(hanging.id, "w", Utc::now(), "timed out").await.unwrap();
    let mut back = Vec::new();
    for _ in 0..2 {
        let job = next_in_lane(&queue, Lane::Delivery, "w").await;
        queue.complete(job.id, "w").await.unwrap();
        back.push((job.id, job.attempt));
    }
    back.sort();
    let mut expected = vec![(deliveries[0].id, 2), (deliveries[1].id, 1)];
    expected.sort();
    assert_eq!(back, expected, "the retried delivery came back in its lane");
    assert_eq!(broker.ready(&broker.config.jobs_queue()).await, 0);
}
