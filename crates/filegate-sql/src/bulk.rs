//! Loading many file rows at once, for benchmarks (the growth measurements seed a million
//! rows) and imports. The rows go into the same table, through the same indexes, with
//! `change_seq` from the same counter as [`MetadataStore::insert_file`] gives them; only
//! many rows share a statement and a transaction. The SQL text is shared by the engines.
//!
//! [`MetadataStore::insert_file`]: filegate_core::ports::MetadataStore::insert_file

use filegate_core::StoreError;
use filegate_core::domain::FileRecord;
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::rows::FileValues;

/// Rows per `INSERT`: 29 parameters each stays under both engines' parameter limits.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Takes `n` consecutive `change_seq` values inside the caller's write transaction; the
/// statement returns the last one.
pub(crate) fn take_change_seqs<DB>(n: i64) -> QueryBuilder<DB>
where
    DB: Database,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new("UPDATE change_counter SET value = value + ");
    q.push_bind(n).push(" WHERE id = 1 RETURNING value");
    q
}

/// One multi-row `INSERT` of `files`, numbered from `first_seq`; `json_cast` is how the
/// engine turns bound text into its JSON column type (`""` for SQLite, `"::jsonb"`).
pub(crate) fn insert_files<DB>(
    files: &[FileRecord],
    first_seq: i64,
    json_cast: &str,
) -> Result<QueryBuilder<DB>, StoreError>
where
    DB: Database,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
{
    let values = files.iter().map(FileValues::of).collect::<Result<Vec<_>, _>>()?;
    let mut q = QueryBuilder::<DB>::new(
        "INSERT INTO files (id, tenant, bucket, path, name, size, content_type, content_essence, \
         declared_sha256, sha256, etag, status, status_reason, previous_status, owner, external_id, \
         metadata, processing, download_count, blob_key, upload, upload_expires_at, created_at, \
         updated_at, deleted_at, purge_after, change_seq, encryption, request_id) ",
    );
    let text = |s: &str| s.to_owned();
    let opt = |s: Option<&str>| s.map(str::to_owned);
    q.push_values(values.iter().zip(first_seq..), |mut row, (v, seq)| {
        row.push_bind(v.id.clone())
            .push_bind(text(v.tenant))
            .push_bind(text(v.bucket))
            .push_bind(text(v.path))
            .push_bind(text(v.name))
            .push_bind(v.size)
            .push_bind(text(v.content_type))
            .push_bind(text(v.content_essence))
            .push_bind(opt(v.declared_sha256))
            .push_bind(opt(v.sha256))
            .push_bind(opt(v.etag))
            .push_bind(text(v.status))
            .push_bind(opt(v.status_reason))
            .push_bind(opt(v.previous_status))
            .push_bind(text(v.owner))
            .push_bind(opt(v.external_id))
            .push_bind(v.metadata.clone())
            .push_unseparated(json_cast)
            .push_bind(v.processing.clone())
            .push_unseparated(json_cast)
            .push_bind(v.download_count)
            .push_bind(text(v.blob_key))
            .push_bind(v.upload.clone())
            .push_unseparated(json_cast)
            .push_bind(v.upload_expires_at)
            .push_bind(v.created_at)
            .push_bind(v.updated_at)
            .push_bind(v.deleted_at)
            .push_bind(v.purge_after)
            .push_bind(seq)
            .push_bind(opt(v.encryption))
            .push_bind(v.request_id.clone());
    });
    Ok(q)
}
