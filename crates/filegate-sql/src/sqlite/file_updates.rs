//! Group commit of file updates: the compare-and-set updates that arrive together go to the
//! one writer connection as one batch of statements, in one transaction.
//!
//! Why: every status change of a file (`uploaded` → `processing` → `ready`, each with the job
//! announcing it) is a write on SQLite's one writer. One trip to the writer's thread and one
//! commit each made the small-files pipeline wait on that thread while it sat idle between
//! trips. A task now takes whatever updates have gathered while its previous batch ran (up to
//! [`MAX_BATCH`]) and runs them together. Nothing waits for a batch to fill: a lone update
//! runs at once, and under load the batches grow by themselves.
//!
//! Each update keeps its own meaning inside the batch: it bumps the change counter, updates
//! its row only if the stored status is one it expects (taking the new counter value), and
//! inserts its jobs only if its row now carries that value. An update whose status did not
//! match returns no row and changes nothing but the counter (a gap in the change numbers,
//! which readers never rely on); the caller then looks at why. When a statement fails (a
//! renamed path that is taken, say), the whole batch rolls back and its updates run again
//! one by one, so one refused update fails only its own caller.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileRecord, FileStatus};
use filegate_core::ports::NewJob;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{FromRow as _, Sqlite};
use tokio::sync::{Notify, mpsc, oneshot};

use super::one_trip;
use crate::errors::store_err;
use crate::rows::{FileRow, FileValues, file_columns, micros, to_json};

/// The most updates one batch holds: 31 bound values each, well under SQLite's limit, and
/// one cached statement text per batch size.
pub(super) const MAX_BATCH: usize = 64;
/// Updates waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4 * MAX_BATCH;

/// One update's statements. Its parameters are anonymous (`?`) and bound in the order they
/// appear (see [`BoundUpdate::bind`]), so that the same text repeats for every update of a
/// batch: sqlx numbers a multi-statement query's anonymous parameters across statements,
/// while numbered ones (`?12`) would refer to the whole batch's values, and a statement that
/// skips a number would shift the binding of the next ones.
///
/// The counter is bumped first; the row is updated only if its status is one of the JSON
/// array of expected statuses (taking the new counter value); the jobs, a JSON array of
/// `[id, kind, payload, run_at]` (so the text does not depend on how many there are), are
/// inserted only if the row now carries that value.
const UPDATE_TEMPLATE: &str = concat!(
    "UPDATE change_counter SET value = value + 1 WHERE id = 1; ",
    "UPDATE files SET bucket = ?, path = ?, name = ?, size = ?, content_type = ?, ",
    "content_essence = ?, declared_sha256 = ?, sha256 = ?, etag = ?, status = ?, ",
    "status_reason = ?, previous_status = ?, owner = ?, external_id = ?, metadata = ?, ",
    "processing = ?, blob_key = ?, upload = ?, upload_expires_at = ?, updated_at = ?, ",
    "deleted_at = ?, purge_after = ?, ",
    "change_seq = (SELECT value FROM change_counter WHERE id = 1), encryption = ?, request_id = ? ",
    "WHERE tenant = ? AND id = ? AND status IN (SELECT value FROM json_each(?)) RETURNING ",
    file_columns!(),
    "; ",
    "INSERT INTO jobs (id, kind, payload, run_at, attempts, created_at) ",
    "SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, 0, ? FROM json_each(?) AS j ",
    "WHERE EXISTS (SELECT 1 FROM files WHERE tenant = ? AND id = ? ",
    "AND change_seq = (SELECT value FROM change_counter WHERE id = 1)); "
);

/// What an update asks for: write `file` if its stored status is one of `expected`, and
/// enqueue `jobs` with it.
pub(super) struct Update {
    pub file: FileRecord,
    pub expected: Vec<FileStatus>,
    pub jobs: Vec<NewJob>,
}

/// An update's outcome: the stored row, or `None` when the status did not match or the file
/// is gone (nothing was written; the caller finds out which).
pub(super) type Outcome = Result<Option<FileRecord>, StoreError>;

struct Queued {
    update: Update,
    done: oneshot::Sender<Outcome>,
}

