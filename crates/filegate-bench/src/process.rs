//! filegate under test, in a process of its own so that its memory is its own: this
//! binary re-executes itself as `__serve` (the API, optionally the workers) or `__worker`,
//! running exactly the library code `filegate serve` and `filegate worker` run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use filegate_server::Config;

use crate::deploy::KEEP_DATABASE;

/// What the child processes print first on stdout, so the parent learns the bound address.
const READY_LINE: &str = "filegate-bench: listening on ";

/// The hidden subcommands' side: run filegate until SIGTERM.
pub async fn run_child(
    role: &str,
    data_dir: PathBuf,
    workers: bool,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let mut config = Config::load(None)?;
    config.data_dir = data_dir;
    config.log.level = "warn".into();
    filegate_server::telemetry::init(&config.log);
    match role {
        "serve" => {
            config.workers.enabled = workers;
            // A fixed address when the process is restarted under the same URLs (the fault
            // harness); a fresh port otherwise.
            let listener = tokio::net::TcpListener::bind(listen.unwrap_or(([127, 0, 0, 1], 0).into())).await?;
            println!("{READY_LINE}{}", listener.local_addr()?);
            filegate_server::serve(config, listener, terminated()).await
        }
        "worker" => {
            println!("{READY_LINE}-");
            filegate_server::work(config, terminated()).await
        }
        "reindex" => {
            let indexed = filegate_server::reindex(config, None, |_, _, _| {}).await?;
            println!("{READY_LINE}{indexed}");
            Ok(())
        }
        other => bail!("unknown child role {other}"),
    }
}

async fn terminated() {
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        term.recv().await;
    }
}

/// `filegate reindex` over `data_dir` in a process of its own, to its end: how many files
/// it indexed, and how long the process took (start-up included).
pub async fn reindex(data_dir: &Path, env: &[(&str, String)]) -> anyhow::Result<(u64, Duration)> {
    let exe = std::env::current_exe().context("locating the benchmark binary")?;
    let started = std::time::Instant::now();
    let output = Command::new(exe)
        .args(["__reindex".to_owned(), data_dir.display().to_string()])
        // The benchmark's own variable is no configuration of filegate's, which refuses
        // `FILEGATE_` keys it does not know.
        .env_remove(KEEP_DATABASE)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("running reindex")?;
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("reindex failed ({}): {stdout}", output.status);
    }
    let indexed = stdout
        .lines()
        .find_map(|l| l.strip_prefix(READY_LINE))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("unexpected reindex output {stdout:?}"))?;
    Ok((indexed, took))
}

/// A running filegate process, stopped (SIGTERM, then killed) when dropped.
pub struct Filegate {
    child: Child,
    /// `http://127.0.0.1:PORT` for a server; empty for a worker.
    pub base_url: String,
    pub data_dir: PathBuf,
}

impl Filegate {
    /// The API (and the workers when `workers`) on a fresh port over `data_dir`; `env` adds
    /// configuration (`FILEGATE_SCANNER__URL`, ...).
    pub async fn serve(data_dir: &Path, workers: bool, env: &[(&str, String)]) -> anyhow::Result<Self> {
        Self::serve_at(data_dir, workers, env, None).await
    }

    /// [`serve`](Self::serve) on `listen` when given (a restarted gateway keeps its URLs).
    pub async fn serve_at(
        data_dir: &Path,
        workers: bool,
        env: &[(&str, String)],
        listen: Option<std::net::SocketAddr>,
    ) -> anyhow::Result<Self> {
        let mut args = vec!["__serve".to_owned(), data_dir.display().to_string()];
        if !workers {
            args.push("--no-workers".into());
        }
        if let Some(listen) = listen {
            args.extend(["--listen".to_owned(), listen.to_string()]);
        }
        Self::spawn(&args, data_dir, env).await
    }

    /// Workers only, over `data_dir`.
    pub async fn worker(data_dir: &Path, env: &[(&str, String)]) -> anyhow::Result<Self> {
        Self::spawn(&["__worker".to_owned(), data_dir.display().to_string()], data_dir, env).await
    }

    async fn spawn(args: &[String], data_dir: &Path, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the benchmark binary")?;
        // The fault harness sends a process's log to a file (`BENCH_CHILD_LOG`): it kills
        // and restarts processes on purpose, and their complaints would bury its report.
        let stderr = match env.iter().find(|(k, _)| *k == "BENCH_CHILD_LOG") {
            Some((_, path)) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {path}"))?,
            ),
            None => Stdio::inherit(),
        };
        let mut child = Command::new(exe)
            .args(args)
            // Throughput is measured, not the per-principal rate limit.
            .env("FILEGATE_RATE_LIMIT__REQUESTS", "0")
            // Nor the per-address limit of the signed URLs every upload goes through.
            .env("FILEGATE_RATE_LIMIT__SIGNED_URLS__BURST", "0")
            // See `reindex`.
            .env_remove(KEEP_DATABASE)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("starting filegate")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("filegate did not start within 60 s")??
            .context("filegate exited before it was ready")?;
        let address = line
            .strip_prefix(READY_LINE)
            .with_context(|| format!("unexpected first line {line:?}"))?;
        let base_url = if address == "-" {
            String::new()
        } else {
            format!("http://{address}")
        };
        let process = Self {
            child,
            base_url,
            data_dir: data_dir.to_owned(),
        };
        if !process.base_url.is_empty() {
            process.wait_healthy().await?;
        }
        Ok(process)
    }

    async fn wait_healthy(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let url = format!("{}/healthz", self.base_url);
        for _ in 0..600 {
            if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{url} did not answer")
    }

    /// A client with an admin token of tenant `default`.
    pub fn client(&self) -> anyhow::Result<filegate_client::Client> {
        let token =
            filegate_server::tokens::issue(&self.data_dir, "default", "admin", "bench", Duration::from_secs(86_400))?;
        Ok(filegate_client::Client::builder(self.base_url.as_str())
            .token(token)
            .timeout(Duration::from_secs(600))
            .build()?)
    }

    /// Memory of the process now: (current RSS, peak RSS) in KiB, from /proc.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// Starts a new peak: the kernel resets the process's high-water mark (VmHWM) to its
    /// current RSS when `5` is written to `/proc/PID/clear_refs`. False when it could not.
    pub fn reset_peak(&self) -> bool {
        self.child
            .id()
            .is_some_and(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), b"5").is_ok())
    }

    /// Peak RSS since the last [`reset_peak`](Self::reset_peak) (or since start), in MiB.
    pub fn peak_mib(&self) -> Option<f64> {
        self.memory_kib().map(|(_, peak)| peak as f64 / 1024.0)
    }

    /// Whether the process has ended on its own.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// `kill -9`: no shutdown, nothing flushed (the fault harness).
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// SIGTERM, and wait for a clean exit (killed after 30 s).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            // SAFETY-free: `kill` through the command line keeps this crate free of libc.
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => self.child.kill().await?,
        }
        Ok(())
    }
}
