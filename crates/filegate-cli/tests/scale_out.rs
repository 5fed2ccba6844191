//! Scale-out, end to end with the real binary: two gateways (`serve --no-workers`) and two
//! workers (`filegate worker`) on one PostgreSQL database, one S3 server (s3s-fs, which
//! checks signatures), RabbitMQ and Redis. A few hundred uploads spread over both gateways,
//! one worker killed in the middle: every file reaches `ready` once with the right sha256,
//! and every event is published at least once, with an id consumers can dedupe by.
//!
//! Engines come from `FILEGATE_TEST_POSTGRES_URL`, `FILEGATE_TEST_AMQP_URL`,
//! `FILEGATE_TEST_REDIS_URL` and `FILEGATE_TEST_S3S_FS` (see `scripts/engines.sh`). Without
//! them the test is skipped, unless `CI=true`, where a missing engine fails it.

#[path = "scale_out/forms.rs"]
mod forms;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use filegate_client::Client;
use futures::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_filegate");
const FILES: usize = 300;

/// The engines' URLs, or `None` to skip (never under `CI=true`).
fn engines() -> Option<(String, String, String, String)> {
    let vars = [
        "FILEGATE_TEST_POSTGRES_URL",
        "FILEGATE_TEST_AMQP_URL",
        "FILEGATE_TEST_REDIS_URL",
        "FILEGATE_TEST_S3S_FS",
    ];
    let values: Vec<Option<String>> = vars
        .iter()
        .map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .collect();
    if let Some(missing) = vars.iter().zip(&values).find(|(_, v)| v.is_none()).map(|(n, _)| n) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{missing} is not set, and CI=true: engines are required"
        );
        eprintln!("skipping the scale-out test: {missing} is not set (scripts/engines.sh sets them)");
        return None;
    }
    let v: Vec<String> = values.into_iter().map(Option::unwrap_or_default).collect();
    Some((v[0].clone(), v[1].clone(), v[2].clone(), v[3].clone()))
}

