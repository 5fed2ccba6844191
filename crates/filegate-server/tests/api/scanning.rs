//! The virus scan through a real clamd: EICAR is quarantined and no route serves it, a clean
//! file is ready with `scan: clean`, an unreachable clamd is retried (never "assume clean"),
//! a file over clamd's stream limit fails, and `scan` needs a configured scanner.

use bytes::Bytes;
use chrono::Utc;
use filegate_client::api::CreateBucket;
use filegate_core::ports::{BlobStore as _, Disposition, DownloadOptions};
use reqwest::Method;

use crate::common::TestApp;
use crate::engines::{EICAR, Relay, clamd_max, clamd_url, dead_port};
use crate::support::{api_error, err, json_of, pattern, raw};

async fn scanning_app(url: String) -> TestApp {
    TestApp::spawn_with(move |c| c.scanner.url = Some(url)).await
}

#[tokio::test]
async fn eicar_is_quarantined_and_no_route_serves_it() {
    let Some(url) = clamd_url() else { return };
    let app = scanning_app(url).await;
    // EICAR inside other bytes: what a real infected document looks like.
    let mut bytes = pattern(10_000, 3);
    bytes.splice(5000..5000, EICAR.iter().copied());
    let file = app
        .client
        .upload_bytes(
            "default",
            "in/report.bin",
            "application/octet-stream",
            Bytes::from(bytes),
        )
        .await
        .expect("upload");
    // The processing job and its events: uploaded, processing, quarantined.
    assert_eq!(app.run_jobs().await, 1 + 3);

    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "quarantined");
    let reason = file.status_reason.clone().expect("the signature is the reason");
    assert!(reason.to_lowercase().contains("eicar"), "{reason}");
    assert_eq!(file.processing.scan.as_deref(), Some("infected"));

    // Security staff find it in the audit trail, recorded once, by the pipeline.
    let trail = app
        .client
        .audit(&filegate_api::AuditFilter {
            file_id: Some(file.id.clone()),
            action: Some("file.quarantined".into()),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(trail.items.len(), 1, "{trail:?}");
    assert_eq!(trail.items[0].actor, "system:pipeline");
    assert_eq!(trail.items[0].details["signature"].as_str(), Some(reason.as_str()));

    let not_ready = err(409, "file-not-ready");
    assert_eq!(api_error(app.client.download_url(&file.id, None).await), not_ready);
    let content = raw(&app.client, Method::GET, &["v1", "files", &file.id, "content"]).await;
    assert_eq!(json_of(content).await.0, 409);
    let thumb = raw(&app.client, Method::GET, &["v1", "files", &file.id, "thumbnail"]).await;
    assert_eq!(json_of(thumb).await.0, 409);

    // A signed URL for the blob, made with the server's own key as if it had been handed
    // out: the gateway still refuses the bytes.
    let config = filegate_server::Config {
        data_dir: app.data_dir.path().to_owned(),
        ..Default::default()
    };
    let secret = filegate_server::secret::Secret::for_config(&config).expect("secret");
    let store = filegate_blobs::LocalBlobStore::open(
        app.data_dir.path().join("objects"),
        filegate_blobs::signing::UrlSigner::new(secret.derive(filegate_server::engines::URL_KEY_PURPOSE)),
        url::Url::parse(&app.base_url).expect("base url"),
    )
    .expect("store");
    let tenant = filegate_core::domain::TenantId::parse("default").expect("tenant");
    let id = filegate_core::domain::FileId::parse(&file.id).expect("id");
    let signed = store
        .presign_get(
            &filegate_core::domain::blob_key_for(&tenant, id),
            &DownloadOptions {
                disposition: Disposition::Attachment,
                filename: "report.bin".into(),
                content_type: filegate_core::domain::ContentType::octet_stream(),
            },
            Utc::now() + chrono::Duration::minutes(5),
        )
        .expect("signed URL");
    let answer = reqwest::get(&signed).await.expect("signed GET");
    let (status, _, body) = json_of(answer).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("file-not-ready")));
}

#[tokio::test]
async fn a_clean_file_is_ready_with_scan_clean() {
    let Some(url) = clamd_url() else { return };
    let app = scanning_app(url).await;
    let file = app
        .ready_file(&app.client, "default", "clean.bin", &pattern(200_000, 4))
        .await;
    assert_eq!(file.processing.scan.as_deref(), Some("clean"));
    let bucket = app.client.get_bucket("default").await.expect("bucket");
    assert!(bucket.stages.iter().any(|s| s == "scan"), "{:?}", bucket.stages);
    let (status, _, body) = json_of(raw(&app.anonymous, Method::GET, &["readyz"]).await).await;
    assert_eq!((status, body["checks"]["scanner"].as_str()), (200, Some("ok")));
}

