//! The data plane: one big file up and down on the embedded deployment (local directory).
//! Uploads through the presigned `PUT` and through the gateway (`POST /v1/files`), next to
//! writing the same bytes to the same disk with fsync (the limit) and nginx's WebDAV `PUT`;
//! the download through a signed URL next to nginx serving the same file with sendfile. The
//! server's peak RSS during each transfer, at 1 GiB and 4 GiB: it must stay flat.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::ensure;
use filegate_api::{CompleteUpload, CreateBucket, CreateUpload, FileView, UploadInstructions};
use filegate_client::{Client, Payload};
use futures::TryStreamExt as _;
use reqwest::multipart::{Form, Part};

use crate::data::Pattern;
use crate::nginx::Nginx;
use crate::process::Filegate;
use crate::report::{Section, target_line};
use crate::stats::{Samples, ratio};

/// The bucket of the data plane: `verify` only, so a file is `ready` (downloadable) at once
/// and no hashing runs under the next measurement (the hash stage is measured on its own).
const BUCKET: &str = "transfer";

/// What one transfer measured over the runs: MB/s and the server's peak RSS in MiB.
#[derive(Default)]
struct Transfer {
    mbps: Samples,
    peak: Samples,
}

impl Transfer {
    fn push(&mut self, size: u64, secs: f64, peak: Option<f64>) {
        self.mbps.push(size as f64 / 1e6 / secs);
        if let Some(p) = peak {
            self.peak.push(p);
        }
    }
}

#[derive(Default)]
struct Results {
    fsync_write: Samples,
    nginx_put: Samples,
    nginx_get: Samples,
    /// Indexed by size: 0 the big file, 1 the huge one.
    put: [Transfer; 2],
    proxied: [Transfer; 2],
    download: [Transfer; 2],
    rss_reset: bool,
}

/// `sizes`: the file the throughput is compared on (1 GiB) and the larger one memory must
/// stay flat for (4 GiB).
pub async fn data_plane(work: &Path, runs: usize, sizes: [u64; 2], with_nginx: bool) -> anyhow::Result<Section> {
    let pattern = Pattern::new();
    let mut r = Results {
        rss_reset: true,
        ..Results::default()
    };
    for run in 0..runs {
        let dir = work.join(format!("data-{run}"));
        one_run(&dir, &pattern, sizes, with_nginx, &mut r).await?;
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(section(&r, sizes, with_nginx))
}

async fn one_run(
    dir: &Path,
    pattern: &Pattern,
    sizes: [u64; 2],
    with_nginx: bool,
    r: &mut Results,
) -> anyhow::Result<()> {
    let server = Filegate::serve(&dir.join("filegate"), true, &[]).await?;
    let client = server.client()?;
    client
        .create_bucket(&CreateBucket {
            name: BUCKET.into(),
            stages: Some(vec!["verify".into()]),
            ..CreateBucket::default()
        })
        .await?;
    let nginx = if with_nginx {
        Some(Nginx::start(&dir.join("nginx")).await?)
    } else {
        None
    };
    let peak = |server: &Filegate| server.peak_mib();
    let objects = dir.join("filegate/objects");
    for (i, size) in sizes.into_iter().enumerate() {
        if i == 0 {
            settle().await?;
            let copy = dir.join("copy.bin");
            let (p, to) = (pattern.clone(), copy.clone());
            let secs = tokio::task::spawn_blocking(move || p.write_fsync(&to, size)).await??;
            r.fsync_write.push(size as f64 / 1e6 / secs);
            std::fs::remove_file(&copy).ok();
        }

        settle().await?;
        r.rss_reset &= server.reset_peak();
        let (id, secs) = presigned_put(&client, pattern, size, &format!("big/{i}.bin")).await?;
        r.put[i].push(size, secs, peak(&server));

        if let (0, Some(nginx)) = (i, &nginx) {
            settle().await?;
            r.nginx_put
                .push(size as f64 / 1e6 / nginx_put(client.http(), nginx, pattern, size).await?);
        }

        settle().await?;
        r.rss_reset &= server.reset_peak();
        let started = Instant::now();
        let proxied = proxied_upload(&client, pattern, size, &format!("proxied/{i}.bin")).await?;
        r.proxied[i].push(size, started.elapsed().as_secs_f64(), peak(&server));
        client
            .wait_for_status(&proxied.id, &["ready"], Duration::from_secs(120))
            .await?;
        // Its bytes are not needed again: free the disk (a small one must otherwise hold
        // 4 GiB twice; deleting through the API keeps them for the bucket's retention).
        remove_object(&objects, &proxied.id)?;

        settle().await?;
        r.rss_reset &= server.reset_peak();
        let secs = download(&client, &id, size).await?;
        r.download[i].push(size, secs, peak(&server));
        remove_object(&objects, &id)?;

        if let (0, Some(nginx)) = (i, &nginx) {
            settle().await?;
            r.nginx_get
                .push(size as f64 / 1e6 / nginx_get(client.http(), nginx, size).await?);
            std::fs::remove_file(nginx.root.join("big.bin")).ok();
        }
    }
    if let Some(nginx) = nginx {
        nginx.stop().await?;
    }
    server.stop().await
}

/// Writes out every dirty page on the machine before a timed transfer, so none pays for the
/// writeback of the one before (nginx's `PUT` leaves 1 GiB in the page cache, and deleting
/// a big file leaves the filesystem work to do).
async fn settle() -> anyhow::Result<()> {
    tokio::task::spawn_blocking(rustix::fs::sync).await?;
    Ok(())
}

/// Create (untimed), then the `PUT` of the bytes to the signed URL (timed), then complete
/// and wait for `ready` (untimed). Returns the file id and the PUT's seconds.
/// Removes the bytes of file `id` (and any etag sidecar) from the store's directory: the
/// keys end in the file id.
fn remove_object(objects: &Path, id: &str) -> anyhow::Result<()> {
    fn walk(dir: &Path, id: &str) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, id)?;
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(id))
            {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(())
    }
    Ok(walk(objects, id)?)
}

