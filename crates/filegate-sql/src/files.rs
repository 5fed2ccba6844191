//! File records' statements beyond the columns (`file_row`): reading one, the change feed,
//! the sweeper's query, why a compare-and-set wrote nothing, and the write transaction of an
//! insert with its effects (jobs and audit records) after its quota check, which the engines
//! run from `Engine::insert_file` when the tenant has a quota.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{ChangeCursor, FileId, FileRecord, FileStatus, TenantId};
use filegate_core::ports::Effects;
use sqlx::QueryBuilder;

use crate::convert::micros;
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::engine::{ChangeSeq, Conn, Engine};
use crate::errors::{exists, status_conflict};
use crate::file_row::{FileRow, FileValues, file_columns, insert_file};
use crate::quotas::enforce_quota;
use crate::store::commit_with_effects;

pub(crate) fn select_file<DB: Dialect>(tenant: &TenantId, id: FileId) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new(concat!("SELECT ", file_columns!(), " FROM files WHERE tenant = "));
    q.bind_value(tenant.as_str())
        .push(" AND id = ")
        .bind_value(id.to_string());
    q
}

/// The tenant's files changed after `since`, in feed order (`ChangeCursor`), up to the
/// engine's horizon ([`Dialect::CHANGE_HORIZON`]). One index range (`files_feed`).
pub(crate) fn changed_files<DB: Dialect>(tenant: &TenantId, since: ChangeCursor, limit: u32) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new(concat!("SELECT ", file_columns!(), " FROM files WHERE tenant = "));
    q.bind_value(tenant.as_str());
    q.push(" AND (change_xid, change_seq) > (")
        .bind_value(since.xid)
        .push(", ")
        .bind_value(since.seq)
        .push(")");
    // A partial tus upload is no file: the feed skips its changes.
    q.push(" AND kind = 'file'");
    q.push(DB::CHANGE_HORIZON);
    q.push(" ORDER BY change_xid, change_seq LIMIT ")
        .bind_value(i64::from(limit));
    q
}

/// Pending uploads expired before `expired_before` and deleted files whose retention ended
/// before `purge_before`, by the moment each became due. Each arm walks its own (partial)
/// index and stops at `limit`; the union is then ordered.
pub(crate) fn due_for_sweep<DB: Dialect>(
    expired_before: DateTime<Utc>,
    purge_before: DateTime<Utc>,
    limit: u32,
) -> QueryBuilder<DB> {
    let limit = i64::from(limit);
    let mut q = QueryBuilder::new(concat!(
        "SELECT ",
        file_columns!(),
        " FROM (SELECT * FROM (SELECT *, upload_expires_at AS due FROM files ",
        "WHERE status = 'pending' AND upload_expires_at < "
    ));
    q.bind_value(micros(expired_before));
    q.push(" ORDER BY upload_expires_at LIMIT ").bind_value(limit);
    q.push(
        ") AS expired UNION ALL SELECT * FROM (SELECT *, purge_after AS due FROM files \
         WHERE status = 'deleted' AND purge_after < ",
    );
    q.bind_value(micros(purge_before));
    q.push(" ORDER BY purge_after LIMIT ").bind_value(limit);
    q.push(") AS purged) AS due_files ORDER BY due, id LIMIT ")
        .bind_value(limit);
    q
}

/// The stored status of a file: why a compare-and-set wrote nothing ([`refused`]).
pub(crate) fn select_status<DB: Dialect>(tenant: &str, id: &str) -> QueryBuilder<DB> {
    let mut q = QueryBuilder::new("SELECT status FROM files WHERE tenant = ");
    q.bind_value(tenant).push(" AND id = ").bind_value(id);
    q
}

/// Why a compare-and-set wrote nothing: the file is gone, or in another status.
pub(crate) fn refused(id: FileId, stored: Option<String>, expected: &[FileStatus]) -> StoreError {
    match stored {
        None => StoreError::NotFound,
        Some(stored) => status_conflict(id, &stored, expected),
    }
}

/// The change number of the one row the caller's write transaction is about to write.
pub(crate) async fn take_change_seq<E: Engine>(conn: &mut Conn<E>) -> Result<ChangeSeq, StoreError> {
    E::take_change_seqs(conn, 1)
        .await?
        .pop()
        // A bug of ours, not the database going away: a 500, never a 503 to retry.
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("the engine gave no change number")))
}

/// Inserts `file` with its `effects` in one write transaction, after checking its tenant's
/// quota there.
pub(crate) async fn insert_within_quota<E: Engine>(
    engine: &E,
    file: &FileRecord,
    effects: &Effects,
) -> Result<FileRecord, StoreError> {
    let v = FileValues::of(file)?;
    let mut tx = engine.begin_write().await?;
    enforce_quota::<E::DB>(&mut tx, &file.tenant, file.size).await?;
    let seq = take_change_seq::<E>(&mut tx).await?;
    let row: FileRow = insert_file::<E::DB>(&v, seq)
        .fetch_one(&mut tx)
        .await
        .map_err(exists(format!("file {}", file.id)))?;
    commit_with_effects(engine, tx, effects).await?;
    FileRecord::try_from(row)
}
