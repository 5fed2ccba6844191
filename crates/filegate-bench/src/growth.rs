//! Growth: how the list page and the change feed answer as one tenant's files grow to 10k,
//! 100k and 1M. The rows are seeded through the store layer (`insert_files_bulk`: the same
//! table, indexes and change counter as `insert_file`), then timed through HTTP, which is
//! what users see: the first page, pages behind deep cursors, and the feed from deep
//! positions, one request at a time.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, TimeZone as _, Utc};
use filegate_client::{Client, ListFiles};
use filegate_core::domain::{
    After, BucketName, ContentType, ETag, FileId, FileRecord, FileStatus, Metadata, ObjectPath, Processing, Sha256Hex,
    Sort, SortValue, TenantId, UploadPlan, blob_key_for, encode_cursor,
};
use sha2::{Digest as _, Sha256};

use crate::deploy::{Deployment, Kind};
use crate::process::Filegate;
use crate::report::{Section, target_line};
use crate::stats::{Samples, millis, quantile};

/// Rows per seeding transaction.
const SEED_BATCH: usize = 10_000;
const PAGE: u32 = 50;

/// Where rows go: the store of the deployment's database.
enum Store {
    Sqlite(filegate_sql::SqliteStore),
    Postgres(filegate_sql::PostgresStore),
}

impl Store {
    async fn open(deployment: &Deployment, data_dir: &Path) -> anyhow::Result<Self> {
        Ok(match &deployment.database_url {
            Some(url) => Store::Postgres(filegate_sql::PostgresStore::connect(url).await?),
            None => Store::Sqlite(filegate_sql::SqliteStore::open(&data_dir.join("filegate.db")).await?),
        })
    }

    async fn insert(&self, files: &[FileRecord]) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(s) => s.insert_files_bulk(files).await?,
            Store::Postgres(s) => s.insert_files_bulk(files).await?,
        }
        Ok(())
    }

    async fn close(self) {
        if let Store::Sqlite(s) = self {
            s.close().await;
        }
    }
}

/// The seeded file number `i`: `ready`, created 10 ms after file `i - 1`.
fn seeded(i: usize) -> FileRecord {
    let tenant = TenantId::default_tenant();
    let id = FileId::new();
    let at = epoch() + chrono::Duration::milliseconds(10 * i as i64);
    let digest = Sha256::digest(i.to_le_bytes());
    FileRecord {
        blob_key: blob_key_for(&tenant, id),
        id,
        tenant,
        bucket: BucketName::default_bucket(),
        path: ObjectPath::parse(&format!("growth/{:03}/{i:08}.bin", i % 1000)).expect("a valid path"),
        size: 1024 + (i as u64 % 4096),
        content_type: ContentType::octet_stream(),
        declared_sha256: None,
        sha256: Some(Sha256Hex::from_digest(&digest)),
        etag: Some(ETag::new_unchecked(hex::encode(&digest[..16]))),
        status: FileStatus::Ready,
        status_reason: None,
        previous_status: None,
        owner: "bench".into(),
        external_id: None,
        metadata: Metadata::default(),
        processing: Processing::default(),
        download_count: 0,
        upload: UploadPlan::Put,
        upload_expires_at: at + chrono::Duration::hours(1),
        created_at: at,
        updated_at: at,
        deleted_at: None,
        purge_after: None,
        change_seq: 0,
        encryption: None,
        request_id: None,
    }
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default()
}

/// A small deterministic generator for the deep positions (no `rand` needed).
struct Positions(u64);

impl Positions {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below.max(1) as u64) as usize
    }
}

#[derive(Default, Clone)]
struct Latency {
    p50: Samples,
    p99: Samples,
}

impl Latency {
    fn push(&mut self, values: &[Duration]) {
        self.p50.push(millis(quantile(values, 0.5).unwrap_or_default()));
        self.p99.push(millis(quantile(values, 0.99).unwrap_or_default()));
    }
}

#[derive(Default, Clone)]
struct Level {
    files: usize,
    seed_secs: f64,
    first_page: Latency,
    deep_page: Latency,
    changes: Latency,
}

