//! `ls`, `stat`, `rm`, `restore`, `mv`: reading and changing files.

use filegate_client::{
    ListFiles,
    api::{FileView, PatchFile},
};
use futures::TryStreamExt as _;
use serde_json::json;

use crate::{
    cli::{LsArgs, MvArgs, RmArgs, TargetArgs},
    exit::{Exit, Failure},
    output::{Output, human_size},
    profile::Connection,
};

use super::target;

/// The most ids one batch delete takes.
const DELETE_BATCH: usize = 1000;

/// `filegate ls [PREFIX] [--bucket B] [--long] [--status S] [--limit N]`, sorted by path.
pub async fn ls(conn: &Connection, args: LsArgs, out: &Output) -> Result<Exit, Failure> {
    let query = ListFiles {
        bucket: args.bucket.clone(),
        prefix: args.prefix.map(|p| p.trim_start_matches('/').to_owned()),
        status: args.status,
        sort: Some("name".to_owned()),
        ..ListFiles::default()
    };
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut files = std::pin::pin!(conn.client.list_all_files(query));
    let mut items = Vec::new();
    while items.len() < limit
        && let Some(file) = files.try_next().await?
    {
        if out.is_json() {
            items.push(file);
        } else {
            out.line(ls_line(&file, args.long, args.bucket.is_none()));
        }
    }
    if out.is_json() {
        out.json(&json!({ "items": items }))?;
    }
    Ok(Exit::Ok)
}

fn ls_line(file: &FileView, long: bool, show_bucket: bool) -> String {
    let name = if show_bucket {
        format!("{}/{}", file.bucket, file.path)
    } else {
        file.path.clone()
    };
    if long {
        format!(
            "{}  {:<11} {:>10}  {}  {name}",
            file.id,
            file.status,
            human_size(file.size),
            file.created_at.format("%Y-%m-%d %H:%M:%S")
        )
    } else {
        name
    }
}

/// `filegate stat ID|PATH`.
pub async fn stat(conn: &Connection, args: TargetArgs, out: &Output) -> Result<Exit, Failure> {
    let file = target::resolve(conn, &args.target, args.bucket.as_deref(), None).await?;
    if out.is_json() {
        out.json(&file)?;
        return Ok(Exit::Ok);
    }
    let none = || "-".to_owned();
    let rows = [
        ("id", file.id.clone()),
        ("bucket", file.bucket.clone()),
        ("path", file.path.clone()),
        ("status", file.status.clone()),
        ("reason", file.status_reason.clone().unwrap_or_else(none)),
        ("size", format!("{} ({} bytes)", human_size(file.size), file.size)),
        ("content type", file.content_type.clone()),
        ("sha256", file.sha256.clone().unwrap_or_else(none)),
        ("encryption", file.encryption.clone().unwrap_or_else(none)),
        ("request", file.request_id.clone().unwrap_or_else(none)),
        ("external id", file.external_id.clone().unwrap_or_else(none)),
        ("owner", file.owner.clone()),
        ("downloads", file.download_count.to_string()),
        ("created", file.created_at.to_rfc3339()),
        ("updated", file.updated_at.to_rfc3339()),
    ];
    for (name, value) in rows {
        out.line(format!("{name:>13}: {value}"));
    }
    for (key, value) in &file.metadata {
        out.line(format!("{:>13}: {key}={value}", "metadata"));
    }
    Ok(Exit::Ok)
}

/// `filegate rm ID|PATH…`: one batch delete per 1000; exit 4 when some were not found.
pub async fn rm(conn: &Connection, args: RmArgs, out: &Output) -> Result<Exit, Failure> {
    let mut ids = Vec::new();
    let mut not_found = Vec::new();
    for target in &args.targets {
        if target::is_id(target) {
            ids.push(target.clone());
            continue;
        }
        match target::resolve(conn, target, args.bucket.as_deref(), None).await {
            Ok(file) => ids.push(file.id),
            Err(f) if f.exit == Exit::NotFound => {
                out.note(format!("error: {}", f.message));
                not_found.push(target.clone());
            }
            Err(f) => return Err(f),
        }
    }
    let mut deleted = Vec::new();
    for batch in ids.chunks(DELETE_BATCH) {
        let answer = conn.client.delete_files(batch).await?;
        deleted.extend(answer.deleted);
        not_found.extend(answer.not_found);
    }
    if out.is_json() {
        out.json(&json!({"deleted": deleted, "not_found": not_found}))?;
    } else {
        for id in &deleted {
            out.line(format!("deleted {id}"));
        }
        for id in not_found.iter().filter(|t| target::is_id(t)) {
            eprintln!("error: no file {id}");
        }
    }
    Ok(if not_found.is_empty() { Exit::Ok } else { Exit::NotFound })
}

/// `filegate restore ID|PATH` (a path names a deleted file).
pub async fn restore(conn: &Connection, args: TargetArgs, out: &Output) -> Result<Exit, Failure> {
    let file = target::resolve(conn, &args.target, args.bucket.as_deref(), Some("deleted")).await?;
    let file = conn.client.restore_file(&file.id).await?;
    show_changed(out, "restored", &file)
}

/// `filegate mv ID|PATH NEW_PATH` (within the bucket).
pub async fn mv(conn: &Connection, args: MvArgs, out: &Output) -> Result<Exit, Failure> {
    let file = target::resolve(conn, &args.target, args.bucket.as_deref(), None).await?;
    let patch = PatchFile {
        path: Some(args.new_path.trim_start_matches('/').to_owned()),
        ..PatchFile::default()
    };
    let file = conn.client.patch_file(&file.id, &patch).await?;
    show_changed(out, "moved to", &file)
}

fn show_changed(out: &Output, what: &str, file: &FileView) -> Result<Exit, Failure> {
    if out.is_json() {
        out.json(file)?;
    } else {
        out.line(format!(
            "{what} {}/{}  {}  {}",
            file.bucket, file.path, file.id, file.status
        ));
    }
    Ok(Exit::Ok)
}
