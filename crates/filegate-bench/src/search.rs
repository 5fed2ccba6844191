//! Search as one tenant's files grow to 10k, 100k and 1M (`corpus` says what they look
//! like). The rows are seeded through the store layer, the index is rebuilt by `filegate
//! reindex` (timed: it is the rebuild rate), then every kind of request is timed through
//! HTTP, one at a time, next to the list's first page in the same run (the baseline: the
//! cheapest read a client makes). Last, files uploaded through the whole cycle are timed
//! from the moment they became `ready` to the moment a search finds them.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use filegate_client::api::{CompleteUpload, CreateUpload, UploadInstructions};
use filegate_client::{Client, ListFiles, Search};

use crate::corpus::{self, Queries};
use crate::deploy::{Deployment, Kind};
use crate::growth::first_page;
use crate::process::{Filegate, reindex};
use crate::report::{Section, target_line};
use crate::seed::{Store, analyze, epoch};
use crate::stats::{Latency, millis, quantile, timed};

/// Rows per seeding transaction.
const SEED_BATCH: usize = 10_000;
/// Hits per page, as a search box shows them.
const PAGE: u32 = 20;
const FACETS: [&str; 4] = ["content_type", "bucket", "created", "size"];

/// The sizes of one search measurement.
#[derive(Clone)]
pub struct Plan {
    /// File counts, ascending.
    pub levels: Vec<usize>,
    /// Timed requests of each kind per run.
    pub requests: usize,
    /// Files uploaded and waited for in the search, per level.
    pub probes: usize,
}

#[derive(Default, Clone)]
struct Level {
    files: usize,
    seed_secs: f64,
    reindex_rate: f64,
    index_mib: f64,
    rss_mib: f64,
    list: Latency,
    one_word: Latency,
    typo: Latency,
    faceted: Latency,
    suggest: Latency,
    metadata: Latency,
    /// From `ready` to found, in ms, every probe of the level.
    searchable: Vec<Duration>,
}

