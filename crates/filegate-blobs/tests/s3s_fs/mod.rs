//! A real S3-compatible server for one test: its own `s3s-fs` process, port and directory.
//!
//! s3s-fs checks SigV4 signatures and the expiry of presigned URLs, which is what makes it
//! worth testing against (a mock that accepts anything proves nothing about our signing).
//! The binary is `FILEGATE_TEST_S3S_FS`, else `s3s-fs` on the `PATH`, else
//! `~/.cargo/bin/s3s-fs`. Without it the tests are skipped with a note, except with
//! `CI=true`, where they fail.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use filegate_blobs::{S3BlobStore, S3Config};
use url::Url;

pub const BUCKET: &str = "filegate-test";
pub const ACCESS_KEY: &str = "AKIAFILEGATETEST";
pub const SECRET_KEY: &str = "secret/key+with=odd+chars";

pub struct S3sFs {
    child: Child,
    dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

/// The s3s-fs binary, or where it was looked for.
fn binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("FILEGATE_TEST_S3S_FS") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("FILEGATE_TEST_S3S_FS={}", path.display()))
        };
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("s3s-fs"));
    let in_cargo = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/s3s-fs"));
    on_path
        .chain(in_cargo)
        .find(|p| p.is_file())
        .ok_or_else(|| "s3s-fs on the PATH or in ~/.cargo/bin".to_owned())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl S3sFs {
    /// Starts a server with the test bucket, or returns `None` (after a note) when s3s-fs is
    /// not installed and this is not CI.
    pub fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// With a `domain`, the server also answers virtual-host style requests for
    /// `<bucket>.<domain>:<port>`.
    pub fn start_with(domain: Option<&str>) -> Option<Self> {
        let binary = match binary() {
            Ok(binary) => binary,
            Err(looked_at) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!(
                    "no s3s-fs at {looked_at}; CI must run the S3 tests (cargo install s3s-fs --version 0.14.1 --features binary --locked)"
                );
            }
            Err(looked_at) => {
                eprintln!("note: no s3s-fs at {looked_at}: skipping this S3 test");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::create_dir(dir.path().join("data").join(BUCKET)).unwrap();
        // The port is free when picked; another process may take it before s3s-fs binds it,
        // so a server that exits at once is started again on another port.
        for _ in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let log = std::fs::File::create(dir.path().join("s3s-fs.log")).unwrap();
            let mut child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .args(domain.map(|d| format!("--domain={d}:{}", addr.port())))
                .arg(dir.path().join("data"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Some(Self { child, dir, addr });
                }
                if child.try_wait().unwrap().is_some() {
                    break; // exited: most likely the port was taken
                }
                assert!(
                    Instant::now() < deadline,
                    "s3s-fs did not listen on {addr} within 20 s: {}",
                    std::fs::read_to_string(dir.path().join("s3s-fs.log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!(
            "s3s-fs kept exiting at start: {}",
            std::fs::read_to_string(dir.path().join("s3s-fs.log")).unwrap_or_default()
        );
    }

    pub fn endpoint(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).unwrap()
    }

    pub fn url(&self) -> String {
        format!(
            "s3://{BUCKET}?endpoint={}&region=us-east-1&path_style=true&access_key={ACCESS_KEY}&secret_key={}",
            self.endpoint(),
            SECRET_KEY.replace('/', "%2F")
        )
    }

    pub fn config(&self) -> S3Config {
        S3Config::from_url_with_env(&self.url(), |_| None).unwrap()
    }

    pub fn store(&self) -> S3BlobStore {
        S3BlobStore::new(self.config()).unwrap()
    }

    /// Where s3s-fs keeps the bucket directories.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Multipart uploads the server still knows: s3s-fs keeps one `.upload-<id>.json` file
    /// per upload in its root (it has no ListMultipartUploads to ask).
    pub fn open_uploads(&self) -> usize {
        count_prefixed(&self.data_dir(), ".upload-")
    }

    /// Stops the server now (to see what the store does when S3 is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count_prefixed(dir: &Path, prefix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(prefix))
        .count()
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        self.stop();
    }
}
