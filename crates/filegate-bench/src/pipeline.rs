//! The pipeline: how many small files per second go from `complete` to `ready`, and the
//! hash stage's MB/s on one big file next to the same sha2 crate hashing the same bytes in
//! memory (the limit).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use filegate_api::{CompleteUpload, CreateUpload, FileView, UploadInstructions};
use filegate_client::{Client, ListFiles, Payload, UploadSource};
use futures::{StreamExt as _, TryStreamExt as _};
use sha2::{Digest as _, Sha256};

use crate::deploy::{Deployment, EngineUrls, Kind};
use crate::process::Filegate;
use crate::report::{Section, target_line};
use crate::stats::{Samples, ratio};

/// How many files are `ready` (the `total` of an offset page filtered by status).
async fn ready_count(client: &Client, bucket: &str) -> anyhow::Result<u64> {
    let query = ListFiles {
        status: Some("ready".into()),
        limit: Some(1),
        offset: Some(0),
        ..ListFiles::bucket(bucket)
    };
    Ok(client.list_files(&query).await?.total.unwrap_or(0))
}

pub(crate) async fn wait_ready(client: &Client, bucket: &str, expected: u64, deadline: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + deadline;
    while ready_count(client, bucket).await? < expected {
        ensure!(Instant::now() < until, "files did not become ready within {deadline:?}");
        // Each poll counts the ready files: poll seldom enough not to load the server.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Uploads `count` files of `size` bytes (create, PUT, complete) with `concurrency` in flight.
async fn upload_many(client: &Client, count: usize, size: usize, concurrency: usize) -> anyhow::Result<()> {
    futures::stream::iter(0..count)
        .map(|i| {
            let body = Bytes::from(
                (0..size)
                    .map(|j| (i.wrapping_mul(31).wrapping_add(j)) as u8)
                    .collect::<Vec<u8>>(),
            );
            async move {
                let request = CreateUpload {
                    bucket: "default".into(),
                    path: format!("small/{i:06}.bin"),
                    content_type: Some("application/octet-stream".into()),
                    ..CreateUpload::default()
                };
                client
                    .upload(request, UploadSource::Bytes(body))
                    .await
                    .map(|_: FileView| ())
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await
        .context("uploading the small files")
}

/// Files per second from `complete` to `ready` on `kind`'s engines: the files are uploaded
/// and completed with no worker running, then a worker process starts and the clock runs
/// until the last is ready. Each run has a deployment of its own (a fresh database, S3
/// server and queue), so that runs neither share files nor count each other's.
pub async fn small_files(
    work: &Path,
    runs: usize,
    count: usize,
    size: usize,
    kind: Kind,
    urls: &EngineUrls,
) -> anyhow::Result<Section> {
    let mut rate = Samples::default();
    let mut baseline = Samples::default();
    let mut worker_peak = Samples::default();
    for run in 0..runs {
        let dir = work.join(format!("small-{kind:?}-{run}"));
        let deployment = Deployment::start(kind, urls, &dir).await?;
        let measured = small_files_once(&dir, count, size, &deployment).await;
        deployment.finish().await?;
        let (files_per_s, peak) = measured?;
        rate.push(files_per_s);
        if let Some(peak) = peak {
            worker_peak.push(peak);
        }

        // The limit of the per-file work: read each stored object and hash it, in one loop
        // (the local directory's objects, or the files the S3 server keeps them in).
        let objects = match kind {
            Kind::ScaleOut => dir.join("s3").join("files"),
            Kind::Embedded | Kind::Postgres => dir.join("objects"),
        };
        let started = Instant::now();
        let hashed = hash_tree(&objects)?;
        ensure!(hashed >= count, "found {hashed} objects, expected {count}");
        baseline.push(hashed as f64 / started.elapsed().as_secs_f64());
        std::fs::remove_dir_all(&dir).ok();
    }
    let kib = size / 1024;
    let mut section = Section::new(format!(
        "Pipeline: {count} × {kib} KiB files, `complete` → `ready`, {}",
        kind.label()
    ));
    let queue = match kind {
        Kind::ScaleOut => "jobs relayed through RabbitMQ",
        Kind::Embedded | Kind::Postgres => "jobs in the database",
    };
    section.table(
        &["measurement", "median (min–max)", "baseline, same run", "ratio"],
        vec![vec![
            format!("files per second through the default bucket's stages (verify, hash, sniff, metadata, thumbnail), one worker process, default concurrency, {queue}"),
            format!("{} files/s", rate.summary(0)),
            format!(
                "read + sha256 of every stored object in one loop: {} files/s",
                baseline.summary(0)
            ),
            ratio(&rate, &baseline),
        ]],
    );
    section.line(format!(
        "- worker process peak RSS (VmHWM): {} MiB",
        worker_peak.summary(1)
    ));
    section.line(target_line(
        "≥ 1,000 small files per second through the pipeline",
        rate.median() >= 1000.0,
    ));
    Ok(section)
}

/// One run: uploads `count` files through a gateway without workers, then times a worker
/// process taking them all to `ready`. Files per second and the worker's peak RSS in MiB.
async fn small_files_once(
    dir: &Path,
    count: usize,
    size: usize,
    deployment: &Deployment,
) -> anyhow::Result<(f64, Option<f64>)> {
    let server = Filegate::serve(dir, false, &deployment.env).await?;
    let client = server.client()?;
    upload_many(&client, count, size, 32).await?;

    let started = Instant::now();
    let worker = Filegate::worker(dir, &deployment.env).await?;
    wait_ready(&client, "default", count as u64, Duration::from_secs(600)).await?;
    let files_per_s = count as f64 / started.elapsed().as_secs_f64();
    let peak = worker.memory_kib().map(|(_, peak)| peak as f64 / 1024.0);
    worker.stop().await?;
    server.stop().await?;
    Ok((files_per_s, peak))
}

fn hash_tree(dir: &Path) -> anyhow::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            n += hash_tree(&path)?;
        } else if path.extension().is_none() {
            let bytes = std::fs::read(&path)?;
            std::hint::black_box(Sha256::digest(&bytes));
            n += 1;
        }
    }
    Ok(n)
}

/// Polls the file's status every 5 ms (a cheap read) until it is `ready`.
async fn poll_ready(client: &Client, id: &str, deadline: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + deadline;
    loop {
        let status = client.file_status(id).await?.status;
        match status.as_str() {
            "ready" => return Ok(()),
            "failed" | "quarantined" => anyhow::bail!("the file ended {status}"),
            _ => {}
        }
        ensure!(Instant::now() < until, "the file was not ready within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Seconds until `complete` answers, and until the file is `ready`, from the call to
/// `complete` of `input` uploaded with a single PUT as `path` (declaring `declared` as its
/// sha256 at create, if given), on a server with its worker running; the file must end
/// with `expected` as its sha256.
async fn complete_to_ready(
    client: &Client,
    input: &Path,
    size: usize,
    path: &str,
    declared: Option<&str>,
    expected: &str,
) -> anyhow::Result<(f64, f64)> {
    let created = client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: path.into(),
            size: size as u64,
            content_type: Some("application/octet-stream".into()),
            sha256: declared.map(str::to_owned),
            multipart: Some(false),
            ..CreateUpload::default()
        })
        .await?;
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        anyhow::bail!("expected a single PUT");
    };
    client
        .put_signed(&url, &headers, Payload::from_file(input).await?)
        .await?;
    let started = Instant::now();
    client
        .complete_upload(&created.file_id, &CompleteUpload::default())
        .await?;
    let answered = started.elapsed().as_secs_f64();
    poll_ready(client, &created.file_id, Duration::from_secs(600)).await?;
    let ready = started.elapsed().as_secs_f64();
    let file = client.get_file(&created.file_id).await?;
    ensure!(file.sha256.as_deref() == Some(expected), "filegate's sha256 differs");
    Ok((answered, ready))
}

/// The hash stage on one big file: `complete` → `ready` with a worker already running
/// (verify + sha256 of the stored bytes, streamed from disk) against `openssl dgst -sha256`
/// of the same file (the CPU's SHA extensions through OpenSSL's own code), and against the
/// sha2 crate over the same bytes already in memory.
pub async fn hash_stage(work: &Path, runs: usize, size: usize) -> anyhow::Result<Section> {
    let input = work.join("hash-input.bin");
    let data = crate::data::write_random(&input, size)?;
    let expected = hex::encode(Sha256::digest(&data));
    let (mut filegate, mut openssl, mut memory) = (Samples::default(), Samples::default(), Samples::default());
    let (mut declared_ms, mut openssl_ms) = (Samples::default(), Samples::default());
    for run in 0..runs {
        let dir = work.join(format!("hash-{run}"));
        let server = Filegate::serve(&dir, true, &[]).await?;
        let client = server.client()?;
        let (_, ready) = complete_to_ready(&client, &input, size, "big.bin", None, &expected).await?;
        filegate.push(size as f64 / 1e6 / ready);
        // The same bytes with their sha256 declared at create, which `complete` checks before
        // it answers. (Only its answer is timed: how soon the worker then takes the job
        // varies by up to its idle wait, a second, which would hide the difference.)
        let (answered, _) =
            complete_to_ready(&client, &input, size, "declared.bin", Some(&expected), &expected).await?;
        declared_ms.push(answered * 1e3);
        server.stop().await?;
        std::fs::remove_dir_all(&dir).ok();

        let started = Instant::now();
        let out = tokio::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-r"])
            .arg(&input)
            .output()
            .await
            .context("running openssl (apt-get install openssl)")?;
        openssl.push(size as f64 / 1e6 / started.elapsed().as_secs_f64());
        openssl_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success() && text.starts_with(&expected),
            "openssl's sha256 differs: {text}"
        );

        let started = Instant::now();
        std::hint::black_box(Sha256::digest(&data));
        memory.push(size as f64 / 1e6 / started.elapsed().as_secs_f64());
    }
    drop(data);
    std::fs::remove_file(&input).ok();
    let mut section = Section::new(format!("Hash stage on one {} MiB file", size >> 20));
    section.table(
        &["measurement", "median (min–max)", "baseline, same run", "ratio"],
        vec![
            vec![
                "`complete` → `ready`, worker running: verify + sha256 streamed from disk, two status transitions"
                    .into(),
                format!("{} MB/s", filegate.summary(0)),
                format!("`openssl dgst -sha256` of the same file: {} MB/s", openssl.summary(0)),
                ratio(&filegate, &openssl),
            ],
            vec![
                "".into(),
                "".into(),
                format!(
                    "the sha2 crate over the same bytes in memory: {} MB/s",
                    memory.summary(0)
                ),
                ratio(&filegate, &memory),
            ],
            vec![
                "`complete` answering for the same file uploaded with its sha256 declared at create (it checks the bytes against it)"
                    .into(),
                format!("{} ms", declared_ms.summary(0)),
                format!("`openssl dgst -sha256` of the same file: {} ms", openssl_ms.summary(0)),
                ratio(&declared_ms, &openssl_ms),
            ],
        ],
    );
    let sha_ni = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|i| i.contains(" sha_ni"));
    section.line(format!(
        "- the CPU {} SHA extensions; sha2 picks them at run time (cpufeatures), as OpenSSL does.",
        if sha_ni { "has" } else { "lacks" }
    ));
    section.line(target_line(
        "hash ≥ 0.9× openssl",
        filegate.median() >= 0.9 * openssl.median(),
    ));
    Ok(section)
}