#[tokio::test]
async fn an_unreachable_clamd_is_retried_and_the_file_waits() {
    let Some(upstream) = clamd_url() else { return };
    // clamd is "down": nothing listens where the gateway looks for it. The port stays
    // bound (not listening: connections are refused) so that no other test takes it
    // before clamd "comes back" on it below.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("a free port");
    let port = socket.local_addr().expect("its address").port();
    let app = TestApp::spawn_with(move |c| {
        c.scanner.url = Some(format!("tcp://127.0.0.1:{port}"));
        c.workers.backoff_base_secs = 0;
        c.workers.max_attempts = 10;
    })
    .await;
    let file = app
        .client
        .upload_bytes(
            "default",
            "waiting.bin",
            "application/octet-stream",
            Bytes::from(pattern(5000, 5)),
        )
        .await
        .expect("upload");
    // Run the processing job once: it fails and is put back, the file is not ready.
    let outcome = loop {
        match app.worker.run_next().await.expect("queue") {
            Some(filegate_core::usecases::pipeline::JobOutcome::Completed) => continue, // an event
            Some(other) => break other,
            None => panic!("the processing job did not run"),
        }
    };
    assert!(
        matches!(&outcome, filegate_core::usecases::pipeline::JobOutcome::Retried { error, .. } if error.contains("scanner")),
        "{outcome:?}"
    );
    assert_eq!(
        app.client.file_status(&file.id).await.expect("status").status,
        "processing"
    );
    assert_eq!(
        api_error(app.client.download_url(&file.id, None).await),
        err(409, "file-not-ready")
    );
    let (status, _, body) = json_of(raw(&app.anonymous, Method::GET, &["readyz"]).await).await;
    assert_eq!((status, body["checks"]["scanner"].as_str()), (503, Some("unavailable")));

    // clamd comes back on that port: the retry scans and the file is ready.
    let listener = socket.listen(128).expect("listen on the port");
    let upstream = upstream.trim_start_matches("tcp://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    app.run_jobs().await;
    let file = app.client.get_file(&file.id).await.expect("get");
    assert_eq!(
        (file.status.as_str(), file.processing.scan.as_deref()),
        ("ready", Some("clean"))
    );
}

#[tokio::test]
async fn a_scanner_that_never_answers_fails_the_file_never_passes_it() {
    if clamd_url().is_none() {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        c.scanner.url = Some(format!("tcp://127.0.0.1:{}", dead_port()));
        c.workers.backoff_base_secs = 0;
        c.workers.max_attempts = 3;
    })
    .await;
    let file = app
        .client
        .upload_bytes(
            "default",
            "never.bin",
            "application/octet-stream",
            Bytes::from(pattern(100, 6)),
        )
        .await
        .expect("upload");
    app.run_jobs().await;
    let status = app.client.file_status(&file.id).await.expect("status");
    assert_eq!(status.status, "failed");
    let reason = status.status_reason.unwrap_or_default();
    assert!(
        reason.contains("gave up after 3 attempts") && reason.contains("scanner"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_file_over_the_scanner_limit_fails_unscanned() {
    let (Some(url), Some(max)) = (clamd_url(), clamd_max()) else {
        return;
    };
    let app = scanning_app(url).await;
    let file = app
        .client
        .upload_bytes(
            "default",
            "big.bin",
            "application/octet-stream",
            Bytes::from(pattern(max + 512 * 1024, 7)),
        )
        .await
        .expect("upload");
    app.run_jobs().await;
    let status = app.client.file_status(&file.id).await.expect("status");
    assert_eq!(status.status, "failed");
    let reason = status.status_reason.unwrap_or_default();
    assert!(reason.starts_with("scan-too-large"), "{reason}");
}

#[tokio::test]
async fn scan_needs_a_configured_scanner() {
    let app = TestApp::spawn().await;
    let refused = app
        .client
        .create_bucket(&CreateBucket {
            name: "scanned".into(),
            stages: Some(vec!["verify".into(), "hash".into(), "scan".into()]),
            ..CreateBucket::default()
        })
        .await;
    assert_eq!(api_error(refused), err(400, "stage-unavailable"));
    // Without a scanner the default stages leave scan out, and a new bucket works.
    let bucket = app.bucket(&app.client, "plain").await;
    assert!(!bucket.stages.iter().any(|s| s == "scan"), "{:?}", bucket.stages);
    assert!(bucket.stages.iter().any(|s| s == "thumbnail"), "{:?}", bucket.stages);
}

/// A relay that holds connections, for the interrupted-worker test in `media.rs`.
pub async fn held_clamd() -> Option<std::sync::Arc<Relay>> {
    Some(Relay::start(&clamd_url()?, false).await)
}
