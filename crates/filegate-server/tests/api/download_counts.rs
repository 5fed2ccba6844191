//! Download counts: counted in memory, written in batches (by an explicit flush here, so
//! nothing waits on the periodic one), without touching the change feed; written at shutdown.

use chrono::Utc;
use filegate_client::ContentRequest;
use filegate_core::usecases::downloads;

use crate::common::TestApp;
use crate::support::pattern;

/// A server whose periodic flush never comes during a test: only explicit flushes count.
async fn app() -> TestApp {
    TestApp::spawn_with(|c| c.downloads.count_flush_secs = 24 * 3600).await
}

async fn count_of(app: &TestApp, id: &str) -> u64 {
    app.client.get_file(id).await.expect("get").download_count
}

#[tokio::test]
async fn downloads_are_counted_in_batches_without_a_change() {
    let app = app().await;
    let bytes = pattern(1000, 61);
    let file = app.ready_file(&app.client, "default", "popular.bin", &bytes).await;
    let other = app.ready_file(&app.client, "default", "other.bin", &bytes[..10]).await;
    let feed = app.client.changes(None, None).await.expect("changes").next_cursor;

    // Counted: three whole downloads, a range from the first byte, two signed URLs.
    let mut etag = None;
    for _ in 0..3 {
        let answer = app
            .client
            .content(&file.id, ContentRequest::default())
            .await
            .expect("content");
        assert_eq!(answer.status, 200);
        etag = answer.etag.clone();
    }
    let first_bytes = ContentRequest {
        range: Some("bytes=0-99".into()),
        ..ContentRequest::default()
    };
    assert_eq!(
        app.client.content(&file.id, first_bytes).await.expect("range").status,
        206
    );
    app.client.download_url(&file.id, None).await.expect("url");
    app.client.download_url(&file.id, None).await.expect("url");
    // Not counted: the rest of a transfer, and a copy the client already has.
    let rest = ContentRequest {
        range: Some("bytes=100-".into()),
        ..ContentRequest::default()
    };
    assert_eq!(app.client.content(&file.id, rest).await.expect("range").status, 206);
    let cached = ContentRequest {
        if_none_match: etag,
        ..ContentRequest::default()
    };
    assert!(
        app.client
            .content(&file.id, cached)
            .await
            .expect("304")
            .is_not_modified()
    );
    app.client
        .content(&other.id, ContentRequest::default())
        .await
        .expect("content");

    assert_eq!(
        count_of(&app, &file.id).await,
        0,
        "written in batches, not per download"
    );
    assert_eq!(app.services.downloads.pending_files(), 2);
    assert_eq!(downloads::flush(&app.services).await.expect("flush"), 2);
    assert_eq!(count_of(&app, &file.id).await, 6);
    assert_eq!(count_of(&app, &other.id).await, 1);
    assert_eq!(app.services.downloads.pending_files(), 0);

    // A download is not a change of the file: the feed did not move.
    let after = app.client.changes(Some(feed.as_str()), None).await.expect("changes");
    assert!(after.items.is_empty(), "{:?}", after.items);

    // Later downloads add up; a write of the file meanwhile does not reset the count.
    for _ in 0..4 {
        app.client
            .content(&file.id, ContentRequest::default())
            .await
            .expect("content");
    }
    let patch = filegate_client::api::PatchFile {
        path: Some("renamed.bin".into()),
        ..Default::default()
    };
    app.client.patch_file(&file.id, &patch).await.expect("rename");
    downloads::flush(&app.services).await.expect("flush");
    assert_eq!(count_of(&app, &file.id).await, 10);
    assert_eq!(downloads::flush(&app.services).await.expect("flush"), 0, "nothing left");
}

#[tokio::test]
async fn counts_are_written_at_shutdown() {
    let mut app = app().await;
    let file = app
        .ready_file(&app.client, "default", "last.bin", &pattern(100, 62))
        .await;
    for _ in 0..5 {
        app.client
            .content(&file.id, ContentRequest::default())
            .await
            .expect("content");
    }
    app.begin_shutdown();

    let tenant = filegate_core::domain::TenantId::default_tenant();
    let id = filegate_core::domain::FileId::parse(&file.id).expect("id");
    let deadline = Utc::now() + chrono::Duration::seconds(10);
    loop {
        let stored = app
            .services
            .store
            .get_file(&tenant, id)
            .await
            .expect("read")
            .expect("file");
        if stored.download_count == 5 {
            break;
        }
        assert!(Utc::now() < deadline, "the counts were not written at shutdown");
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
