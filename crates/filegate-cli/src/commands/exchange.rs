//! `filegate exchange passphrase`: the current exchange passphrase, alone on stdout (for
//! tools that encrypt by themselves, e.g. `age -p`). Every read is audited by the server.

use crate::{
    cli::ExchangeCommand,
    exit::{Exit, Failure},
    output::Output,
    profile::Connection,
};

pub async fn run(conn: &Connection, command: ExchangeCommand, out: &Output) -> Result<Exit, Failure> {
    match command {
        ExchangeCommand::Passphrase => {
            let current = conn.client.exchange_passphrase().await?;
            if out.is_json() {
                out.json(&current)?;
            } else {
                out.line(&current.passphrase);
                out.note(format!("(version {}, created {})", current.version, current.created_at));
            }
            Ok(Exit::Ok)
        }
    }
}