pub async fn search(work: &Path, runs: usize, plan: &Plan, deployment: &Deployment) -> anyhow::Result<Section> {
    let dir = work.join("search");
    // A first start creates the schema and the default tenant.
    Filegate::serve(&dir, false, &deployment.env).await?.stop().await?;
    let first_created = epoch() - chrono::Duration::days(730);
    let mut seeded = 0;
    let mut results = Vec::new();
    let mut queries = Queries::new(0x5ea7c4);
    for &files in &plan.levels {
        let started = Instant::now();
        let store = Store::open(deployment, &dir).await?;
        while seeded < files {
            let batch: Vec<_> = (seeded..files.min(seeded + SEED_BATCH))
                .map(|i| corpus::file(i, first_created))
                .collect();
            store.insert(&batch).await.context("seeding files")?;
            seeded += batch.len();
        }
        store.close().await;
        analyze(deployment).await?;
        let seed_secs = started.elapsed().as_secs_f64();
        let (indexed, took) = reindex(&dir, &deployment.env).await?;
        // The probes of earlier levels are in the index too.
        if (indexed as usize) < files {
            bail!("reindex indexed {indexed} of {files} files");
        }
        let mut level = Level {
            files,
            seed_secs,
            reindex_rate: indexed as f64 / took.as_secs_f64(),
            index_mib: index_size(deployment, &dir).await? as f64 / (1 << 20) as f64,
            ..Level::default()
        };
        eprintln!(
            "search: {files} files seeded in {seed_secs:.1} s, reindexed at {:.0} files/s",
            level.reindex_rate
        );

        let server = Filegate::serve(&dir, true, &deployment.env).await?;
        let client = server.client()?;
        // Warm the caches once, as a running server's would be.
        let warm: Vec<String> = (0..plan.requests.min(20)).map(|_| queries.one_word(files)).collect();
        timed(warm.len(), |n| words(&client, &warm[n], false)).await?;
        for _ in 0..runs {
            let n = plan.requests;
            level.list.push(&timed(n, |_| first_page(&client, PAGE)).await?);
            let q: Vec<String> = (0..n).map(|_| queries.one_word(files)).collect();
            level.one_word.push(&timed(n, |i| words(&client, &q[i], false)).await?);
            let q: Vec<String> = (0..n).map(|_| queries.two_words_with_typo(files)).collect();
            level.typo.push(&timed(n, |i| words(&client, &q[i], false)).await?);
            let q: Vec<String> = (0..n).map(|_| queries.one_word(files)).collect();
            level.faceted.push(&timed(n, |i| words(&client, &q[i], true)).await?);
            let q: Vec<String> = (0..n).map(|_| queries.prefix(files)).collect();
            level.suggest.push(&timed(n, |i| suggest(&client, &q[i])).await?);
            let q: Vec<String> = (0..n).map(|_| queries.subject(files)).collect();
            level.metadata.push(&timed(n, |i| by_subject(&client, &q[i])).await?);
        }
        for probe in 0..plan.probes {
            level.searchable.push(ready_to_found(&client, files, probe).await?);
        }
        level.rss_mib = server.memory_kib().map_or(f64::NAN, |(rss, _)| rss as f64 / 1024.0);
        server.stop().await?;
        results.push(level);
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(section(deployment.kind, runs, plan, &results))
}

async fn words(client: &Client, q: &str, faceted: bool) -> anyhow::Result<()> {
    let found = client
        .search(&Search {
            q: Some(q.to_owned()),
            limit: Some(PAGE),
            facets: if faceted {
                FACETS.iter().map(|f| (*f).to_owned()).collect()
            } else {
                Vec::new()
            },
            ..Search::default()
        })
        .await?;
    // Every query is made of the corpus's words: one that finds nothing measures nothing.
    anyhow::ensure!(!found.items.is_empty(), "{q:?} found nothing");
    Ok(())
}

async fn suggest(client: &Client, prefix: &str) -> anyhow::Result<()> {
    let found = client.suggest(prefix, Some(8)).await?;
    anyhow::ensure!(!found.suggestions.is_empty(), "no suggestion for {prefix:?}");
    Ok(())
}

/// Seed 001's lookup: the list of one patient's files, by the number in their metadata.
async fn by_subject(client: &Client, subject: &str) -> anyhow::Result<()> {
    let page = client
        .list_files(&ListFiles {
            limit: Some(PAGE),
            metadata: vec![("subject".into(), subject.to_owned())],
            ..ListFiles::default()
        })
        .await?;
    anyhow::ensure!(!page.items.is_empty(), "no file of subject {subject}");
    Ok(())
}

/// Uploads one file with a word of its own in its name, then searches for that word until
/// it is found: the time from the file's `ready` (its `updated_at`) to the answer that has
/// it. The search is repeated at once (no pause): the figure is the index's delay, not a
/// polling interval's.
async fn ready_to_found(client: &Client, level: usize, probe: usize) -> anyhow::Result<Duration> {
    let word = letters(level * 1000 + probe);
    let body = Bytes::from(format!("probe {word}\n"));
    let created = client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: format!("probes/probe {word}.txt"),
            size: body.len() as u64,
            content_type: Some("text/plain".into()),
            multipart: Some(false),
            ..CreateUpload::default()
        })
        .await?;
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        bail!("expected a single PUT");
    };
    client.put_signed(&url, &headers, body).await?;
    client
        .complete_upload(&created.file_id, &CompleteUpload::default())
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let search = Search {
        q: Some(format!("{word} ")),
        ..Search::default()
    };
    loop {
        let found = client.search(&search).await?;
        let at = Utc::now();
        if found.items.iter().any(|hit| hit.file.id == created.file_id) {
            let file = client.get_file(&created.file_id).await?;
            anyhow::ensure!(file.status == "ready", "found while {}", file.status);
            let ready: DateTime<Utc> = file.updated_at;
            return Ok((at - ready).to_std().unwrap_or_default());
        }
        if Instant::now() > deadline {
            bail!("{word} was not found within 60 s of its upload");
        }
    }
}

