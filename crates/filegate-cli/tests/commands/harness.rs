//! The real `filegate` binary against a real `filegate serve` child process: each test
//! gets its own data directory, config directory and port.

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use filegate_client::Client;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_filegate");

/// Part size of the test servers: the smallest the server allows, so that tens of MiB
/// make several parts.
pub const PART_SIZE: u64 = 5 * 1024 * 1024;

/// A `filegate serve` child, killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub data: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Kills a child process when dropped (a CLI run a test stops halfway).
pub struct Running(pub Option<Child>);

impl Running {
    pub fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Server {
    /// `filegate serve --listen 127.0.0.1:0` on a fresh data directory.
    pub fn start(extra_args: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let (child, url) = spawn_server(data.path(), extra_args);
        Server {
            child: Some(child),
            url,
            data,
        }
    }

    /// Stops the server (as a crash would), lets `between` work on its data directory, and
    /// starts it again there.
    pub fn restart(&mut self, between: impl FnOnce(&Path)) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        between(self.data.path());
        let (child, url) = spawn_server(self.data.path(), &[]);
        self.child = Some(child);
        self.url = url;
    }

    /// A token of `role` for tenant `default`.
    pub fn token(&self, role: &str) -> String {
        let out = Command::new(BIN)
            .args(["token", "--role", role, "--ttl", "7200", "--data-dir"])
            .arg(self.data.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn admin(&self) -> Client {
        Client::new(&self.url).unwrap().with_token(self.token("admin"))
    }

    /// Signed `PUT`s the server stored (`200` on `/blob/{*key}`): single uploads and parts.
    pub async fn stored_puts(&self) -> u64 {
        let text = Client::new(&self.url).unwrap().metrics().await.unwrap();
        text.lines()
            .filter(|l| {
                l.starts_with("filegate_http_requests_total{")
                    && l.contains("route=\"/blob/{*key}\"")
                    && l.contains("method=\"PUT\"")
                    && l.contains("status=\"200\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// A `filegate worker` on the same data directory.
    pub fn worker(&self) -> Running {
        let child = Command::new(BIN)
            .args(["worker", "--data-dir"])
            .arg(self.data.path())
            .env("FILEGATE_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Running(Some(child))
    }
}

fn spawn_server(data_dir: &Path, extra_args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra_args)
        .env("FILEGATE_LOG__LEVEL", "warn")
        .env("FILEGATE_UPLOADS__PART_SIZE", PART_SIZE.to_string())
        .env("FILEGATE_RATE_LIMIT__REQUESTS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("filegate serve starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(url) = line.strip_prefix("filegate: listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// The command line as a user runs it: its own config directory, and none of the
/// test process's FILEGATE_* variables.
pub struct Cli {
    pub config: TempDir,
}

impl Cli {
    pub fn new() -> Cli {
        Cli {
            config: tempfile::tempdir().unwrap(),
        }
    }

    /// A CLI already logged in (profile `default`) to `server` with a token of `role`.
    pub fn logged_in(server: &Server, role: &str) -> Cli {
        let cli = Cli::new();
        cli.ok(&["login", "--url", &server.url, "--token", &server.token(role)]);
        cli
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.args(args).env("FILEGATE_CONFIG_DIR", self.config.path());
        for name in [
            "FILEGATE_URL",
            "FILEGATE_TOKEN",
            "FILEGATE_PROFILE",
            "FILEGATE_MULTIPART_THRESHOLD",
        ] {
            command.env_remove(name);
        }
        // A cheaper scrypt than `age -p`'s, for quick tests; the server takes any up to 18.
        command.env("FILEGATE_AGE_WORK_FACTOR", "12");
        command.stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "filegate {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs with `--json`, asserts success, parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("filegate {args:?}: not JSON ({e}): {text:?}"))
    }

    pub fn spawn(&self, args: &[&str]) -> Running {
        let child = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Running(Some(child))
    }
}

/// The failure a command ended with: its exit code and its stderr, which must be one line
/// without a panic or a debug dump.
pub fn failure(out: &Output) -> (i32, String) {
    assert!(
        !out.status.success(),
        "expected a failure, stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Error {") && !stderr.contains("kind:"),
        "no debug dump: {stderr}"
    );
    (out.status.code().expect("exited"), stderr.trim_end().to_owned())
}

/// A file of `len` pseudo-random bytes (incompressible enough, and deterministic).
pub fn write_random(path: &Path, len: usize, seed: u64) {
    use std::io::Write as _;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        let n = left.min(buf.len());
        file.write_all(&buf[..n]).unwrap();
        left -= n;
    }
    file.flush().unwrap();
}

pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest as _;
    let mut sha = sha2::Sha256::new();
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    hex::encode(sha.finalize())
}

/// Waits for `condition` (polled every 50 ms) up to `timeout`; panics with `what`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Bucket `pictures`: PNG only (a CSV is refused at upload; text named `.png` fails
/// processing with `type-mismatch`).
pub async fn pictures_bucket(server: &Server) {
    server
        .admin()
        .create_bucket(&filegate_client::api::CreateBucket {
            name: "pictures".into(),
            allowed_content_types: Some(vec!["image/png".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
}