async fn presigned_put(client: &Client, pattern: &Pattern, size: u64, path: &str) -> anyhow::Result<(String, f64)> {
    let created = client
        .create_upload(&CreateUpload {
            bucket: BUCKET.into(),
            path: path.into(),
            size,
            content_type: Some("application/octet-stream".into()),
            multipart: Some(false),
            ..CreateUpload::default()
        })
        .await?;
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        anyhow::bail!("expected a single PUT for {path}");
    };
    let started = Instant::now();
    client
        .put_signed(&url, &headers, Payload::sized(pattern.body(size), size))
        .await?;
    let secs = started.elapsed().as_secs_f64();
    client
        .complete_upload(&created.file_id, &CompleteUpload::default())
        .await?;
    client
        .wait_for_status(&created.file_id, &["ready"], Duration::from_secs(120))
        .await?;
    Ok((created.file_id, secs))
}

/// `POST /v1/files`: a multipart form whose file part streams from disk.
async fn proxied_upload(client: &Client, pattern: &Pattern, size: u64, path: &str) -> anyhow::Result<FileView> {
    let body = pattern.body(size);
    let form = Form::new().text("bucket", BUCKET).text("path", path.to_owned()).part(
        "file",
        Part::stream_with_length(body, size)
            .file_name("big.bin")
            .mime_str("application/octet-stream")?,
    );
    let request = client.request(reqwest::Method::POST, &["v1", "files"])?.multipart(form);
    Ok(client.send_json::<FileView>(request).await?)
}

/// The signed download URL (untimed), then its bytes to nowhere (timed), all counted.
async fn download(client: &Client, id: &str, size: u64) -> anyhow::Result<f64> {
    let url = client.download_url(id, None).await?.url;
    let started = Instant::now();
    let response = client.get_signed(&url, None).await?;
    let got = count(response.into_stream().map_err(anyhow::Error::from)).await?;
    let secs = started.elapsed().as_secs_f64();
    ensure!(got == size, "downloaded {got} bytes of {size}");
    Ok(secs)
}

async fn count<S, B>(stream: S) -> anyhow::Result<u64>
where
    S: futures::Stream<Item = anyhow::Result<B>>,
    B: AsRef<[u8]>,
{
    stream
        .try_fold(0u64, |n, chunk| async move { Ok(n + chunk.as_ref().len() as u64) })
        .await
}

async fn nginx_put(http: &reqwest::Client, nginx: &Nginx, pattern: &Pattern, size: u64) -> anyhow::Result<f64> {
    let body = pattern.body(size);
    let started = Instant::now();
    let response = http
        .put(format!("{}/big.bin", nginx.base_url))
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(body)
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "nginx PUT answered {}",
        response.status()
    );
    Ok(started.elapsed().as_secs_f64())
}

async fn nginx_get(http: &reqwest::Client, nginx: &Nginx, size: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let response = http.get(format!("{}/big.bin", nginx.base_url)).send().await?;
    ensure!(
        response.status().is_success(),
        "nginx GET answered {}",
        response.status()
    );
    let got = count(response.bytes_stream().map_err(anyhow::Error::from)).await?;
    ensure!(got == size, "nginx served {got} bytes of {size}");
    Ok(started.elapsed().as_secs_f64())
}

