//! filegate's benchmark suite. Each measurement runs next to a baseline in the same run (the
//! machine's limit, or what a user would pick instead), several times, and the medians go
//! into `bench/REPORT.md`. filegate runs in child processes of this binary (see
//! [`process`]) so that its memory is measured alone.
//!
//! `filegate-bench all` is the full run; `--smoke` shrinks every size so that CI proves in
//! seconds that the suite still works.

mod control;
mod corpus;
mod data;
mod dataplane;
mod deploy;
mod faults;
mod growth;
mod load;
mod machine;
mod nginx;
mod pipeline;
mod process;
mod report;
mod search;
mod seed;
mod stages;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::deploy::{Deployment, EngineUrls, Kind};
use crate::report::Section;

#[derive(Parser)]
#[command(name = "filegate-bench", about = "filegate's benchmarks, each next to a baseline")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every measurement; writes the report.
    All(RunArgs),
    /// Only the data plane (big uploads and downloads, server memory).
    DataPlane(RunArgs),
    /// Only the control plane (upload cycles, the PUT step, GET of a file).
    ControlPlane(RunArgs),
    /// Only the pipeline measurements.
    Pipeline(RunArgs),
    /// Only the growth measurements (list and change feed at 10k, 100k, 1M files).
    Growth(RunArgs),
    /// Only the search measurements (queries, suggestions, reindex at 10k, 100k, 1M files).
    Search(RunArgs),
    /// Fault injection: uploads under kill -9, engine outages and a full disk; counts what
    /// was lost (see `faults`). Fails when any count but the recovery time is not 0.
    Faults(faults::FaultArgs),
    #[command(name = "__serve", hide = true)]
    Serve {
        data_dir: PathBuf,
        #[arg(long)]
        no_workers: bool,
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    #[command(name = "__worker", hide = true)]
    Worker { data_dir: PathBuf },
    #[command(name = "__reindex", hide = true)]
    Reindex { data_dir: PathBuf },
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Tiny sizes and one run: proves the suite works, measures nothing worth reading.
    /// Skips the nginx baselines (CI does not install nginx).
    #[arg(long)]
    smoke: bool,
    /// Runs of each measurement (the report shows median, min and max).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Where the report goes.
    #[arg(long, default_value = "bench/REPORT.md")]
    out: PathBuf,
    /// Where files are written (its filesystem is part of the result).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// PostgreSQL for the second engine (a database of the benchmark's own is created on it
    /// and dropped after). Without it the PostgreSQL sections are skipped.
    #[arg(long, env = "FILEGATE_TEST_POSTGRES_URL")]
    postgres: Option<String>,
    /// RabbitMQ for the scale-out control plane.
    #[arg(long, env = "FILEGATE_TEST_AMQP_URL")]
    amqp: Option<String>,
    /// The s3s-fs binary (an S3 server) for the scale-out control plane.
    #[arg(long, env = "FILEGATE_TEST_S3S_FS")]
    s3s_fs: Option<PathBuf>,
    /// How many small files go through the pipeline (for profiling; the report's number is
    /// the default, 10,000).
    #[arg(long, hide = true)]
    small_files: Option<usize>,
    /// The size of the one big file of the stages, in MiB (for profiling; default 1024).
    #[arg(long, hide = true)]
    big_file_mib: Option<usize>,
    /// Only these control-plane concurrencies (for profiling; default 1, 16 and 64).
    #[arg(long, hide = true, value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Only these search levels, in files (for profiling; default 10k, 100k and 1M).
    #[arg(long, hide = true, value_delimiter = ',')]
    search_levels: Vec<usize>,
    /// Seconds per control-plane loop (for profiling; default 4).
    #[arg(long, hide = true)]
    loop_seconds: Option<u64>,
}

impl RunArgs {
    fn urls(&self) -> EngineUrls {
        let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        EngineUrls {
            postgres: set(&self.postgres),
            amqp: set(&self.amqp),
            s3s_fs: self.s3s_fs.clone().filter(|p| !p.as_os_str().is_empty()),
        }
    }
}

