//! File records: insert, compare-and-set update (with its job, in one transaction),
//! listing with keyset or offset pagination, the change feed and the sweeper's query.

use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileQuery, FileRecord, FileStatus, PageStart, SortKey, SortValue, TenantId};
use filegate_core::ports::NewJob;
use sqlx::{QueryBuilder, Sqlite};

use super::rows::{FileRow, FileValues, file_columns, micros, to_i64};
use super::{SqliteStore, insert_job, next_change_seq};
use crate::errors::store_err;

fn records(rows: Vec<FileRow>) -> Result<Vec<FileRecord>, StoreError> {
    rows.into_iter().map(FileRecord::try_from).collect()
}

impl SqliteStore {
    pub(super) async fn insert_file_impl(&self, file: &FileRecord) -> Result<FileRecord, StoreError> {
        let v = FileValues::of(file)?;
        let mut tx = self.write_tx().await?;
        let seq = next_change_seq(&mut tx).await?;
        let row = sqlx::query_as::<_, FileRow>(concat!(
            "INSERT INTO files (id, tenant, bucket, path, name, size, content_type, content_essence, \
             declared_sha256, sha256, etag, status, status_reason, previous_status, owner, external_id, \
             metadata, processing, download_count, blob_key, upload, upload_expires_at, created_at, \
             updated_at, deleted_at, purge_after, change_seq) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
            file_columns!()
        ))
        .bind(v.id)
        .bind(v.tenant)
        .bind(v.bucket)
        .bind(v.path)
        .bind(v.name)
        .bind(v.size)
        .bind(v.content_type)
        .bind(v.content_essence)
        .bind(v.declared_sha256)
        .bind(v.sha256)
        .bind(v.etag)
        .bind(v.status)
        .bind(v.status_reason)
        .bind(v.previous_status)
        .bind(v.owner)
        .bind(v.external_id)
        .bind(v.metadata)
        .bind(v.processing)
        .bind(v.download_count)
        .bind(v.blob_key)
        .bind(v.upload)
        .bind(v.upload_expires_at)
        .bind(v.created_at)
        .bind(v.updated_at)
        .bind(v.deleted_at)
        .bind(v.purge_after)
        .bind(seq)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match store_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("file {} exists", file.id)),
            other => other,
        })?;
        tx.commit().await.map_err(store_err)?;
        FileRecord::try_from(row)
    }

    pub(super) async fn get_file_impl(&self, tenant: &TenantId, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE tenant = ? AND id = ?"
        ))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(store_err)?
        .map(FileRecord::try_from)
        .transpose()
    }

    pub(super) async fn update_file_impl(
        &self,
        file: &FileRecord,
        expected: &[FileStatus],
        jobs: &[NewJob],
    ) -> Result<FileRecord, StoreError> {
        let v = FileValues::of(file)?;
        let mut tx = self.write_tx().await?;
        // The write lock is held from BEGIN IMMEDIATE, so nothing changes between this read
        // and the update below.
        let stored: Option<String> = sqlx::query_scalar("SELECT status FROM files WHERE tenant = ? AND id = ?")
            .bind(v.tenant)
            .bind(&v.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_err)?;
        let Some(stored) = stored else {
            return Err(StoreError::NotFound);
        };
        if !expected.iter().any(|s| s.as_str() == stored) {
            let wanted: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
            return Err(StoreError::Conflict(format!(
                "file {} is {stored}, expected {}",
                file.id,
                if wanted.is_empty() {
                    "nothing".to_owned()
                } else {
                    wanted.join(" or ")
                }
            )));
        }
        let seq = next_change_seq(&mut tx).await?;
        let row = sqlx::query_as::<_, FileRow>(concat!(
            "UPDATE files SET bucket = ?, path = ?, name = ?, size = ?, content_type = ?, content_essence = ?, \
             declared_sha256 = ?, sha256 = ?, etag = ?, status = ?, status_reason = ?, previous_status = ?, \
             owner = ?, external_id = ?, metadata = ?, processing = ?, download_count = ?, blob_key = ?, \
             upload = ?, upload_expires_at = ?, updated_at = ?, deleted_at = ?, purge_after = ?, change_seq = ? \
             WHERE tenant = ? AND id = ? RETURNING ",
            file_columns!()
        ))
        .bind(v.bucket)
        .bind(v.path)
        .bind(v.name)
        .bind(v.size)
        .bind(v.content_type)
        .bind(v.content_essence)
        .bind(v.declared_sha256)
        .bind(v.sha256)
        .bind(v.etag)
        .bind(v.status)
        .bind(v.status_reason)
        .bind(v.previous_status)
        .bind(v.owner)
        .bind(v.external_id)
        .bind(v.metadata)
        .bind(v.processing)
        .bind(v.download_count)
        .bind(v.blob_key)
        .bind(v.upload)
        .bind(v.upload_expires_at)
        .bind(v.updated_at)
        .bind(v.deleted_at)
        .bind(v.purge_after)
        .bind(seq)
        .bind(v.tenant)
        .bind(&v.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        for job in jobs {
            insert_job(&mut tx, job).await?;
        }
        tx.commit().await.map_err(store_err)?;
        if !jobs.is_empty() {
            self.wake_workers();
        }
        FileRecord::try_from(row)
    }

    pub(super) async fn list_files_impl(
        &self,
        tenant: &TenantId,
        query: &FileQuery,
    ) -> Result<(Vec<FileRecord>, Option<u64>), StoreError> {
        let column = match query.sort.key {
            SortKey::CreatedAt => "created_at",
            SortKey::Name => "name",
            SortKey::Size => "size",
        };
        let (dir, after_op) = if query.sort.descending {
            ("DESC", "<")
        } else {
            ("ASC", ">")
        };

        let mut page = QueryBuilder::<Sqlite>::new(concat!("SELECT ", file_columns!(), " FROM files"));
        push_filters(&mut page, tenant, query)?;
        if let PageStart::After(after) = &query.start {
            page.push(format_args!(" AND ({column}, id) {after_op} ("));
            match (query.sort.key, &after.value) {
                (SortKey::Name, SortValue::Text(name)) => page.push_bind(name.clone()),
                (SortKey::CreatedAt | SortKey::Size, SortValue::Int(n)) => page.push_bind(*n),
                _ => {
                    return Err(StoreError::Input("the cursor does not fit the sort order".into()));
                }
            };
            page.push(", ").push_bind(after.id.to_string()).push(")");
        }
        page.push(format_args!(" ORDER BY {column} {dir}, id {dir} LIMIT "));
        page.push_bind(i64::from(query.limit) + 1);

        let PageStart::Offset(offset) = query.start else {
            let rows = page
                .build_query_as::<FileRow>()
                .fetch_all(&self.reader)
                .await
                .map_err(store_err)?;
            return Ok((records(rows)?, None));
        };
        page.push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM files");
        push_filters(&mut count, tenant, query)?;

        // One read transaction: the page and the total come from the same snapshot.
        let mut tx = self.reader.begin().await.map_err(store_err)?;
        let rows = page
            .build_query_as::<FileRow>()
            .fetch_all(&mut *tx)
            .await
            .map_err(store_err)?;
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        let total = u64::try_from(total).map_err(|_| StoreError::Other(anyhow::anyhow!("negative count {total}")))?;
        Ok((records(rows)?, Some(total)))
    }

    pub(super) async fn changed_files_impl(
        &self,
        tenant: &TenantId,
        since: i64,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let rows = sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM files WHERE tenant = ? AND change_seq > ? ORDER BY change_seq LIMIT ?"
        ))
        .bind(tenant.as_str())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?;
        records(rows)
    }

    pub(super) async fn due_for_sweep_impl(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FileRecord>, StoreError> {
        // Each arm walks its own index and stops at `limit`; the union is then ordered by the
        // moment each file became due.
        let rows = sqlx::query_as::<_, FileRow>(concat!(
            "SELECT ",
            file_columns!(),
            " FROM (",
            "SELECT * FROM (SELECT *, upload_expires_at AS due FROM files ",
            "WHERE status = 'pending' AND upload_expires_at < ? ORDER BY upload_expires_at LIMIT ?) ",
            "UNION ALL ",
            "SELECT * FROM (SELECT *, purge_after AS due FROM files ",
            "WHERE status = 'deleted' AND purge_after < ? ORDER BY purge_after LIMIT ?)",
            ") AS due_files ORDER BY due, id LIMIT ?"
        ))
        .bind(micros(now))
        .bind(i64::from(limit))
        .bind(micros(now))
        .bind(i64::from(limit))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(store_err)?;
        records(rows)
    }
}

