//! Failures read as one line with a stable exit code (docs/cli.md: exit codes).

use crate::harness::{Cli, Server, failure};

#[test]
fn an_unknown_profile_is_a_config_error() {
    let cli = Cli::new();
    let (code, line) = failure(&cli.run(&["--profile", "hospital", "ls"]));
    assert_eq!(code, 7, "{line}");
    assert!(line.starts_with("error: ") && line.contains("\"hospital\""), "{line}");
    assert!(line.contains("filegate login"), "{line}");
}

#[test]
fn no_profile_and_no_environment_says_how_to_log_in() {
    let cli = Cli::new();
    let (code, line) = failure(&cli.run(&["ls"]));
    assert_eq!(code, 7, "{line}");
    assert!(line.contains("FILEGATE_URL"), "{line}");
}

#[test]
fn a_broken_config_file_is_a_config_error() {
    let cli = Cli::new();
    std::fs::write(cli.config.path().join("config.toml"), "[profiles.default]\nurl = 3\n").unwrap();
    let (code, line) = failure(&cli.run(&["ls"]));
    assert_eq!(code, 7, "{line}");
    assert!(line.contains("config.toml"), "{line}");
}

#[test]
fn an_unreachable_server_exits_6() {
    let cli = Cli::new();
    // Nothing listens on port 1.
    let out = cli
        .command(&["ls"])
        .env("FILEGATE_URL", "http://127.0.0.1:1")
        .env("FILEGATE_TOKEN", "x")
        .output()
        .unwrap();
    let (code, line) = failure(&out);
    assert_eq!(code, 6, "{line}");
    assert!(line.contains("cannot reach http://127.0.0.1:1/"), "{line}");
    // login checks the server before saving anything.
    let (code, _) = failure(&cli.run(&["login", "--url", "http://127.0.0.1:1", "--token", "x"]));
    assert_eq!(code, 6);
    assert!(!cli.config.path().join("config.toml").exists());
}

#[test]
fn a_bad_token_exits_3_with_the_servers_code() {
    let server = Server::start(&[]);
    let cli = Cli::new();
    let (code, line) = failure(&cli.run(&["login", "--url", &server.url, "--token", "not-a-token"]));
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("HTTP 401"), "{line}");
    // Saved without the check, it fails on use, the same way.
    cli.ok(&["login", "--url", &server.url, "--token", "not-a-token", "--no-verify"]);
    let (code, line) = failure(&cli.run(&["ls"]));
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("HTTP 401") && line.contains("request "), "{line}");
    // With --json the error is one JSON object carrying the code.
    let (code, line) = failure(&cli.run(&["--json", "ls"]));
    assert_eq!(code, 3);
    let error: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(error["error"]["status"], 401);
    assert_eq!(error["error"]["exit_code"], 3);
    assert!(
        error["error"]["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{error}"
    );
}

#[test]
fn not_found_and_refusals_have_their_codes() {
    let server = Server::start(&[]);
    let cli = Cli::logged_in(&server, "writer");
    let (code, line) = failure(&cli.run(&["stat", "0190c6e2-6a4b-7cc4-9a8f-3b1d2e4f5a6b"]));
    assert_eq!(code, 4, "{line}");
    assert!(line.contains("not-found"), "{line}");
    let (code, line) = failure(&cli.run(&["download", "no/such/file.csv"]));
    assert_eq!(code, 4, "{line}");
    // A writer may not read the audit trail.
    let (code, line) = failure(&cli.run(&["audit"]));
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("forbidden"), "{line}");
    // A missing local file is a usage error, before any request.
    let (code, line) = failure(&cli.run(&["upload", "/no/such/file.csv"]));
    assert_eq!(code, 2, "{line}");
    // A bucket that does not exist: the server's refusal.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.txt");
    std::fs::write(&file, "a").unwrap();
    let out = cli.run(&["upload", file.to_str().unwrap(), "--bucket", "nope"]);
    let (code, line) = failure(&out);
    assert_eq!(code, 4, "{line}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let cli = Cli::new();
    for shell in ["bash", "zsh", "fish"] {
        let text = cli.ok(&["completions", shell]);
        assert!(text.contains("filegate") && text.contains("upload"), "{shell}");
    }
}
