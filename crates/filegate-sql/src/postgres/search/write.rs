//! Writing documents: the locks a write takes, the statements that replace and remove
//! documents (returning what they replaced, to count it out), and the counts' update.

use filegate_core::StoreError;
use filegate_core::domain::TenantId;
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::stored::{Counts, Entry};
use crate::errors::store_err;

/// The first keys of the advisory locks a write takes (the second is the tenant's hash, or
/// the document's slot): "srch" and "srcd".
const TENANT_LOCKS: i32 = 0x7372_6368;
const DOCUMENT_LOCKS: i32 = 0x7372_6364;
/// How many locks the documents of all tenants share (a power of two).
const DOCUMENT_SLOTS: i32 = 64;

/// Takes the locks of a write of these (tenant, file id) documents: each tenant's shared
/// lock, then the lock of each document's slot, every writer in the same order (no
/// deadlock). Documents share [`DOCUMENT_SLOTS`] slots, so that a batch of thousands takes
/// a bounded number of locks (PostgreSQL's lock table is small); writers of different
/// documents in one slot merely take turns.
pub(super) async fn lock(conn: &mut PgConnection, keys: &[(String, String)]) -> Result<(), StoreError> {
    let (tenants, ids): (Vec<String>, Vec<String>) = keys.iter().cloned().unzip();
    sqlx::query(
        "SELECT CASE WHEN k.space = $1 THEN pg_advisory_xact_lock_shared(k.space, k.key) \
                     ELSE pg_advisory_xact_lock(k.space, k.key) END \
         FROM (SELECT $1 AS space, hashtext(t) AS key FROM unnest($3::text[]) t \
               UNION \
               SELECT $2, hashtext(t || '/' || f) & $5 FROM unnest($3::text[], $4::text[]) u(t, f) \
               ORDER BY space DESC, key) k",
    )
    .bind(TENANT_LOCKS)
    .bind(DOCUMENT_LOCKS)
    .bind(tenants)
    .bind(ids)
    .bind(DOCUMENT_SLOTS - 1)
    .execute(conn)
    .await
    .map_err(store_err)?;
    Ok(())
}

/// Takes the tenant's lock alone: no write of its documents runs meanwhile.
pub(super) async fn lock_tenant(conn: &mut PgConnection, tenant: &TenantId) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(TENANT_LOCKS)
        .bind(tenant.as_str())
        .execute(conn)
        .await
        .map_err(store_err)?;
    Ok(())
}

/// What a stored document counted for, as read back: tenant, owner, lexemes, completions.
pub(super) type EntryRow = (String, String, Vec<String>, Vec<String>);

/// Writes `records` (`stored::Stored::record`s, one per document), each replacing its
/// document's row, and returns what the rows replaced counted for. Run it after [`lock`]:
/// what the statement reads is then what it overwrites.
pub(super) fn replace(records: Vec<Value>) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new("WITH input AS (SELECT * FROM jsonb_to_recordset(");
    q.push_bind(Value::Array(records).to_string()).push(
        "::jsonb) AS d(tenant text, file_id text, bucket text, path text, name text, folders text[], \
             declared_type text, sniffed_type text, metadata jsonb, external_id text, owner text, \
             status text, size int8, created_at int8, updated_at int8, image_width int8, \
             image_height int8, words text, completions text[])), \
         old AS (SELECT s.tenant, s.owner, tsvector_to_array(s.words) AS lexemes, \
                 COALESCE(c.completions, '{}') AS completions \
             FROM search_documents s \
             JOIN input i ON s.tenant = i.tenant AND s.file_id = i.file_id \
             LEFT JOIN search_document_completions c ON c.tenant = s.tenant AND c.file_id = s.file_id), \
         documents AS (INSERT INTO search_documents (tenant, file_id, bucket, path, name, folders, \
                 declared_type, sniffed_type, metadata, external_id, owner, status, size, created_at, \
                 updated_at, image_width, image_height, words) \
             SELECT tenant, file_id, bucket, path, name, folders, declared_type, sniffed_type, metadata, \
                 external_id, owner, status, size, created_at, updated_at, image_width, image_height, \
                 words::tsvector FROM input ORDER BY tenant, file_id \
             ON CONFLICT (tenant, file_id) DO UPDATE SET bucket = excluded.bucket, path = excluded.path, \
                 name = excluded.name, folders = excluded.folders, declared_type = excluded.declared_type, \
                 sniffed_type = excluded.sniffed_type, metadata = excluded.metadata, \
                 external_id = excluded.external_id, owner = excluded.owner, status = excluded.status, \
                 size = excluded.size, created_at = excluded.created_at, updated_at = excluded.updated_at, \
                 image_width = excluded.image_width, image_height = excluded.image_height, \
                 words = excluded.words), \
         completions AS (INSERT INTO search_document_completions (tenant, file_id, completions) \
             SELECT tenant, file_id, completions FROM input ORDER BY tenant, file_id \
             ON CONFLICT (tenant, file_id) DO UPDATE SET completions = excluded.completions) \
         SELECT tenant, owner, lexemes, completions FROM old",
    );
    q
}

