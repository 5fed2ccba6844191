//! `filegate download ID|PATH [-o FILE]`: through the file's signed URL, resuming an
//! interrupted download with `Range`, the sha256 checked before the file takes its name
//! (`filegate_client::Client::download_file`). `-o -` streams to stdout.

use std::{path::PathBuf, sync::Arc};

use filegate_client::{DownloadOptions, DownloadReport, RateLimit};
use serde_json::json;

use crate::{
    cli::DownloadArgs,
    exit::{Exit, Failure},
    output::{Output, human_size},
    profile::Connection,
    progress::Bars,
};

use super::target;

pub async fn run(conn: &Connection, args: DownloadArgs, out: &Output) -> Result<Exit, Failure> {
    let file = target::resolve(conn, &args.target, args.bucket.as_deref(), None).await?;
    let mut options = DownloadOptions::default();
    if let Some(rate) = args.bwlimit {
        options.taps = options.taps.with_limit(Arc::new(RateLimit::new(rate)));
    }
    let to_stdout = args.output.as_deref() == Some(std::path::Path::new("-"));
    if to_stdout {
        let mut stdout = tokio::io::stdout();
        let report = conn.client.download_to_writer(&file.id, &mut stdout, &options).await?;
        if out.is_json() {
            // stdout carries the bytes: the report goes to stderr.
            eprintln!("{}", report_json(&report, None));
        }
        return Ok(Exit::Ok);
    }
    let dest = destination(args.output, &file.name);
    let bars = Bars::new(out.shows_bars(), 1, file.size);
    let bar = bars.file(&file.name, file.size);
    if let Some(bar) = &bar {
        options.taps = options.taps.clone().with_progress(bar.clone());
    }
    let result = conn.client.download_file(&file.id, &dest, &options).await;
    if let Some(bar) = bar {
        bar.finish();
    }
    let report = result?;
    if out.is_json() {
        out.json(&report_json(&report, Some(&dest)))?;
    } else {
        let check = if report.verified {
            "sha256 verified"
        } else {
            "size checked; the server has no sha256"
        };
        let resumed = if report.resumed_from > 0 {
            format!(", resumed at {}", human_size(report.resumed_from))
        } else {
            String::new()
        };
        out.line(format!(
            "downloaded {}/{} to {} ({}, {check}{resumed})",
            report.file.bucket,
            report.file.path,
            dest.display(),
            human_size(report.bytes)
        ));
    }
    Ok(Exit::Ok)
}

/// `-o FILE`, `-o DIR` (the file's name inside), or the file's name here.
fn destination(output: Option<PathBuf>, name: &str) -> PathBuf {
    // The server's name is one path segment; never let it leave the directory.
    let name = std::path::Path::new(name)
        .file_name()
        .map_or_else(|| "download".into(), |n| n.to_os_string());
    match output {
        Some(dir) if dir.is_dir() => dir.join(name),
        Some(file) => file,
        None => PathBuf::from(name),
    }
}

fn report_json(report: &DownloadReport, dest: Option<&std::path::Path>) -> serde_json::Value {
    json!({
        "id": report.file.id,
        "bucket": report.file.bucket,
        "path": report.file.path,
        "output": dest,
        "bytes": report.bytes,
        "resumed_from": report.resumed_from,
        "sha256": report.sha256,
        "verified": report.verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_destination_is_the_name_or_inside_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(destination(None, "a.csv"), PathBuf::from("a.csv"));
        assert_eq!(destination(None, "../../etc/passwd"), PathBuf::from("passwd"));
        assert_eq!(destination(Some(dir.path().into()), "a.csv"), dir.path().join("a.csv"));
        assert_eq!(destination(Some("out.bin".into()), "a.csv"), PathBuf::from("out.bin"));
    }
}
