//! The server side: `serve` runs the gateway, `worker` the processing workers, `reindex`
//! rebuilds the search index, `token` prints a JWT for a data directory.

use std::time::Duration;

use filegate_server::{Config, Gateway, telemetry, tokens};

use crate::cli::Command;

/// Runs `serve`, `worker`, `reindex` or `token` (the caller sends every other command elsewhere).
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
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
        Command::Reindex {
            config,
            data_dir,
            tenant,
        } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            telemetry::init(&config.log);
            let bar = crate::progress::counter("reindex");
            let indexed = filegate_server::reindex(config, tenant.as_deref(), |tenant, read, total| {
                bar.set_length(total);
                bar.set_position(read);
                bar.set_message(tenant.to_string());
            })
            .await;
            bar.finish_and_clear();
            eprintln!("filegate: {} files searchable", indexed?);
            Ok(())
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
        _ => anyhow::bail!("not a server command"),
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
pub(crate) async fn shutdown_signal() {
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
