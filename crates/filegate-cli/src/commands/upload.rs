//! `filegate upload PATH… [--bucket B] [--prefix P] [--metadata k=v]… [--encrypt]
//! [--request ID] [--wait] [--parallel N]`. The transfer itself (multipart, resume,
//! sha256, encryption) is `filegate_client::Client::upload_path`; this module finds the
//! files, names them in the bucket, shows progress and reports.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use filegate_client::{
    AgeEncryption, DEFAULT_WORK_FACTOR, RateLimit, Taps, UploadOptions, UploadReport,
    api::{CreateUpload, FileView},
};
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::{
    cli::{TransferArgs, UploadArgs},
    exit::{Exit, Failure},
    output::{Output, describe, human_size},
    profile::Connection,
    progress::Bars,
};

/// One local file and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub source: PathBuf,
    /// The path in the bucket.
    pub dest: String,
    pub size: u64,
}

/// What every file of one command shares.
pub struct Template {
    pub bucket: String,
    pub metadata: BTreeMap<String, String>,
    pub content_type: Option<String>,
    pub request_id: Option<String>,
    pub external_id: Option<String>,
    /// Wait this long for processing to end.
    pub wait: Option<Duration>,
}

/// An uploaded file, and the file as it is now (after `--wait`, when given).
pub struct Done {
    pub report: UploadReport,
    pub file: FileView,
}

impl Done {
    /// Ok, unless `--wait` saw processing end in another status than `ready`, or a
    /// `ready` file's sha256 differs from the bytes read.
    pub fn exit(&self, waited: bool) -> Exit {
        if !waited {
            return Exit::Ok;
        }
        if self.file.status != "ready" {
            return Exit::NotReady;
        }
        match &self.file.sha256 {
            Some(sha) if !sha.eq_ignore_ascii_case(&self.report.sha256) => Exit::Integrity,
            _ => Exit::Ok,
        }
    }

    pub fn json(&self, source: &Path) -> Value {
        json!({
            "source": source,
            "file": self.file,
            "sha256": self.report.sha256,
            "size": self.report.size,
            "sent_size": self.report.sent_size,
            "multipart": self.report.multipart,
            "encrypted": self.report.encrypted,
            "deduplicated": self.report.deduplicated,
            "parts_sent": self.report.parts_sent,
            "parts_resumed": self.report.parts_resumed,
        })
    }

