//! `filegate requests` lists the pending file requests; `filegate requests fulfil ID FILE`
//! uploads a file against one (the hospital exchange: the extract a partner is asked for).

use std::time::Duration;

use serde_json::json;

use crate::{
    cli::{RequestsArgs, RequestsCommand},
    exit::{Exit, Failure},
    output::Output,
    profile::Connection,
};

use super::upload::{self, Template};

pub async fn run(conn: &Connection, args: RequestsArgs, out: &Output) -> Result<Exit, Failure> {
    match args.command {
        None => list(conn, args.all, out).await,
        Some(RequestsCommand::Fulfil {
            id,
            file,
            bucket,
            prefix,
            encrypt,
            wait,
            wait_timeout,
            transfer,
        }) => {
            let planned = upload::collect(std::slice::from_ref(&file), prefix.as_deref())?;
            if planned.len() != 1 {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("{} must be one file", file.display()),
                ));
            }
            // Refuse early, before encrypting anything, when the request is not pending.
            let request = conn.client.get_file_request(&id).await?;
            if request.status != "pending" {
                return Err(Failure::new(
                    Exit::Rejected,
                    format!("request {id} is {}, not pending", request.status),
                ));
            }
            let template = Template {
                bucket: conn.bucket(bucket.as_deref()),
                metadata: Default::default(),
                content_type: None,
                request_id: Some(id),
                external_id: None,
                wait: wait.then(|| Duration::from_secs(wait_timeout)),
            };
            let options = upload::options(conn, &transfer, encrypt).await?;
            upload::upload_all(conn, planned, &template, &options, 1, out).await
        }
    }
}

async fn list(conn: &Connection, all: bool, out: &Output) -> Result<Exit, Failure> {
    let list = conn.client.list_file_requests((!all).then_some("pending")).await?;
    if out.is_json() {
        out.json(&list)?;
        return Ok(Exit::Ok);
    }
    if list.items.is_empty() {
        out.note(if all { "no requests" } else { "no pending requests" });
    }
    for r in &list.items {
        let due = r
            .due_at
            .map_or_else(|| "-".to_owned(), |d| d.format("%Y-%m-%d %H:%M").to_string());
        let note = if r.note.is_empty() {
            String::new()
        } else {
            format!("  {:?}", r.note)
        };
        out.line(format!(
            "{}  {:<9}  due {due}  {}{note}",
            r.id,
            r.status,
            json!(r.parameters)
        ));
    }
    Ok(Exit::Ok)
}
