//! Group commit of file writes: the compare-and-set updates, the pipeline's transitions and
//! the inserts of new files that arrive together go to the one writer connection as one
//! batch of statements, in one transaction.
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
//! inserts its jobs and appends its audit records only if its row now carries that value.
//! An update whose status did not match returns no row and changes nothing but the counter
//! (a gap in the change numbers, which readers never rely on); the caller then looks at
//! why. When a statement fails (a
//! job id that exists, an audit record the database refuses), the whole batch rolls back
//! and its updates run again one by one, so one refused update fails only its own caller.
//!
//! The pipeline's narrow transitions (`crate::transitions`) ride in the same batches, in a
//! second array: each writes only its owned columns, and only if its file is still at the
//! status and change number it saw. New files ride in a third: each is inserted only when
//! its tenant has no quota row and its id and live path are free (`ON CONFLICT DO
//! NOTHING`); one left out returns no row, and its caller takes the quota transaction
//! (`crate::files::insert_within_quota`), which checks the quota and reports the conflict.
//!
//! Measured (bench/LIMITS.md): the small-files pipeline went from 687 to about 950 files/s
//! at the default 16 jobs in flight, and to 1,468 at 64.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileRecord, FileStatus};
use filegate_core::ports::Effects;
use sqlx::FromRow as _;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use tokio::sync::{mpsc, oneshot};

use crate::wakeups::LaneWakeups;

use super::one_trip::{audit_from_json, jobs_from_json, one_trip, to_completion};
use crate::audit::audit_values;
use crate::convert::{micros, to_json};
use crate::errors::store_err;
use crate::file_row::{COLUMNS, Column, FileRow, FileValues, Value, column_names, file_columns};
use crate::jobs::job_values;
use crate::transitions::{OWNED, Transition};

/// The most updates one batch holds: it bounds how long one batch keeps the writer.
const MAX_BATCH: usize = 64;
/// Updates waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4 * MAX_BATCH;

/// Where [`update_json`] puts an update's parts: its key, the statuses it expects, its jobs,
/// its audit records, then the value of each updated column of [`COLUMNS`], in their order.
/// A transition ([`transition_json`]) has the same first five (one expected status), then
/// the change number it saw and an object of its owned columns' new values.
const ID: usize = 0;
const TENANT: usize = 1;
const EXPECTED: usize = 2;
const JOBS: usize = 3;
const AUDIT: usize = 4;
const FIRST_COLUMN: usize = 5;
const SEEN: usize = 5;
const SET: usize = 6;

