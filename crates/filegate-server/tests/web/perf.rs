//! The web app's weight and how soon a folder of 10,000 files shows its first rows, measured
//! in the browser test's Chromium on loopback. A measurement, not a test of speed: it asserts
//! nothing about time and is `#[ignore]`d; run it by hand and copy what it prints into
//! bench/REPORT.md ("Web app"):
//!
//! ```sh
//! cargo nextest run -p filegate-server --test web --run-ignored only --no-capture web_app_weight
//! ```

use futures::StreamExt as _;

use crate::common::TestApp;
use crate::{Browser, run_story};

const FILES: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement for bench/REPORT.md, not a test"]
async fn web_app_weight_and_time_to_first_rows() {
    let Some(browser) = Browser::from_env() else {
        return;
    };
    // 10,000 creates from one principal are more than its default rate allows.
    let app = TestApp::spawn_with(|c| c.rate_limit.requests = 0).await;
    // The folder's files: pending uploads are listed like any other file, and creating them
    // is the quickest way through the API to a folder this size.
    let started = std::time::Instant::now();
    let created = futures::stream::iter(0..FILES)
        .map(|i| {
            let client = app.client.clone();
            async move {
                let request = filegate_api::CreateUpload {
                    bucket: "default".into(),
                    path: format!("ward/scan-{i:05}.pdf"),
                    size: 1000 + i as u64,
                    content_type: Some("application/pdf".into()),
                    ..Default::default()
                };
                client.create_upload(&request).await.map(|_| ())
            }
        })
        .buffer_unordered(16)
        .filter(|r| futures::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(created, FILES, "every file created");
    println!("seeded {FILES} files in {:.1} s", started.elapsed().as_secs_f64());

    // What the browser may ever load: every embedded asset, as sent (gzipped when smaller).
    let shell = filegate_web::index();
    let gz = |a: &filegate_web::Asset| a.gzip.map_or(a.body.len(), <[u8]>::len);
    let assets: usize = filegate_web::ASSETS
        .iter()
        .filter(|a| a.path != "index.html")
        .map(gz)
        .sum();
    let raw: usize = filegate_web::ASSETS.iter().map(|a| a.body.len()).sum();
    println!(
        "weight: shell {} B gzipped, assets {} B gzipped ({} files), everything {} B uncompressed",
        gz(shell),
        assets,
        filegate_web::ASSETS.len() - 1,
        raw
    );

    let env = [
        ("WEB_BASE_URL", app.base_url.clone()),
        ("WEB_TOKEN", app.token_for("default", "reader", "web-perf")),
    ];
    let result = run_story(&browser, "perf", &env).await;
    println!("browser: {}", serde_json::to_string_pretty(&result).unwrap_or_default());
}
