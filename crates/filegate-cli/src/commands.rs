//! Subcommands: `serve` runs the gateway, `token` prints a JWT for a data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use filegate_server::{Config, Gateway, telemetry, tokens};

#[derive(Parser)]
#[command(name = "filegate", version, about = "A self-hosted file gateway")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API and the processing workers.
    Serve {
        /// A TOML config file (every option is in the README); FILEGATE_* variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory [default: ./filegate-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Serve the API only; run `filegate worker` processes for the processing.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run the processing workers only (no HTTP), against the same engines as the gateways.
    Worker {
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print a signed JWT for a data directory (alone on stdout).
    Token {
        #[arg(long, default_value = "./filegate-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// reader, writer, admin, superadmin or exchange.
        #[arg(long, default_value = "admin")]
        role: String,
        /// The subject (who the token speaks for).
        #[arg(long, default_value = "cli")]
        sub: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            no_workers,
        } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            if no_workers {
                config.workers.enabled = false;
            }
            serve(config).await
        }
        Command::Worker { config, data_dir } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            telemetry::init(&config.log);
            eprintln!("filegate: worker started");
            filegate_server::work(config, shutdown_signal()).await
        }
        Command::Token {
            data_dir,
            tenant,
            role,
            sub,
            ttl,
        } => {
            let token = tokens::issue(&data_dir, &tenant, &role, &sub, Duration::from_secs(ttl))?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn serve(mut config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    // Signed URLs must name the port actually bound (`--listen 127.0.0.1:0` picks one).
    config.listen = address;
    let data_dir = config.data_dir.clone();
    let gateway = Gateway::open(config).await?;
    if gateway.first_start {
        eprintln!(
            "filegate: initialised {} with tenant `default` and bucket `default`.",
            data_dir.display()
        );
    }
    eprintln!("filegate: listening on http://{address}");
    eprintln!(
        "filegate: get a token with: filegate token --data-dir {} --role admin",
        data_dir.display()
    );
    gateway.serve(listener, shutdown_signal()).await
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("signal received");
}