/// A child process killed when the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `filegate <args>` with the shared engine environment; for `serve`, waits for the
/// address it prints.
fn filegate(args: &[&str], env: &BTreeMap<&str, String>, data_dir: &std::path::Path) -> (Proc, Option<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("FILEGATE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("filegate starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut address = None;
    if args[0] == "serve" {
        let mut said = Vec::new();
        loop {
            let Some(Ok(line)) = lines.next() else {
                panic!(
                    "`filegate {}` exited before listening:\n{}",
                    args.join(" "),
                    said.join("\n")
                );
            };
            if let Some(url) = line.strip_prefix("filegate: listening on ") {
                address = Some(url.trim().to_owned());
                break;
            }
            said.push(line);
        }
    }
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if std::env::var_os("TEST_LOG").is_some() {
                eprintln!("[filegate] {line}");
            }
        }
    });
    (Proc(child), address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_two_workers_one_killed_every_file_ready_once_every_event_published() {
    let Some((postgres, amqp, redis, s3s_fs)) = engines() else {
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let dir = tempfile::tempdir().unwrap();

    // A database of our own.
    let database = format!("fg_scale_{run}");
    let admin = sqlx::PgPool::connect(&postgres).await.expect("PostgreSQL reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&admin)
        .await
        .unwrap();
    let mut db_url = url::Url::parse(&postgres).unwrap();
    db_url.set_path(&database);

    // An S3 server of our own, with its bucket.
    let s3_port = free_port();
    let s3_root = dir.path().join("s3");
    std::fs::create_dir_all(s3_root.join("files")).unwrap();
    let _s3 = Proc(
        Command::new(&s3s_fs)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &s3_port.to_string(),
                "--access-key",
                "AKTEST",
                "--secret-key",
                "SKTEST",
            ])
            .arg(&s3_root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs starts"),
    );
    wait_for_port(s3_port);

    // Listen to the events before anything happens.
    let events_exchange = format!("fg_scale_{run}.events");
    let amqp_conn = lapin::Connection::connect(&amqp, lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ");
    let channel = amqp_conn.create_channel().await.unwrap();
    channel
        .exchange_declare(
            events_exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let events_queue = format!("fg_scale_{run}.observer");
    channel
        .queue_declare(
            events_queue.as_str().into(),
            QueueDeclareOptions {
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            events_queue.as_str().into(),
            events_exchange.as_str().into(),
            "file.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            events_queue.as_str().into(),
            "observer".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let mut queue_url = url::Url::parse(&amqp).unwrap();
    queue_url
        .query_pairs_mut()
        .append_pair("prefix", &format!("fg_scale_{run}"))
        .append_pair("events_exchange", &events_exchange);
    let secret = hex::encode(rand_bytes());
    let env = BTreeMap::from([
        ("FILEGATE_DATABASE", db_url.to_string()),
        (
            "FILEGATE_STORAGE",
            format!(
                "s3://files?endpoint=http://127.0.0.1:{s3_port}&region=us-east-1&path_style=true&access_key=AKTEST&secret_key=SKTEST"
            ),
        ),
        ("FILEGATE_QUEUE", queue_url.to_string()),
        ("FILEGATE_CACHE", format!("{redis}?prefix=fg_scale_{run}:")),
        ("FILEGATE_SECRET", secret.clone()),
        ("FILEGATE_WORKERS__LEASE_SECS", "5".to_owned()),
    ]);

    let (_g1, a1) = filegate(
        &["serve", "--no-workers", "--listen", "127.0.0.1:0"],
        &env,
        &dir.path().join("g1"),
    );
    let (_g2, a2) = filegate(
        &["serve", "--no-workers", "--listen", "127.0.0.1:0"],
        &env,
        &dir.path().join("g2"),
    );
    let (mut w1, _) = filegate(&["worker"], &env, &dir.path().join("w1"));
    let (_w2, _) = filegate(&["worker"], &env, &dir.path().join("w2"));

    let token = {
        let out = Command::new(BIN)
            .args(["token", "--role", "writer"])
            .env("FILEGATE_SECRET", &secret)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let first_gateway = a1.unwrap();
    let gateways = [
        Client::new(first_gateway.clone()).unwrap().with_token(&token),
        Client::new(a2.unwrap()).unwrap().with_token(&token),
    ];

    // Uploads over both gateways, no stickiness: each file is created on one and completed
    // through the other half the time.
    let mut expected = BTreeMap::new();
    let uploads = futures::stream::iter(0..FILES)
        .map(|i| {
            let client = gateways[i % 2].clone();
            async move {
                let bytes: Vec<u8> = (0..(1000 + i * 37)).map(|b| (b * 31 + i) as u8).collect();
                let file = client
                    .upload_bytes(
                        "default",
                        &format!("scale/{i}.bin"),
                        "application/octet-stream",
                        bytes.clone().into(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("upload {i}: {e}"));
                (file.id, hex::encode(Sha256::digest(&bytes)))
            }
        })
        .buffer_unordered(16);
    futures::pin_mut!(uploads);
    let mut done = 0;
    while let Some((id, sha)) = uploads.next().await {
        expected.insert(id, sha);
        done += 1;
        if done == FILES / 3 {
            // A worker dies mid-run, jobs in hand and all.
            w1.0.kill().unwrap();
        }
    }

    // Every file reaches `ready` with the right sha256 (polling a condition, with a deadline).
    let deadline = Instant::now() + Duration::from_secs(180);
    for (n, (id, sha)) in expected.iter().enumerate() {
        let file = gateways[n % 2]
            .wait_for_status(
                id,
                &["ready", "failed"],
                deadline.saturating_duration_since(Instant::now()),
            )
            .await
            .unwrap();
        assert_eq!(file.status, "ready", "{id}: {:?}", file.status_reason);
        assert_eq!(file.sha256.as_deref(), Some(sha.as_str()), "{id}");
    }

    forms::a_form_posted_again_after_ready_changes_nothing(&first_gateway, &token, &gateways[0]).await;

    // Every file's story was published: uploaded, processing, ready — each transition once
    // (one event id), however many times it was delivered.
    let mut seen: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let wanted = ["file.uploaded", "file.processing", "file.ready"];
    let complete = |seen: &BTreeMap<(String, String), BTreeSet<String>>| {
        expected.keys().all(|id| {
            wanted
                .iter()
                .all(|kind| seen.contains_key(&(id.clone(), (*kind).to_owned())))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !complete(&seen) {
        let delivery = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), consumer.next())
            .await
            .expect("all events arrived before the deadline")
            .expect("consumer open")
            .expect("delivery");
        let event: serde_json::Value = serde_json::from_slice(&delivery.data).expect("JSON event");
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .expect("message_id");
        assert_eq!(
            event["id"].as_str(),
            Some(message_id.as_str()),
            "message_id is the event id"
        );
        assert_eq!(
            delivery.routing_key.as_str(),
            event["type"].as_str().unwrap(),
            "routing key = event type"
        );
        let key = (
            event["file_id"].as_str().unwrap().to_owned(),
            event["type"].as_str().unwrap().to_owned(),
        );
        seen.entry(key).or_default().insert(message_id);
        delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    for id in expected.keys() {
        let ready = &seen[&(id.clone(), "file.ready".to_owned())];
        assert_eq!(
            ready.len(),
            1,
            "{id} became ready exactly once (one event id), got {ready:?}"
        );
    }

    drop(consumer);
    let _ = amqp_conn.close(0, "done".into()).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {database} WITH (FORCE)")))
        .execute(&admin)
        .await;
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, chunk) in uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .enumerate()
    {
        b[i] = *chunk;
    }
    b
}
