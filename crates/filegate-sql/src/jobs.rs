//! Jobs as rows: inserting them (in the transaction of the change that causes them: the
//! outbox), decoding claimed ones, and burying those no worker can read.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::JobId;
use filegate_core::ports::{ClaimedJob, Job, NewJob};
use sqlx::{FromRow, QueryBuilder};

use crate::convert::{from_json, micros, to_json, uuid};
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::engine::{Conn, Engine};
use crate::errors::bad_row;

/// A job's columns as every engine stores them: id, kind, payload (JSON), run_at, lane and
/// tenant ('' for the platform's own work; claims are fair across tenants).
pub(crate) type JobValues = (String, &'static str, String, i64, &'static str, String);

pub(crate) fn job_values(job: &NewJob) -> Result<JobValues, StoreError> {
    Ok((
        job.id.to_string(),
        job.job.kind(),
        to_json("job", &job.job)?,
        micros(job.run_at),
        job.job.lane().as_str(),
        job.job.tenant().map(ToString::to_string).unwrap_or_default(),
    ))
}

/// Inserts `jobs` ([`job_values`], then `attempts` 0 and `created_at` the queue's "now") in
/// the caller's transaction, in one statement however many there are; commit with
/// `crate::store::commit_waking`, which announces them to the workers of every process.
/// `Conflict` when an id exists.
pub(crate) async fn insert_jobs<E: Engine>(conn: &mut Conn<E>, jobs: &[NewJob]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::<E::DB>::new(format!("INSERT INTO jobs ({JOB_COLUMNS}) "));
    push_job_rows(&mut q, jobs)?;
    q.execute(&mut *conn).await?;
    Ok(())
}

/// The columns of `jobs` an enqueue writes, in the order [`push_job_rows`] gives them.
pub(crate) const JOB_COLUMNS: &str = "id, kind, payload, run_at, lane, tenant, attempts, created_at";

/// `VALUES (…), (…)`: the rows of `jobs` ([`job_values`], then `attempts` 0 and `created_at`
/// the queue's "now"), for [`JOB_COLUMNS`].
pub(crate) fn push_job_rows<DB: Dialect>(q: &mut QueryBuilder<DB>, jobs: &[NewJob]) -> Result<(), StoreError> {
    let now = Utc::now();
    q.push("VALUES ");
    for (i, job) in jobs.iter().enumerate() {
        let (id, kind, payload, run_at, lane, tenant) = job_values(job)?;
        if i > 0 {
            q.push(", ");
        }
        q.push("(").bind_value(id);
        q.push(", ").bind_value(kind);
        q.push(", ").bind_value(payload).push(DB::JSON);
        q.push(", ").bind_value(run_at);
        q.push(", ").bind_value(lane);
        q.push(", ").bind_value(tenant);
        q.push(", 0, ");
        DB::push_now(q, now);
        q.push(")");
    }
    Ok(())
}

/// The columns a claim returns for `ClaimedRow`, as a literal for `concat!` (JSON cast to
/// text for PostgreSQL's JSONB).
macro_rules! claimed_columns {
    () => {
        "id, CAST(payload AS TEXT) AS payload, attempts"
    };
}
pub(crate) use claimed_columns;

#[derive(FromRow)]
pub struct ClaimedRow {
    id: String,
    payload: String,
    attempts: i64,
}

impl TryFrom<ClaimedRow> for ClaimedJob {
    type Error = StoreError;
    fn try_from(r: ClaimedRow) -> Result<Self, StoreError> {
        let job: Job = from_json("job.payload", &r.payload)?;
        Ok(ClaimedJob {
            id: JobId::from_uuid(uuid("job.id", &r.id)?),
            job,
            attempt: u32::try_from(r.attempts).map_err(|_| bad_row("job.attempts", r.attempts))?,
        })
    }
}

/// Claimed rows, split into the jobs they decode to and the (id, error) of those no worker
/// can read: a claim buries the latter at once (they would be claimed and fail forever).
pub(crate) fn decode_claimed(rows: Vec<ClaimedRow>) -> (Vec<ClaimedJob>, Vec<(String, String)>) {
    let mut jobs = Vec::with_capacity(rows.len());
    let mut undecodable = Vec::new();
    for row in rows {
        let id = row.id.clone();
        match ClaimedJob::try_from(row) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                tracing::error!(job = %id, error = %e, "burying a job that does not decode");
                undecodable.push((id, e.to_string()));
            }
        }
    }
    (jobs, undecodable)
}

/// Buries the (id, error) jobs [`decode_claimed`] could not read. They are leased to the
/// caller already: burying them cannot race another claimer.
pub(crate) async fn bury_undecodable<E: Engine>(
    engine: &E,
    undecodable: Vec<(String, String)>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if undecodable.is_empty() {
        return Ok(());
    }
    let mut conn = engine.writer().await?;
    for (id, error) in undecodable {
        let mut q = QueryBuilder::<E::DB>::new("UPDATE jobs SET dead_at = ");
        E::DB::push_now(&mut q, now);
        q.push(", leased_by = NULL, lease_until = NULL, last_error = ")
            .bind_value(E::DB::storable_text(&error));
        q.push(" WHERE id = ").bind_value(id);
        q.execute(&mut conn).await?;
    }
    Ok(())
}
