//! `filegate search` finds what `upload --metadata` stored; `filegate reindex` rebuilds a
//! lost index from the database.

use std::process::Command;
use std::time::Duration;

use crate::harness::{BIN, Cli, Server, eventually, path_str};

#[tokio::test]
async fn search_finds_uploads_by_words_and_metadata_and_reindex_rebuilds_the_index() {
    let mut server = Server::start(&[]);
    let cli = Cli::logged_in(&server, "writer");
    let work = tempfile::tempdir().unwrap();
    let scan = work.path().join("knee-scan.txt");
    std::fs::write(&scan, "x").unwrap();
    let uploaded = cli.json(&["upload", path_str(&scan), "--metadata", "subject=9434765919", "--wait"]);
    let id = uploaded["uploads"][0]["file"]["id"].as_str().unwrap().to_owned();

    let found = |cli: &Cli| cli.json(&["search", "kne", "--meta", "subject=9434765919"]);
    eventually("the upload is searchable", Duration::from_secs(10), || async {
        found(&cli)["total"] == 1
    })
    .await;
    assert_eq!(found(&cli)["items"][0]["file"]["id"], id.as_str());
    let text = cli.ok(&["search", "9434765919"]);
    assert!(
        text.contains("knee-scan.txt") && text.contains("metadata.subject: 9434765919"),
        "{text}"
    );
    assert_eq!(cli.json(&["search", "elbow"])["total"], 0);

    // The index is lost while the server is down; reindex rebuilds it from the database.
    server.restart(|data| {
        std::fs::remove_dir_all(data.join("search")).unwrap();
        let out = Command::new(BIN)
            .args(["reindex", "--data-dir"])
            .arg(data)
            .env("FILEGATE_LOG__LEVEL", "warn")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("1 files searchable"), "{stderr}");
    });
    let cli = Cli::logged_in(&server, "writer");
    assert_eq!(found(&cli)["items"][0]["file"]["id"], id.as_str());
}
