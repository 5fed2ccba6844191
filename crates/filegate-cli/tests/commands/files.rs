//! Profiles, and the file commands with `--json` parsed and checked.

use filegate_client::api::CreateFileRequest;

use crate::harness::{Cli, Server, path_str};

#[tokio::test]
async fn login_profiles_and_the_file_commands() {
    let server = Server::start(&[]);
    let cli = Cli::logged_in(&server, "writer");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(cli.config.path().join("config.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the config file holds tokens");
    }
    assert_eq!(cli.json(&["ls"])["items"].as_array().unwrap().len(), 0);

    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.csv");
    std::fs::write(&report, "a,b\n1,2\n").unwrap();
    let out = cli.json(&["upload", path_str(&report), "--prefix", "in", "--wait"]);
    let file = &out["uploads"][0]["file"];
    assert_eq!(file["content_type"], "text/csv", "guessed from the name");
    let id = file["id"].as_str().unwrap().to_owned();

    let listed = cli.json(&["ls", "in/", "--bucket", "default"]);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert_eq!(cli.ok(&["ls", "--bucket", "default"]).trim(), "in/report.csv");
    assert!(cli.ok(&["ls"]).contains("default/in/report.csv"));
    let long = cli.ok(&["ls", "--long", "--status", "ready"]);
    assert!(long.contains(&id) && long.contains("ready"), "{long}");
    assert_eq!(cli.json(&["stat", "in/report.csv"])["id"], id.as_str());
    assert!(cli.ok(&["stat", &id]).contains("sha256"));

    let moved = cli.json(&["mv", &id, "archive/report.csv"]);
    assert_eq!(moved["path"], "archive/report.csv");
    // One of the two does not exist: the other is deleted all the same, and the exit
    // code says something was not found.
    let out = cli.run(&[
        "--json",
        "rm",
        "archive/report.csv",
        "0190c6e2-6a4b-7cc4-9a8f-3b1d2e4f5a6b",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let removed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(removed["deleted"][0], id.as_str());
    assert_eq!(removed["not_found"].as_array().unwrap().len(), 1);
    assert!(cli.json(&["ls"])["items"].as_array().unwrap().is_empty());
    let restored = cli.json(&["restore", "archive/report.csv"]);
    assert_eq!(restored["id"], id.as_str());
    assert_eq!(restored["status"], "ready");

    // A second profile; FILEGATE_URL/TOKEN override the chosen one.
    cli.ok(&[
        "login",
        "--profile",
        "admin",
        "--url",
        &server.url,
        "--token",
        &server.token("admin"),
    ]);
    assert!(
        cli.json(&["--profile", "admin", "audit", "--limit", "5"])["items"]
            .as_array()
            .unwrap()
            .len()
            <= 5
    );
    let out = cli
        .command(&["--profile", "admin", "audit"])
        .env("FILEGATE_TOKEN", "garbage")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the environment's token wins");
}

/// The hospital exchange: the exchange client lists the pending requests and fulfils one.
#[tokio::test]
async fn requests_are_listed_and_fulfilled() {
    let server = Server::start(&[]);
    let admin = server.admin();
    let request = admin
        .create_file_request(&CreateFileRequest {
            parameters: serde_json::json!({"units": ["icu"], "from": "2026-11-01", "to": "2026-11-30"}),
            note: Some("outbreak".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let cli = Cli::logged_in(&server, "exchange");
    let pending = cli.json(&["requests"]);
    assert_eq!(pending["items"][0]["id"], request.id.as_str());
    assert!(cli.ok(&["requests"]).contains("\"icu\""));

    let passphrase = cli.ok(&["exchange", "passphrase"]);
    assert!(
        passphrase.trim().len() >= 36 && !passphrase.trim().contains(' '),
        "{passphrase:?}"
    );
    assert_eq!(cli.json(&["exchange", "passphrase"])["passphrase"], passphrase.trim());

    let work = tempfile::tempdir().unwrap();
    let extract = work.path().join("extract.csv");
    std::fs::write(&extract, "patient,unit\n1,icu\n").unwrap();
    let out = cli.json(&["requests", "fulfil", &request.id, path_str(&extract), "--wait"]);
    assert_eq!(out["uploads"][0]["file"]["request_id"], request.id.as_str());
    assert_eq!(out["uploads"][0]["file"]["status"], "ready");
    crate::harness::eventually("the request is fulfilled", std::time::Duration::from_secs(20), || {
        let admin = admin.clone();
        let id = request.id.clone();
        async move { admin.get_file_request(&id).await.unwrap().status == "fulfilled" }
    })
    .await;
    assert!(cli.json(&["requests"])["items"].as_array().unwrap().is_empty());
    // Fulfilling it again is refused before anything is sent.
    let out = cli.run(&["requests", "fulfil", &request.id, path_str(&extract)]);
    assert_eq!(out.status.code(), Some(9));
}

/// `share` prints a working link (and its QR code on request); `--json` carries the share.
#[tokio::test]
async fn share_prints_the_link_and_its_qr_code() {
    let server = Server::start(&[]);
    let cli = Cli::logged_in(&server, "writer");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("photo.txt");
    std::fs::write(&file, "look").unwrap();
    cli.ok(&["upload", path_str(&file), "--wait"]);
    let text = cli.ok(&["share", "photo.txt", "--qr"]);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&server.url) && first.contains("/s/"), "{text}");
    assert!(text.contains('█') || text.contains('▀'), "a QR code follows: {text}");
    let share = cli.json(&["share", "photo.txt", "--permission", "view", "--expires-in", "600"]);
    assert!(share["url"].as_str().unwrap().contains("/s/"));
    assert_eq!(share["permission"], "view");
    // The printed link opens the file for someone without an account.
    let shared = reqwest::Client::new()
        .get(first)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);
    let shared: serde_json::Value = shared.json().await.unwrap();
    assert_eq!(shared["name"], "photo.txt");
}
