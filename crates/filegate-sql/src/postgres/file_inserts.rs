//! Group commit of file inserts: the inserts that arrive together (uploads created at once,
//! by any number of clients) go to the database as one statement: one round trip and one
//! commit for all of them, each with its jobs and audit records.
//!
//! Why: every upload begins with an insert, and each was a transaction of its own: a round
//! trip, a commit record and a WAL flush per file. A dispatcher now takes whatever inserts
//! have gathered while the batches before it ran (up to [`MAX_BATCH`], at most [`IN_FLIGHT`]
//! batches at once). Nothing waits for a batch to fill: a lone insert runs at once, and
//! under load the batches grow by themselves.
//!
//! The statement has one text whatever the batch's size (the rows come as one JSON array
//! parameter, as on SQLite: `sqlite/file_updates.rs`), so each connection prepares it once.
//! Each row keeps its own meaning inside it: a row whose tenant has a quota row, or whose id
//! or live path is taken, is left out (`ON CONFLICT DO NOTHING`) and so are its jobs and
//! records; its caller then takes the transaction of `crate::files::insert_within_quota`,
//! which checks the quota and reports the conflict as a single insert does. A statement
//! that fails as a whole (a job id that exists, a record the trail refuses) fails each of
//! its callers over to that transaction too, so one refused insert fails only its own.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use filegate_core::StoreError;
use filegate_core::domain::FileRecord;
use filegate_core::ports::Effects;
use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::audit::{AUDIT_WRITTEN, audit_values};
use crate::convert::{micros, to_json};
use crate::errors::store_err;
use crate::file_row::{COLUMNS, FileRow, FileValues, Value, column_names, file_columns};
use crate::jobs::{JOB_COLUMNS, job_values};

/// The most inserts one statement carries.
const MAX_BATCH: usize = 64;
/// Batches running at once, each on a pooled connection of its own.
const IN_FLIGHT: usize = 4;
/// Inserts waiting for a batch before callers wait to hand theirs over.
const QUEUE: usize = 4 * MAX_BATCH;

/// Every insert of a batch, as `$1`: a JSON array of `[file, jobs, audit records]`, the file
/// an object of its columns ([`row_json`]), which `jsonb_populate_record` turns into a row of
/// `files` with each column's own type. `$2` is the jobs' creation time.
static INSERT_BATCH: LazyLock<String> = LazyLock::new(|| {
    let columns = column_names();
    let values: Vec<String> = COLUMNS.iter().map(|c| format!("f.{}", c.name)).collect();
    let audit: Vec<String> = AUDIT_WRITTEN
        .split(", ")
        .enumerate()
        .map(|(i, name)| match name {
            "at" => format!("(a.v ->> {i})::bigint"),
            "details" => format!("(a.v ->> {i})::jsonb"),
            _ => format!("a.v ->> {i}"),
        })
        .collect();
    let written = "r.v -> 0 ->> 'id' IN (SELECT id FROM changed)";
    format!(
        "WITH r AS (SELECT v, n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r (v, n)), \
         changed AS (INSERT INTO files ({columns}, change_seq, change_xid) \
         SELECT {}, nextval('files_change_seq'), pg_current_xact_id()::text::bigint \
         FROM r, jsonb_populate_record(NULL::files, r.v -> 0) AS f \
         WHERE NOT EXISTS (SELECT 1 FROM tenant_quotas q WHERE q.tenant = f.tenant) ORDER BY r.n \
         ON CONFLICT DO NOTHING RETURNING {}), \
         queued AS (INSERT INTO jobs ({JOB_COLUMNS}) \
         SELECT j.v ->> 0, j.v ->> 1, (j.v ->> 2)::jsonb, (j.v ->> 3)::bigint, j.v ->> 4, j.v ->> 5, 0, $2 \
         FROM r, jsonb_array_elements(r.v -> 1) AS j (v) WHERE {written}), \
         audited AS (INSERT INTO audit_log ({AUDIT_WRITTEN}) SELECT {} \
         FROM r, jsonb_array_elements(r.v -> 2) WITH ORDINALITY AS a (v, k) WHERE {written} ORDER BY r.n, a.k \
         ON CONFLICT (id) DO NOTHING) \
         SELECT * FROM changed",
        values.join(", "),
        file_columns!(),
        audit.join(", "),
    )
});

