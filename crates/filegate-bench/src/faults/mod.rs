//! `filegate-bench faults`: 1,000 concurrent uploads while something breaks, then a count
//! of what a user lost. Scenarios:
//!
//! - `kill`: `kill -9` of the processes three times during the load, restarted at once, on
//!   the embedded deployment (one `serve` with its workers, SQLite, local directory) and on
//!   the scale-out one (a `serve --no-workers` gateway and a `worker`);
//! - `postgres`, `rabbitmq`, `redis`, `s3`, `clamd` (or `engines` for all five): that engine
//!   of the scale-out deployment stopped for `--outage-secs` mid-load, then started again;
//! - `disk-full`: the embedded deployment on a 64 MiB tmpfs, filled mid-load for
//!   `--outage-secs`, then freed (needs root for the mount).
//!
//! The scale-out engines are private to the run (their own PostgreSQL cluster, RabbitMQ
//! node, Redis, s3s-fs and clamd, see [`engines`]): stopping them disturbs nothing else.
//! Counted: confirmed uploads lost or changed (sha256 of a re-read), files the API serves
//! with bytes that were never sent (partial objects visible), objects in storage holding
//! such bytes, confirmed files that never became `ready` (jobs lost), `file.ready` webhooks
//! that never arrived (events lost), gateway 5xx answers without `Retry-After`; and the time
//! to recover. Every count must be 0, or the command fails.

mod engines;
mod load;
mod receiver;
mod verify;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use filegate_api::CreateWebhook;
use sqlx::AssertSqlSafe;

use self::engines::{Engine, Engines};
use self::load::{Load, Tally};
use self::verify::{Check, Found};
use crate::process::Filegate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    All,
    Kill,
    Engines,
    Postgres,
    Rabbitmq,
    Redis,
    S3,
    Clamd,
    DiskFull,
}

#[derive(clap::Args, Clone)]
pub struct FaultArgs {
    /// Which scenarios (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    scenario: Vec<Choice>,
    /// Uploads per scenario.
    #[arg(long, default_value_t = 1000)]
    uploads: usize,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long an engine stays stopped (and the disk full).
    #[arg(long, default_value_t = 30)]
    outage_secs: u64,
    /// How long the client retries one step before giving up on an upload (default: the
    /// outage plus two minutes).
    #[arg(long)]
    patience_secs: Option<u64>,
    /// How long after the last fault every confirmed file has to become ready and its
    /// event arrive.
    #[arg(long, default_value_t = 300)]
    settle_secs: u64,
    /// Where the table goes (Markdown) besides stdout.
    #[arg(long, default_value = "bench/FAULTS.md")]
    out: PathBuf,
    /// Where the scenarios' files go.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The s3s-fs binary (an S3 server that checks signatures).
    #[arg(long, env = "FILEGATE_TEST_S3S_FS")]
    s3s_fs: Option<PathBuf>,
}

/// One scenario to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    KillEmbedded,
    KillScaleOut,
    Outage(Engine),
    DiskFull,
}

impl Scenario {
    fn label(self) -> String {
        match self {
            Scenario::KillEmbedded => "`kill -9` ×3 (serve with workers)".into(),
            Scenario::KillScaleOut => "`kill -9` ×3 (gateway and worker)".into(),
            Scenario::Outage(e) => format!("{} stopped", e.label()),
            Scenario::DiskFull => "data disk full (tmpfs)".into(),
        }
    }

    fn scale_out(self) -> bool {
        matches!(self, Scenario::KillScaleOut | Scenario::Outage(_))
    }