/// The batch, whatever its size, as one fixed text: the updates come as one JSON array
/// (`?1 -> 0`, see [`update_json`]) and the transitions as another (`?1 -> 1`, see
/// [`transition_json`]), so the connection prepares and caches these statements once. (One
/// parameter for both: sqlx binds a statement's `?N` correctly only when it also names
/// every lower number.)
/// (Repeating one update's statements per update made a new text, and a new set of cached
/// prepared statements, for every batch size: megabytes of the worker's memory.)
///
/// The counter is bumped once per update and transition; update `u.key` (its index) takes
/// the `u.key + 1`-th of those numbers, transition `u.key` the one after all the updates'.
/// A row is written only if its guard holds (the stored status is one the update expects;
/// for a transition, its status and change number are the ones it saw), and its jobs and
/// audit records are written only if its row now carries its number. A transition writes
/// only the owned columns its object names (`json_type` tells an absent name, kept, from a
/// `null`, set). `?2` is the jobs' creation time.
static BATCH: LazyLock<String> = LazyLock::new(|| {
    let counter = "(SELECT value FROM change_counter WHERE id = 1)";
    let (updates, transitions, inserts) = ("?1, '$[0]'", "?1, '$[1]'", "?1, '$[2]'");
    let (u, t, i) = (
        "json_array_length(?1, '$[0]')",
        "json_array_length(?1, '$[1]')",
        "json_array_length(?1, '$[2]')",
    );
    // The updates take the batch's first numbers, the transitions the next, the inserts the last.
    let seq = format!("{counter} - {u} - {t} - {i} + u.key + 1");
    let narrow_seq = format!("{counter} - {t} - {i} + u.key + 1");
    let insert_seq = format!("{counter} - {i} + u.key + 1");
    let inserted: Vec<String> = (0..COLUMNS.len())
        .map(|n| format!("u.value ->> {}", FIRST_COLUMN + n))
        .collect();
    let set: Vec<String> = COLUMNS
        .iter()
        .filter(|c| c.updated)
        .enumerate()
        .map(|(i, c)| format!("{} = u.value ->> {}", c.name, FIRST_COLUMN + i))
        .collect();
    let narrow_set: Vec<String> = OWNED
        .iter()
        .map(|c| format!("{c} = CASE WHEN json_type(u.value, '$[{SET}].{c}') IS NULL THEN files.{c} ELSE u.value -> {SET} ->> '{c}' END"))
        .collect();
    let written = |seq: &str| {
        format!(
            "EXISTS (SELECT 1 FROM files WHERE files.id = u.value ->> {ID} \
             AND files.tenant = u.value ->> {TENANT} AND files.change_seq = {seq})"
        )
    };
    let effects = |array: &str, seq: &str| {
        let jobs = jobs_from_json(
            &format!("json_each({array}) AS u, json_each(u.value -> {JOBS}) AS j"),
            "?2",
            &written(seq),
        );
        let audit = audit_from_json(
            &format!("json_each({array}) AS u, json_each(u.value -> {AUDIT}) AS a"),
            &written(seq),
        );
        jobs + &audit
    };
    format!(
        "BEGIN IMMEDIATE; \
         UPDATE change_counter SET value = value + {u} + {t} + {i} WHERE id = 1; \
         UPDATE files SET {set}, change_seq = {seq} FROM json_each({updates}) AS u \
         WHERE files.id = u.value ->> {ID} AND files.tenant = u.value ->> {TENANT} \
         AND files.status IN (SELECT value FROM json_each(u.value -> {EXPECTED})) RETURNING {columns}; \
         UPDATE files SET {narrow_set}, change_seq = {narrow_seq} FROM json_each({transitions}) AS u \
         WHERE files.id = u.value ->> {ID} AND files.tenant = u.value ->> {TENANT} \
         AND files.status = u.value ->> {EXPECTED} AND files.change_seq = u.value ->> {SEEN} RETURNING {columns}; \
         INSERT INTO files ({names}, change_seq) SELECT {inserted}, {insert_seq} FROM json_each({inserts}) AS u \
         WHERE NOT EXISTS (SELECT 1 FROM tenant_quotas WHERE tenant = u.value ->> {TENANT}) \
         ON CONFLICT DO NOTHING RETURNING {columns}; \
         {whole_effects}{narrow_effects}{insert_effects}COMMIT;",
        names = column_names(),
        inserted = inserted.join(", "),
        set = set.join(", "),
        narrow_set = narrow_set.join(", "),
        columns = file_columns!(),
        whole_effects = effects(updates, &seq),
        narrow_effects = effects(transitions, &narrow_seq),
        insert_effects = effects(inserts, &insert_seq),
    )
});

/// What an update asks for: the change, and the `effects` (jobs, audit records) to write
/// with it.
pub(super) struct Update {
    pub change: Change,
    pub effects: Effects,
}

/// A file update's write.
pub(super) enum Change {
    /// Write every updated column of `file` if its stored status is one of `expected`.
    Whole {
        file: Box<FileRecord>,
        expected: Vec<FileStatus>,
    },
    /// A narrow transition (`crate::transitions`).
    Narrow(Transition),
    /// Insert `file`, when its tenant has no quota row and its id and path are free.
    Insert(Box<FileRecord>),
}