/// What the sizes are in a full run and in a smoke run.
struct Sizes {
    small_files: usize,
    small_size: usize,
    big_file: usize,
    /// The data plane's two files: throughput is compared on the first, memory must stay
    /// flat up to the second.
    transfers: [u64; 2],
    control: control::Plan,
    growth_levels: Vec<usize>,
    growth_requests: usize,
    search: search::Plan,
}

impl Sizes {
    fn of(smoke: bool) -> Self {
        if smoke {
            Self {
                small_files: 50,
                small_size: 10 * 1024,
                big_file: 4 << 20,
                transfers: [4 << 20, 8 << 20],
                control: control::Plan {
                    duration: Duration::from_millis(300),
                    concurrency: vec![1, 4],
                },
                growth_levels: vec![200, 1000],
                growth_requests: 10,
                search: search::Plan {
                    levels: vec![1000],
                    requests: 10,
                    probes: 3,
                },
            }
        } else {
            Self {
                small_files: 10_000,
                small_size: 10 * 1024,
                big_file: 1 << 30,
                transfers: [1 << 30, 4 << 30],
                control: control::Plan {
                    duration: Duration::from_secs(4),
                    concurrency: vec![1, 16, 64],
                },
                growth_levels: vec![10_000, 100_000, 1_000_000],
                growth_requests: 200,
                search: search::Plan {
                    levels: vec![10_000, 100_000, 1_000_000],
                    requests: 200,
                    probes: 100,
                },
            }
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            data_dir,
            no_workers,
            listen,
        } => process::run_child("serve", data_dir, !no_workers, listen).await,
        Command::Worker { data_dir } => process::run_child("worker", data_dir, true, None).await,
        Command::Reindex { data_dir } => process::run_child("reindex", data_dir, false, None).await,
        Command::Faults(args) => faults::run(args).await,
        Command::All(args) => measure(args, "all").await,
        Command::DataPlane(args) => measure(args, "data-plane").await,
        Command::ControlPlane(args) => measure(args, "control-plane").await,
        Command::Pipeline(args) => measure(args, "pipeline").await,
        Command::Growth(args) => measure(args, "growth").await,
        Command::Search(args) => measure(args, "search").await,
    }
}

