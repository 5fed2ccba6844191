//! The clamd adapter against a real clamd (started by `scripts/clamd.sh` with the project's
//! test signatures). Without `FILEGATE_TEST_CLAMD_URL` the tests are skipped, except under
//! `CI=true`, where they fail.

use std::io;

use bytes::Bytes;
use filegate_clamd::ClamdScanner;
use filegate_core::ports::{ByteStream, ScanError, ScanVerdict, Scanner};

/// The standard 68-byte EICAR test file (no trailing newline).
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{name} is not set, and CI=true: clamd tests must run (scripts/clamd.sh)"
            );
            eprintln!("skipped: {name} is not set (eval \"$(scripts/engines.sh)\")");
            None
        }
    }
}

/// Scanners over both transports clamd listens on.
fn scanners() -> Vec<ClamdScanner> {
    ["FILEGATE_TEST_CLAMD_URL", "FILEGATE_TEST_CLAMD_SOCKET"]
        .into_iter()
        .filter_map(env)
        .map(|url| ClamdScanner::from_url(&url).expect("scanner URL"))
        .collect()
}

/// `bytes` as a stream of `piece`-byte items, as storage hands them out.
fn stream(bytes: Vec<u8>, piece: usize) -> ByteStream {
    let items: Vec<io::Result<Bytes>> = bytes.chunks(piece).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(futures::stream::iter(items))
}

fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[tokio::test]
async fn clean_bytes_are_clean_and_ping_answers() {
    for scanner in scanners() {
        scanner.ping().await.expect("PONG");
        // Bigger than one INSTREAM chunk, in odd-sized pieces.
        let verdict = scanner.scan(stream(noise(300_000), 70_001)).await.expect("scan");
        assert_eq!(verdict, ScanVerdict::Clean);
        let empty = scanner.scan(stream(Vec::new(), 1)).await.expect("scan empty");
        assert_eq!(empty, ScanVerdict::Clean);
    }
}

#[tokio::test]
async fn eicar_is_found_alone_and_inside_other_bytes() {
    for scanner in scanners() {
        let verdict = scanner.scan(stream(EICAR.to_vec(), 10)).await.expect("scan");
        let ScanVerdict::Infected { signature } = verdict else {
            panic!("EICAR passed as clean")
        };
        assert!(signature.to_lowercase().contains("eicar"), "{signature}");

        // Buried in the middle of a larger file and split across chunk boundaries.
        let mut wrapped = noise(200_000);
        wrapped.splice(100_000..100_000, EICAR.iter().copied());
        let verdict = scanner.scan(stream(wrapped, 65_536)).await.expect("scan");
        assert!(matches!(verdict, ScanVerdict::Infected { .. }), "{verdict:?}");
    }
}

#[tokio::test]
async fn a_stream_over_the_limit_is_too_large_not_clean() {
    let Some(max) = env("FILEGATE_TEST_CLAMD_MAX") else {
        return;
    };
    let max: usize = max.parse().expect("FILEGATE_TEST_CLAMD_MAX is a number");
    for scanner in scanners() {
        let result = scanner.scan(stream(noise(max + 1024 * 1024), 256 * 1024)).await;
        assert!(matches!(result, Err(ScanError::TooLarge { .. })), "{result:?}");
    }
}

#[tokio::test]
async fn an_unreachable_clamd_is_a_retryable_error() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let scanner = ClamdScanner::from_url(&format!("tcp://127.0.0.1:{port}")).expect("url");
    assert!(matches!(scanner.ping().await, Err(ScanError::Unavailable(_))));
    let result = scanner.scan(stream(EICAR.to_vec(), 68)).await;
    assert!(matches!(result, Err(ScanError::Unavailable(_))), "{result:?}");
    let missing = ClamdScanner::from_url("unix:///nonexistent/clamd.sock").expect("url");
    assert!(matches!(
        missing.scan(stream(EICAR.to_vec(), 68)).await,
        Err(ScanError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_broken_body_is_retryable_never_clean() {
    for scanner in scanners() {
        let items: Vec<io::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"some bytes")),
            Err(io::Error::other("storage went away")),
        ];
        let result = scanner.scan(Box::pin(futures::stream::iter(items))).await;
        assert!(matches!(result, Err(ScanError::Unavailable(_))), "{result:?}");
    }
}
