//! `filegate watch DIR [--encrypt] [--bucket B] [--prefix P]`: the hospital's drop folder.
//!
//! Every `--interval` seconds the directory is listed (recursively; names starting with
//! `.` are skipped, so `.sent/`, `.failed/` and files being written under a hidden name
//! are left alone). A file whose size and modification time stayed the same for
//! `--settle` looks in a row is uploaded, its processing awaited, and then it is moved
//! to `DIR/.sent/` when `ready`, or to `DIR/.failed/` with `NAME.reason.txt` beside it.
//!
//! Each upload carries an `external_id` made from the file's relative path, size and
//! modification time. Before uploading, the bucket is asked whether a file with that
//! path and external id exists: after a restart, a file that was already uploaded is
//! only awaited and moved, never sent again. An interrupted multipart upload resumes
//! from its journal. Problems that may pass (the server unreachable, a 5xx, a timeout)
//! leave the file where it is for the next look; refusals (a 4xx such as a type the
//! bucket does not take) move it to `.failed`.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::Duration,
};

use filegate_client::api::FileView;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    cli::WatchArgs,
    exit::{Exit, Failure},
    output::{Output, describe},
    profile::Connection,
};

use super::upload::{self, Planned, Template};

const SENT: &str = ".sent";
const FAILED: &str = ".failed";

/// A file seen in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    rel: Vec<String>,
    size: u64,
    modified_ns: u64,
}

/// How a file was dealt with.
enum Handled {
    /// Moved to `.sent` or `.failed`.
    Moved,
    /// Left for the next look (a problem that may pass).
    Later(Failure),
}

pub async fn run(conn: &Connection, args: WatchArgs, out: &Output) -> Result<Exit, Failure> {
    let dir = args
        .dir
        .canonicalize()
        .map_err(|e| Failure::new(Exit::Usage, format!("{}: {e}", args.dir.display())))?;
    if !dir.is_dir() {
        return Err(Failure::new(
            Exit::Usage,
            format!("{} is not a directory", dir.display()),
        ));
    }
    if !(args.interval.is_finite() && args.interval > 0.0) {
        return Err(Failure::new(
            Exit::Usage,
            "--interval must be a positive number of seconds",
        ));
    }
    let interval = Duration::from_secs_f64(args.interval);
    let bucket = conn.bucket(args.bucket.as_deref());
    out.note(format!(
        "watching {} → {bucket}/{} (a look every {}s; ready files go to {SENT}/, others to {FAILED}/)",
        dir.display(),
        args.prefix.as_deref().unwrap_or(""),
        args.interval
    ));
    let mut stable: HashMap<PathBuf, (Seen, u32)> = HashMap::new();
    let mut shutdown = std::pin::pin!(super::shutdown_signal());
    loop {
        let cycle = async {
            let settled = look(&dir, &mut stable, args.settle)?;
            if settled.is_empty() {
                return Ok::<_, Failure>(());
            }
            // Fetched once per batch, so a rotated passphrase is picked up.
            let options = upload::options(conn, &args.transfer, args.encrypt).await;
            let options = match options {
                Ok(options) => options,
                Err(failure) => {
                    report_error(out, "(encryption)", &failure);
                    return Ok(());
                }
            };
            for (path, seen) in settled {
                match handle(conn, &args, &bucket, &dir, &path, &seen, &options, out).await {
                    Handled::Moved => {
                        stable.remove(&path);
                    }
                    Handled::Later(failure) => report_error(out, &seen.rel.join("/"), &failure),
                }
            }
            Ok(())
        };
        tokio::select! {
            result = cycle => result?,
            () = &mut shutdown => break,
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut shutdown => break,
        }
    }
    Ok(Exit::Ok)
}

/// Lists the directory and returns the files that have settled.
fn look(dir: &Path, stable: &mut HashMap<PathBuf, (Seen, u32)>, settle: u32) -> Result<Vec<(PathBuf, Seen)>, Failure> {
    let mut now = Vec::new();
    scan(dir, &mut Vec::new(), &mut now)?;
    let present: std::collections::HashSet<_> = now.iter().map(|(p, _)| p.clone()).collect();
    stable.retain(|path, _| present.contains(path));
    let mut settled = Vec::new();
    for (path, seen) in now {
        let entry = stable.entry(path.clone()).or_insert_with(|| (seen.clone(), 0));
        if entry.0 == seen {
            entry.1 = entry.1.saturating_add(1);
        } else {
            *entry = (seen.clone(), 1);
        }
        // The first look counts once; `settle` more unchanged looks make it settled.
        if entry.1 > settle {
            settled.push((path, seen));
        }
    }
    settled.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(settled)
}

