//! A file's write as one statement: the row, its jobs and its audit records in one round
//! trip and one commit.
//!
//! The row's statement (`INSERT` or a guarded `UPDATE`, `RETURNING` the stored row) is the
//! first part of a `WITH`; the jobs and the records are inserted by the next parts, each
//! only `WHERE EXISTS` a returned row, so they are written exactly when the row is. One
//! statement is one transaction: all of it commits, or (a record the trail refuses, a job id
//! that exists) none of it. The guard is the `UPDATE`'s own `WHERE`, which PostgreSQL checks
//! again on the newest version of a row another transaction changed meanwhile: the same
//! compare-and-set as reading the status `FOR UPDATE` first, without that round trip.
//!
//! Where nothing was written, the caller looks at why with a read of its own (only then).
//! Inserts are batched (`file_inserts`); an insert for a tenant with a quota, a dedup insert
//! and a file request's close keep the transaction of `crate::files` and `crate::exchange`
//! (the quota row is locked first).

use filegate_core::StoreError;
use filegate_core::domain::{FileRecord, FileStatus};
use filegate_core::ports::Effects;
use sqlx::{Postgres, QueryBuilder};

use super::{CHANGE_SEQ as SEQ, PgEngine};
use crate::audit::{AUDIT_WRITTEN, push_audit_rows};
use crate::dialect::{BindExt as _, Run as _};
use crate::engine::Engine as _;
use crate::file_row::{FileRow, FileValues, file_columns, push_update};
use crate::files::{insert_within_quota, refused, select_status};
use crate::jobs::{JOB_COLUMNS, push_job_rows};
use crate::transitions::{Transition, push_update_narrow, refusal};

/// Closes the `changed` part that `q` holds (a statement `RETURNING` the file's columns),
/// adds the inserts of `effects`, each only if `changed` returned a row, and selects that row.
fn push_effects(q: &mut QueryBuilder<Postgres>, effects: &Effects) -> Result<(), StoreError> {
    q.push(")");
    if !effects.jobs.is_empty() {
        q.push(format!(", queued AS (INSERT INTO jobs ({JOB_COLUMNS}) SELECT * FROM ("));
        push_job_rows(q, &effects.jobs)?;
        q.push(") AS j WHERE EXISTS (SELECT 1 FROM changed))");
    }
    if !effects.audit.is_empty() {
        q.push(format!(
            ", audited AS (INSERT INTO audit_log ({AUDIT_WRITTEN}) SELECT * FROM ("
        ));
        push_audit_rows(q, &effects.audit)?;
        q.push(") AS a WHERE EXISTS (SELECT 1 FROM changed) ON CONFLICT (id) DO NOTHING)");
    }
    q.push(" SELECT * FROM changed");
    Ok(())
}

impl PgEngine {
    /// Runs a statement made by [`push_effects`] on one pooled connection (no transaction
    /// around it: it is one); the stored row, if one was written. Wakes the workers when it
    /// enqueued jobs.
    async fn write_one(&self, q: QueryBuilder<Postgres>, effects: &Effects) -> Result<Option<FileRecord>, StoreError> {
        let mut conn = self.writer().await?;
        let row: Option<FileRow> = q.fetch_optional(&mut conn).await?;
        drop(conn);
        let Some(row) = row else {
            return Ok(None);
        };
        if !effects.jobs.is_empty() {
            self.work().wake();
            self.announce_jobs();
        }
        FileRecord::try_from(row).map(Some)
    }

    /// `Engine::insert_file`: in the next batch of inserts (`file_inserts`), for a tenant
    /// without a quota row (the common case); otherwise, and when the batch left it out,
    /// the quota is checked in a transaction first and a conflict reported
    /// (`crate::files::insert_within_quota`).
    pub(super) async fn insert_one(&self, file: &FileRecord, effects: &Effects) -> Result<FileRecord, StoreError> {
        match self.inserts.insert(file, effects).await? {
            Some(stored) => {
                if !effects.jobs.is_empty() {
                    self.work().wake();
                    self.announce_jobs();
                }
                Ok(stored)
            }
            None => insert_within_quota(self, file, effects).await,
        }
    }

    /// `Engine::update_file`: the compare-and-set and its effects in one statement.
    pub(super) async fn update_one(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        effects: &Effects,
    ) -> Result<FileRecord, StoreError> {
        let v = FileValues::of(file)?;
        let mut q = QueryBuilder::new("WITH changed AS (");
        push_update(&mut q, &v, SEQ);
        q.push(" AND status IN (");
        if expected.is_empty() {
            q.push("NULL");
        }
        for (i, status) in expected.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind_value(status.as_str());
        }
        q.push(concat!(") RETURNING ", file_columns!()));
        push_effects(&mut q, effects)?;
        if let Some(stored) = self.write_one(q, effects).await? {
            return Ok(stored);
        }
        // Nothing was written: the file is gone, or its status was not one expected.
        let mut conn = self.writer().await?;
        let stored: Option<(String,)> = select_status::<Postgres>(v.tenant, &v.id)
            .fetch_optional(&mut conn)
            .await?;
        Err(refused(file.id, stored.map(|(s,)| s), expected))
    }

    /// `Engine::transition`: the guarded narrow update and its effects in one statement.
    pub(super) async fn transition_one(&self, t: &Transition, effects: &Effects) -> Result<FileRecord, StoreError> {
        let mut q = QueryBuilder::new("WITH changed AS (");
        push_update_narrow(&mut q, t, SEQ);
        push_effects(&mut q, effects)?;
        match self.write_one(q, effects).await? {
            Some(stored) => Ok(stored),
            None => Err(refusal(self, t).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use filegate_core::domain::{AuditRecord, TenantId};
    use filegate_core::ports::{Job, NewJob};

    fn sql(effects: &Effects) -> String {
        let mut q = QueryBuilder::<Postgres>::new("WITH changed AS (UPDATE files SET size = 1 RETURNING id");
        push_effects(&mut q, effects).unwrap();
        q.sql().as_str().to_owned()
    }

    /// The jobs and records are inserted only with a returned row, the records once per id.
    #[test]
    fn the_effects_are_written_only_with_the_row() {
        let tenant = TenantId::parse("acme").unwrap();
        let record = AuditRecord {
            id: uuid::Uuid::now_v7(),
            tenant: tenant.clone(),
            actor: "alice".into(),
            action: "file.updated".into(),
            file_id: None,
            request_id: None,
            client_ip: None,
            user_agent: None,
            at: chrono::Utc::now(),
            details: serde_json::json!({}),
            seq: 0,
        };
        let job = NewJob::now(Job::ProcessFile {
            tenant,
            file_id: filegate_core::domain::FileId::new(),
        });
        assert_eq!(
            sql(&Effects::NONE),
            "WITH changed AS (UPDATE files SET size = 1 RETURNING id) SELECT * FROM changed"
        );
        let both = sql(&Effects::jobs([job]).audited(record));
        assert!(
            both.contains(") AS j WHERE EXISTS (SELECT 1 FROM changed)), audited AS (INSERT INTO audit_log ("),
            "{both}"
        );
        assert!(
            both.ends_with(
                ") AS a WHERE EXISTS (SELECT 1 FROM changed) ON CONFLICT (id) DO NOTHING) SELECT * FROM changed"
            ),
            "{both}"
        );
    }
}
