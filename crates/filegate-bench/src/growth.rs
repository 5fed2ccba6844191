//! Growth: how the list page and the change feed answer as one tenant's files grow to 10k,
//! 100k and 1M. The rows are seeded through the store layer (`insert_files_bulk`: the same
//! table, indexes and change counter as `insert_file`), then timed through HTTP, which is
//! what users see: the first page, pages behind deep cursors, and the feed from deep
//! positions, one request at a time. And writes: upload cycles at concurrency 64 on the
//! grown tables, which must stay as fast as on an empty database.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use filegate_client::{Client, ListFiles};
use filegate_core::domain::{After, FileId, FileRecord, ObjectPath, Sort, SortValue, encode_cursor};

use crate::control::{Measured, OBJECT, cycle};
use crate::deploy::{Deployment, Kind};
use crate::load::{Bound, closed_loop};
use crate::process::Filegate;
use crate::report::{Section, target_line};
use crate::seed::{Store, analyze, epoch, ready_file};
use crate::stats::{Latency, timed};

/// Rows per seeding transaction.
const SEED_BATCH: usize = 10_000;
const PAGE: u32 = 50;
/// Upload cycles in flight on the grown tables (the control plane's highest).
const CYCLE_CONCURRENCY: usize = 64;

/// The seeded file number `i`: `ready`, created 10 ms after file `i - 1`.
fn seeded(i: usize) -> FileRecord {
    let path = ObjectPath::parse(&format!("growth/{:03}/{i:08}.bin", i % 1000)).expect("a valid path");
    ready_file(i, path, epoch() + chrono::Duration::milliseconds(10 * i as i64))
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
struct Level {
    files: usize,
    seed_secs: f64,
    first_page: Latency,
    deep_page: Latency,
    changes: Latency,
    cycles: Measured,
}

/// `levels`: file counts, ascending; `requests`: timed requests of each kind per run.
pub async fn growth(
    work: &Path,
    runs: usize,
    levels: &[usize],
    requests: usize,
    cycle_duration: Duration,
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
        analyze(deployment).await?;
        let mut level = Level {
            files,
            seed_secs: started.elapsed().as_secs_f64(),
            ..Level::default()
        };
        eprintln!("growth: {files} files seeded in {:.1} s", level.seed_secs);

        let server = Filegate::serve(&dir, false, &deployment.env).await?;
        let client = server.client()?;
        // Warm the caches once, as a running server's would be.
        timed(requests.min(20), |_| first_page(&client, PAGE)).await?;
        for run in 0..runs {
            level
                .first_page
                .push(&timed(requests, |_| first_page(&client, PAGE)).await?);
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
                .push(&timed(requests, |n| deep_page(&client, &cursors[n])).await?);
            let since: Vec<u64> = (0..requests).map(|_| positions.next(files) as u64).collect();
            level
                .changes
                .push(&timed(requests, |n| changes(&client, since[n])).await?);
            let (cl, prefix) = (client.clone(), format!("growth-cycles/{files}-{run}"));
            let body = Bytes::from(vec![0x5au8; OBJECT]);
            let bound = Bound {
                duration: cycle_duration,
                max_ops: 1_000_000,
            };
            let cycles = closed_loop(CYCLE_CONCURRENCY, bound, move |n| {
                let (cl, body, prefix) = (cl.clone(), body.clone(), prefix.clone());
                async move { cycle(&cl, body, n, &prefix).await }
            })
            .await
            .context("upload cycles on the grown tables")?;
            level.cycles.push(&cycles);
        }
        server.stop().await?;
        results.push(level);
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(section(deployment.kind, requests, &results))
}

/// The list's first page of `limit` files (the search benchmark's baseline too).
pub async fn first_page(client: &Client, limit: u32) -> anyhow::Result<()> {
    let page = client
        .list_files(&ListFiles {
            limit: Some(limit),
            ..ListFiles::default()
        })
        .await?;
    anyhow::ensure!(page.items.len() == limit as usize, "a short first page");
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
         Deep pages start behind a cursor at a random file; the feed starts at a random position. \
         *Cycles*: create + `PUT` 1 KiB + complete, {CYCLE_CONCURRENCY} in flight, on the grown tables \
         (the gateway without workers, as in the control plane), per second and p99 in ms.\n"
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
                l.cycles.rate.summary(0),
                l.cycles.p99.summary(1),
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
            "cycles/s",
            "cycle p99",
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
    if let (Some(first), Some(last)) = (levels.first(), levels.last()) {
        let kept = last.cycles.rate.median() / first.cycles.rate.median().max(1.0);
        s.line(target_line(
            &format!(
                "upload cycles flat as the tables grow ({} files: {:.0}/s, {} files: {:.0}/s, {kept:.2} of it)",
                first.files,
                first.cycles.rate.median(),
                last.files,
                last.cycles.rate.median()
            ),
            kept >= 0.9,
        ));
    }
    s
}
