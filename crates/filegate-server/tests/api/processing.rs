//! Processing: a completed upload becomes `ready` with the right sha256, even when the
//! shared cache still holds the file as it was before the upload completed; bytes that vanish
//! before processing end `failed` with a reason the client can read.

use bytes::Bytes;
use filegate_client::api::{CreateBucket, FileView};

use crate::common::TestApp;
use crate::support::{MIB, content_of, pattern, redis_url, sha256_hex, with_key_prefix};

#[tokio::test]
async fn an_upload_is_processed_to_ready_with_its_sha256() {
    let app = TestApp::spawn().await;
    let bytes = pattern(3 * MIB + 17, 21);
    let file = app
        .client
        .upload_bytes(
            "default",
            "scans/large.bin",
            "application/octet-stream",
            Bytes::from(bytes.clone()),
        )
        .await
        .expect("upload");
    assert_eq!(file.status, "uploaded");
    assert_eq!(file.sha256, None, "nothing is hashed before processing");
    assert_eq!(
        app.client.file_status(&file.id).await.expect("status").status,
        "uploaded"
    );

    // The processing job, the events it announces (uploaded, processing, ready) and the
    // search index update of the ready file.
    assert_eq!(app.run_jobs().await, 1 + 3 + 1);
    let status = app.client.file_status(&file.id).await.expect("status");
    assert_eq!(status.status, "ready");
    assert_eq!(status.status_reason, None);
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(file.size, bytes.len() as u64);
    assert!(
        content_of(&app.client, &file.id).await == bytes,
        "the bytes came back changed"
    );
}

/// Completes an upload, then removes its bytes from the data directory behind the
/// gateway's back, before any job runs.
async fn uploaded_then_lost(app: &TestApp, bucket: &str) -> FileView {
    let file = app
        .client
        .upload_bytes(
            bucket,
            "lost.bin",
            "application/octet-stream",
            Bytes::from(pattern(4096, 22)),
        )
        .await
        .expect("upload");
    assert_eq!(file.status, "uploaded");
    let object = app
        .stored_objects()
        .into_iter()
        .find(|p| p.file_name().and_then(|n| n.to_str()) == Some(file.id.as_str()))
        .expect("the object is on disk under its file id");
    std::fs::remove_file(&object).expect("remove the object");
    file
}

#[tokio::test]
async fn missing_bytes_fail_the_file_with_a_reason() {
    let app = TestApp::spawn_with(|c| {
        c.workers.max_attempts = 3;
        c.workers.backoff_base_secs = 0;
    })
    .await;
    let file = uploaded_then_lost(&app, "default").await;
    app.run_jobs().await;
    let status = app.client.file_status(&file.id).await.expect("status");
    assert_eq!(status.status, "failed");
    let reason = status.status_reason.expect("a failed file says why");
    assert!(reason.contains("missing"), "{reason}");
    assert_eq!(
        app.client
            .get_file(&file.id)
            .await
            .expect("get")
            .status_reason
            .as_deref(),
        Some(reason.as_str())
    );
    assert_eq!(app.run_jobs().await, 0, "nothing is left to retry");
}

#[tokio::test]
async fn a_stage_that_keeps_failing_is_retried_then_fails_the_file() {
    let app = TestApp::spawn_with(|c| {
        c.workers.max_attempts = 3;
        c.workers.backoff_base_secs = 0;
    })
    .await;
    // Without `verify`, the missing bytes surface in `hash` as a storage error, which is
    // worth retrying: the file fails only once the attempts are used up.
    let bucket = CreateBucket {
        name: "hashonly".into(),
        stages: Some(vec!["hash".into()]),
        ..CreateBucket::default()
    };
    app.client.create_bucket(&bucket).await.expect("bucket");
    let file = uploaded_then_lost(&app, "hashonly").await;

    // Three attempts, then the job is buried; besides them the queue delivers the three
    // events of the file's story: uploaded, processing, failed; and the search index entry of
    // the failed file (failed files are found, with their reason).
    assert_eq!(
        app.run_jobs().await,
        3 + 3 + 1,
        "three attempts, three events, one index update"
    );
    let status = app.client.file_status(&file.id).await.expect("status");
    assert_eq!(status.status, "failed");
    let reason = status.status_reason.expect("a failed file says why");
    assert!(reason.contains("3 attempts"), "{reason}");
    assert_eq!(app.run_jobs().await, 0);

    let metrics = app.anonymous.metrics().await.expect("metrics");
    let dead = metrics
        .lines()
        .find(|l| l.starts_with("filegate_queue_jobs{") && l.contains("state=\"dead\""))
        .unwrap_or_else(|| panic!("no dead-letter gauge in {metrics}"));
    assert!(dead.ends_with(" 1"), "{dead}");
}