/// Every regular, non-hidden file below `dir`.
fn scan(dir: &Path, rel: &mut Vec<String>, found: &mut Vec<(PathBuf, Seen)>) -> Result<(), Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| Failure::new(Exit::Failure, format!("{}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // gone since the listing
        };
        rel.push(name);
        if meta.is_dir() {
            scan(&path, rel, found)?;
        } else if meta.is_file() {
            let modified_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            found.push((
                path,
                Seen {
                    rel: rel.clone(),
                    size: meta.len(),
                    modified_ns,
                },
            ));
        }
        rel.pop();
    }
    Ok(())
}

/// The external id of a file as it is: path, size and modification time.
fn external_id(seen: &Seen) -> String {
    let mut sha = Sha256::new();
    sha.update(seen.rel.join("/").as_bytes());
    sha.update([0]);
    sha.update(seen.size.to_le_bytes());
    sha.update(seen.modified_ns.to_le_bytes());
    format!("watch:{}", &hex::encode(sha.finalize())[..40])
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    conn: &Connection,
    args: &WatchArgs,
    bucket: &str,
    dir: &Path,
    path: &Path,
    seen: &Seen,
    options: &filegate_client::UploadOptions,
    out: &Output,
) -> Handled {
    let dest = upload::dest_path(args.prefix.as_deref(), &seen.rel);
    let external_id = external_id(seen);
    let outcome = async {
        let file = match already_uploaded(conn, bucket, &dest, &external_id).await? {
            Some(file) => file,
            None => {
                let template = Template {
                    bucket: bucket.to_owned(),
                    metadata: Default::default(),
                    content_type: None,
                    request_id: None,
                    external_id: Some(external_id.clone()),
                    wait: None,
                };
                let plan = Planned {
                    source: path.to_owned(),
                    dest: dest.clone(),
                    size: seen.size,
                };
                upload::upload_one(conn, &plan, &template, options).await?.file
            }
        };
        let timeout = Duration::from_secs(args.wait_timeout);
        Ok::<_, Failure>(conn.client.wait_until_processed(&file.id, timeout).await?)
    };
    let rel = seen.rel.join("/");
    match outcome.await {
        Ok(file) if file.status == "ready" => match move_aside(dir, SENT, &seen.rel, None) {
            Ok(()) => {
                report(out, "sent", &rel, Some(&file), None);
                Handled::Moved
            }
            Err(e) => Handled::Later(e),
        },
        Ok(file) => {
            let reason = format!(
                "status: {}\nreason: {}\nfile id: {}\n",
                file.status,
                file.status_reason.as_deref().unwrap_or("-"),
                file.id
            );
            match move_aside(dir, FAILED, &seen.rel, Some(&reason)) {
                Ok(()) => {
                    report(out, "failed", &rel, Some(&file), file.status_reason.as_deref());
                    Handled::Moved
                }
                Err(e) => Handled::Later(e),
            }
        }
        Err(failure) if is_final(&failure) => {
            let reason = format!("refused: {}\n", describe(&failure));
            match move_aside(dir, FAILED, &seen.rel, Some(&reason)) {
                Ok(()) => {
                    report(out, "failed", &rel, None, Some(&describe(&failure)));
                    Handled::Moved
                }
                Err(e) => Handled::Later(e),
            }
        }
        Err(failure) => Handled::Later(failure),
    }
}

/// A refusal that trying again will not change: the server said no to the request.
fn is_final(failure: &Failure) -> bool {
    match failure.exit {
        Exit::Rejected => failure.code.as_deref() != Some("rate-limited"),
        Exit::Integrity | Exit::NotFound => true,
        _ => false,
    }
}

/// The file this watcher uploaded from `dest` before (same external id), unless that
/// upload never completed.
async fn already_uploaded(
    conn: &Connection,
    bucket: &str,
    dest: &str,
    external_id: &str,
) -> Result<Option<FileView>, Failure> {
    super::target::newest_at_path(conn, bucket, dest, None, |f| {
        f.external_id.as_deref() == Some(external_id) && !matches!(f.status.as_str(), "pending" | "expired")
    })
    .await
}