impl Update {
    fn file_id(&self) -> FileId {
        match &self.change {
            Change::Whole { file, .. } | Change::Insert(file) => file.id,
            Change::Narrow(t) => t.id,
        }
    }
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
    work: Arc<LaneWakeups>,
}

impl FileUpdates {
    /// Starts the batching task (so: inside a Tokio runtime).
    pub(super) fn start(pool: SqlitePool, work: Arc<LaneWakeups>) -> Self {
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
            // The task is gone (the runtime is shutting down): write it alone, on a task of
            // its own like every one-trip batch.
            let writer = self.writer.clone();
            return to_completion(async move { writer.run_alone(&queued.update).await }).await;
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
    let (batch, held): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|q| files.insert(q.update.file_id()));
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
        let (mut whole, mut narrow, mut inserts) = (Vec::new(), Vec::new(), Vec::new());
        for update in updates {
            match &update.change {
                Change::Whole { file, expected } => whole.push(update_json(file, expected, &update.effects)?),
                Change::Narrow(t) => narrow.push(transition_json(t, &update.effects)?),
                Change::Insert(file) => inserts.push(insert_json(file, &update.effects)?),
            }
        }
        let query = sqlx::query(BATCH.as_str())
            .bind(to_json("file updates", &(whole, narrow, inserts))?)
            .bind(micros(chrono::Utc::now()));
        let rows = one_trip(&self.pool, query).await.map_err(store_err)?;
        let outcomes = match_rows(updates, &rows)?;
        if updates
            .iter()
            .zip(&outcomes)
            .any(|(u, stored)| stored.is_some() && !u.effects.jobs.is_empty())
        {
            // `notify_one` stores a permit when nobody waits yet, so a worker between a
            // fruitless claim and its wait still sees these jobs.
            self.work.wake();
        }
        Ok(outcomes)
    }
}

/// One update as [`BATCH`] reads it: a JSON array whose positions its statements name
/// ([`ID`] …). The JSON-valued columns go in as strings, so the stored text is exactly
/// `FileValues`'.
fn update_json(file: &FileRecord, expected: &[FileStatus], effects: &Effects) -> Result<serde_json::Value, StoreError> {
    let expected: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
    write_json(file, serde_json::json!(expected), effects, |c| c.updated)
}

/// One insert as [`BATCH`] reads it: the positions of an update (no expected statuses), then
/// every column of [`COLUMNS`].
fn insert_json(file: &FileRecord, effects: &Effects) -> Result<serde_json::Value, StoreError> {
    write_json(file, serde_json::Value::Null, effects, |_| true)
}

/// An update's or an insert's array: key, `expected`, effects, then the columns `written`
/// picks, in [`COLUMNS`]' order.
fn write_json(
    file: &FileRecord,
    expected: serde_json::Value,
    effects: &Effects,
    written: fn(&Column) -> bool,
) -> Result<serde_json::Value, StoreError> {
    let f = FileValues::of(file)?;
    let (jobs, audit) = effects_values(effects)?;
    let mut parts = vec![
        serde_json::json!(f.id),
        serde_json::json!(f.tenant),
        expected,
        jobs,
        audit,
    ];
    parts.extend(COLUMNS.iter().filter(|c| written(c)).map(|c| json_value((c.value)(&f))));
    Ok(serde_json::Value::Array(parts))
}

/// An update's jobs and audit records, each a JSON array of rows ([`job_values`],
/// [`audit_values`]).
fn effects_values(effects: &Effects) -> Result<(serde_json::Value, serde_json::Value), StoreError> {
    let jobs = effects.jobs.iter().map(job_values).collect::<Result<Vec<_>, _>>()?;
    let audit = effects.audit.iter().map(audit_values).collect::<Result<Vec<_>, _>>()?;
    Ok((serde_json::json!(jobs), serde_json::Value::Array(audit)))
}

