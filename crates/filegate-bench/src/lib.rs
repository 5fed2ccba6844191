//! filegate's benchmark suite. Each measurement runs next to a baseline in the same run (the
//! machine's limit, or what a user would pick instead), several times, and the medians go
//! into `bench/REPORT.md`. filegate runs in child processes of this binary (see
//! [`process`]) so that its memory is measured alone.
//!
//! `filegate-bench all` is the full run; `--smoke` shrinks every size so that CI proves in
//! seconds that the suite still works.

mod data;
mod machine;
mod pipeline;
mod process;
mod report;
mod stages;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Only the pipeline measurements.
    Pipeline(RunArgs),
    #[command(name = "__serve", hide = true)]
    Serve {
        data_dir: PathBuf,
        #[arg(long)]
        no_workers: bool,
    },
    #[command(name = "__worker", hide = true)]
    Worker { data_dir: PathBuf },
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Tiny sizes and one run: proves the suite works, measures nothing worth reading.
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
}

/// What the sizes are in a full run and in a smoke run.
struct Sizes {
    small_files: usize,
    small_size: usize,
    big_file: usize,
}

impl Sizes {
    fn of(smoke: bool) -> Self {
        if smoke {
            Self {
                small_files: 50,
                small_size: 10 * 1024,
                big_file: 4 << 20,
            }
        } else {
            Self {
                small_files: 10_000,
                small_size: 10 * 1024,
                big_file: 1 << 30,
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
        Command::Serve { data_dir, no_workers } => process::run_child("serve", data_dir, !no_workers).await,
        Command::Worker { data_dir } => process::run_child("worker", data_dir, true).await,
        Command::All(args) => measure(args, "all").await,
        Command::Pipeline(args) => measure(args, "pipeline").await,
    }
}

async fn measure(args: RunArgs, which: &str) -> anyhow::Result<()> {
    let runs = if args.smoke { 1 } else { args.runs.max(1) };
    let sizes = Sizes::of(args.smoke);
    let work = match &args.work_dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let machine = machine::Machine::read(work.path());
    let mut sections = Vec::new();
    eprintln!("pipeline: {} small files", sizes.small_files);
    sections.push(pipeline::small_files(work.path(), runs, sizes.small_files, sizes.small_size).await?);
    eprintln!("pipeline: hash stage on {} MiB", sizes.big_file >> 20);
    sections.push(pipeline::hash_stage(work.path(), runs, sizes.big_file).await?);
    eprintln!("pipeline: scan stage on {} MiB", sizes.big_file >> 20);
    sections.push(stages::scan_stage(work.path(), runs, sizes.big_file).await?);
    eprintln!("pipeline: decrypt stage on {} MiB", sizes.big_file >> 20);
    sections.push(stages::decrypt_stage(work.path(), runs, sizes.big_file).await?);

    let smoke = if args.smoke { " --smoke" } else { "" };
    let command = format!("filegate-bench {which}{smoke} --runs {runs}");
    let text = report::render(&machine, &command, runs, &sections);
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, &text)?;
    println!("{text}");
    Ok(())
}
