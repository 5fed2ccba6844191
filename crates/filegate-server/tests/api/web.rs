//! The web app as the binary serves it: the shell at `/` and every `/app/…` URL with its
//! Content-Security-Policy, the assets under their content-hashed directory cached for good,
//! gzip when asked, and the API's JSON 404s untouched. `[web] enabled = false` serves none
//! of it. (What the app does in a browser: `tests/web`.)

use reqwest::header;

use crate::common::TestApp;

fn http() -> reqwest::Client {
    // No automatic decompression: the test looks at what was sent.
    reqwest::Client::builder().build().expect("client")
}

async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", app.base_url))
        .send()
        .await
        .expect("request")
}

fn header(resp: &reqwest::Response, name: header::HeaderName) -> &str {
    resp.headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The shell's asset directory, as the shell names it.
fn asset_dir(html: &str) -> String {
    let start = html.find("/assets/").expect("the shell loads assets");
    let rest = &html[start + "/assets/".len()..];
    format!("/assets/{}", &rest[..rest.find('/').expect("a directory")])
}

#[tokio::test]
async fn every_app_url_answers_with_the_shell_and_its_strict_policy() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/app",
        "/app/",
        "/app/b/default/reports/2026/",
        "/app/f/01JX",
        "/app/search?q=ward",
        "/app/x",
    ] {
        let resp = fetch(&app, path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            header(&resp, header::CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(header(&resp, header::CACHE_CONTROL), "no-cache", "{path}");
        let csp = header(&resp, header::CONTENT_SECURITY_POLICY).to_owned();
        assert!(
            csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert_eq!(header(&resp, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        let html = resp.text().await.unwrap();
        assert!(
            html.contains("<script type=\"module\" src=\"/assets/"),
            "{path}: {html}"
        );
    }
}

#[tokio::test]
async fn assets_live_under_their_hash_for_a_year_and_the_shell_is_revalidated() {
    let app = TestApp::spawn().await;
    let shell = fetch(&app, "/app/").await;
    let etag = header(&shell, header::ETAG).to_owned();
    let dir = asset_dir(&shell.text().await.unwrap());

    let js = fetch(&app, &format!("{dir}/js/main.js")).await;
    assert_eq!(js.status(), 200);
    assert_eq!(
        header(&js, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&js, header::CONTENT_TYPE), "text/javascript; charset=utf-8");
    assert!(header(&js, header::CONTENT_SECURITY_POLICY).starts_with("default-src 'self'"));
    let css = fetch(&app, &format!("{dir}/app.css")).await;
    assert_eq!(header(&css, header::CONTENT_TYPE), "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("prefers-color-scheme: dark"));

    // Another version's asset (an old page after an upgrade) and unknown names: JSON 404s.
    for path in [
        "/assets/0000000000000000/js/main.js".to_owned(),
        format!("{dir}/js/nothing.js"),
        format!("{dir}/index.html"),
    ] {
        let resp = fetch(&app, &path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(
            header(&resp, header::CONTENT_TYPE).starts_with("application/json"),
            "{path}"
        );
    }

    let again = http()
        .get(format!("{}/app/f/x", app.base_url))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "the same version: nothing to send again");
}

#[tokio::test]
async fn assets_come_gzipped_to_clients_that_take_gzip() {
    let app = TestApp::spawn().await;
    let dir = asset_dir(&fetch(&app, "/").await.text().await.unwrap());
    let url = format!("{}{dir}/app.css", app.base_url);
    let plain = http().get(&url).send().await.unwrap().bytes().await.unwrap();
    let zipped = http()
        .get(&url)
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&zipped, header::CONTENT_ENCODING), "gzip");
    assert_eq!(header(&zipped, header::VARY), "accept-encoding");
    let body = zipped.bytes().await.unwrap();
    assert!(body.len() < plain.len());
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
}

#[tokio::test]
async fn the_api_keeps_its_json_answers_beside_the_app() {
    let app = TestApp::spawn().await;
    for path in ["/v1/unknown", "/v1", "/nothing-here", "/s"] {
        let resp = fetch(&app, path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(
            header(&resp, header::CONTENT_TYPE).starts_with("application/json"),
            "{path}"
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not-found", "{path}");
    }
    let resp = fetch(&app, "/v1/files").await;
    assert_eq!(resp.status(), 401, "the API still wants its token");
}

#[tokio::test]
async fn the_app_can_be_turned_off() {
    let app = TestApp::spawn_with(|c| c.web.enabled = false).await;
    for path in ["/", "/app/", "/app/b/default/"] {
        let resp = fetch(&app, path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(
            header(&resp, header::CONTENT_TYPE).starts_with("application/json"),
            "{path}"
        );
    }
    assert_eq!(fetch(&app, "/healthz").await.status(), 200);
}