    fn expand(choices: &[Choice]) -> Vec<Scenario> {
        let outages = [
            Engine::Postgres,
            Engine::RabbitMq,
            Engine::Redis,
            Engine::S3,
            Engine::Clamd,
        ];
        let mut out = Vec::new();
        for c in choices {
            let add: Vec<Scenario> = match c {
                Choice::All => [Scenario::KillEmbedded, Scenario::KillScaleOut]
                    .into_iter()
                    .chain(outages.map(Scenario::Outage))
                    .chain([Scenario::DiskFull])
                    .collect(),
                Choice::Kill => vec![Scenario::KillEmbedded, Scenario::KillScaleOut],
                Choice::Engines => outages.map(Scenario::Outage).to_vec(),
                Choice::Postgres => vec![Scenario::Outage(Engine::Postgres)],
                Choice::Rabbitmq => vec![Scenario::Outage(Engine::RabbitMq)],
                Choice::Redis => vec![Scenario::Outage(Engine::Redis)],
                Choice::S3 => vec![Scenario::Outage(Engine::S3)],
                Choice::Clamd => vec![Scenario::Outage(Engine::Clamd)],
                Choice::DiskFull => vec![Scenario::DiskFull],
            };
            for s in add {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }
}

/// One scenario's result: a row of the table.
struct Row {
    scenario: Scenario,
    tally: Arc<Tally>,
    found: Found,
    gave_up: usize,
    /// Per fault: from the restart (of the processes or the engine, or the freed disk) to
    /// the first upload confirmed after it.
    recoveries: Vec<Option<Duration>>,
    /// Uploads confirmed while an engine was down or the disk full (`None` for kills).
    during: Option<usize>,
}

impl Row {
    fn failures(&self) -> usize {
        let f = &self.found;
        f.lost_or_changed + f.partial_visible + f.stray_objects + f.not_ready + f.events_lost + self.no_retry_after()
    }

    fn no_retry_after(&self) -> usize {
        self.tally.no_retry_after.lock().map_or(0, |l| l.len())
    }
}

pub async fn run(args: FaultArgs) -> anyhow::Result<()> {
    let scenarios = Scenario::expand(&args.scenario);
    let work = match &args.work_dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let mut engines = None;
    if scenarios.iter().any(|s| s.scale_out()) {
        let s3s_fs = args
            .s3s_fs
            .clone()
            .filter(|p| p.is_file())
            .context("the scale-out scenarios need s3s-fs (FILEGATE_TEST_S3S_FS or --s3s-fs)")?;
        engines = Some(Engines::start(&work.path().join("engines"), &s3s_fs).await?);
    }
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for scenario in scenarios {
        if scenario == Scenario::DiskFull && !rustix::process::geteuid().is_root() {
            skipped.push("data disk full: mounting a tmpfs needs root".to_owned());
            continue;
        }
        eprintln!("faults: {}", scenario.label());
        let dir = work.path().join(format!("{scenario:?}").replace(['(', ')'], "-"));
        std::fs::create_dir_all(&dir)?;
        let row = run_scenario(scenario, &args, &dir, engines.as_mut()).await?;
        print_row_notes(&row);
        rows.push(row);
    }
    drop(engines);

    let text = render(&args, &rows, &skipped);
    println!("{text}");
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, &text)?;
    let failures: usize = rows.iter().map(Row::failures).sum();
    if failures > 0 {
        // The processes' logs (`filegate.log` per scenario) hold the request ids' story.
        let kept = work.keep();
        eprintln!("faults: logs kept in {}", kept.display());
        bail!("{failures} fault(s) counted: see the table and the notes above");
    }
    Ok(())
}

/// The processes under test and how to start them again.
struct Deployment {
    data_dir: PathBuf,
    env: Vec<(&'static str, String)>,
    listen: SocketAddr,
    scale_out: bool,
    /// Where the objects lie on disk.
    storage: PathBuf,
    /// The tmpfs of the disk-full scenario, unmounted at the end.
    mount: Option<PathBuf>,
}

struct Running {
    gateway: Filegate,
    worker: Option<Filegate>,
}

impl Deployment {
    async fn embedded(dir: &Path, tmpfs: bool) -> anyhow::Result<Self> {
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir)?;
        let mut mount = None;
        if tmpfs {
            let status = tokio::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs"])
                .arg(&data_dir)
                .status()
                .await?;
            anyhow::ensure!(status.success(), "mount -t tmpfs failed");
            mount = Some(data_dir.clone());
        }
        Ok(Self {
            storage: data_dir.join("objects"),
            data_dir,
            env: common_env(dir),
            listen: SocketAddr::from(([127, 0, 0, 1], engines::free_port()?)),
            scale_out: false,
            mount,
        })
    }

