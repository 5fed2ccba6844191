//! Uploads and downloads: encryption while streaming, `--wait`, multipart resumed after
//! a kill, downloads resumed with `Range`, checksums.

use std::time::Duration;

use filegate_client::api::CreateBucket;

use crate::harness::{Cli, PART_SIZE, Server, eventually, path_str, pictures_bucket, sha256_file, write_random};

const MIB: usize = 1024 * 1024;

async fn exchange_bucket(server: &Server) {
    server
        .admin()
        .create_bucket(&CreateBucket {
            name: "exchange".into(),
            stages: Some(vec!["verify".into(), "decrypt".into(), "hash".into()]),
            ..Default::default()
        })
        .await
        .expect("bucket");
}

/// A hospital's nightly job: a 50 MiB extract encrypted with the current exchange
/// passphrase while it streams (in parts), `--wait` until `ready`, and the download gives
/// back the plaintext (the second time resumed from a partial file).
#[tokio::test]
async fn an_encrypted_50_mib_upload_waits_for_ready_and_downloads_back_equal() {
    let server = Server::start(&[]);
    exchange_bucket(&server).await;
    let cli = Cli::logged_in(&server, "exchange");
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("extract.csv");
    write_random(&original, 50 * MIB, 7);
    let sha = sha256_file(&original);

    let out = cli.json(&[
        "upload",
        path_str(&original),
        "--bucket",
        "exchange",
        "--prefix",
        "2026/11",
        "--metadata",
        "ward=icu",
        "--encrypt",
        "--wait",
        "--multipart-threshold",
        "16M",
    ]);
    let item = &out["uploads"][0];
    assert_eq!(item["file"]["status"], "ready", "{item}");
    assert_eq!(item["file"]["path"], "2026/11/extract.csv");
    assert_eq!(item["file"]["metadata"]["ward"], "icu");
    assert_eq!(item["file"]["encryption"], "age");
    assert_eq!(item["encrypted"], true);
    assert_eq!(item["multipart"], true, "the ciphertext went up in parts");
    assert!(item["parts_sent"].as_u64().unwrap() >= 10);
    assert!(item["sent_size"].as_u64().unwrap() > 50 * MIB as u64);
    assert_eq!(item["file"]["size"], 50 * MIB as u64, "the server holds the plaintext");
    assert_eq!(item["file"]["sha256"], sha.as_str());
    assert_eq!(item["sha256"], sha.as_str());
    let id = item["file"]["id"].as_str().unwrap().to_owned();

    // The partner's machine reads no bytes back (its role: the passphrase, the requests,
    // its own uploads and their status); someone of the tenant does.
    let cli = Cli::logged_in(&server, "reader");
    let back = work.path().join("back.csv");
    let got = cli.json(&["download", &id, "-o", path_str(&back)]);
    assert_eq!(got["verified"], true);
    assert_eq!(got["resumed_from"], 0);
    assert_eq!(sha256_file(&back), sha, "the downloaded bytes equal the original");

    // An interrupted download left 20 MiB behind: the next one fetches only the rest.
    let again = work.path().join("again.csv");
    let partial = work.path().join(format!(".again.csv.{id}.filegate-part"));
    let mut head = std::fs::read(&original).unwrap();
    head.truncate(20 * MIB);
    std::fs::write(&partial, &head).unwrap();
    let got = cli.json(&[
        "download",
        "2026/11/extract.csv",
        "--bucket",
        "exchange",
        "-o",
        path_str(&again),
    ]);
    assert_eq!(got["resumed_from"], 20 * MIB as u64);
    assert_eq!(sha256_file(&again), sha);
    assert!(!partial.exists());

    // A partial file that does not belong to the file fails the checksum, and is dropped.
    let bad = work.path().join("bad.csv");
    let bad_partial = work.path().join(format!(".bad.csv.{id}.filegate-part"));
    std::fs::write(&bad_partial, vec![0u8; MIB]).unwrap();
    let out = cli.run(&["download", &id, "-o", path_str(&bad)]);
    let (code, line) = crate::harness::failure(&out);
    assert_eq!(code, 8, "{line}");
    assert!(line.contains("sha256"), "{line}");
    assert!(!bad.exists() && !bad_partial.exists());
}

/// A multipart upload killed halfway resumes from its journal: the second run sends
/// exactly the parts the first did not store, counted on the server.
#[tokio::test]
async fn a_killed_multipart_upload_resumes_sending_only_the_missing_parts() {
    let server = Server::start(&[]);
    let cli = Cli::logged_in(&server, "writer");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("scan.bin");
    let size = 8 * PART_SIZE as usize;
    write_random(&file, size, 11);

    let before = server.stored_puts().await;
    let upload = [
        "upload",
        path_str(&file),
        "--prefix",
        "big",
        "--multipart-threshold",
        "1M",
    ];
    let mut first = cli.spawn(&[&upload[..], &["--parallel", "2", "--bwlimit", "6M"]].concat());
    eventually("two parts stored", Duration::from_secs(60), || async {
        server.stored_puts().await >= before + 2
    })
    .await;
    first.kill();
    let after_kill = server.stored_puts().await;
    assert!(after_kill - before < 8, "killed before the end");

    let out = cli.json(&[&upload[..], &["--wait"]].concat());
    let item = &out["uploads"][0];
    let resumed = item["parts_resumed"].as_u64().unwrap();
    let sent = item["parts_sent"].as_u64().unwrap();
    assert!(resumed >= 1, "{item}");
    assert_eq!(resumed + sent, 8, "{item}");
    let second = server.stored_puts().await - after_kill;
    assert_eq!(second, sent, "the server saw only the missing parts");
    assert_eq!(item["file"]["status"], "ready");
    assert_eq!(item["file"]["sha256"], sha256_file(&file).as_str());

    let back = work.path().join("back.bin");
    cli.ok(&["download", "big/scan.bin", "-o", path_str(&back)]);
    assert_eq!(sha256_file(&back), sha256_file(&file));
    // The journal is gone: a third upload is a new file, sent whole.
    let out = cli.json(&upload);
    assert_eq!(out["uploads"][0]["parts_resumed"], 0);
}

/// Directories go up recursively; plain output is one line per file when stdout is not
/// a terminal; `--wait` on a file the pipeline refuses exits 5.
#[tokio::test]
async fn directories_upload_recursively_and_wait_reports_a_failed_file() {
    let server = Server::start(&[]);
    pictures_bucket(&server).await;
    let cli = Cli::logged_in(&server, "writer");
    let work = tempfile::tempdir().unwrap();
    let batch = work.path().join("batch");
    std::fs::create_dir_all(batch.join("sub")).unwrap();
    std::fs::write(batch.join("a.txt"), "alpha").unwrap();
    std::fs::write(batch.join("sub/b.txt"), "beta").unwrap();
    let text = cli.ok(&["upload", path_str(&batch), "--prefix", "in", "--wait"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        text.contains("default/in/batch/a.txt") && text.contains("default/in/batch/sub/b.txt"),
        "{text}"
    );
    assert!(lines.iter().all(|l| l.starts_with("ready")), "{text}");

    let fake = work.path().join("fake.png");
    std::fs::write(&fake, "this is no picture").unwrap();
    let out = cli.run(&["upload", path_str(&fake), "--bucket", "pictures", "--wait"]);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("failed") && stdout.contains("type-mismatch"),
        "{stdout}"
    );
}
