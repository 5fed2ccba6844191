//! `filegate audit [--file ID] [--actor A] [--action X] [--since T] [--limit N]`: the
//! tenant's audit trail, newest first (tenant admins).

use filegate_client::api::{AuditEntry, AuditFilter};
use serde_json::json;

use crate::{
    cli::AuditArgs,
    exit::{Exit, Failure},
    output::Output,
    profile::Connection,
};

/// The most records the server gives in one page.
const PAGE: usize = 200;

pub async fn run(conn: &Connection, args: AuditArgs, out: &Output) -> Result<Exit, Failure> {
    let mut filter = AuditFilter {
        file_id: args.file_id,
        actor: args.actor,
        action: args.action,
        since: args.since,
        ..AuditFilter::default()
    };
    let mut items: Vec<AuditEntry> = Vec::new();
    while items.len() < args.limit {
        filter.limit = Some(u32::try_from((args.limit - items.len()).min(PAGE)).unwrap_or(PAGE as u32));
        let page = conn.client.audit(&filter).await?;
        let last = page.items.is_empty() || page.next_cursor.is_none();
        items.extend(page.items);
        filter.cursor = page.next_cursor;
        if last {
            break;
        }
    }
    items.truncate(args.limit);
    if out.is_json() {
        out.json(&json!({ "items": items }))?;
        return Ok(Exit::Ok);
    }
    for e in &items {
        out.line(format!(
            "{}  {:<24} {:<28} {}  {}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            e.file_id.as_deref().unwrap_or("-"),
            e.details
        ));
    }
    Ok(Exit::Ok)
}