    async fn scale_out(dir: &Path, engines: &Engines) -> anyhow::Result<Self> {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let database = format!("faults_{tag}");
        let admin = sqlx::PgPool::connect(&engines.postgres.url("postgres")).await?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&admin)
            .await?;
        admin.close().await;
        let bucket = format!("faults-{tag}");
        std::fs::create_dir_all(engines.s3_root.join(&bucket))?;
        let mut env = common_env(dir);
        env.extend([
            ("FILEGATE_DATABASE", engines.postgres.url(&database)),
            (
                "FILEGATE_STORAGE",
                format!(
                    "s3://{bucket}?endpoint=http://127.0.0.1:{}&region=us-east-1&path_style=true&access_key={}&secret_key={}",
                    engines.s3.port,
                    engines::S3_ACCESS_KEY,
                    engines::S3_SECRET_KEY
                ),
            ),
            (
                "FILEGATE_QUEUE",
                format!(
                    "{}?prefix=faults_{tag}&events_exchange=faults_{tag}.events",
                    engines.rabbitmq.url()
                ),
            ),
            (
                "FILEGATE_CACHE",
                format!("redis://127.0.0.1:{}/0?prefix=faults_{tag}:", engines.redis.port),
            ),
            ("FILEGATE_SCANNER__URL", format!("tcp://127.0.0.1:{}", engines.clamd.port)),
        ]);
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir)?;
        Ok(Self {
            storage: engines.s3_root.join(&bucket),
            data_dir,
            env,
            listen: SocketAddr::from(([127, 0, 0, 1], engines::free_port()?)),
            scale_out: true,
            mount: None,
        })
    }

    async fn start(&self) -> anyhow::Result<Running> {
        let gateway = Filegate::serve_at(&self.data_dir, !self.scale_out, &self.env, Some(self.listen)).await?;
        let worker = if self.scale_out {
            Some(Filegate::worker(&self.data_dir, &self.env).await?)
        } else {
            None
        };
        Ok(Running { gateway, worker })
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.listen)
    }
}

impl Running {
    async fn kill9(self) -> anyhow::Result<()> {
        self.gateway.kill9().await?;
        if let Some(worker) = self.worker {
            worker.kill9().await?;
        }
        Ok(())
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.gateway.stop().await?;
        if let Some(worker) = self.worker {
            worker.stop().await?;
        }
        Ok(())
    }

    /// Which processes have exited on their own (an engine outage must not end them).
    fn exited(&mut self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.gateway.has_exited() {
            out.push("gateway");
        }
        if self.worker.as_mut().is_some_and(Filegate::has_exited) {
            out.push("worker");
        }
        out
    }
}

fn common_env(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        // The webhook receiver is on loopback.
        ("FILEGATE_WEBHOOKS__ALLOW_PRIVATE_NETWORKS", "true".into()),
        ("BENCH_CHILD_LOG", dir.join("filegate.log").display().to_string()),
    ]
}

async fn run_scenario(
    scenario: Scenario,
    args: &FaultArgs,
    dir: &Path,
    engines: Option<&mut Engines>,
) -> anyhow::Result<Row> {
    let deployment = match (scenario.scale_out(), &engines) {
        (true, Some(engines)) => Deployment::scale_out(dir, engines).await?,
        (true, None) => bail!("no engines for {scenario:?}"),
        (false, _) => Deployment::embedded(dir, scenario == Scenario::DiskFull).await?,
    };
    let result = drive(scenario, args, &deployment, engines).await;
    if let Some(mount) = &deployment.mount {
        let _ = tokio::process::Command::new("umount").arg(mount).status().await;
    }
    result
}