/// The hand-over to the batching task. Dropping every clone ends the task once the updates
/// it had taken are written.
#[derive(Clone)]
pub(super) struct FileUpdates {
    queue: mpsc::Sender<Queued>,
    writer: Writer,
}

/// What the batching task writes with.
#[derive(Clone)]
struct Writer {
    pool: SqlitePool,
    /// Woken when a committed update enqueued jobs.
    work: Arc<Notify>,
}

impl FileUpdates {
    /// Starts the batching task (so: inside a Tokio runtime).
    pub(super) fn start(pool: SqlitePool, work: Arc<Notify>) -> Self {
        let (queue, queued) = mpsc::channel(QUEUE);
        let writer = Writer { pool, work };
        tokio::spawn(write_batches(writer.clone(), queued));
        Self { queue, writer }
    }

    /// Runs `update` with whatever others are waiting. It commits (or not) even if the
    /// caller goes away meanwhile: the task owns it once handed over.
    pub(super) async fn run(&self, update: Update) -> Outcome {
        let (done, outcome) = oneshot::channel();
        if let Err(mpsc::error::SendError(queued)) = self.queue.send(Queued { update, done }).await {
            // The task is gone (the runtime is shutting down): write it alone.
            return self.writer.run_alone(&queued.update).await;
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(StoreError::Other(anyhow::anyhow!("the file update writer stopped"))))
    }
}

async fn write_batches(writer: Writer, mut queued: mpsc::Receiver<Queued>) {
    let mut waiting: Vec<Queued> = Vec::with_capacity(MAX_BATCH);
    loop {
        if waiting.is_empty() && queued.recv_many(&mut waiting, MAX_BATCH).await == 0 {
            return;
        }
        let batch = take_one_per_file(&mut waiting);
        writer.write(batch).await;
        // Take what gathered meanwhile without waiting, behind what was held back.
        while waiting.len() < MAX_BATCH {
            match queued.try_recv() {
                Ok(next) => waiting.push(next),
                Err(_) => break,
            }
        }
    }
}

/// Takes the first waiting update of each file, in order; a second update of the same file
/// stays for the next batch (the rows a batch returns are told apart by file id, and the
/// second update must see the first one's outcome anyway).
fn take_one_per_file(waiting: &mut Vec<Queued>) -> Vec<Queued> {
    let mut files = HashSet::with_capacity(waiting.len());
    let (batch, held): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|q| files.insert(q.update.file.id));
    *waiting = held;
    batch
}

impl Writer {
    async fn write(&self, batch: Vec<Queued>) {
        let (updates, callers): (Vec<Update>, Vec<_>) = batch.into_iter().map(|q| (q.update, q.done)).unzip();
        match self.run_batch(&updates).await {
            Ok(outcomes) => {
                for (outcome, done) in outcomes.into_iter().zip(callers) {
                    // A caller that went away meanwhile still had its update written.
                    let _ = done.send(Ok(outcome));
                }
            }
            Err(e) if updates.len() == 1 => {
                if let Some(done) = callers.into_iter().next() {
                    let _ = done.send(Err(e));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, updates = updates.len(), "a batch of file updates failed; running them one by one");
                for (update, done) in updates.iter().zip(callers) {
                    let _ = done.send(self.run_alone(update).await);
                }
            }
        }
    }

    async fn run_alone(&self, update: &Update) -> Outcome {
        let mut outcomes = self.run_batch(std::slice::from_ref(update)).await?;
        Ok(outcomes.pop().flatten())
    }

    /// Runs `updates` (at most one per file) in one transaction and one trip to the writer:
    /// for each, its stored row or `None`.
    async fn run_batch(&self, updates: &[Update]) -> Result<Vec<Option<FileRecord>>, StoreError> {
        let values = updates.iter().map(BoundUpdate::of).collect::<Result<Vec<_>, _>>()?;
        let created_at = micros(chrono::Utc::now());
        let mut query = sqlx::query::<Sqlite>(sqlx::AssertSqlSafe(batch_sql(updates.len())));
        for v in &values {
            query = v.bind(query, created_at);
        }
        let rows = one_trip(&self.pool, query).await.map_err(store_err)?;
        let outcomes = match_rows(updates, &rows)?;
        if updates
            .iter()
            .zip(&outcomes)
            .any(|(u, stored)| stored.is_some() && !u.jobs.is_empty())
        {
            // `notify_one` stores a permit when nobody waits yet, so a worker between a
            // fruitless claim and its wait still sees these jobs.
            self.work.notify_one();
        }
        Ok(outcomes)
    }
}

