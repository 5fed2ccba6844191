//! The web app in a real browser: Debian's headless Chromium, driven by selenium through
//! chromedriver (`story.py` beside this file), against a server this test starts on its own
//! port and data directory, with its workers running as in production. The story: a wrong
//! token then a right one, folders and breadcrumbs, two uploads (one of 12 MiB, its parts
//! sent in parallel), a file and a whole folder dropped on the page, followed to `ready`; a
//! failed file's badge with its reason, status and type filters, sorting, the grid with its
//! thumbnails; a 20 MiB upload interrupted by a reload after two of its five parts and
//! resumed (only the other three sent, the bytes compared here); two files downloaded as one
//! zip, a download compared byte for byte, a picture's panel (size, EXIF, detected type),
//! rename, share (the link opened anonymously, its QR code read back here from the page's
//! pixels), delete and restore, search with highlights, the type, date and size facets and
//! the zip of a whole search, dark and phone-width screenshots, a reader signed in with an
//! API key, offered nothing that writes — whom the server refuses anyway — and an admin who
//! sees a file's audit trail and download count.
//!
//! Every main screen is checked with axe-core in the page: no serious or critical WCAG 2.1
//! A/AA violation (contrast included), light, dark and at a phone's width.
//!
//! Needs `FILEGATE_TEST_CHROMIUM`, `FILEGATE_TEST_CHROMEDRIVER`,
//! `FILEGATE_TEST_SELENIUM_PYTHON` and `FILEGATE_TEST_AXE` (`scripts/browser.sh`, called by
//! `scripts/engines.sh`, installs and exports them). Without them the test skips, except under `CI=true`, where
//! it fails. Screenshots of each main screen land in
//! `$CARGO_TARGET_DIR/web-screenshots` (or the temp dir) for a reviewer to look at.

#[path = "../common/mod.rs"]
mod common;
// The pictures of the processing tests: a JPEG with EXIF, a decompression bomb.
#[path = "../api/engines.rs"]
#[allow(dead_code)]
mod engines;
// The identity provider's keys (real ES256), for the OpenID Connect sign-in.
#[path = "../jwks/idp.rs"]
#[allow(dead_code)]
mod idp;
mod oidc;
mod perf;

use std::path::PathBuf;
use std::time::Duration;

use common::TestApp;

struct Browser {
    chromium: String,
    chromedriver: String,
    python: String,
    axe: String,
}

impl Browser {
    fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (
            var("FILEGATE_TEST_CHROMIUM"),
            var("FILEGATE_TEST_CHROMEDRIVER"),
            var("FILEGATE_TEST_SELENIUM_PYTHON"),
            var("FILEGATE_TEST_AXE"),
        ) {
            (Some(chromium), Some(chromedriver), Some(python), Some(axe)) => Some(Self {
                chromium,
                chromedriver,
                python,
                axe,
            }),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true, and FILEGATE_TEST_CHROMIUM, FILEGATE_TEST_CHROMEDRIVER, \
                     FILEGATE_TEST_SELENIUM_PYTHON or FILEGATE_TEST_AXE is not set: the web app must be \
                     tested in a browser (scripts/browser.sh installs them)"
                );
                eprintln!("skipped: no browser (run scripts/browser.sh and export what it prints)");
                None
            }
        }
    }
}

fn screenshots_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    base.join("web-screenshots")
}

