//! `filegate watch`: files dropped while it runs, a restart in the middle, nothing sent
//! twice, refusals and failures moved aside with their reason.

use std::{path::Path, time::Duration};

use filegate_client::ListFiles;
use futures::TryStreamExt as _;

use crate::harness::{Cli, Server, eventually, path_str, pictures_bucket};

const WAIT: Duration = Duration::from_secs(60);

fn watch_args(dir: &Path) -> Vec<&str> {
    vec![
        "watch",
        path_str(dir),
        "--interval",
        "0.1",
        "--settle",
        "2",
        "--prefix",
        "drop",
    ]
}

/// Drops a file the way a careful writer does: under a hidden name, then renamed.
fn drop_file(dir: &Path, name: &str, body: &str) {
    let hidden = dir.join(format!(".{name}.tmp"));
    std::fs::write(&hidden, body).unwrap();
    std::fs::rename(&hidden, dir.join(name)).unwrap();
}

#[tokio::test]
async fn watch_sends_each_file_once_across_a_restart() {
    // No workers at first: uploads stay `uploaded`, so the watcher is stopped while it
    // waits, after sending but before moving the file.
    let server = Server::start(&["--no-workers"]);
    let admin = server.admin();
    let cli = Cli::logged_in(&server, "exchange");
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path();

    let mut watcher = cli.spawn(&watch_args(inbox));
    drop_file(inbox, "a.csv", "a\n1\n");
    eventually("a.csv uploaded", WAIT, || async {
        let files = admin.list_files(&ListFiles::bucket("default")).await.unwrap();
        files
            .items
            .iter()
            .any(|f| f.path == "drop/a.csv" && f.status == "uploaded")
    })
    .await;
    watcher.kill();
    assert!(inbox.join("a.csv").exists(), "not moved: it is not ready yet");

    // While it is down, another file arrives; then processing and the watcher come back.
    std::fs::create_dir_all(inbox.join("ward")).unwrap();
    drop_file(&inbox.join("ward"), "b.csv", "b\n2\n");
    let _worker = server.worker();
    let _watcher = cli.spawn(&watch_args(inbox));
    eventually("a.csv and b.csv sent", WAIT, || async {
        inbox.join(".sent/a.csv").is_file() && inbox.join(".sent/ward/b.csv").is_file()
    })
    .await;
    drop_file(inbox, "c.csv", "c\n3\n");
    eventually("c.csv sent", WAIT, || async { inbox.join(".sent/c.csv").is_file() }).await;
    assert!(!inbox.join("a.csv").exists() && !inbox.join("c.csv").exists());

    let files: Vec<_> = admin
        .list_all_files(ListFiles::bucket("default"))
        .try_collect()
        .await
        .unwrap();
    let mut paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["drop/a.csv", "drop/c.csv", "drop/ward/b.csv"],
        "each file uploaded once"
    );
    assert!(files.iter().all(|f| f.status == "ready"));
    assert!(
        files
            .iter()
            .all(|f| f.external_id.as_deref().is_some_and(|e| e.starts_with("watch:")))
    );
}

#[tokio::test]
async fn watch_moves_refused_and_failed_files_to_failed_with_a_reason() {
    let server = Server::start(&[]);
    pictures_bucket(&server).await;
    let cli = Cli::logged_in(&server, "writer");
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path();
    let mut args = watch_args(inbox);
    args.extend(["--bucket", "pictures"]);
    let _watcher = cli.spawn(&args);
    // Refused at upload (the bucket takes no CSV); failed in processing (not a PNG).
    drop_file(inbox, "list.csv", "a,b\n");
    drop_file(inbox, "fake.png", "no picture here");
    eventually("both moved aside", WAIT, || async {
        inbox.join(".failed/list.csv.reason.txt").is_file() && inbox.join(".failed/fake.png.reason.txt").is_file()
    })
    .await;
    assert!(inbox.join(".failed/list.csv").is_file() && inbox.join(".failed/fake.png").is_file());
    let refused = std::fs::read_to_string(inbox.join(".failed/list.csv.reason.txt")).unwrap();
    assert!(refused.contains("unsupported-content-type"), "{refused}");
    let failed = std::fs::read_to_string(inbox.join(".failed/fake.png.reason.txt")).unwrap();
    assert!(
        failed.contains("status: failed") && failed.contains("type-mismatch"),
        "{failed}"
    );
}