/// An update's values, encoded for binding.
struct BoundUpdate<'a> {
    file: FileValues<'a>,
    expected: String,
    jobs: String,
}

impl<'a> BoundUpdate<'a> {
    fn of(update: &'a Update) -> Result<Self, StoreError> {
        let expected: Vec<&str> = update.expected.iter().map(|s| s.as_str()).collect();
        let jobs = update
            .jobs
            .iter()
            .map(|job| {
                Ok(serde_json::json!([
                    job.id.to_string(),
                    job.job.kind(),
                    to_json("job", &job.job)?,
                    micros(job.run_at)
                ]))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self {
            file: FileValues::of(&update.file)?,
            expected: to_json("expected statuses", &expected)?,
            jobs: to_json("jobs", &jobs)?,
        })
    }

    /// Binds the values in the order [`UPDATE_TEMPLATE`] uses them.
    fn bind<'q>(&'q self, query: BatchQuery<'q>, jobs_created_at: i64) -> BatchQuery<'q> {
        let f = &self.file;
        query
            .bind(f.bucket)
            .bind(f.path)
            .bind(f.name)
            .bind(f.size)
            .bind(f.content_type)
            .bind(f.content_essence)
            .bind(f.declared_sha256)
            .bind(f.sha256)
            .bind(f.etag)
            .bind(f.status)
            .bind(f.status_reason)
            .bind(f.previous_status)
            .bind(f.owner)
            .bind(f.external_id)
            .bind(f.metadata.as_str())
            .bind(f.processing.as_str())
            .bind(f.blob_key)
            .bind(f.upload.as_str())
            .bind(f.upload_expires_at)
            .bind(f.updated_at)
            .bind(f.deleted_at)
            .bind(f.purge_after)
            .bind(f.encryption)
            .bind(f.request_id.as_deref())
            .bind(f.tenant)
            .bind(f.id.as_str())
            .bind(self.expected.as_str())
            .bind(jobs_created_at)
            .bind(self.jobs.as_str())
            .bind(f.tenant)
            .bind(f.id.as_str())
    }
}

type BatchQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;

/// The rows a batch returned, matched to its updates by file id: only an update whose status
/// matched returns one, in the order the updates ran.
fn match_rows(updates: &[Update], rows: &[SqliteRow]) -> Result<Vec<Option<FileRecord>>, StoreError> {
    let mut stored: Vec<FileRecord> = rows
        .iter()
        .map(|row| FileRecord::try_from(FileRow::from_row(row).map_err(store_err)?))
        .collect::<Result<_, _>>()?;
    Ok(updates
        .iter()
        .map(|u| {
            let id: FileId = u.file.id;
            stored.iter().position(|f| f.id == id).map(|i| stored.swap_remove(i))
        })
        .collect())
}

/// `BEGIN IMMEDIATE`, [`UPDATE_TEMPLATE`] once per update, and `COMMIT`. Built once per
/// batch size: the text is also the key of the connection's prepared-statement cache.
fn batch_sql(updates: usize) -> &'static str {
    static TEXTS: [OnceLock<String>; MAX_BATCH] = [const { OnceLock::new() }; MAX_BATCH];
    let size = updates.clamp(1, MAX_BATCH);
    TEXTS[size - 1].get_or_init(|| format!("BEGIN IMMEDIATE; {}COMMIT;", UPDATE_TEMPLATE.repeat(size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_one_transaction_with_each_update_once() {
        let sql = batch_sql(3);
        assert!(sql.starts_with("BEGIN IMMEDIATE;") && sql.ends_with("COMMIT;"));
        assert_eq!(sql.matches("UPDATE files SET").count(), 3);
        assert_eq!(sql.matches('?').count(), 3 * 31, "31 values bound per update");
    }
}