    /// `ready       default/in/a.csv  0190…  1.2 MiB (encrypted)`.
    pub fn line(&self) -> String {
        let mut notes = Vec::new();
        if self.report.encrypted {
            notes.push("encrypted".to_owned());
        }
        if self.report.deduplicated {
            notes.push("deduplicated: nothing sent".to_owned());
        }
        if self.report.parts_resumed > 0 {
            let all = self.report.parts_sent + self.report.parts_resumed;
            notes.push(format!(
                "resumed: {} of {all} parts were already stored",
                self.report.parts_resumed
            ));
        }
        if let Some(reason) = &self.file.status_reason {
            notes.push(reason.clone());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        format!(
            "{:<11} {}/{}  {}  {}{notes}",
            self.file.status,
            self.file.bucket,
            self.file.path,
            self.file.id,
            human_size(self.report.size)
        )
    }
}

pub async fn run(conn: &Connection, args: UploadArgs, out: &Output) -> Result<Exit, Failure> {
    let planned = collect(&args.paths, args.prefix.as_deref())?;
    let template = Template {
        bucket: conn.bucket(args.bucket.as_deref()),
        metadata: args.metadata.into_iter().collect(),
        content_type: args.content_type,
        request_id: args.request,
        external_id: None,
        wait: args.wait.then(|| Duration::from_secs(args.wait_timeout)),
    };
    let options = options(conn, &args.transfer, args.encrypt).await?;
    upload_all(conn, planned, &template, &options, args.transfer.parallel.into(), out).await
}

/// Uploads `planned` (up to `parallel` files at once) and reports each, then all.
pub async fn upload_all(
    conn: &Connection,
    planned: Vec<Planned>,
    template: &Template,
    options: &UploadOptions,
    parallel: usize,
    out: &Output,
) -> Result<Exit, Failure> {
    let bars = Bars::new(out.shows_bars(), planned.len(), planned.iter().map(|p| p.size).sum());
    let results: Vec<(Planned, Result<Done, Failure>)> = futures::stream::iter(planned)
        .map(|plan| {
            let bars = &bars;
            async move {
                let bar = bars.file(&plan.dest, plan.size);
                let mut options = options.clone();
                if let Some(bar) = &bar {
                    options.taps = options.taps.with_progress(bar.clone());
                }
                let result = upload_one(conn, &plan, template, &options).await;
                if let Some(bar) = bar {
                    bar.finish();
                }
                if !out.is_json() {
                    bars.suspend(|| match &result {
                        Ok(done) => out.line(done.line()),
                        Err(failure) => eprintln!("error: {}", describe(&failure.clone().about(plan.source.display()))),
                    });
                }
                (plan, result)
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    let waited = template.wait.is_some();
    if out.is_json() {
        let items: Vec<Value> = results
            .iter()
            .map(|(plan, result)| match result {
                Ok(done) => done.json(&plan.source),
                Err(f) => json!({"source": plan.source, "error": {
                    "code": f.code, "message": f.message, "status": f.status,
                    "request_id": f.request_id, "exit_code": f.exit as u8,
                }}),
            })
            .collect();
        out.json(&json!({ "uploads": items }))?;
    }
    Ok(results
        .iter()
        .map(|(_, result)| match result {
            Ok(done) => done.exit(waited),
            Err(f) => f.exit,
        })
        .find(|exit| *exit != Exit::Ok)
        .unwrap_or(Exit::Ok))
}

/// Uploads one file as `template` says (and waits, when it says so).
pub async fn upload_one(
    conn: &Connection,
    plan: &Planned,
    template: &Template,
    options: &UploadOptions,
) -> Result<Done, Failure> {
    let content_type = template.content_type.clone().unwrap_or_else(|| {
        mime_guess::from_path(&plan.dest)
            .first_or_octet_stream()
            .essence_str()
            .to_owned()
    });
    let request = CreateUpload {
        bucket: template.bucket.clone(),
        path: plan.dest.clone(),
        content_type: Some(content_type),
        metadata: (!template.metadata.is_empty()).then(|| template.metadata.clone()),
        request_id: template.request_id.clone(),
        external_id: template.external_id.clone(),
        ..CreateUpload::default()
    };
    let report = conn.client.upload_path(request, &plan.source, options).await?;
    let file = match template.wait {
        Some(timeout) => conn.client.wait_until_processed(&report.file.id, timeout).await?,
        None => report.file.clone(),
    };
    Ok(Done { report, file })
}

/// The transfer options of a command: parallelism, threshold, bandwidth limit, resume
/// journals, and (with `--encrypt`) the current exchange passphrase.
pub async fn options(conn: &Connection, transfer: &TransferArgs, encrypt: bool) -> Result<UploadOptions, Failure> {
    let encryption = if encrypt {
        let passphrase = conn
            .client
            .exchange_passphrase()
            .await
            .map_err(|e| Failure::from(e).about("cannot get the exchange passphrase to encrypt with"))?;
        Some(AgeEncryption::new(passphrase.passphrase).with_work_factor(work_factor()?)?)
    } else {
        None
    };
    let mut taps = Taps::default();
    if let Some(rate) = transfer.bwlimit {
        taps = taps.with_limit(Arc::new(RateLimit::new(rate)));
    }
    Ok(UploadOptions {
        parallel: transfer.parallel.into(),
        multipart_threshold: transfer.multipart_threshold,
        encryption,
        resume: Some(conn.resume_store()),
        taps,
    })
}

/// scrypt's work factor for `--encrypt`: `FILEGATE_AGE_WORK_FACTOR`, else what `age -p`
/// uses (18). The server refuses more than its `exchange.max_scrypt_work_factor`.
fn work_factor() -> Result<u8, Failure> {
    match std::env::var("FILEGATE_AGE_WORK_FACTOR") {
        Ok(v) if !v.is_empty() => v.parse().map_err(|_| {
            Failure::new(
                Exit::Usage,
                format!("FILEGATE_AGE_WORK_FACTOR={v:?} is not a number from 1 to 30"),
            )
        }),
        _ => Ok(DEFAULT_WORK_FACTOR),
    }
}

/// The files behind `paths` (directories walked recursively) and their paths in the
/// bucket: a file goes to `PREFIX/NAME`, a directory's files to `PREFIX/DIR/…`.
pub fn collect(paths: &[PathBuf], prefix: Option<&str>) -> Result<Vec<Planned>, Failure> {
    let mut planned = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|e| Failure::new(Exit::Usage, format!("{}: {e}", path.display())))?;
        let name = path
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut Vec::new(), &mut found)?;
            for (source, rel, size) in found {
                let mut segments = vec![name.clone()];
                segments.extend(rel);
                planned.push(Planned {
                    source,
                    dest: dest_path(prefix, &segments),
                    size,
                });
            }
        } else if meta.is_file() {
            planned.push(Planned {
                source: path.clone(),
                dest: dest_path(prefix, &[name]),
                size: meta.len(),
            });
        } else {
            return Err(Failure::new(
                Exit::Usage,
                format!("{} is neither a file nor a directory", path.display()),
            ));
        }
    }
    Ok(planned)
}