/// Deletes the tenant's documents `ids` and returns what they counted for.
pub(super) fn delete(tenant: &TenantId, ids: Vec<String>) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new("WITH gone AS (DELETE FROM search_documents WHERE tenant = ");
    q.push_bind(tenant.as_str().to_owned())
        .push(" AND file_id = ANY(")
        .push_bind(ids.clone())
        .push(
            ") RETURNING tenant, file_id, owner, tsvector_to_array(words) AS lexemes), \
             gone_completions AS (DELETE FROM search_document_completions WHERE tenant = ",
        )
        .push_bind(tenant.as_str().to_owned())
        .push(" AND file_id = ANY(")
        .push_bind(ids)
        .push(
            ") RETURNING file_id, completions) \
             SELECT g.tenant, g.owner, g.lexemes, COALESCE(c.completions, '{}') \
             FROM gone g LEFT JOIN gone_completions c ON c.file_id = g.file_id",
        );
    q
}

/// Counts the documents of `rows`, replaced or removed, once less.
pub(super) fn uncount(counts: &mut Counts, rows: Vec<EntryRow>) {
    for (tenant, owner, lexemes, completions) in rows {
        let entry = Entry {
            tenant,
            owner,
            lexemes: lexemes.into_iter().collect(),
            completions: completions.into_iter().collect(),
        };
        counts.add(&entry, -1);
    }
}

/// Changes the counts by `counts` (one statement, rows in key order), then deletes the ones
/// that reached 0.
pub(super) async fn apply_counts(conn: &mut PgConnection, counts: Counts) -> Result<(), StoreError> {
    let c = counts.into_columns();
    if c.deltas.is_empty() {
        return Ok(());
    }
    for statement in [
        "INSERT INTO search_terms (tenant, kind, owner, text, files) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) \
         ORDER BY 1, 2, 3, 4 \
         ON CONFLICT (tenant, kind, owner, text) DO UPDATE SET files = search_terms.files + excluded.files",
        "DELETE FROM search_terms s USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) \
             AS d(tenant, kind, owner, text, delta) \
         WHERE d.delta < 0 AND s.tenant = d.tenant AND s.kind = d.kind AND s.owner = d.owner \
           AND s.text = d.text AND s.files <= 0",
    ] {
        sqlx::query(statement)
            .bind(&c.tenants)
            .bind(&c.kinds)
            .bind(&c.owners)
            .bind(&c.texts)
            .bind(&c.deltas)
            .execute(&mut *conn)
            .await
            .map_err(store_err)?;
    }
    Ok(())
}

/// The statements of `SearchIndex::clear`, each bound to the tenant.
pub(super) const CLEAR: [&str; 3] = [
    "DELETE FROM search_documents WHERE tenant = $1",
    "DELETE FROM search_document_completions WHERE tenant = $1",
    "DELETE FROM search_terms WHERE tenant = $1",
];