/// One insert as an element of [`INSERT_BATCH`]'s array.
fn row_json(file: &FileRecord, effects: &Effects) -> Result<serde_json::Value, StoreError> {
    let v = FileValues::of(file)?;
    let mut columns = serde_json::Map::with_capacity(COLUMNS.len());
    for c in &COLUMNS {
        let value = match (c.value)(&v) {
            Value::Text(s) => s.into(),
            Value::MaybeText(s) => s.into(),
            Value::Int(n) => n.into(),
            Value::MaybeInt(n) => n.into(),
            Value::Json(s) => serde_json::from_str(s).map_err(|e| crate::errors::unstorable(c.name, e))?,
        };
        columns.insert(c.name.to_owned(), value);
    }
    let jobs = effects.jobs.iter().map(job_values).collect::<Result<Vec<_>, _>>()?;
    let audit = effects.audit.iter().map(audit_values).collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::json!([columns, jobs, audit]))
}

/// What a caller waits for: the stored row, `None` when its insert was left out (or its
/// batch failed), for the caller to take the single transaction.
type Reply = oneshot::Sender<Option<FileRecord>>;

struct Waiting {
    id: String,
    row: serde_json::Value,
    reply: Reply,
}

/// The inserts' queue and the task that batches them.
pub(super) struct Inserts {
    queue: mpsc::Sender<Waiting>,
}

impl Inserts {
    pub(super) fn start(pool: PgPool) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(dispatch(pool, waiting));
        Self { queue }
    }

    /// Inserts `file` with its `effects` in the next batch: the stored row, or `None` when
    /// it was not written (see the module).
    pub(super) async fn insert(&self, file: &FileRecord, effects: &Effects) -> Result<Option<FileRecord>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting {
            id: file.id.to_string(),
            row: row_json(file, effects)?,
            reply,
        };
        if self.queue.send(waiting).await.is_err() {
            return Ok(None);
        }
        Ok(answer.await.ok().flatten())
    }
}

/// Takes what has gathered into batches, [`IN_FLIGHT`] at a time, until every sender is gone.
async fn dispatch(pool: PgPool, mut waiting: mpsc::Receiver<Waiting>) {
    let running = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = waiting.recv().await {
        let Ok(permit) = running.clone().acquire_owned().await else {
            return;
        };
        // Gathered while the batches before ran: taken only now that one may start.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            run(&pool, batch).await;
            drop(permit);
        });
    }
}

/// Runs one batch and answers each of its callers.
async fn run(pool: &PgPool, batch: Vec<Waiting>) {
    let rows: Vec<&serde_json::Value> = batch.iter().map(|w| &w.row).collect();
    let mut stored = match statement(pool, &rows).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::debug!(error = %e, size = batch.len(), "a batch of file inserts failed; each runs alone");
            HashMap::new()
        }
    };
    for w in batch {
        let _ = w.reply.send(stored.remove(&w.id));
    }
}

async fn statement(pool: &PgPool, rows: &[&serde_json::Value]) -> Result<HashMap<String, FileRecord>, StoreError> {
    let rows: Vec<FileRow> = sqlx::query_as(INSERT_BATCH.as_str())
        .bind(to_json("file inserts", &rows)?)
        .bind(micros(chrono::Utc::now()))
        .fetch_all(pool)
        .await
        .map_err(store_err)?;
    rows.into_iter()
        .map(|row| FileRecord::try_from(row).map(|file| (file.id.to_string(), file)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_writes_effects_only_with_their_row() {
        let sql = INSERT_BATCH.as_str();
        assert!(sql.contains("SELECT f.id, f.tenant, f.bucket, "), "{sql}");
        assert!(
            sql.contains("jsonb_populate_record(NULL::files, r.v -> 0) AS f"),
            "{sql}"
        );
        assert!(sql.contains("WHERE NOT EXISTS (SELECT 1 FROM tenant_quotas q WHERE q.tenant = f.tenant)"));
        assert_eq!(
            sql.matches("WHERE r.v -> 0 ->> 'id' IN (SELECT id FROM changed)")
                .count(),
            2,
            "{sql}"
        );
        assert!(
            sql.ends_with("ON CONFLICT (id) DO NOTHING) SELECT * FROM changed"),
            "{sql}"
        );
    }
}
