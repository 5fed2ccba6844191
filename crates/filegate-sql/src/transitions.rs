//! The pipeline's narrow transitions (`MetadataStore::start_processing` and
//! `finish_processing`): one `UPDATE` of only the columns the pipeline owns, guarded by the
//! status and the change number the pipeline last saw, taking a new change number (so the
//! change feed shows it) and committing with its effects (the outbox's jobs, the audit
//! records). A file read once, then two such updates, where each transition used to
//! rewrite every column of a row read again.
//!
//! Each engine writes a [`Transition`] with its effects its own way: SQLite in its group
//! commit (`sqlite::file_updates`), PostgreSQL as one statement ([`push_update_narrow`]
//! with the effects, `postgres::file_writes`).

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileRecord, FileStatus, ProcessingOutcome};
use sqlx::QueryBuilder;

use crate::convert::{micros, to_i64, to_json};
use crate::dialect::{BindExt as _, Dialect, Run as _};
use crate::engine::{ChangeSeq, Engine};
use crate::errors::status_conflict;
use crate::file_row::{Value, bind_value, file_columns, push_change_seq};

/// The columns a transition may write: what the pipeline owns. Anything else of the file (its
/// path, metadata, owner, …) stays as stored, whoever changed it meanwhile.
pub(crate) const OWNED: [&str; 12] = [
    "status",
    "status_reason",
    "sha256",
    "etag",
    "processing",
    "blob_key",
    "size",
    "content_type",
    "content_essence",
    "updated_at",
    "upload",
    "upload_expires_at",
];

/// One owned column's new value, encoded as the column stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Set {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
    /// JSON, as text.
    Json(String),
}

impl Set {
    pub(crate) fn value(&self) -> Value<'_> {
        match self {
            Self::Text(s) => Value::Text(s),
            Self::MaybeText(s) => Value::MaybeText(s.as_deref()),
            Self::Int(n) => Value::Int(*n),
            Self::Json(s) => Value::Json(s),
        }
    }
}

/// A narrow transition of one file: write `set` if the file is still in status `from` at
/// change `seen_change`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub tenant: String,
    pub id: FileId,
    pub from: FileStatus,
    pub seen_change: i64,
    /// New values of some of [`OWNED`], in its order.
    pub set: Vec<(&'static str, Set)>,
}

impl Transition {
    fn of(seen: &FileRecord, from: FileStatus, set: Vec<(&'static str, Set)>) -> Self {
        debug_assert!(set.iter().all(|(c, _)| OWNED.contains(c)));
        Self {
            tenant: seen.tenant.as_str().to_owned(),
            id: seen.id,
            from,
            seen_change: seen.change_seq,
            set,
        }
    }

    /// `uploaded` → `processing` at `at`.
    pub(crate) fn start(seen: &FileRecord, at: DateTime<Utc>) -> Self {
        let set = vec![
            ("status", Set::Text(FileStatus::Processing.as_str().to_owned())),
            ("updated_at", Set::Int(micros(at))),
        ];
        Self::of(seen, FileStatus::Uploaded, set)
    }

    /// `processing` → the outcome's verdict, with what the stages found.
    pub(crate) fn finish(seen: &FileRecord, o: &ProcessingOutcome) -> Result<Self, StoreError> {
        let text = |s: &str| Set::Text(s.to_owned());
        let set = vec![
            ("status", text(o.status().as_str())),
            ("status_reason", Set::MaybeText(o.status_reason())),
            ("sha256", Set::MaybeText(o.sha256.as_ref().map(ToString::to_string))),
            ("etag", Set::MaybeText(o.etag.as_ref().map(|e| e.as_str().to_owned()))),
            ("processing", Set::Json(to_json("file.processing", &o.processing)?)),
            ("blob_key", text(&o.blob_key)),
            ("size", Set::Int(to_i64("file.size", o.size)?)),
            ("content_type", text(o.content_type.as_str())),
            ("content_essence", text(o.content_type.essence())),
            ("updated_at", Set::Int(micros(o.at))),
        ];
        Ok(Self::of(seen, FileStatus::Processing, set))
    }
}

impl Transition {
    /// A pending upload's progress (tus): its plan, expiry, size (a length declared late).
    pub(crate) fn upload(seen: &FileRecord, next: &FileRecord) -> Result<Self, StoreError> {
        let set = vec![
            ("size", Set::Int(to_i64("file.size", next.size)?)),
            ("updated_at", Set::Int(micros(next.updated_at))),
            ("upload", Set::Json(to_json("file.upload", &next.upload)?)),
            ("upload_expires_at", Set::Int(micros(next.upload_expires_at))),
        ];
        Ok(Self::of(seen, FileStatus::Pending, set))
    }
}

/// The guarded `UPDATE` of `t` with `change_seq`, returning the stored row (none when the
/// file is gone or moved on), pushed onto `q`.
pub(crate) fn push_update_narrow<DB: Dialect>(q: &mut QueryBuilder<DB>, t: &Transition, change_seq: ChangeSeq) {
    q.push("UPDATE files SET ");
    for (column, set) in &t.set {
        q.push(*column).push(" = ");
        bind_value(q, set.value());
        q.push(", ");
    }
    q.push("change_seq = ");
    push_change_seq(q, change_seq);
    q.push(", change_xid = ").push(DB::CHANGE_XID);
    q.push(" WHERE tenant = ").bind_value(t.tenant.as_str());
    q.push(" AND id = ").bind_value(t.id.to_string());
    q.push(" AND status = ").bind_value(t.from.as_str());
    q.push(" AND change_seq = ").bind_value(t.seen_change);
    q.push(concat!(" RETURNING ", file_columns!()));
}

/// Why `t` wrote nothing: the file is gone (`NotFound`), or its status or its change number
/// moved (`Conflict`).
pub(crate) async fn refusal<E: Engine>(engine: &E, t: &Transition) -> StoreError {
    let mut q = QueryBuilder::<E::DB>::new("SELECT status, change_seq FROM files WHERE tenant = ");
    q.bind_value(t.tenant.as_str())
        .push(" AND id = ")
        .bind_value(t.id.to_string());
    let stored: Result<Option<(String, i64)>, StoreError> = async {
        let mut conn = engine.writer().await?;
        q.fetch_optional(&mut conn).await
    }
    .await;
    match stored {
        Err(e) => e,
        Ok(None) => StoreError::NotFound,
        Ok(Some((status, _))) if status != t.from.as_str() => status_conflict(t.id, &status, &[t.from]),
        Ok(Some((_, change))) => StoreError::Conflict(format!(
            "file {} changed since change {} (now at {change})",
            t.id, t.seen_change
        )),
    }
}
