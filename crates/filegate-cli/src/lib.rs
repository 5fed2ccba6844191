//! The `filegate` command line: the server (`serve`, `worker`, `token`) and the client
//! of its API (`login`, `upload`, `download`, `ls`, `watch`, ...), built on
//! `filegate-client`.
//!
//! - `cli`: the command-line grammar (clap);
//! - `profile`: where the server and token come from (config file, environment);
//! - `output`: human text or `--json`, and how errors are shown;
//! - `exit`: the documented exit codes;
//! - `progress`: progress bars on a terminal;
//! - `commands/`: one module per command.

pub mod cli;
mod commands;
mod exit;
mod output;
mod profile;
mod progress;

use std::process::ExitCode;

use clap::Parser as _;

pub use exit::Exit;

/// Parses the command line, runs the command, and turns the outcome into an exit code
/// (usage errors exit with 2 before anything runs).
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let out = output::Output::new(cli.global.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            out.fail(&exit::Failure::new(
                Exit::Failure,
                format!("cannot start the async runtime: {e}"),
            ));
            return Exit::Failure.into();
        }
    };
    match runtime.block_on(commands::run(cli, &out)) {
        Ok(code) => code.into(),
        Err(failure) => {
            out.fail(&failure);
            failure.exit.into()
        }
    }
}