/// Moves `DIR/rel` to `DIR/aside/rel` (a free name if taken), writing `reason` beside it.
fn move_aside(dir: &Path, aside: &str, rel: &[String], reason: Option<&str>) -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure::new(Exit::Failure, format!("cannot move {} aside: {e}", rel.join("/")));
    let from = rel.iter().fold(dir.to_owned(), |p, s| p.join(s));
    let mut to = rel.iter().fold(dir.join(aside), |p, s| p.join(s));
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let base = to.clone();
    let mut n = 1;
    while to.exists() {
        to = PathBuf::from(format!("{}.{n}", base.display()));
        n += 1;
    }
    if let Some(reason) = reason {
        std::fs::write(format!("{}.reason.txt", to.display()), reason).map_err(failed)?;
    }
    std::fs::rename(&from, &to).map_err(failed)
}

fn report(out: &Output, event: &str, rel: &str, file: Option<&FileView>, reason: Option<&str>) {
    if out.is_json() {
        let _ = out.json(&json!({"event": event, "source": rel, "file": file, "reason": reason}));
        return;
    }
    let id = file.map_or("-", |f| f.id.as_str());
    let place = file.map_or_else(String::new, |f| format!("{}/{}", f.bucket, f.path));
    let reason = reason.map_or_else(String::new, |r| format!("  ({r})"));
    out.line(format!("{event:<6} {rel}  {place}  {id}{reason}"));
}

fn report_error(out: &Output, rel: &str, failure: &Failure) {
    if out.is_json() {
        let _ = out.json(&json!({"event": "error", "source": rel, "reason": failure.message, "code": failure.code}));
    } else {
        eprintln!("error: {rel}: {} (will try again)", describe(failure));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(rel: &str, size: u64, modified_ns: u64) -> Seen {
        Seen {
            rel: rel.split('/').map(str::to_owned).collect(),
            size,
            modified_ns,
        }
    }

    #[test]
    fn the_external_id_changes_with_path_size_and_mtime() {
        let a = external_id(&seen("in/a.csv", 10, 1));
        assert_eq!(a, external_id(&seen("in/a.csv", 10, 1)));
        assert!(a.starts_with("watch:") && a.len() == 46, "{a}");
        assert_ne!(a, external_id(&seen("in/b.csv", 10, 1)));
        assert_ne!(a, external_id(&seen("in/a.csv", 11, 1)));
        assert_ne!(a, external_id(&seen("in/a.csv", 10, 2)));
    }

    #[test]
    fn files_settle_after_unchanged_looks_and_hidden_ones_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join(".sent")).unwrap();
        std::fs::write(dir.join(".sent/old.csv"), "x").unwrap();
        std::fs::write(dir.join(".partial.csv"), "x").unwrap();
        std::fs::write(dir.join("a.csv"), "a").unwrap();
        let mut stable = HashMap::new();
        assert!(look(dir, &mut stable, 2).unwrap().is_empty()); // first look
        assert!(look(dir, &mut stable, 2).unwrap().is_empty()); // unchanged once
        let settled = look(dir, &mut stable, 2).unwrap(); // unchanged twice
        assert_eq!(settled.len(), 1);
        assert_eq!(settled[0].1.rel, ["a.csv"]);
        // A change starts the count again.
        std::fs::write(dir.join("a.csv"), "ab").unwrap();
        assert!(look(dir, &mut stable, 2).unwrap().is_empty());
    }

    #[test]
    fn moving_aside_keeps_earlier_files_and_writes_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for _ in 0..2 {
            std::fs::create_dir_all(dir.join("sub")).unwrap();
            std::fs::write(dir.join("sub/x.csv"), "x").unwrap();
            move_aside(dir, FAILED, &["sub".into(), "x.csv".into()], Some("status: failed\n")).unwrap();
        }
        assert!(dir.join(".failed/sub/x.csv").is_file());
        assert!(dir.join(".failed/sub/x.csv.1").is_file());
        let reason = std::fs::read_to_string(dir.join(".failed/sub/x.csv.reason.txt")).unwrap();
        assert_eq!(reason, "status: failed\n");
        assert!(!dir.join("sub/x.csv").exists());
    }
}