async fn drive(
    scenario: Scenario,
    args: &FaultArgs,
    deployment: &Deployment,
    engines: Option<&mut Engines>,
) -> anyhow::Result<Row> {
    let mut running = deployment.start().await?;
    let client = running.gateway.client()?;
    let (hook_url, received) = receiver::start().await?;
    client
        .create_webhook(&CreateWebhook {
            url: hook_url,
            events: vec!["file.ready".into()],
            secret: None,
        })
        .await
        .context("subscribing the webhook receiver")?;

    let seed = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let uploads = Arc::new(load::uploads(args.uploads, &seed));
    let tally = Arc::new(Tally::default());
    let token = filegate_server::tokens::issue(
        &deployment.data_dir,
        "default",
        "admin",
        "faults",
        Duration::from_secs(86_400),
    )?;
    let load = Arc::new(Load {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()?,
        base_url: deployment.base_url(),
        token,
        bucket: "default".into(),
        patience: Duration::from_secs(args.patience_secs.unwrap_or(args.outage_secs + 120)),
        tally: tally.clone(),
    });
    let started = Instant::now();
    let mut loading = tokio::spawn(load.clone().run(uploads.clone(), args.concurrency));

    let n = args.uploads;
    let outage = Duration::from_secs(args.outage_secs);
    let mut restarts = Vec::new();
    let mut fault_began = None;
    let mut notes = Vec::new();
    match scenario {
        Scenario::KillEmbedded | Scenario::KillScaleOut => {
            for k in 1..=3 {
                wait_finished(&tally, n * k / 4, &loading).await;
                running.kill9().await?;
                let at = Instant::now();
                running = deployment.start().await?;
                eprintln!("faults: kill -9 #{k}: restarted in {:.2} s", at.elapsed().as_secs_f64());
                restarts.push(at);
            }
        }
        Scenario::Outage(engine) => {
            let engines = engines.context("no engines")?;
            wait_finished(&tally, n * 3 / 10, &loading).await;
            fault_began = Some(Instant::now());
            engines.down(engine).await?;
            tokio::time::sleep(outage).await;
            let at = Instant::now();
            engines.up(engine).await?;
            eprintln!("faults: {} back after {} s", engine.label(), outage.as_secs());
            restarts.push(at);
        }
        Scenario::DiskFull => {
            wait_finished(&tally, n * 3 / 10, &loading).await;
            let filler = deployment.data_dir.join("filler");
            fault_began = Some(Instant::now());
            let written = tokio::task::spawn_blocking({
                let filler = filler.clone();
                move || fill(&filler)
            })
            .await?;
            eprintln!("faults: disk full ({} MiB of filler)", written >> 20);
            tokio::time::sleep(outage).await;
            std::fs::remove_file(&filler)?;
            restarts.push(Instant::now());
            eprintln!("faults: disk space freed");
        }
    }
    for name in running.exited() {
        notes.push(format!("the {name} exited during the fault (restarted for the checks)"));
    }
    if !notes.is_empty() {
        running.stop().await.ok();
        running = deployment.start().await?;
    }
    let outcomes = (&mut loading).await.context("the load panicked")?;
    eprintln!(
        "faults: load done in {:.1} s: {} confirmed of {}",
        started.elapsed().as_secs_f64(),
        outcomes.iter().filter(|o| o.confirmed.is_some()).count(),
        n
    );
    let since = restarts.last().copied().unwrap_or(started);
    let mut found = Check {
        client: &running.gateway.client()?,
        bucket: "default",
        uploads: &uploads,
        outcomes: &outcomes,
        received: &received,
        storage: Some(deployment.storage.clone()),
        since,
        deadline: Duration::from_secs(args.settle_secs),
    }
    .run()
    .await?;
    found.notes.extend(notes);
    let gave_up = outcomes.iter().filter(|o| o.gave_up.is_some()).count();
    for why in outcomes.iter().filter_map(|o| o.gave_up.as_deref()).take(5) {
        found.notes.push(format!("client gave up: {why}"));
    }
    running.stop().await?;
    Ok(Row {
        scenario,
        recoveries: restarts.iter().map(|&t| tally.first_confirmation_after(t)).collect(),
        during: fault_began
            .zip(restarts.last())
            .map(|(from, &to)| tally.confirmations_between(from, to)),
        tally,
        found,
        gave_up,
    })
}

