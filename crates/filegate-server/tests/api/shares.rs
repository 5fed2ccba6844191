//! Share links: a share's whole life on a clock the test moves (created, opened as a page and
//! as JSON, viewed, downloaded, counted, audited, expired), revocation, download limits (also
//! under concurrent requests), passwords and their lockout, files that may not be served,
//! and tenancy.

use filegate_core::ports::Effects;
use std::sync::Arc;

use chrono::Duration;
use filegate_client::api::{AuditFilter, CreateShare, CreatedShareView, FileView};
use filegate_core::domain::{FileId, FileStatus, TenantId};
use filegate_core::ports::{Clock as _, ManualClock};
use reqwest::{Method, Response, header};

use crate::common::TestApp;
use crate::support::{api_error, err, json_of};

pub const BYTES: &[u8] = b"ward A, November: 17 admissions\n";

/// An anonymous request to `/s/{token}{suffix}` with `headers`.
pub async fn link(app: &TestApp, method: Method, token: &str, suffix: &str, headers: &[(&str, &str)]) -> Response {
    let mut rb = app
        .anonymous
        .http()
        .request(method, format!("{}/s/{token}{suffix}", app.base_url));
    for (name, value) in headers {
        rb = rb.header(*name, *value);
    }
    rb.send().await.expect("request sent")
}

pub async fn get(app: &TestApp, token: &str, suffix: &str, headers: &[(&str, &str)]) -> Response {
    link(app, Method::GET, token, suffix, headers).await
}

