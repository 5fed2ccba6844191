//! `filegate completions bash|zsh|fish|...`: a completion script on stdout.

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::{
    cli::Cli,
    exit::{Exit, Failure},
};

pub fn run(shell: Shell) -> Result<Exit, Failure> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "filegate", &mut std::io::stdout());
    Ok(Exit::Ok)
}
