//! After the load and the faults: what a user would find. Every confirmed upload must
//! become `ready` and read back with the sha256 it was sent with, its `file.ready` must
//! reach the webhook receiver, no file the API shows may serve bytes other than the ones
//! sent for its path, and no object in storage may hold bytes that were never a whole upload.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use filegate_client::{Client, ContentRequest, ListFiles};
use futures::{StreamExt as _, TryStreamExt as _};
use sha2::{Digest as _, Sha256};

use super::load::{Outcome, Upload};
use super::receiver::Received;

/// What the checks counted; every field but the times must be 0 (or empty).
#[derive(Debug, Default)]
pub struct Found {
    pub confirmed: usize,
    pub lost_or_changed: usize,
    pub partial_visible: usize,
    pub stray_objects: usize,
    pub not_ready: usize,
    pub events_lost: usize,
    /// From `since` until every confirmed file was ready and its event had arrived.
    pub settled_after: Option<Duration>,
    pub notes: Vec<String>,
}

const TERMINAL: [&str; 3] = ["ready", "failed", "quarantined"];

pub struct Check<'a> {
    pub client: &'a Client,
    pub bucket: &'a str,
    pub uploads: &'a [Upload],
    pub outcomes: &'a [Outcome],
    pub received: &'a Received,
    /// Where the objects are on disk (the local store's `objects`, or the S3 server's bucket
    /// directory), `None` to skip that walk.
    pub storage: Option<PathBuf>,
    pub since: Instant,
    pub deadline: Duration,
}

impl Check<'_> {
    pub async fn run(&self) -> anyhow::Result<Found> {
        let mut found = Found::default();
        let confirmed: HashMap<&str, usize> = self
            .outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.confirmed.as_deref().map(|id| (id, i)))
            .collect();
        found.confirmed = confirmed.len();

        // Wait for the pipeline and the webhooks, with a deadline.
        let give_up = Instant::now() + self.deadline;
        let files = loop {
            let files = self.list().await;
            if let Ok(files) = &files {
                let events = self.received.ready();
                let settled = confirmed.keys().all(|id| {
                    files.get(*id).is_some_and(|f| TERMINAL.contains(&f.status.as_str()))
                        && (files.get(*id).is_some_and(|f| f.status != "ready") || events.contains(*id))
                });
                if settled {
                    found.settled_after = Some(self.since.elapsed());
                    break files.clone();
                }
            }
            if Instant::now() >= give_up {
                break files.context("listing the files after the run")?;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };

        let events = self.received.ready();
        for &id in confirmed.keys() {
            match files.get(id) {
                None => {
                    found.lost_or_changed += 1;
                    found.notes.push(format!("confirmed {id} is not listed"));
                    continue;
                }
                Some(f) if f.status != "ready" => {
                    found.not_ready += 1;
                    found.notes.push(format!(
                        "confirmed {id} is {} ({})",
                        f.status,
                        f.status_reason.as_deref().unwrap_or("no reason")
                    ));
                }
                Some(_) if !events.contains(id) => {
                    found.events_lost += 1;
                    found.notes.push(format!("no file.ready event for confirmed {id}"));
                }
                Some(_) => {}
            }
        }

        // Every confirmed file's bytes, and every other file the API serves.
        let by_path: HashMap<&str, &Upload> = self.uploads.iter().map(|u| (u.path.as_str(), u)).collect();
        let reads: Vec<(String, Option<&Upload>, bool)> = files
            .values()
            .filter(|f| confirmed.contains_key(f.id.as_str()) || f.status == "ready")
            .map(|f| {
                let upload = by_path.get(f.path.as_str()).copied();
                (f.id.clone(), upload, confirmed.contains_key(f.id.as_str()))
            })
            .collect();
        let results: Vec<(String, bool, Result<bool, String>)> = futures::stream::iter(reads)
            .map(|(id, upload, is_confirmed)| async move {
                let ok = match upload {
                    None => Err("no upload of ours has its path".to_owned()),
                    Some(u) => self.read_sha256(&id).await.map(|sha| sha == u.sha256),
                };
                (id, is_confirmed, ok)
            })
            .buffer_unordered(16)
            .collect()
            .await;
        for (id, is_confirmed, ok) in results {
            if ok == Ok(true) {
                continue;
            }
            // A confirmed file that failed is counted above; it serves nothing by design.
            if is_confirmed && files.get(&id).is_some_and(|f| f.status != "ready") {
                continue;
            }
            let why = match ok {
                Ok(_) => "bytes differ from the upload's".to_owned(),
                Err(e) => e,
            };
            if is_confirmed {
                found.lost_or_changed += 1;
                found.notes.push(format!("confirmed {id}: {why}"));
            } else {
                found.partial_visible += 1;
                found.notes.push(format!("unconfirmed ready {id}: {why}"));
            }
        }

        if let Some(root) = &self.storage {
            let whole: HashSet<&str> = self.uploads.iter().map(|u| u.sha256.as_str()).collect();
            for (path, sha) in hash_objects(root)? {
                if !whole.contains(sha.as_str()) {
                    found.stray_objects += 1;
                    found
                        .notes
                        .push(format!("object {} holds bytes no upload sent", path.display()));
                }
            }
        }
        Ok(found)
    }

    async fn list(&self) -> anyhow::Result<HashMap<String, filegate_api::FileView>> {
        let files: Vec<filegate_api::FileView> = self
            .client
            .list_all_files(ListFiles {
                limit: Some(1000),
                ..ListFiles::bucket(self.bucket)
            })
            .try_collect()
            .await?;
        Ok(files.into_iter().map(|f| (f.id.clone(), f)).collect())
    }

    async fn read_sha256(&self, id: &str) -> Result<String, String> {
        let mut last = String::new();
        // A read is retried briefly: an engine may still be warming up.
        for _ in 0..5 {
            match self.client.content(id, ContentRequest::default()).await {
                Ok(response) => match response.bytes().await {
                    Ok(bytes) => return Ok(hex::encode(Sha256::digest(&bytes))),
                    Err(e) => last = format!("reading: {e}"),
                },
                Err(e) if e.status().is_some_and(|s| s < 500) => return Err(format!("content: {e}")),
                Err(e) => last = format!("content: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(last)
    }
}

/// (path, sha256) of every object under `root`: not the local store's etag sidecars, not
/// thumbnails, not the S3 server's own hidden files.
fn hash_objects(root: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with("~etag") || name.contains(".thumb-") {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                let bytes = std::fs::read(entry.path())?;
                out.push((entry.path(), hex::encode(Sha256::digest(&bytes))));
            }
        }
    }
    Ok(out)
}
