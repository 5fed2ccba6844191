//! The scan and decrypt stages on one big file, each next to the same crate doing the same
//! work on bytes already in memory (the limit): clamd's INSTREAM through `filegate-clamd`,
//! and the `age` crate's decryptor.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use age::secrecy::SecretString;
use anyhow::{Context as _, bail};
use bytes::Bytes;
use filegate_api::{CreateBucket, CreateUpload};
use filegate_client::{Client, UploadSource};
use filegate_core::ports::Scanner as _;
use tokio::process::{Child, Command};

use crate::pipeline::wait_ready;
use crate::process::Filegate;
use crate::report::Section;
use crate::stats::{Samples, ratio};

/// The scrypt work factor the benchmark encrypts with: what `age -p` writes.
const WORK_FACTOR: u8 = 18;

async fn bucket(client: &Client, name: &str, stages: &[&str]) -> anyhow::Result<()> {
    client
        .create_bucket(&CreateBucket {
            name: name.into(),
            stages: Some(stages.iter().map(|s| (*s).to_owned()).collect()),
            ..CreateBucket::default()
        })
        .await?;
    Ok(())
}

/// `complete` → `ready` of one file in a bucket running `stages`, in MB/s of `size`.
async fn through_pipeline(
    dir: &Path,
    env: &[(&str, String)],
    stages: &[&str],
    input: &Path,
    size: usize,
    encryption: Option<&str>,
) -> anyhow::Result<f64> {
    let server = Filegate::serve(dir, false, env).await?;
    let client = server.client()?;
    bucket(&client, "bench", stages).await?;
    let request = CreateUpload {
        bucket: "bench".into(),
        path: "big.bin".into(),
        content_type: Some("application/octet-stream".into()),
        multipart: Some(false),
        encryption: encryption.map(str::to_owned),
        ..CreateUpload::default()
    };
    client.upload(request, UploadSource::File(input.to_owned())).await?;
    let started = Instant::now();
    let worker = Filegate::worker(dir, env).await?;
    wait_ready(&client, "bench", 1, Duration::from_secs(1800)).await?;
    let mbps = size as f64 / 1e6 / started.elapsed().as_secs_f64();
    worker.stop().await?;
    server.stop().await?;
    Ok(mbps)
}

/// A clamd of the benchmark's own, whose stream limit fits the file.
struct Clamd {
    _child: Child,
    url: String,
}