async fn measure(args: RunArgs, which: &str) -> anyhow::Result<()> {
    let runs = if args.smoke { 1 } else { args.runs.max(1) };
    let mut sizes = Sizes::of(args.smoke);
    if let Some(n) = args.small_files {
        sizes.small_files = n.max(1);
    }
    if let Some(mib) = args.big_file_mib {
        sizes.big_file = mib.max(1) << 20;
    }
    if !args.concurrency.is_empty() {
        sizes.control.concurrency = args.concurrency.iter().map(|&c| c.max(1)).collect();
    }
    if !args.search_levels.is_empty() {
        sizes.search.levels = args.search_levels.clone();
    }
    if let Some(secs) = args.loop_seconds {
        sizes.control.duration = Duration::from_secs(secs.max(1));
    }
    let work = match &args.work_dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let urls = args.urls();
    // nginx is the baseline of the data and control planes only.
    let with_nginx = !args.smoke && ["all", "data-plane", "control-plane"].contains(&which);
    if with_nginx && nginx::binary().is_none() {
        anyhow::bail!("nginx is not installed: run bench/nginx.sh (or bench/run.sh, which does)");
    }
    let machine = machine::Machine::read(work.path(), &urls).await;
    let part = |name: &str| which == "all" || which == name;
    let mut sections = Vec::new();
    let mut skipped = Vec::new();

    if part("data-plane") {
        eprintln!(
            "data plane: {} and {} MiB",
            sizes.transfers[0] >> 20,
            sizes.transfers[1] >> 20
        );
        sections.push(dataplane::data_plane(work.path(), runs, sizes.transfers, with_nginx).await?);
    }
    if part("control-plane") {
        let nginx = if with_nginx {
            Some(nginx::Nginx::start(&work.path().join("nginx-control")).await?)
        } else {
            None
        };
        for kind in [Kind::Embedded, Kind::Postgres, Kind::ScaleOut] {
            if let Some(why) = kind.missing(&urls) {
                skipped.push(format!("control plane on {}: {why}", kind.label()));
                continue;
            }
            eprintln!("control plane: {}", kind.label());
            let dir = work.path().join(format!("control-{kind:?}"));
            let deployment = Deployment::start(kind, &urls, &dir).await?;
            let baseline = if kind == Kind::Embedded { nginx.as_ref() } else { None };
            let section = control::control_plane(&dir, runs, &sizes.control, &deployment, baseline).await;
            deployment.finish().await?;
            sections.push(section?);
            std::fs::remove_dir_all(&dir).ok();
        }
        if let Some(nginx) = nginx {
            nginx.stop().await?;
        }
    }
    if part("pipeline") {
        // The embedded figure and the scale-out one, each on its own engines.
        for kind in [Kind::Embedded, Kind::ScaleOut] {
            if let Some(why) = kind.missing(&urls) {
                skipped.push(format!("pipeline on {}: {why}", kind.label()));
                continue;
            }
            eprintln!("pipeline: {} small files, {}", sizes.small_files, kind.label());
            sections.push(
                pipeline::small_files(work.path(), runs, sizes.small_files, sizes.small_size, kind, &urls).await?,
            );
        }
        eprintln!("pipeline: hash stage on {} MiB", sizes.big_file >> 20);
        sections.push(pipeline::hash_stage(work.path(), runs, sizes.big_file).await?);
    }
    if part("growth") {
        for kind in [Kind::Embedded, Kind::Postgres] {
            if let Some(why) = kind.missing(&urls) {
                skipped.push(format!("growth on {}: {why}", kind.label()));
                continue;
            }
            eprintln!("growth: {}", kind.label());
            let dir = work.path().join(format!("growth-{kind:?}"));
            let deployment = Deployment::start(kind, &urls, &dir).await?;
            let section = growth::growth(
                &dir,
                runs,
                &sizes.growth_levels,
                sizes.growth_requests,
                sizes.control.duration,
                &deployment,
            )
            .await;
            deployment.finish().await?;
            sections.push(section?);
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    if part("search") {
        for kind in [Kind::Embedded, Kind::Postgres] {
            if let Some(why) = kind.missing(&urls) {
                skipped.push(format!("search on {}: {why}", kind.label()));
                continue;
            }
            eprintln!("search: {}", kind.label());
            let dir = work.path().join(format!("search-{kind:?}"));
            let deployment = Deployment::start(kind, &urls, &dir).await?;
            let section = search::search(&dir, runs, &sizes.search, &deployment).await;
            deployment.finish().await?;
            sections.push(section?);
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    if part("pipeline") {
        eprintln!("pipeline: scan stage on {} MiB", sizes.big_file >> 20);
        sections.push(stages::scan_stage(work.path(), runs, sizes.big_file).await?);
        eprintln!("pipeline: decrypt stage on {} MiB", sizes.big_file >> 20);
        sections.push(stages::decrypt_stage(work.path(), runs, sizes.big_file).await?);
    }
    if !with_nginx && (part("data-plane") || part("control-plane")) {
        skipped.push("nginx baselines: skipped in a smoke run (CI does not install nginx)".into());
    }
    if !skipped.is_empty() {
        let mut s = Section::new("Skipped");
        for line in &skipped {
            eprintln!("note: skipped {line}");
            s.line(format!("- {line}"));
        }
        sections.push(s);
    }

    let smoke = if args.smoke { " --smoke" } else { "" };
    let command = format!("filegate-bench {which}{smoke} --runs {runs}");
    let mut text = report::render(&machine, &command, runs, &sections);
    // What limits the missed targets, written by hand from profiles: kept next to the
    // report so that a new run carries it along (re-check it when the numbers move).
    let limits = args.out.with_file_name("LIMITS.md");
    if let Ok(analysis) = std::fs::read_to_string(&limits) {
        text.push_str(&analysis);
    }
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, &text)?;
    println!("{text}");
    Ok(())
}