/// `WHERE …` for every filter of `query`, scoped to `tenant`.
fn push_filters(qb: &mut QueryBuilder<Sqlite>, tenant: &TenantId, query: &FileQuery) -> Result<(), StoreError> {
    qb.push(" WHERE tenant = ").push_bind(tenant.as_str().to_owned());
    if let Some(bucket) = &query.bucket {
        qb.push(" AND bucket = ").push_bind(bucket.as_str().to_owned());
    }
    match query.status {
        Some(status) => qb.push(" AND status = ").push_bind(status.as_str()),
        None => qb.push(" AND status NOT IN ('deleted', 'purged')"),
    };
    if let Some(prefix) = query.prefix.as_deref().filter(|p| !p.is_empty()) {
        // A range rather than LIKE: no wildcard to escape, case-sensitive, and index-friendly.
        qb.push(" AND path >= ").push_bind(prefix.to_owned());
        if let Some(end) = prefix_end(prefix) {
            qb.push(" AND path < ").push_bind(end);
        }
    }
    if let Some(pattern) = &query.content_type {
        let pattern = pattern
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match pattern.strip_suffix("/*") {
            Some("*") => {}
            // Essences starting with `kind/`: from `kind/` up to `kind0` ('0' follows '/').
            Some(kind) => {
                qb.push(" AND content_essence >= ").push_bind(format!("{kind}/"));
                qb.push(" AND content_essence < ").push_bind(format!("{kind}0"));
            }
            None => {
                qb.push(" AND content_essence = ").push_bind(pattern);
            }
        }
    }
    if let Some(after) = query.created_after {
        qb.push(" AND created_at > ").push_bind(micros(after));
    }
    if let Some(before) = query.created_before {
        qb.push(" AND created_at < ").push_bind(micros(before));
    }
    if let Some(min) = query.min_size {
        match to_i64("min_size", min) {
            Ok(min) => qb.push(" AND size >= ").push_bind(min),
            Err(_) => qb.push(" AND 0 = 1"),
        };
    }
    if let Some(max) = query.max_size.and_then(|m| to_i64("max_size", m).ok()) {
        qb.push(" AND size <= ").push_bind(max);
    }
    Ok(())
}

/// The smallest string greater than every string starting with `prefix` (by code point,
/// which is UTF-8 byte order), or `None` when there is none.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_end("a/b").as_deref(), Some("a/c"));
        assert_eq!(prefix_end("100%_").as_deref(), Some("100%`"));
        assert_eq!(prefix_end("x\u{d7ff}").as_deref(), Some("x\u{e000}"));
        assert_eq!(prefix_end("x\u{10ffff}").as_deref(), Some("y"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
        for s in ["a/b", "a/b/c", "a/bz", "a/b\u{10ffff}"] {
            assert!(("a/b".."a/c").contains(&s), "{s}");
        }
    }
}