/// Until `count` uploads have finished (or the whole load has).
async fn wait_finished<T>(tally: &Tally, count: usize, loading: &tokio::task::JoinHandle<T>) {
    while tally.finished.load(Ordering::Relaxed) < count && !loading.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes zeros to `path` until the disk is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    use std::io::Write as _;
    let Ok(mut file) = std::fs::File::create(path) else {
        return 0;
    };
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    // The last partial MiB: as close to 0 bytes free as the filesystem allows.
    let small = vec![0u8; 4096];
    while file.write_all(&small).is_ok() {
        written += small.len() as u64;
    }
    let _ = file.sync_all();
    written
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("—".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

fn print_row_notes(row: &Row) {
    for note in row.found.notes.iter().take(20) {
        eprintln!("  note: {note}");
    }
    if let Ok(list) = row.tally.no_retry_after.lock() {
        for line in list.iter().take(10) {
            eprintln!("  5xx without Retry-After: {line}");
        }
    }
}

fn render(args: &FaultArgs, rows: &[Row], skipped: &[String]) -> String {
    let mut out = format!(
        "# filegate fault report\n\nGenerated by `filegate-bench faults --uploads {} --concurrency {} --outage-secs {}` \
         ({} build) on {}. Each scenario: {} uploads (1–16 KiB of random bytes, create → PUT → \
         complete with the declared sha256) at concurrency {}, every step retried on a connection \
         error, a 5xx or a 429 (after `Retry-After` when given). The counts must be 0; the times \
         are how long recovery took.\n\n",
        args.uploads,
        args.concurrency,
        args.outage_secs,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        args.uploads,
        args.concurrency,
    );
    out.push_str(
        "| scenario | confirmed | lost or changed | partial objects visible | bad objects in storage | jobs lost | events lost | 5xx without `Retry-After` | uploads confirmed during the outage | first upload confirmed after restart | all confirmed ready + events after the last fault |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let f = &row.found;
        let recovery = row.recoveries.iter().map(|r| secs(*r)).collect::<Vec<_>>().join(", ");
        let during = row.during.map_or("—".into(), |d| d.to_string());
        // No upload after the restart: the load ended before the engine came back.
        let recovery = if recovery.is_empty() || row.recoveries.iter().all(Option::is_none) {
            "— (the load had ended)".to_owned()
        } else {
            recovery
        };
        out.push_str(&format!(
            "| {} | {} / {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.scenario.label(),
            f.confirmed,
            args.uploads,
            f.lost_or_changed,
            f.partial_visible,
            f.stray_objects,
            f.not_ready,
            f.events_lost,
            row.no_retry_after(),
            during,
            recovery,
            secs(f.settled_after),
        ));
    }
    out.push_str(
        "\nAlso seen by the client (not failures: a careful client retries them): \n\n\
         | scenario | gateway answers | gateway 5xx (status: count) | S3 server 5xx | connection errors | retries | uploads given up |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let t = &row.tally;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            row.scenario.label(),
            t.gateway_answers.load(Ordering::Relaxed),
            t.gateway_5xx_by_status.lock().map_or(String::new(), |by| {
                let list: Vec<String> = by.iter().map(|(s, c)| format!("{s}: {c}")).collect();
                if list.is_empty() { "0".into() } else { list.join(", ") }
            }),
            t.storage_5xx.load(Ordering::Relaxed),
            t.connection_errors.load(Ordering::Relaxed),
            t.retries.load(Ordering::Relaxed),
            row.gave_up,
        ));
    }
    for s in skipped {
        out.push_str(&format!("\n- skipped: {s}\n"));
    }
    out
}
