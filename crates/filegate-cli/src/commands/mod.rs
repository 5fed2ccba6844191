//! One module per command; `run` sends each command to its module.

mod audit;
mod completions;
mod download;
mod exchange;
mod files;
mod login;
mod requests;
mod search;
mod serve;
mod share;
mod target;
mod upload;
mod watch;

use crate::{
    cli::{Cli, Command},
    exit::{Exit, Failure},
    output::Output,
    profile,
};

pub(crate) use serve::shutdown_signal;

/// Runs the command; `Ok` carries the exit code of a command that ran to its end (which
/// may still report a problem, such as a file that is not `ready` after `--wait`).
pub async fn run(cli: Cli, out: &Output) -> Result<Exit, Failure> {
    let Cli { global, command } = cli;
    let connect = || profile::connect(&global);
    match command {
        command
        @ (Command::Serve { .. } | Command::Worker { .. } | Command::Reindex { .. } | Command::Token { .. }) => {
            serve::run(command)
                .await
                .map(|()| Exit::Ok)
                .map_err(|e| Failure::new(Exit::Failure, format!("{e:#}")))
        }
        Command::Completions { shell } => completions::run(shell),
        Command::Login(args) => login::run(args, &global, out).await,
        Command::Upload(args) => upload::run(&connect()?, args, out).await,
        Command::Download(args) => download::run(&connect()?, args, out).await,
        Command::Ls(args) => files::ls(&connect()?, args, out).await,
        Command::Search(args) => search::run(&connect()?, args, out).await,
        Command::Stat(args) => files::stat(&connect()?, args, out).await,
        Command::Rm(args) => files::rm(&connect()?, args, out).await,
        Command::Restore(args) => files::restore(&connect()?, args, out).await,
        Command::Mv(args) => files::mv(&connect()?, args, out).await,
        Command::Share(args) => share::run(&connect()?, args, out).await,
        Command::Requests(args) => requests::run(&connect()?, args, out).await,
        Command::Exchange { command } => exchange::run(&connect()?, command, out).await,
        Command::Audit(args) => audit::run(&connect()?, args, out).await,
        Command::Watch(args) => watch::run(&connect()?, args, out).await,
    }
}