/// `levels`: file counts, ascending; `requests`: timed requests of each kind per run.
pub async fn growth(
    work: &Path,
    runs: usize,
    levels: &[usize],
    requests: usize,
    deployment: &Deployment,
) -> anyhow::Result<Section> {
    let dir = work.join("growth");
    // A first start creates the schema and the default tenant.
    Filegate::serve(&dir, false, &deployment.env).await?.stop().await?;
    let mut keys: Vec<(i64, FileId)> = Vec::new();
    let mut results = Vec::new();
    let mut positions = Positions(0x9e37_79b9_7f4a_7c15);
    for &files in levels {
        let started = Instant::now();
        let store = Store::open(deployment, &dir).await?;
        while keys.len() < files {
            let batch: Vec<FileRecord> = (keys.len()..files.min(keys.len() + SEED_BATCH)).map(seeded).collect();
            store.insert(&batch).await.context("seeding files")?;
            keys.extend(batch.iter().map(|f| (f.created_at.timestamp_micros(), f.id)));
        }
        store.close().await;
        let mut level = Level {
            files,
            seed_secs: started.elapsed().as_secs_f64(),
            ..Level::default()
        };
        eprintln!("growth: {files} files seeded in {:.1} s", level.seed_secs);

        let server = Filegate::serve(&dir, false, &deployment.env).await?;
        let client = server.client()?;
        // Warm the caches once, as a running server's would be.
        timed(&client, requests.min(20), |_| first_page(&client)).await?;
        for _ in 0..runs {
            level
                .first_page
                .push(&timed(&client, requests, |_| first_page(&client)).await?);
            let cursors: Vec<String> = (0..requests)
                .map(|_| {
                    let (micros, id) = keys[positions.next(keys.len())];
                    encode_cursor(
                        Sort::default(),
                        &After {
                            value: SortValue::Int(micros),
                            id,
                        },
                    )
                })
                .collect();
            level
                .deep_page
                .push(&timed(&client, requests, |n| deep_page(&client, &cursors[n])).await?);
            let since: Vec<u64> = (0..requests).map(|_| positions.next(files) as u64).collect();
            level
                .changes
                .push(&timed(&client, requests, |n| changes(&client, since[n])).await?);
        }
        server.stop().await?;
        results.push(level);
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(section(deployment.kind, requests, &results))
}

/// `count` requests one after another, each timed.
async fn timed<'a, F, Fut>(_client: &Client, count: usize, op: F) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + 'a,
{
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let t = Instant::now();
        op(n).await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

async fn first_page(client: &Client) -> anyhow::Result<()> {
    let page = client
        .list_files(&ListFiles {
            limit: Some(PAGE),
            ..ListFiles::default()
        })
        .await?;
    anyhow::ensure!(page.items.len() == PAGE as usize, "a short first page");
    Ok(())
}

async fn deep_page(client: &Client, cursor: &str) -> anyhow::Result<()> {
    client
        .list_files(&ListFiles {
            limit: Some(PAGE),
            cursor: Some(cursor.to_owned()),
            ..ListFiles::default()
        })
        .await?;
    Ok(())
}

async fn changes(client: &Client, since: u64) -> anyhow::Result<()> {
    client.changes(Some(&since.to_string()), Some(PAGE)).await?;
    Ok(())
}

fn section(kind: Kind, requests: usize, levels: &[Level]) -> Section {
    let mut s = Section::new(format!("Growth: list and change feed, {}", kind.label()));
    s.line(format!(
        "One tenant, one bucket; pages of {PAGE}; {requests} requests of each kind per run, one at a time, through HTTP. \
         Latencies in ms: each run's p50 and p99, and their median (min–max) over the runs. \
         Deep pages start behind a cursor at a random file; the feed starts at a random position.\n"
    ));
    let rows = levels
        .iter()
        .map(|l| {
            vec![
                l.files.to_string(),
                format!("{:.1} s", l.seed_secs),
                l.first_page.p50.summary(2),
                l.first_page.p99.summary(2),
                l.deep_page.p50.summary(2),
                l.deep_page.p99.summary(2),
                l.changes.p50.summary(2),
                l.changes.p99.summary(2),
            ]
        })
        .collect();
    s.table(
        &[
            "files",
            "seeded in",
            "first page p50",
            "first page p99",
            "deep page p50",
            "deep page p99",
            "changes p50",
            "changes p99",
        ],
        rows,
    );
    if let Some(top) = levels.iter().find(|l| l.files >= 1_000_000) {
        let worst = top.first_page.p99.median().max(top.deep_page.p99.median());
        s.line(target_line(
            &format!("list p99 < 10 ms at 1M files (worst median p99: {worst:.2} ms)"),
            worst < 10.0,
        ));
    }
    s
}