fn mib(size: u64) -> String {
    if size >= 1 << 30 {
        format!("{} GiB", size >> 30)
    } else {
        format!("{} MiB", size >> 20)
    }
}

fn section(r: &Results, sizes: [u64; 2], with_nginx: bool) -> Section {
    let (big, huge) = (mib(sizes[0]), mib(sizes[1]));
    let mut s = Section::new(format!(
        "Data plane: one {big} file (embedded: SQLite, local directory)"
    ));
    let na = || "—".to_owned();
    let nginx_or = |samples: &Samples, what: &str| {
        if with_nginx {
            format!("{what}: {} MB/s", samples.summary(0))
        } else {
            "nginx skipped (smoke run)".to_owned()
        }
    };
    s.table(
        &["transfer", "filegate, median (min–max)", "baseline, same run", "ratio"],
        vec![
            vec![
                "upload: `PUT` to the presigned URL (stream → temp file with SHA-256 → fsync → rename → fsync dir)"
                    .into(),
                format!("{} MB/s", r.put[0].mbps.summary(0)),
                format!(
                    "the same bytes written to the same disk + fsync: {} MB/s",
                    r.fsync_write.summary(0)
                ),
                ratio(&r.put[0].mbps, &r.fsync_write),
            ],
            vec![
                "".into(),
                "".into(),
                nginx_or(&r.nginx_put, "nginx WebDAV `PUT` (no fsync)"),
                if with_nginx {
                    ratio(&r.put[0].mbps, &r.nginx_put)
                } else {
                    na()
                },
            ],
            vec![
                "upload through the gateway: `POST /v1/files` (multipart form, streamed)".into(),
                format!("{} MB/s", r.proxied[0].mbps.summary(0)),
                format!("write + fsync: {} MB/s", r.fsync_write.summary(0)),
                ratio(&r.proxied[0].mbps, &r.fsync_write),
            ],
            vec![
                "download: `GET` the signed URL".into(),
                format!("{} MB/s", r.download[0].mbps.summary(0)),
                nginx_or(&r.nginx_get, "nginx, same file, sendfile"),
                if with_nginx {
                    ratio(&r.download[0].mbps, &r.nginx_get)
                } else {
                    na()
                },
            ],
        ],
    );
    s.line(format!(
        "Server peak RSS (VmHWM{}) during each transfer, MiB, and the {huge} file's throughput:\n",
        if r.rss_reset {
            ", reset before each transfer"
        } else {
            " since start: clear_refs was refused"
        }
    ));
    let rows = [
        ("presigned `PUT`", &r.put),
        ("`POST /v1/files`", &r.proxied),
        ("signed `GET`", &r.download),
    ]
    .into_iter()
    .map(|(name, t)| {
        vec![
            name.to_owned(),
            t[0].peak.summary(1),
            t[1].peak.summary(1),
            format!("{:+.1}", t[1].peak.max() - t[0].peak.max()),
            format!("{} MB/s", t[1].mbps.summary(0)),
        ]
    })
    .collect();
    s.table(
        &[
            "transfer",
            &format!("peak RSS, {big}"),
            &format!("peak RSS, {huge}"),
            "growth (max − max)",
            &format!("{huge} throughput"),
        ],
        rows,
    );
    let all = [&r.put, &r.proxied, &r.download];
    let worst = all
        .iter()
        .flat_map(|t| t.iter())
        .map(|t| t.peak.max())
        .fold(0.0, f64::max);
    let growth = all
        .iter()
        .map(|t| t[1].peak.max() - t[0].peak.max())
        .fold(f64::MIN, f64::max);
    s.line("");
    s.line(target_line(
        "upload ≥ 0.9× the fsync'd disk write",
        r.put[0].mbps.median() >= 0.9 * r.fsync_write.median(),
    ));
    if with_nginx {
        s.line(target_line(
            "upload ≥ 1.0× nginx WebDAV PUT",
            r.put[0].mbps.median() >= r.nginx_put.median(),
        ));
        s.line(target_line(
            "download ≥ 0.9× nginx",
            r.download[0].mbps.median() >= 0.9 * r.nginx_get.median(),
        ));
    }
    s.line(target_line(
        &format!("server RSS < 32 MiB (worst peak {worst:.1} MiB) and flat from {big} to {huge} (largest growth {growth:+.1} MiB; flat = within 2 MiB)"),
        worst < 32.0 && growth <= 2.0,
    ));
    s
}