/// Status and error code of a refused link request.
pub async fn refused(resp: Response) -> (u16, String) {
    let (status, _, body) = json_of(resp).await;
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

pub async fn ready(app: &TestApp, path: &str) -> FileView {
    app.ready_file(&app.client, "default", path, BYTES).await
}

pub async fn share(app: &TestApp, file: &FileView, request: CreateShare) -> CreatedShareView {
    app.client.create_share(&file.id, &request).await.expect("create share")
}

pub fn download() -> CreateShare {
    CreateShare {
        permission: Some("download".into()),
        ..CreateShare::default()
    }
}

async fn body(resp: Response) -> Vec<u8> {
    assert_eq!(resp.status(), 200, "{resp:?}");
    resp.bytes().await.expect("body").to_vec()
}

/// Every byte the SQLite database holds right now (main file and write-ahead log).
pub fn database_bytes(app: &TestApp) -> Vec<u8> {
    ["filegate.db", "filegate.db-wal"]
        .iter()
        .flat_map(|f| std::fs::read(app.data_dir.path().join(f)).unwrap_or_default())
        .collect()
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_share_lives_from_its_link_to_its_expiry() {
    let clock = Arc::new(ManualClock::starting_now());
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let file = ready(&app, "wards/<img src=x onerror=alert(1)>.csv").await;
    let created = share(
        &app,
        &file,
        CreateShare {
            expires_in: Some(3600),
            ..download()
        },
    )
    .await;
    assert_eq!(created.token.len(), 43, "256 random bits, base64url");
    assert_eq!(created.url, format!("{}/s/{}", app.base_url, created.token));
    assert_eq!(created.qr_url, format!("{}/qr.svg", created.url));
    assert_eq!(created.share.status, "active");
    assert_eq!(created.share.expires_at, clock.now() + Duration::seconds(3600));
    assert!(
        !contains(&database_bytes(&app), &created.token),
        "only the token's hash is stored"
    );
    let token = &created.token;

    // A program reads the share as JSON; a person gets the page.
    let info = app.anonymous.shared_file(token).await.expect("json view");
    assert_eq!(
        (info.name.as_str(), info.size),
        ("<img src=x onerror=alert(1)>.csv", BYTES.len() as u64)
    );
    assert_eq!(info.permission, "download");
    assert_eq!(info.download_url, Some(format!("{}/download", created.url)));
    assert!(!info.password_required);
    let page = get(&app, token, "", &[("accept", "text/html")]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[header::REFERRER_POLICY], "no-referrer");
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;.csv") && !html.contains("<img"),
        "escaped: {html}"
    );
    assert!(html.contains(&format!("href=\"{token}/download\"")), "{html}");

    // The bytes, as an attachment and inline (in a sandbox).
    let downloaded = get(&app, token, "/download", &[]).await;
    assert!(
        downloaded.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(body(downloaded).await, BYTES);
    let viewed = get(&app, token, "/view", &[]).await;
    assert!(
        viewed.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert!(
        viewed.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(body(viewed).await, BYTES);
    let range = get(&app, token, "/download", &[("range", "bytes=0-3")]).await;
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.unwrap(), &BYTES[..4]);
    let head = link(&app, Method::HEAD, token, "/download", &[]).await;
    assert_eq!(head.status(), 200, "a HEAD answers the headers and counts nothing");
    assert_eq!(head.headers()[header::CONTENT_LENGTH], BYTES.len().to_string().as_str());

    // Every access is counted and audited in the share's name, from where it came.
    clock.advance(Duration::seconds(10));
    get(&app, token, "", &[]).await;
    let listed = app.client.list_shares(&file.id).await.expect("list").items;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].access_count, listed[0].download_count), (6, 3));
    assert_eq!(listed[0].last_accessed_at, Some(clock.now()));
    let trail = app
        .client
        .audit(&AuditFilter {
            action: Some("share.*".into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
        .items;
    let accessed: Vec<_> = trail.iter().filter(|r| r.action == "share.accessed").collect();
    assert_eq!(accessed.len(), 6);
    assert!(
        accessed
            .iter()
            .all(|r| r.actor == format!("share:{}", created.share.id))
    );
    assert!(accessed.iter().all(|r| r.client_ip.as_deref() == Some("127.0.0.1")));
    assert_eq!(trail.iter().filter(|r| r.action == "share.created").count(), 1);

    // One second before its expiry it opens; at its expiry it is refused, with its own code.
    clock.set(created.share.expires_at - Duration::seconds(1));
    assert_eq!(get(&app, token, "/download", &[]).await.status(), 200);
    clock.advance(Duration::seconds(1));
    for suffix in ["", "/download", "/view", "/qr.png"] {
        let answer = get(&app, token, suffix, &[("accept", "application/json")]).await;
        assert_eq!(refused(answer).await, err(403, "share-expired"), "{suffix}");
    }
    let page = get(&app, token, "", &[("accept", "text/html")]).await;
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("This link has expired"));
    let listed = app.client.list_shares(&file.id).await.expect("list").items;
    assert_eq!(listed[0].status, "expired");
}

#[tokio::test]
async fn revoked_exhausted_and_unknown_links_are_refused_each_with_its_code() {
    let app = TestApp::spawn().await;
    let file = ready(&app, "q3.pdf").await;

    let limited = share(
        &app,
        &file,
        CreateShare {
            max_downloads: Some(2),
            ..download()
        },
    )
    .await;
    assert_eq!(limited.share.downloads_left, Some(2));
    assert_eq!(body(get(&app, &limited.token, "/download", &[]).await).await, BYTES);
    assert_eq!(
        body(get(&app, &limited.token, "/view", &[]).await).await,
        BYTES,
        "a view is a fetch of the bytes"
    );
    for suffix in ["/download", "/view", ""] {
        let answer = get(&app, &limited.token, suffix, &[("accept", "application/json")]).await;
        assert_eq!(refused(answer).await, err(403, "share-exhausted"), "{suffix}");
    }

    let revocable = share(&app, &file, download()).await;
    assert_eq!(get(&app, &revocable.token, "/download", &[]).await.status(), 200);
    let revoked = app.client.revoke_share(&revocable.share.id).await.expect("revoke");
    assert_eq!(revoked.status, "revoked");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        app.client
            .revoke_share(&revocable.share.id)
            .await
            .expect("again")
            .revoked_at,
        revoked.revoked_at,
        "revoking twice changes nothing"
    );
    let answer = get(&app, &revocable.token, "/download", &[]).await;
    assert_eq!(refused(answer).await, err(403, "share-revoked"));

    // A view share shows the file but does not hand it out as a download.
    let view_only = share(&app, &file, CreateShare::default()).await;
    assert_eq!(view_only.share.permission, "view");
    assert_eq!(
        app.anonymous.shared_file(&view_only.token).await.unwrap().download_url,
        None
    );
    let answer = get(&app, &view_only.token, "/download", &[]).await;
    assert_eq!(refused(answer).await, err(403, "share-view-only"));
    assert_eq!(body(get(&app, &view_only.token, "/view", &[]).await).await, BYTES);

    // Unknown and malformed tokens say nothing more than "not found".
    let unknown = "A".repeat(43);
    for token in [unknown.as_str(), "nope", "..%2F..%2Fetc"] {
        let answer = get(&app, token, "/download", &[]).await;
        assert_eq!(refused(answer).await, err(404, "not-found"), "{token}");
    }
    assert_eq!(
        api_error(app.client.revoke_share("00000000-0000-0000-0000-000000000000").await),
        err(404, "not-found")
    );
    let bad_requests = [
        CreateShare {
            permission: Some("edit".into()),
            ..CreateShare::default()
        },
        CreateShare {
            expires_in: Some(10),
            ..CreateShare::default()
        },
        CreateShare {
            expires_in: Some(400 * 86_400),
            ..CreateShare::default()
        },
        CreateShare {
            max_downloads: Some(0),
            ..CreateShare::default()
        },
        CreateShare {
            recipient_email: Some("not an address".into()),
            ..CreateShare::default()
        },
        CreateShare {
            password: Some(String::new()),
            ..CreateShare::default()
        },
    ];
    for (request, code) in bad_requests.iter().zip([
        "invalid-permission",
        "invalid-expiry",
        "invalid-expiry",
        "invalid-max-downloads",
        "invalid-email",
        "invalid-password",
    ]) {
        assert_eq!(
            api_error(app.client.create_share(&file.id, request).await),
            err(400, code)
        );
    }
}

#[tokio::test]
async fn concurrent_downloads_never_pass_the_limit() {
    let app = TestApp::spawn().await;
    let file = ready(&app, "hot.bin").await;
    let created = share(
        &app,
        &file,
        CreateShare {
            max_downloads: Some(3),
            ..download()
        },
    )
    .await;
    let requests = (0..12).map(|_| get(&app, &created.token, "/download", &[]));
    let statuses: Vec<u16> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 9, "{statuses:?}");
    let listed = app.client.list_shares(&file.id).await.unwrap().items;
    assert_eq!(listed[0].download_count, 3);
    assert_eq!(listed[0].status, "exhausted");
}

