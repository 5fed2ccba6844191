//! Small helpers the API test modules share (the harness itself is `common`).

use std::fmt::Debug;

use filegate_client::{Client, Error};
use reqwest::Method;
use sha2::{Digest, Sha256};

pub const MIB: usize = 1024 * 1024;

/// A valid 1x1 transparent PNG, byte for byte.
pub const TINY_PNG: [u8; 67] = [
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// An admin of the `default` tenant, for tests that call a use case themselves.
pub fn default_admin() -> filegate_core::domain::Principal {
    use filegate_core::domain::{Origin, Principal, Role, TenantId};
    Principal {
        subject: "alice".into(),
        tenant: TenantId::parse("default").unwrap(),
        roles: vec![Role::Admin],
        origin: Origin::default(),
    }
}

/// The lowercase hex SHA-256 of `bytes`, computed here, independently of the server.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `len` deterministic bytes that do not repeat with any short period, so a part sent at
/// the wrong offset or a byte dropped anywhere changes the content.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// The status and code of an API error; panics on anything else.
#[track_caller]
pub fn api_error<T: Debug>(result: filegate_client::Result<T>) -> (u16, String) {
    match result {
        Err(Error::Api { status, code, .. }) => (status, code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Shorthand for comparing with [`api_error`].
pub fn err(status: u16, code: &str) -> (u16, String) {
    (status, code.to_owned())
}

/// A raw request to a route, with the client's token, for answers the typed client hides
/// (headers of errors, non-JSON bodies).
pub async fn raw(client: &Client, method: Method, segments: &[&str]) -> reqwest::Response {
    client
        .request(method, segments)
        .expect("route URL")
        .send()
        .await
        .expect("request sent")
}

/// A raw response's status, headers and JSON body.
pub async fn json_of(resp: reqwest::Response) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body");
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "HTTP {status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, headers, json)
}

/// The whole content of a file through `GET /v1/files/{id}/content`.
pub async fn content_of(client: &Client, id: &str) -> bytes::Bytes {
    let answer = client
        .content(id, filegate_client::ContentRequest::default())
        .await
        .expect("content");
    assert_eq!(answer.status, 200);
    answer.bytes().await.expect("content body")
}

/// Files under a directory of the local object store (`objects`, `multipart`, `tmp`).
pub fn files_under(app: &crate::common::TestApp, dir: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out)
                } else {
                    out.push(path)
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.data_dir.path().join("objects").join(dir), &mut out);
    out.sort();
    out
}

/// `FILEGATE_TEST_REDIS_URL`, or `None` to skip (never under `CI=true`).
pub fn redis_url() -> Option<String> {
    match std::env::var("FILEGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "FILEGATE_TEST_REDIS_URL is not set, and CI=true: the Redis tests must run"
            );
            eprintln!("skipped: FILEGATE_TEST_REDIS_URL is not set");
            None
        }
    }
}

/// `url` (a Redis URL) with the key `prefix` the gateway's `cache` option reads, so each
/// test keeps to keys of its own.
pub fn with_key_prefix(url: &str, prefix: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}prefix={prefix}")
}
