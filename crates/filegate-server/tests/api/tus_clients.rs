//! Stock tus clients against filegate, unmodified: tuspy from PyPI (installed by
//! scripts/tus-clients.sh, found through `FILEGATE_TEST_TUSPY_PYTHON`; skipped without it,
//! except under `CI=true`). The client is killed mid-upload and a new one resumes from the
//! offset the server answers; a checksum that does not match is refused; an upload is
//! terminated; and a client without any credential uploads through a signed tus URL.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestApp;
use crate::support::{MIB, content_of, pattern, sha256_hex};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/tus_clients/tuspy_client.py");

fn tuspy() -> Option<String> {
    crate::engines::env("FILEGATE_TEST_TUSPY_PYTHON")
}

/// The client process, killed if the test ends first.
struct Client(Child);

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(python: &str, app: &TestApp, token: &str, file: &std::path::Path, args: &[&str]) -> Client {
    let child = Command::new(python)
        .arg(SCRIPT)
        .arg(format!("{}/v1/tus/", app.base_url))
        .arg(token)
        .arg(file)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python starts");
    Client(child)
}

/// Runs the client to its end (the server goes on serving on the other worker threads): the
/// lines it printed.
fn run(python: &str, app: &TestApp, token: &str, file: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut client = start(python, app, token, file, args);
    let stdout = client.0.stdout.take().expect("stdout");
    let lines: Vec<String> =
        tokio::task::block_in_place(|| BufReader::new(stdout).lines().map_while(Result::ok).collect());
    let status = tokio::task::block_in_place(|| client.0.wait()).expect("the client ran");
    assert!(status.success(), "tuspy {args:?} failed: {lines:?}");
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuspy_uploads_resumes_after_a_kill_is_refused_a_bad_checksum_and_terminates() {
    let Some(python) = tuspy() else { return };
    let app = TestApp::spawn().await;
    let token = app.token("default", "writer");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("scan.bin");
    let data = pattern(24 * MIB + 7, 41);
    std::fs::write(&file, &data).expect("write the file");

    // Killed mid-way: once the server holds some of it, but not all.
    let mut first = start(&python, &app, &token, &file, &["start"]);
    let stdout = first.0.stdout.take().expect("stdout");
    let url = tokio::task::spawn_blocking(move || BufReader::new(stdout).lines().next())
        .await
        .expect("read the URL")
        .expect("tuspy printed the upload URL")
        .expect("a line");
    let id = url.rsplit('/').next().expect("an id").to_owned();
    let head = |app: &TestApp, id: &str| {
        let (base, token, id) = (app.base_url.clone(), token.clone(), id.to_owned());
        async move {
            let resp = reqwest::Client::new()
                .head(format!("{base}/v1/tus/{id}"))
                .bearer_auth(token)
                .header("tus-resumable", "1.0.0")
                .send()
                .await
                .expect("HEAD");
            resp.headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while head(&app, &id).await < 2 * MIB as u64 {
        assert!(Instant::now() < deadline, "tuspy sent nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.0.kill().expect("kill the client");
    let _ = first.0.wait();
    let held = head(&app, &id).await;
    assert!(held < data.len() as u64, "killed before the end ({held})");

    // A new client resumes from the server's offset, not from the start.
    let resumed = run(&python, &app, &token, &file, &["resume", &url]);
    let at: u64 = resumed[0]
        .strip_prefix("resuming at ")
        .and_then(|n| n.parse().ok())
        .expect("the offset it resumed at");
    assert!(at >= 2 * MIB as u64, "resumed at {at}");
    assert_eq!(resumed.last().map(String::as_str), Some("done"));
    app.run_jobs().await;
    let stored = app.client.get_file(&id).await.expect("the file");
    assert_eq!(stored.status, "ready");
    assert_eq!(stored.path, "tuspy/scan.bin");
    assert_eq!(stored.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
    assert_eq!(content_of(&app.client, &id).await, data);

    // A checksum that does not match: refused with tus's 460, nothing kept.
    let refused = run(&python, &app, &token, &file, &["corrupt"]);
    let words: Vec<&str> = refused[0].split(' ').collect();
    assert_eq!(&words[..2], ["refused", "460"], "{refused:?}");
    let corrupt_id = words[2].rsplit('/').next().expect("an id");
    assert_eq!(head(&app, corrupt_id).await, 0);

    // Termination: the upload is gone.
    let terminated = run(&python, &app, &token, &file, &["terminate"]);
    assert_eq!(terminated, ["terminated 204 then 404"]);

    // A signed tus URL from `POST /v1/uploads`: tuspy holds no token at all.
    let writer = app.client_as("default", "writer");
    let (signed, url) = crate::tus_signed::signed_tus_upload(&writer, "tuspy/signed.bin", &data).await;
    assert_eq!(run(&python, &app, "-", &file, &["signed", &url]), ["done"]);
    app.run_jobs().await;
    assert_eq!(app.client.get_file(&signed).await.expect("the file").status, "ready");
    assert_eq!(content_of(&app.client, &signed).await, data);
}