/// Decodes the QR code in a screenshot (a PNG of the page's pixels) to its text, as a
/// phone's camera would: black and white, whatever the scale the page drew it at.
fn read_qr(png: &std::path::Path) -> String {
    let shot = image::open(png).expect("the QR screenshot is an image").to_luma8();
    let scaled = image::imageops::resize(
        &shot,
        shot.width() * 3,
        shot.height() * 3,
        image::imageops::FilterType::Nearest,
    );
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(scaled.width() as usize, scaled.height() as usize, |x, y| {
            if scaled.get_pixel(x as u32, y as u32).0[0] < 128 {
                0
            } else {
                255
            }
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the screenshot");
    grids[0].decode().expect("the QR code decodes").1
}

/// Uploads a file and waits (with a deadline) until the server's own workers decided
/// `status` (`ready`, or `failed` for a file the pipeline refuses).
async fn seed(app: &TestApp, path: &str, content_type: &str, bytes: Vec<u8>, status: &str) {
    let file = app
        .client
        .upload_bytes("default", path, content_type, bytes::Bytes::from(bytes))
        .await
        .expect("upload");
    let settled = app
        .client
        .wait_until_processed(&file.id, Duration::from_secs(30))
        .await
        .expect("processed within 30 s");
    assert_eq!(settled.status, status, "{path}: {settled:?}");
}

/// The bytes of the live file at `path` in the default bucket.
async fn stored(app: &TestApp, path: &str) -> Vec<u8> {
    let list = app
        .client
        .list_files(&filegate_client::ListFiles {
            prefix: Some(path.to_owned()),
            ..Default::default()
        })
        .await
        .expect("list");
    let file = list
        .items
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} was not uploaded"));
    assert_eq!(file.status, "ready", "{path}");
    let content = app
        .client
        .content(&file.id, filegate_client::ContentRequest::default())
        .await
        .expect("content");
    content.bytes().await.expect("bytes").to_vec()
}

fn path(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs `story.py`'s story `name` in Chromium with `env` (and the browser's tools, the
/// screenshot directory and a result file), fails with its output unless every step passed,
/// and returns the JSON result it wrote.
async fn run_story(browser: &Browser, name: &str, env: &[(&str, String)]) -> serde_json::Value {
    let work = tempfile::tempdir().expect("temp dir");
    let result = work.path().join("result.json");
    let shots = screenshots_dir();
    std::fs::create_dir_all(&shots).expect("mkdir");
    let story = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/story.py");
    let run = tokio::process::Command::new(&browser.python)
        .arg(&story)
        .env("WEB_STORY", name)
        .env("FILEGATE_TEST_CHROMIUM", &browser.chromium)
        .env("FILEGATE_TEST_CHROMEDRIVER", &browser.chromedriver)
        .env("FILEGATE_TEST_AXE", &browser.axe)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("WEB_SCREENSHOTS", &shots)
        .env("WEB_RESULT", &result)
        // Selenium must not look for (or download) a driver or a browser of its own.
        .env("SE_OFFLINE", "true")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(420), run)
        .await
        .expect("the browser story finished within 7 minutes")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown by `cargo nextest run --no-capture` (or on failure): the steps and what axe said.
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser story {name} failed ({}); screenshots in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        shots.display()
    );
    assert!(stdout.contains("story: every step passed"), "{stdout}");
    serde_json::from_slice(&std::fs::read(&result).expect("result")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_signs_in_browses_uploads_shares_restores_and_searches_in_chromium() {
    let Some(browser) = Browser::from_env() else {
        return;
    };
    let app = TestApp::spawn_with(|c| {
        // The pipeline runs by itself, as in production: the page follows it to `ready`.
        c.workers.enabled = true;
        // The first upload (12 MiB) goes in three parts, sent in parallel by the page.
        c.uploads.multipart_threshold = 8 * 1024 * 1024;
        c.uploads.part_size = 5 * 1024 * 1024;
        // The file panel's download count is written within a second.
        c.downloads.count_flush_secs = 1;
    })
    .await;
    seed(
        &app,
        "reports/2026/seed.txt",
        "text/plain",
        b"already here".to_vec(),
        "ready",
    )
    .await;
    seed(
        &app,
        "reports/summary.txt",
        "text/plain",
        b"one level up".to_vec(),
        "ready",
    )
    .await;
    // A picture with EXIF (its thumbnail in the grid, its facts in the panel) and one the
    // pipeline refuses (a failed badge with its reason).
    let camera = engines::jpeg_with_exif(640, 480, "Filegate", "Bedside Camera", 1);
    seed(&app, "reports/2026/camera.jpg", "image/jpeg", camera, "ready").await;
    let bomb = engines::png_bomb(100_000, 100_000);
    seed(&app, "reports/2026/bomb.png", "image/png", bomb, "failed").await;

    let work = tempfile::tempdir().expect("temp dir");
    let upload_a = work.path().join("ward-report-alpha.txt");
    let upload_b = work.path().join("ward-report-beta.csv");
    let bytes_a: Vec<u8> = (0..12 * 1024 * 1024 + 12_345u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&upload_a, &bytes_a).expect("write");
    std::fs::write(&upload_b, b"ward,patients\na,12\nb,7\n").expect("write");
    // 20 MiB and a bit: five parts, the page interrupted (reloaded) after two of them.
    let upload_big = work.path().join("big-scan.bin");
    let bytes_big: Vec<u8> = (0..20 * 1024 * 1024 + 777u32)
        .map(|i| (i.wrapping_mul(40_503) >> 7) as u8)
        .collect();
    std::fs::write(&upload_big, &bytes_big).expect("write");
    // A folder dropped whole: its files land below the folder shown, their paths kept.
    let dropped = work.path().join("scans");
    std::fs::create_dir_all(dropped.join("sub")).expect("mkdir");
    std::fs::write(dropped.join("a.txt"), b"scan a\n").expect("write");
    std::fs::write(dropped.join("sub/b.txt"), b"scan b, one level down\n").expect("write");
    let downloads = work.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("mkdir");
    let shots = screenshots_dir();

    // The reader signs in with an API key, the writer with a token: both kinds of credential.
    let reader_key = app
        .client
        .create_api_key(&filegate_api::CreateApiKey {
            name: "web reader".into(),
            roles: vec!["reader".into()],
        })
        .await
        .expect("an API key")
        .key;
    let env = [
        ("WEB_BASE_URL", app.base_url.clone()),
        ("WEB_TOKEN", app.token_for("default", "writer", "web-writer")),
        ("WEB_READER_TOKEN", reader_key.clone()),
        ("WEB_ADMIN_TOKEN", app.token_for("default", "admin", "web-admin")),
        ("WEB_UPLOAD_A", path(&upload_a)),
        ("WEB_UPLOAD_B", path(&upload_b)),
        ("WEB_UPLOAD_BIG", path(&upload_big)),
        ("WEB_DROP_DIR", path(&dropped)),
        ("WEB_DOWNLOADS", path(&downloads)),
    ];
    let result = run_story(&browser, "main", &env).await;
    let link = result["share_url"].as_str().expect("a share link");
    assert!(link.starts_with(&format!("{}/s/", app.base_url)), "{link}");
    let qr = read_qr(std::path::Path::new(
        result["qr_png"].as_str().expect("a QR screenshot"),
    ));
    assert_eq!(qr, link, "the QR code on the page is the link");
    assert_eq!(
        result["audited"].as_array().map(Vec::len),
        Some(13),
        "every main screen audited: {result}"
    );

    // The upload resumed after the reload is the file, byte for byte; the dropped folder's
    // files kept their paths.
    assert!(
        stored(&app, "reports/2026/big-scan.bin").await == bytes_big,
        "the resumed upload differs"
    );
    assert_eq!(stored(&app, "reports/2026/scans/a.txt").await, b"scan a\n");
    assert_eq!(
        stored(&app, "reports/2026/scans/sub/b.txt").await,
        b"scan b, one level down\n"
    );

    // The page offered a reader nothing that writes; the server refuses it anyway.
    let files = app.client.list_files(&Default::default()).await.expect("list");
    let refused = reqwest::Client::new()
        .delete(format!("{}/v1/files/{}", app.base_url, files.items[0].id))
        .bearer_auth(&reader_key)
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 403, "a reader cannot delete");
    for name in [
        "folder-light",
        "folder-grid",
        "folder-dark",
        "folder-phone",
        "file-panel",
        "share-dialog",
        "search",
        "deleted",
        "upload-resume",
        "file-panel-admin",
        "admin-buckets",
        "admin-keys",
        "admin-audit",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "screenshot {name}");
    }
}
