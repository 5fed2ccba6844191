//! Stock tus-js-client from npm, run in Node, against filegate (installed by
//! scripts/tus-clients.sh, found through `FILEGATE_TEST_TUS_JS`; skipped without it, except
//! under `CI=true`): an upload in one piece and one in 4 parallel partial uploads joined by
//! concatenation, on the embedded engines and on PostgreSQL + S3; a client stopped half-way
//! that resumes after the gateway restarted (local directory), and one that resumes on a
//! second gateway of the same PostgreSQL and S3.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::TestApp;
use crate::support::{MIB, content_of, pattern, sha256_hex};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/tus_clients/tus_js_client.js");

fn tus_js() -> Option<String> {
    crate::engines::env("FILEGATE_TEST_TUS_JS")
}

/// Runs the client to its end (the server goes on serving on the other worker thread): the
/// lines it printed.
fn run(dir: &str, app: &TestApp, file: &Path, args: &[&str]) -> Vec<String> {
    let mut child = Command::new("node")
        .arg(SCRIPT)
        .arg(format!("{}/v1/tus/", app.base_url))
        .arg(app.token("default", "writer"))
        .arg(file)
        .args(args)
        .env("FILEGATE_TEST_TUS_JS", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> =
        tokio::task::block_in_place(|| BufReader::new(stdout).lines().map_while(Result::ok).collect());
    let status = tokio::task::block_in_place(|| child.wait()).expect("the client ran");
    assert!(status.success(), "tus-js-client {args:?} failed: {lines:?}");
    lines
}

/// A file of `len` bytes in a directory of its own.
fn file_of(len: usize, seed: u64) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(format!("scan-{seed}.bin"));
    let data = pattern(len, seed);
    std::fs::write(&file, &data).expect("write the file");
    (dir, file, data)
}

fn id_of(url: &str) -> &str {
    url.rsplit('/').next().expect("an id")
}

/// The upload `id` is `ready`, with the bytes and sha256 of `data`.
async fn assert_ready(app: &TestApp, id: &str, data: &[u8]) {
    app.run_jobs().await;
    let file = app.client.get_file(id).await.expect("the file");
    assert_eq!((file.status.as_str(), file.size), ("ready", data.len() as u64));
    assert!(file.path.starts_with("tusjs/scan-"), "{}", file.path);
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(data).as_str()));
    assert_eq!(content_of(&app.client, id).await, data, "the bytes equal");
}

/// In one piece, then in 4 partial uploads joined by a final one (over 20 MiB: each partial
/// is past S3's 5 MiB, so S3 copies them server-side).
async fn one_piece_and_parallel(dir: &str, app: &TestApp) {
    let (_tmp, file, data) = file_of(20 * MIB + 13, 71);
    for (parallel, partials) in [("1", 0), ("4", 4)] {
        let lines = run(dir, app, &file, &["upload", parallel]);
        assert_eq!(lines.last().map(String::as_str), Some("done"), "{lines:?}");
        assert_eq!(joined(app, &lines[0]).await, partials, "{parallel}");
        assert_ready(app, id_of(&lines[0]), &data).await;
    }
}

/// How many partial uploads the upload at `url` joined (`Upload-Concat: final;…`).
async fn joined(app: &TestApp, url: &str) -> usize {
    let head = reqwest::Client::new()
        .head(url)
        .bearer_auth(app.token("default", "writer"))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .expect("HEAD");
    let concat = head.headers().get("upload-concat").and_then(|v| v.to_str().ok());
    concat.map_or(0, |c| {
        c.strip_prefix("final;").expect("a final upload").split(' ').count()
    })
}

/// Stops a client once `stop_at` bytes are stored: the upload's URL.
fn stopped(dir: &str, app: &TestApp, file: &Path, stop_at: usize) -> String {
    let lines = run(dir, app, file, &["start", &stop_at.to_string()]);
    assert_eq!(lines.len(), 1, "only the URL: {lines:?}");
    lines[0].clone()
}

/// Resumes `url`'s upload on `app` from the offset it answers, at least `held`.
fn resumed(dir: &str, app: &TestApp, file: &Path, url: &str, held: usize) {
    let url = format!("{}/v1/tus/{}", app.base_url, id_of(url));
    let lines = run(dir, app, file, &["resume", &url]);
    let at: usize = lines[0]
        .strip_prefix("resuming at ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the offset it resumed at: {lines:?}"));
    assert!(at >= held, "resumed at {at}, {held} were stored");
    assert_eq!(lines.last().map(String::as_str), Some("done"), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_js_client_uploads_in_parallel_and_resumes_after_a_restart() {
    let Some(dir) = tus_js() else { return };
    let app = TestApp::spawn().await;
    one_piece_and_parallel(&dir, &app).await;

    let (_tmp, file, data) = file_of(6 * MIB + 5, 72);
    let url = stopped(&dir, &app, &file, 2 * MIB);
    // Another gateway process on the same data directory (and port 0: another port).
    let app = app.restart().await;
    resumed(&dir, &app, &file, &url, 2 * MIB);
    assert_ready(&app, id_of(&url), &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_js_client_on_postgresql_and_s3_resumes_on_a_second_gateway() {
    let Some(dir) = tus_js() else { return };
    let Some(scaled) = crate::scale_out::ScaleOut::start().await else {
        return;
    };
    one_piece_and_parallel(&dir, &scaled.app).await;

    // Stopped past two S3 parts and into the tail; the rest goes to another gateway.
    let (_tmp, file, data) = file_of(13 * MIB + 5, 73);
    let url = stopped(&dir, &scaled.app, &file, 11 * MIB);
    let second = scaled.second_gateway().await;
    resumed(&dir, &second, &file, &url, 11 * MIB);
    assert_ready(&second, id_of(&url), &data).await;
    drop(second);
    assert_eq!(scaled.s3.open_uploads(), 0, "no multipart upload is left open");
    scaled.finish().await;
}
