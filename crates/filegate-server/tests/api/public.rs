//! Public buckets: a ready file of a public bucket has a stable unsigned URL with long cache
//! headers and its ETag, fit for a CDN; nothing else is reachable that way, and a refusal
//! never says which part was missing.

use bytes::Bytes;
use filegate_client::api::{BucketPolicyChange, CreateBucket};
use filegate_core::domain::{FileId, FileStatus, TenantId};
use filegate_core::ports::Effects;
use reqwest::{Response, header};

use crate::common::TestApp;
use crate::support::json_of;

async fn public_get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut rb = app.anonymous.http().get(format!("{}/p/{path}", app.base_url));
    for (name, value) in headers {
        rb = rb.header(*name, *value);
    }
    rb.send().await.expect("request sent")
}

async fn site_bucket(app: &TestApp) {
    app.client
        .create_bucket(&CreateBucket {
            name: "site".into(),
            public: Some(true),
            ..CreateBucket::default()
        })
        .await
        .expect("public bucket");
}

/// The same 404 for every refusal: nothing tells a private file from a missing one.
async fn hidden(resp: Response) {
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not-found");
    assert_eq!(body["error"]["message"], "file not found");
}

#[tokio::test]
async fn a_public_file_has_a_stable_url_with_cdn_headers() {
    let app = TestApp::spawn_with(|c| c.public_buckets.max_age_secs = 604_800).await;
    site_bucket(&app).await;
    let v1 = app
        .ready_file(&app.client, "site", "img/logo.png", b"version one")
        .await;
    let etag = format!("\"{}\"", v1.etag.as_deref().expect("an etag"));

    let resp = public_get(&app, "default/site/img/logo.png", &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "public, max-age=604800");
    assert_eq!(resp.headers()[header::ETAG], etag.as_str());
    assert!(
        resp.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert!(
        resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(resp.bytes().await.unwrap(), "version one");

    // A CDN revalidates with the ETag, and asks for ranges.
    let revalidated = public_get(&app, "default/site/img/logo.png", &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()[header::ETAG], etag.as_str());
    assert_eq!(revalidated.headers()[header::CACHE_CONTROL], "public, max-age=604800");
    let range = public_get(&app, "default/site/img/logo.png", &[("range", "bytes=8-")]).await;
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.unwrap(), "one");
    let past_the_end = public_get(&app, "default/site/img/logo.png", &[("range", "bytes=100-")]).await;
    assert_eq!(past_the_end.status(), 416);
    assert_eq!(past_the_end.headers()[header::CONTENT_RANGE], "bytes */11");

    // A new upload to the path: once ready, the same URL serves it, under a new ETag.
    let v2 = app
        .client
        .upload_bytes("site", "img/logo.png", "image/png", Bytes::from_static(b"version two!"))
        .await
        .expect("upload");
    let still = public_get(&app, "default/site/img/logo.png", &[]).await;
    assert_eq!(
        still.bytes().await.unwrap(),
        "version one",
        "until the new one is ready"
    );
    app.run_jobs().await;
    let resp = public_get(&app, "default/site/img/logo.png", &[("if-none-match", &etag)]).await;
    assert_eq!(resp.status(), 200, "the old ETag no longer matches");
    assert_ne!(resp.headers()[header::ETAG], etag.as_str());
    assert_eq!(resp.bytes().await.unwrap(), "version two!");

    // HEAD answers the headers alone.
    let head = app
        .anonymous
        .http()
        .head(format!("{}/p/default/site/img/logo.png", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "12");
    let v2 = app.client.get_file(&v2.id).await.unwrap();
    assert_eq!(
        head.headers()[header::ETAG],
        format!("\"{}\"", v2.etag.unwrap()).as_str()
    );
}

#[tokio::test]
async fn private_missing_and_unready_files_are_never_reachable_without_credentials() {
    let app = TestApp::spawn().await;
    site_bucket(&app).await;
    app.ready_file(&app.client, "default", "private/report.pdf", b"secret")
        .await;
    let quarantined = app.ready_file(&app.client, "site", "bad.exe", b"virus").await;
    app.ready_file(&app.client, "site", "ok.txt", b"fine").await;
    app.client
        .upload_bytes("site", "pending.txt", "text/plain", Bytes::from_static(b"not yet"))
        .await
        .expect("upload, not processed");

    let tenant = TenantId::default_tenant();
    let id = FileId::parse(&quarantined.id).unwrap();
    let stored = app.services.store.get_file(&tenant, id).await.unwrap().unwrap();
    let mut next = stored.clone();
    next.status = FileStatus::Quarantined;
    app.services
        .store
        .update_file(&next, &[stored.status], &Effects::NONE)
        .await
        .unwrap();

    let other = app.tenant("other").await;
    other
        .create_bucket(&CreateBucket {
            name: "site".into(),
            public: Some(true),
            ..CreateBucket::default()
        })
        .await
        .unwrap();

    for path in [
        "default/default/private/report.pdf",
        "default/site/private/report.pdf",
        "default/site/bad.exe",
        "default/site/pending.txt",
        "default/site/nothing.txt",
        "default/nobucket/ok.txt",
        "other/site/ok.txt",
        "nobody/site/ok.txt",
        "default/site/..%2Fdefault%2Fprivate%2Freport.pdf",
        "DEFAULT/site/ok.txt",
    ] {
        hidden(public_get(&app, path, &[]).await).await;
    }
    assert_eq!(public_get(&app, "default/site/ok.txt", &[]).await.status(), 200);

    // Made private again: its URLs stop at once.
    app.client
        .update_bucket(
            "site",
            &BucketPolicyChange {
                public: Some(false),
                ..BucketPolicyChange::default()
            },
        )
        .await
        .unwrap();
    hidden(public_get(&app, "default/site/ok.txt", &[]).await).await;
}