/// `n` written in letters only (`baaa`, `caaa`, …): a word no other file has, which a query
/// matches as a word, not as a number.
fn letters(mut n: usize) -> String {
    let mut word = String::from("zq");
    for _ in 0..5 {
        word.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    word
}

/// Bytes the index takes: the embedded index's directory, or PostgreSQL's search tables
/// with their indexes.
async fn index_size(deployment: &Deployment, dir: &Path) -> anyhow::Result<u64> {
    match &deployment.database_url {
        None => Ok(dir_size(&dir.join("search"))),
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await?;
            let (bytes,): (i64,) = sqlx::query_as(
                "SELECT (pg_total_relation_size('search_documents') \
                 + pg_total_relation_size('search_document_completions') \
                 + pg_total_relation_size('search_terms'))::BIGINT",
            )
            .fetch_one(&pool)
            .await?;
            pool.close().await;
            Ok(u64::try_from(bytes).unwrap_or_default())
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_size(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

fn section(kind: Kind, runs: usize, plan: &Plan, levels: &[Level]) -> Section {
    let mut s = Section::new(format!("Search, {}", kind.label()));
    s.line(format!(
        "One tenant, the corpus of `crates/filegate-bench/src/corpus.rs` (folders, names, patient numbers \
         and metadata as a hospital's shared drive has them; the commonest word, `report`, on 40% of the \
         files, rare ones on under 1%). Pages of {PAGE}; {} requests of each kind per run, {runs} run(s), one at a time, \
         through HTTP, as an admin (no owner filter). Latencies in ms: each run's p50 and p99, and their \
         median (min–max) over the runs. The list's first page is the baseline, timed in the same run. \
         *One word*: a whole word of a random file's name or folders (so common words come up \
         as often as they are common); *typo*: a file's topic and document type, the longer with a letter dropped; *faceted*: one word with the four facets; *suggest*: 2–4 letters of a file's word, 8 completions; *metadata*: `GET /v1/files?metadata.subject=` of a patient (ten files).\n",
        plan.requests
    ));
    let rows = levels
        .iter()
        .map(|l| {
            let both = |lat: &Latency| format!("{} / {}", lat.p50.summary(2), lat.p99.summary(2));
            vec![
                l.files.to_string(),
                both(&l.list),
                both(&l.one_word),
                both(&l.typo),
                both(&l.faceted),
                both(&l.suggest),
                both(&l.metadata),
            ]
        })
        .collect();
    s.table(
        &[
            "files",
            "list first page p50 / p99",
            "one word",
            "two words, one typo",
            "one word + 4 facets",
            "suggest",
            "metadata filter",
        ],
        rows,
    );
    s.line(format!(
        "\nThe index: *seeded in* is the rows' insertion through the store; *reindex* is `filegate reindex` \
         rebuilding the whole index from the database (process start included); *index size* is {}; \
         *RSS* is the gateway's after the level's requests. *Ready → found*: {} files per level uploaded \
         through create, PUT and complete, each searched for (by a word of its name) from the moment it \
         was `ready` until a search returned it.\n",
        match kind {
            Kind::Embedded => "the index directory",
            _ => "PostgreSQL's search tables and their indexes",
        },
        plan.probes,
    ));
    let rows = levels
        .iter()
        .map(|l| {
            let q = |p: f64| millis(quantile(&l.searchable, p).unwrap_or_default());
            vec![
                l.files.to_string(),
                format!("{:.1} s", l.seed_secs),
                format!("{:.0} files/s", l.reindex_rate),
                format!("{:.1} MiB", l.index_mib),
                format!("{:.0} MiB", l.rss_mib),
                format!("{:.0} / {:.0}", q(0.5), q(0.99)),
            ]
        })
        .collect();
    s.table(
        &[
            "files",
            "seeded in",
            "reindex",
            "index size",
            "gateway RSS",
            "ready → found p50 / p99 (ms)",
        ],
        rows,
    );
    if let Some(top) = levels.iter().max_by_key(|l| l.files).filter(|l| l.files >= 1_000_000) {
        let worst = [&top.one_word, &top.typo, &top.faceted]
            .iter()
            .map(|l| l.p99.median())
            .fold(0.0, f64::max);
        let limit = if kind == Kind::Embedded { 10.0 } else { 25.0 };
        s.line(target_line(
            &format!("search p99 < {limit} ms at 1M files (worst median p99: {worst:.2} ms)"),
            worst < limit,
        ));
        let suggest = top.suggest.p99.median();
        s.line(target_line(
            &format!("suggest p99 < 5 ms at 1M files (median p99: {suggest:.2} ms)"),
            suggest < 5.0,
        ));
    }
    if kind == Kind::Embedded
        && let Some(rate) = levels.iter().map(|l| l.reindex_rate).reduce(f64::min)
    {
        s.line(target_line(
            &format!("reindex ≥ 10,000 files/s (slowest level: {rate:.0} files/s)"),
            rate >= 10_000.0,
        ));
    }
    let all: Vec<Duration> = levels.iter().flat_map(|l| l.searchable.iter().copied()).collect();
    if let Some(p99) = quantile(&all, 0.99) {
        s.line(target_line(
            &format!(
                "searchable within 1 s of `ready`, p99 (all levels: {:.0} ms)",
                millis(p99)
            ),
            p99 < Duration::from_secs(1),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_words_are_letters_and_unique() {
        let words: std::collections::BTreeSet<String> = (0..5000).map(letters).collect();
        assert_eq!(words.len(), 5000);
        assert!(words.iter().all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
    }
}