impl Clamd {
    async fn start(dir: &Path, size: usize) -> anyhow::Result<Self> {
        let binary = ["/usr/sbin/clamd", "/usr/bin/clamd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("clamd is not installed (apt-get install clamav-daemon)")?;
        let signatures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../filegate-clamd/tests/fixtures/clamav");
        let db = dir.join("clamdb");
        std::fs::create_dir_all(&db)?;
        for entry in std::fs::read_dir(&signatures)? {
            let entry = entry?;
            std::fs::copy(entry.path(), db.join(entry.file_name()))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let max_mib = (size >> 20) + 16;
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let conf = dir.join("clamd.conf");
        let mut f = std::fs::File::create(&conf)?;
        writeln!(
            f,
            "Foreground true\nDatabaseDirectory {}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nLogFile {}\n\
             User {user}\nStreamMaxLength {max_mib}M\nMaxScanSize {max_mib}M\nMaxFileSize {max_mib}M\nSelfCheck 0",
            db.display(),
            dir.join("clamd.log").display()
        )?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let scanner = filegate_clamd::ClamdScanner::from_url(&url)?;
        for _ in 0..600 {
            if scanner.ping().await.is_ok() {
                return Ok(Self { _child: child, url });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("clamd did not answer PING")
    }
}

/// The scan stage: the stored file streamed to clamd, against the same client sending the
/// same bytes from memory.
pub async fn scan_stage(work: &Path, runs: usize, size: usize) -> anyhow::Result<Section> {
    let clamd = Clamd::start(&work.join("clamd"), size).await?;
    let env = [("FILEGATE_SCANNER__URL", clamd.url.clone())];
    let scanner = filegate_clamd::ClamdScanner::from_url(&clamd.url)?;
    let (mut filegate, mut hashed, mut memory) = (Samples::default(), Samples::default(), Samples::default());
    // Every scan gets bytes of its own: clamd answers from its cache for bytes it has
    // scanned before, which would make a later measurement look faster than an earlier one.
    let fresh = |name: &str, run: usize| work.join(format!("scan-{name}-{run}.bin"));
    for run in 0..runs {
        let input = fresh("input", run);
        crate::data::write_random(&input, size)?;
        let dir = work.join(format!("scan-{run}"));
        filegate.push(through_pipeline(&dir, &env, &["verify", "scan"], &input, size, None).await?);
        std::fs::remove_dir_all(&dir).ok();
        std::fs::remove_file(&input).ok();
        // What a new bucket runs when a scanner is configured: the hash too.
        let input = fresh("hash-input", run);
        crate::data::write_random(&input, size)?;
        let dir = work.join(format!("scan-hash-{run}"));
        let stages = ["verify", "hash", "scan"];
        hashed.push(through_pipeline(&dir, &env, &stages, &input, size, None).await?);
        std::fs::remove_dir_all(&dir).ok();
        std::fs::remove_file(&input).ok();

        let data = Bytes::from(crate::data::write_random(&fresh("memory", run), size)?);
        std::fs::remove_file(fresh("memory", run)).ok();
        let chunks: Vec<std::io::Result<Bytes>> = (0..data.len())
            .step_by(64 * 1024)
            .map(|at| Ok(data.slice(at..(at + 64 * 1024).min(data.len()))))
            .collect();
        let started = Instant::now();
        let verdict = scanner.scan(Box::pin(futures::stream::iter(chunks))).await?;
        memory.push(size as f64 / 1e6 / started.elapsed().as_secs_f64());
        anyhow::ensure!(
            verdict == filegate_core::ports::ScanVerdict::Clean,
            "random bytes are clean"
        );
    }
    let mut section = Section::new(format!("Scan stage on one {} MiB file (clamd INSTREAM)", size >> 20));
    section.table(
        &["measurement", "median (min–max)", "baseline, same run", "ratio"],
        vec![
            vec![
            "`complete` → `ready` in a bucket running verify + scan (stored bytes streamed to clamd)".into(),
            format!("{} MB/s", filegate.summary(0)),
            format!(
                "the same client sending the bytes from memory: {} MB/s",
                memory.summary(0)
            ),
            ratio(&filegate, &memory),
        ],
        vec![
            "the same in a bucket running verify + hash + scan (what a new bucket runs when a scanner is configured)".into(),
            format!("{} MB/s", hashed.summary(0)),
            "".into(),
            ratio(&hashed, &memory),
        ]],
    );
    section.line("- clamd's own scanning is the limit of both; it runs on the same 2 cores as filegate.");
    section.line("- every scan is of bytes clamd has not seen before (its cache would answer for those).");
    Ok(section)
}

/// The decrypt stage: an age file (passphrase mode) decrypted from storage into storage, with
/// its sha256, against the age crate decrypting the same ciphertext from memory into nothing.
pub async fn decrypt_stage(work: &Path, runs: usize, size: usize) -> anyhow::Result<Section> {
    let plain = work.join("decrypt-plain.bin");
    crate::data::write_random(&plain, size)?;
    let (mut filegate, mut memory) = (Samples::default(), Samples::default());
    for run in 0..runs {
        let dir = work.join(format!("decrypt-{run}"));
        // The passphrase is the deployment's: ask a server over this data directory for it.
        let passphrase = {
            let server = Filegate::serve(&dir, false, &[]).await?;
            let phrase = server.client()?.exchange_passphrase().await?.passphrase;
            server.stop().await?;
            phrase
        };
        let cipher_path = work.join("decrypt-cipher.age");
        let cipher = encrypt(&plain, &cipher_path, &passphrase)?;
        let stages = ["verify", "decrypt"];
        filegate.push(through_pipeline(&dir, &[], &stages, &cipher_path, size, Some("age")).await?);
        std::fs::remove_dir_all(&dir).ok();

        let started = Instant::now();
        let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase));
        identity.set_max_work_factor(WORK_FACTOR);
        let decryptor = age::Decryptor::new_buffered(&cipher[..])?;
        let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))?;
        let copied = std::io::copy(&mut reader, &mut std::io::sink())?;
        memory.push(size as f64 / 1e6 / started.elapsed().as_secs_f64());
        anyhow::ensure!(copied == size as u64, "decrypted {copied} bytes of {size}");
        std::fs::remove_file(&cipher_path).ok();
    }
    std::fs::remove_file(&plain).ok();
    let mut section = Section::new(format!("Decrypt stage on one {} MiB age file", size >> 20));
    section.table(
        &["measurement", "median (min–max)", "baseline, same run", "ratio"],
        vec![vec![
            "`complete` → `ready` in a bucket running verify + decrypt (ciphertext streamed from disk, plaintext and its sha256 written back)".into(),
            format!("{} MB/s", filegate.summary(0)),
            format!("the age crate decrypting the same ciphertext from memory: {} MB/s", memory.summary(0)),
            ratio(&filegate, &memory),
        ]],
    );
    section.line(format!(
        "- both include one scrypt key derivation at work factor {WORK_FACTOR} (what `age -p` writes; about a second)."
    ));
    Ok(section)
}

/// `plain` encrypted to `passphrase` into `out` (streamed), and the ciphertext in memory for
/// the baseline.
fn encrypt(plain: &Path, out: &Path, passphrase: &str) -> anyhow::Result<Vec<u8>> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(WORK_FACTOR);
    let file = std::fs::File::create(out)?;
    let mut writer = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))?
        .wrap_output(std::io::BufWriter::new(file))?;
    std::io::copy(&mut std::fs::File::open(plain)?, &mut writer)?;
    writer.finish()?.flush()?;
    Ok(std::fs::read(out)?)
}