#[tokio::test]
async fn a_password_guards_the_bytes_and_repeated_wrong_ones_lock_the_share_for_a_while() {
    let clock = Arc::new(ManualClock::starting_now());
    let app = TestApp::spawn_with_clock(
        |c| {
            c.shares.password_attempts = 3;
            c.shares.lockout_secs = 60;
        },
        clock.clone(),
    )
    .await;
    let file = ready(&app, "salaries.xlsx").await;
    let created = share(
        &app,
        &file,
        CreateShare {
            password: Some("correct horse".into()),
            ..download()
        },
    )
    .await;
    assert!(created.share.password_required);
    assert!(
        !contains(&database_bytes(&app), "correct horse"),
        "stored as an Argon2 hash only"
    );
    let token = &created.token;
    assert!(app.anonymous.shared_file(token).await.unwrap().password_required);
    let html = get(&app, token, "", &[]).await.text().await.unwrap();
    assert!(html.contains("type=\"password\""), "the page asks for it: {html}");

    let answer = get(&app, token, "/download", &[]).await;
    assert_eq!(refused(answer).await, err(403, "share-password-required"));
    let with = |p: &'static str| [("x-share-password", p)];
    assert_eq!(
        body(get(&app, token, "/download", &with("correct horse")).await).await,
        BYTES
    );

    // Three wrong guesses are answered as such; the lock that follows refuses even the right one.
    for _ in 0..3 {
        let answer = get(&app, token, "/download", &with("Tr0ub4dor&3")).await;
        assert_eq!(refused(answer).await, err(403, "share-password-invalid"));
    }
    let locked = get(&app, token, "/download", &with("correct horse")).await;
    assert_eq!(locked.headers()[header::RETRY_AFTER], "60");
    assert_eq!(refused(locked).await, err(429, "share-locked"));
    clock.advance(Duration::seconds(59));
    let still = get(&app, token, "/view", &with("correct horse")).await;
    assert_eq!(refused(still).await, err(429, "share-locked"));

    // After the lock, one more wrong guess locks it for twice as long.
    clock.advance(Duration::seconds(1));
    let answer = get(&app, token, "/download", &with("guess")).await;
    assert_eq!(refused(answer).await, err(403, "share-password-invalid"));
    let locked = get(&app, token, "/download", &with("correct horse")).await;
    assert_eq!(locked.headers()[header::RETRY_AFTER], "120");
    clock.advance(Duration::seconds(120));

    // The page's form posts the password; the right one opens and clears the count.
    let form = app
        .anonymous
        .http()
        .post(format!("{}/download", created.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("password=correct+horse")
        .send()
        .await
        .unwrap();
    assert_eq!(body(form).await, BYTES);
    let answer = get(&app, token, "/download", &with("wrong")).await;
    assert_eq!(refused(answer).await, err(403, "share-password-invalid"), "not locked");

    // A person who mistypes gets the form again.
    let retry = app
        .anonymous
        .http()
        .post(format!("{}/view", created.url))
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("password=typo")
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 403);
    let html = retry.text().await.unwrap();
    assert!(
        html.contains("Wrong password") && html.contains("action=\"view\""),
        "{html}"
    );

    let failures = app
        .client
        .audit(&AuditFilter {
            action: Some("share.password_failed".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(failures.len(), 6);
}

#[tokio::test]
async fn files_that_are_deleted_quarantined_or_not_ready_are_not_served_through_a_share() {
    let app = TestApp::spawn().await;
    let file = ready(&app, "scan.pdf").await;
    let created = share(&app, &file, download()).await;
    let token = &created.token;

    app.client.delete_file(&file.id).await.expect("delete");
    for suffix in ["", "/download", "/view"] {
        let answer = get(&app, token, suffix, &[("accept", "application/json")]).await;
        assert_eq!(refused(answer).await, err(404, "not-found"), "{suffix}");
    }
    app.client.restore_file(&file.id).await.expect("restore");
    assert_eq!(body(get(&app, token, "/download", &[]).await).await, BYTES);

    // Quarantined after the share was made (as a rescan would): never served.
    let tenant = TenantId::default_tenant();
    let stored = app
        .services
        .store
        .get_file(&tenant, FileId::parse(&file.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut quarantined = stored.clone();
    quarantined.status = FileStatus::Quarantined;
    app.services
        .store
        .update_file(&quarantined, &[stored.status], &Effects::NONE)
        .await
        .unwrap();
    let answer = get(&app, token, "/download", &[]).await;
    assert_eq!(refused(answer).await, err(409, "file-not-ready"));

    // A file still being uploaded may be shared; its link opens once it is ready.
    let pending = app
        .client
        .create_upload(&filegate_client::api::CreateUpload {
            bucket: "default".into(),
            path: "later.bin".into(),
            size: 3,
            ..Default::default()
        })
        .await
        .expect("create upload");
    let early = app
        .client
        .create_share(&pending.file_id, &download())
        .await
        .expect("share a pending file");
    let answer = get(&app, &early.token, "", &[("accept", "application/json")]).await;
    assert_eq!(refused(answer).await, err(409, "file-not-ready"));
}

#[tokio::test]
async fn shares_belong_to_their_tenant_and_need_a_writer() {
    let app = TestApp::spawn().await;
    let file = ready(&app, "ours.txt").await;
    let created = share(&app, &file, download()).await;
    let other = app.tenant("other").await;
    assert_eq!(
        api_error(other.create_share(&file.id, &download()).await),
        err(404, "not-found")
    );
    assert_eq!(api_error(other.list_shares(&file.id).await), err(404, "not-found"));
    assert_eq!(
        api_error(other.revoke_share(&created.share.id).await),
        err(404, "not-found")
    );
    let reader = app.client_as("default", "reader");
    assert_eq!(
        api_error(reader.create_share(&file.id, &download()).await),
        err(403, "forbidden")
    );
    assert_eq!(reader.list_shares(&file.id).await.unwrap().items.len(), 1);
    assert_eq!(
        api_error(app.anonymous.create_share(&file.id, &download()).await),
        err(401, "unauthenticated")
    );
    // The link still works for anyone: it is the credential.
    assert_eq!(get(&app, &created.token, "/download", &[]).await.status(), 200);
}