/// One transition as [`BATCH`] reads it: its key, the status it starts from, its jobs, its
/// audit records, the change number it saw, and its owned columns' new values by name.
fn transition_json(t: &Transition, effects: &Effects) -> Result<serde_json::Value, StoreError> {
    let (jobs, audit) = effects_values(effects)?;
    let set: serde_json::Map<String, serde_json::Value> = t
        .set
        .iter()
        .map(|(column, set)| ((*column).to_owned(), json_value(set.value())))
        .collect();
    Ok(serde_json::json!([
        t.id.to_string(),
        t.tenant,
        t.from.as_str(),
        jobs,
        audit,
        t.seen_change,
        set
    ]))
}

/// A column's value in a batch's JSON. JSON-valued columns go in as strings, so the stored
/// text is exactly what the other statements store.
fn json_value(value: Value<'_>) -> serde_json::Value {
    match value {
        Value::Text(s) | Value::Json(s) => serde_json::json!(s),
        Value::MaybeText(s) => serde_json::json!(s),
        Value::Int(n) => serde_json::json!(n),
        Value::MaybeInt(n) => serde_json::json!(n),
    }
}

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
            stored
                .iter()
                .position(|f| f.id == u.file_id())
                .map(|i| stored.swap_remove(i))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `update_json`'s positions, as `BATCH` names them: every one is read, none beyond.
    #[test]
    fn the_batch_reads_every_position_of_an_update() {
        let updated = COLUMNS.iter().filter(|c| c.updated).count();
        assert!(updated > 20, "{updated}");
        for position in [ID, TENANT] {
            assert!(
                BATCH.contains(&format!("u.value ->> {position} ")),
                "position {position}"
            );
        }
        for position in FIRST_COLUMN..FIRST_COLUMN + updated {
            assert!(
                BATCH.contains(&format!("u.value ->> {position},")),
                "position {position}"
            );
        }
        assert!(BATCH.contains(&format!("u.value -> {EXPECTED})")) && BATCH.contains(&format!("u.value -> {JOBS})")));
        assert!(BATCH.contains(&format!("json_each(u.value -> {AUDIT}) AS a WHERE EXISTS")));
        let (updating, _) = BATCH
            .split_once("INSERT INTO files")
            .expect("the inserts follow the updates");
        assert!(!updating.contains(&format!("->> {}", FIRST_COLUMN + updated)));
        assert!(BATCH.contains("status = u.value ->> ") && BATCH.contains("request_id = u.value ->> "));
    }

    /// A new file is inserted only without a quota row and with its id and path free, with
    /// the batch's last change numbers, and its effects only with its row.
    #[test]
    fn the_batch_inserts_a_file_only_where_nothing_stands_in_its_way() {
        assert!(BATCH.contains("INSERT INTO files (id, tenant, "));
        assert!(BATCH.contains(&format!(
            "WHERE NOT EXISTS (SELECT 1 FROM tenant_quotas WHERE tenant = u.value ->> {TENANT}) ON CONFLICT DO NOTHING RETURNING"
        )));
        let last = format!(
            "u.value ->> {}, (SELECT value FROM change_counter",
            FIRST_COLUMN + COLUMNS.len() - 1
        );
        assert!(BATCH.contains(&last), "{}", *BATCH);
        assert!(BATCH.contains("json_each(?1, '$[2]') AS u, json_each(u.value -> 4) AS a WHERE EXISTS"));
    }

    /// A transition's guard and its owned columns, each kept unless named.
    #[test]
    fn the_batch_writes_a_transitions_owned_columns_only_where_its_guard_holds() {
        assert!(BATCH.contains(&format!("files.change_seq = u.value ->> {SEEN} RETURNING")));
        for column in OWNED {
            assert!(
                BATCH.contains(&format!(
                    "{column} = CASE WHEN json_type(u.value, '$[{SET}].{column}') IS NULL THEN files.{column} ELSE"
                )),
                "{column}"
            );
        }
        assert!(!BATCH.contains("path = CASE"));
    }
}
