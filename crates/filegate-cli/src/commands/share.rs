//! `filegate share ID|PATH [--qr]`: a link to a file (see `shares` in API.md).

use crate::{
    cli::ShareArgs,
    exit::{Exit, Failure},
    output::Output,
    profile::Connection,
};

pub async fn run(_conn: &Connection, _args: ShareArgs, _out: &Output) -> Result<Exit, Failure> {
    Err(Failure::new(Exit::Failure, "sharing is not available yet"))
}