/// The long-running worker (as `filegate serve` runs it): many uploads at once all reach
/// `ready` with their own sha256, and a shutdown leaves no job behind, neither queued nor
/// leased (finished jobs are completed in batches, and the last batch is flushed on the
/// way out).
#[tokio::test]
async fn a_running_worker_processes_many_files_and_stops_with_nothing_left() {
    let app = TestApp::spawn().await;
    let mut uploads = Vec::new();
    for i in 0..40u8 {
        let bytes = pattern(1000 + usize::from(i), u64::from(i));
        let file = app
            .client
            .upload_bytes(
                "default",
                &format!("batch/{i}.bin"),
                "application/octet-stream",
                Bytes::from(bytes.clone()),
            )
            .await
            .expect("upload");
        uploads.push((file.id, bytes));
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.worker.clone().run(stop.clone()));

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    for (id, bytes) in &uploads {
        wait_for_status(&app, id, "ready", deadline).await;
        let file = app.client.get_file(id).await.expect("get");
        assert_eq!(file.sha256.as_deref(), Some(sha256_hex(bytes).as_str()));
    }
    // The events announcing `ready` may still be running: wait for an empty queue.
    loop {
        let stats = app.services.queue.stats().await.expect("stats");
        if stats.queued == 0 && stats.running == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "jobs left: {stats:?}");
        tokio::time::sleep(POLL).await;
    }

    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the worker stops promptly")
        .expect("the worker task ends cleanly");
    let stats = app.services.queue.stats().await.expect("stats");
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 0));
    assert_eq!(app.run_jobs().await, 0, "nothing runs twice");
}

const POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// Waits until the file has `status`, failing at `deadline`.
async fn wait_for_status(app: &TestApp, id: &str, status: &str, deadline: tokio::time::Instant) {
    loop {
        let seen = app.client.file_status(id).await.expect("status").status;
        if seen == status {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} stuck in {seen}");
        tokio::time::sleep(POLL).await;
    }
}

/// `workers.streams` bounds the jobs that stream stored bytes (here one, already taken as by
/// another big file being read): a big file waits for a turn, still `uploaded`, while the
/// small files behind it are processed; it goes on as soon as the turn is free.
#[tokio::test]
async fn small_files_flow_past_a_big_file_waiting_for_a_stream_turn() {
    let app = TestApp::spawn_with(|c| c.workers.streams = 1).await;
    let taken = app
        .services
        .stream_turns
        .clone()
        .acquire_owned()
        .await
        .expect("the turn");
    let upload = |path: &'static str, bytes: Vec<u8>| {
        let client = app.client.clone();
        async move {
            client
                .upload_bytes("default", path, "application/octet-stream", Bytes::from(bytes))
                .await
                .expect("upload")
        }
    };
    let big_bytes = pattern(MIB, 31);
    let big = upload("big.bin", big_bytes.clone()).await;
    let mut small = Vec::new();
    for (i, path) in ["a.txt", "b.txt", "c.txt"].into_iter().enumerate() {
        small.push(upload(path, pattern(1000, i as u64)).await);
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.worker.clone().run(stop.clone()));

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    for file in &small {
        wait_for_status(&app, &file.id, "ready", deadline).await;
    }
    assert_eq!(
        app.client.file_status(&big.id).await.expect("status").status,
        "uploaded",
        "the big file waits for a turn"
    );
    let turns_free = |metrics: String| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("filegate_stream_turns_free ").map(str::to_owned))
            .unwrap_or_else(|| panic!("no stream-turn gauge in {metrics}"))
    };
    assert_eq!(turns_free(app.anonymous.metrics().await.expect("metrics")), "0");
    drop(taken);
    wait_for_status(&app, &big.id, "ready", deadline).await;
    // The job gives its turn back as it returns, just after the file is `ready`.
    while turns_free(app.anonymous.metrics().await.expect("metrics")) != "1" {
        assert!(tokio::time::Instant::now() < deadline, "the turn is never given back");
        tokio::time::sleep(POLL).await;
    }
    let file = app.client.get_file(&big.id).await.expect("get");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&big_bytes).as_str()));

    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the worker stops promptly")
        .expect("the worker task ends cleanly");
}

/// Scale-out: the gateway that completes an upload commits it (and its processing job), then
/// deletes the file's entry from the shared cache. A worker on another machine can claim the
/// job in between and find the entry still saying `pending`. It must still process the file,
/// not take it as "nothing to do" and leave it `uploaded` for good.
#[tokio::test]
async fn a_worker_processes_a_file_the_shared_cache_still_shows_pending() {
    use filegate_core::ports::Cache as _;

    let Some(url) = redis_url() else { return };
    let prefix = format!("stale-{}:", uuid::Uuid::new_v4().simple());
    let cache_url = with_key_prefix(&url, &prefix);
    let app = TestApp::spawn_with(move |config| config.cache = Some(cache_url)).await;
    let bytes = pattern(5000, 23);
    let file = app
        .client
        .upload_bytes(
            "default",
            "stale/a.bin",
            "application/octet-stream",
            Bytes::from(bytes.clone()),
        )
        .await
        .expect("upload");
    assert_eq!(file.status, "uploaded");

    // The entry a lagging gateway's invalidation has not removed yet: the file as it was
    // while its bytes were on their way.
    let tenant = filegate_core::domain::TenantId::default_tenant();
    let id: filegate_core::domain::FileId = file.id.parse().expect("a file id");
    let mut stale = app
        .services
        .store
        .get_file(&tenant, id)
        .await
        .expect("store reachable")
        .expect("the file exists");
    stale.status = filegate_core::domain::FileStatus::Pending;
    let redis =
        filegate_redis::Redis::open(&filegate_redis::RedisConfig::new(&url).with_prefix(&prefix)).expect("Redis URL");
    let key = filegate_memory::file_key(&tenant, id);
    redis
        .cache()
        .set(
            &key,
            &serde_json::to_vec(&stale).expect("JSON"),
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("Redis reachable");
    assert_eq!(
        app.client.file_status(&file.id).await.expect("status").status,
        "pending"
    );

    app.run_jobs().await;
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{:?}", file.status_reason);
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
}