/// Every regular file under `dir`, with its path segments below it, sorted.
fn walk(dir: &Path, rel: &mut Vec<String>, found: &mut Vec<(PathBuf, Vec<String>, u64)>) -> Result<(), Failure> {
    let unreadable = |e: std::io::Error| Failure::new(Exit::Failure, format!("{}: {e}", dir.display()));
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue; // a dangling link
        };
        rel.push(entry.file_name().to_string_lossy().into_owned());
        if meta.is_dir() {
            walk(&path, rel, found)?;
        } else if meta.is_file() {
            found.push((path, rel.clone(), meta.len()));
        }
        rel.pop();
    }
    Ok(())
}

/// `prefix/seg/seg`, without empty segments or stray slashes.
pub fn dest_path(prefix: Option<&str>, segments: &[String]) -> String {
    prefix
        .into_iter()
        .flat_map(|p| p.split('/'))
        .chain(segments.iter().flat_map(|s| s.split('/')))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_paths_join_cleanly() {
        let segs = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(dest_path(None, &segs(&["a.csv"])), "a.csv");
        assert_eq!(dest_path(Some("/in/2026/"), &segs(&["a.csv"])), "in/2026/a.csv");
        assert_eq!(dest_path(Some(""), &segs(&["d", "x/y.txt"])), "d/x/y.txt");
    }

    #[test]
    fn directories_are_walked_recursively_under_their_name() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("batch");
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("b.txt"), "bb").unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        std::fs::write(root.join("sub/deeper/c.txt"), "ccc").unwrap();
        let single = tmp.path().join("one.csv");
        std::fs::write(&single, "1").unwrap();
        let planned = collect(&[root.clone(), single.clone()], Some("in")).unwrap();
        let dests: Vec<_> = planned.iter().map(|p| (p.dest.as_str(), p.size)).collect();
        assert_eq!(
            dests,
            [
                ("in/batch/b.txt", 2),
                ("in/batch/sub/a.txt", 1),
                ("in/batch/sub/deeper/c.txt", 3),
                ("in/one.csv", 1)
            ]
        );
        let missing = collect(&[tmp.path().join("nope")], None).unwrap_err();
        assert_eq!(missing.exit, Exit::Usage);
    }
}
