//! `SearchIndex` on PostgreSQL: full text (`tsvector` + GIN) and trigrams (`pg_trgm`) in the
//! metadata database, so every gateway sharing the database shares the index. The tables
//! and why they look so are in migration 0011; the rules (words, typo budgets, what is
//! indexed) are core's, in `domain::search`.
//!
//! - `stored`: a document as stored, and what it adds to the counts;
//! - `text`: the query's words as tsqueries, typos looked up in the vocabulary;
//! - `find`: the search statement (filters, order, page, total, facets);
//! - `suggest`: completions of a prefix.
//!
//! A write reads the entries it replaces and changes the counts by the difference, in one
//! transaction holding the lock of each document's slot (two writers of one file take
//! turns, so the counts stay exact) and a shared lock per tenant (`clear` takes it alone).

mod find;
mod stored;
mod suggest;
mod text;

use std::collections::BTreeMap;

use async_trait::async_trait;
use filegate_core::StoreError;
use filegate_core::domain::{FileId, SearchDocument, SearchHits, SearchQuery, Suggestion, TenantId};
use filegate_core::ports::SearchIndex;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::PostgresStore;
use crate::errors::store_err;
use stored::{Counts, Entry, stored};

/// The first keys of the advisory locks a write takes (the second is the tenant's hash, or
/// the document's slot): "srch" and "srcd".
const TENANT_LOCKS: i32 = 0x7372_6368;
const DOCUMENT_LOCKS: i32 = 0x7372_6364;
/// How many locks the documents of all tenants share (a power of two).
const DOCUMENT_SLOTS: i32 = 64;

#[async_trait]
impl SearchIndex for PostgresStore {
    async fn upsert(&self, documents: &[SearchDocument]) -> Result<(), StoreError> {
        // The last of a file's documents wins (one statement cannot write a row twice).
        let mut latest: BTreeMap<(&str, FileId), &SearchDocument> = BTreeMap::new();
        for doc in documents {
            latest.insert((doc.tenant.as_str(), doc.id), doc);
        }
        if latest.is_empty() {
            return Ok(());
        }
        let mut records = Vec::with_capacity(latest.len());
        let mut counts = Counts::default();
        for doc in latest.values() {
            let stored = stored(doc)?;
            counts.add(&stored.entry, 1);
            records.push(stored.record);
        }
        let keys: Vec<(String, String)> = latest
            .keys()
            .map(|(tenant, id)| ((*tenant).to_owned(), id.to_string()))
            .collect();

        let mut tx = self.engine.pool.begin().await.map_err(store_err)?;
        lock(&mut tx, &keys).await?;
        // The documents replaced are read in the statement that replaces them, after the
        // locks: what it reads is what it overwrites.
        let mut q = QueryBuilder::<Postgres>::new("WITH input AS (SELECT * FROM jsonb_to_recordset(");
        q.push_bind(serde_json::Value::Array(records).to_string()).push(
            "::jsonb) AS d(tenant text, file_id text, bucket text, path text, name text, folders text[], \
                 declared_type text, sniffed_type text, metadata jsonb, external_id text, owner text, \
                 status text, size int8, created_at int8, updated_at int8, image_width int8, \
                 image_height int8, words text, completions text[])), \
             old AS (SELECT s.tenant, s.owner, tsvector_to_array(s.words) AS lexemes, s.completions \
                 FROM search_documents s JOIN input i ON s.tenant = i.tenant AND s.file_id = i.file_id), \
             written AS (INSERT INTO search_documents (tenant, file_id, bucket, path, name, folders, \
                 declared_type, sniffed_type, metadata, external_id, owner, status, size, created_at, \
                 updated_at, image_width, image_height, words, completions) \
               SELECT tenant, file_id, bucket, path, name, folders, declared_type, sniffed_type, metadata, \
                 external_id, owner, status, size, created_at, updated_at, image_width, image_height, \
                 words::tsvector, completions FROM input ORDER BY tenant, file_id \
               ON CONFLICT (tenant, file_id) DO UPDATE SET bucket = excluded.bucket, path = excluded.path, \
                 name = excluded.name, folders = excluded.folders, declared_type = excluded.declared_type, \
                 sniffed_type = excluded.sniffed_type, metadata = excluded.metadata, \
                 external_id = excluded.external_id, owner = excluded.owner, status = excluded.status, \
                 size = excluded.size, created_at = excluded.created_at, updated_at = excluded.updated_at, \
                 image_width = excluded.image_width, image_height = excluded.image_height, \
                 words = excluded.words, completions = excluded.completions) \
             SELECT tenant, owner, lexemes, completions FROM old",
        );
        let replaced: Vec<EntryRow> = q.build_query_as().fetch_all(&mut *tx).await.map_err(store_err)?;
        uncount(&mut counts, replaced);
        apply_counts(&mut tx, counts).await?;
        tx.commit().await.map_err(store_err)
    }

    async fn remove(&self, tenant: &TenantId, ids: &[FileId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<String> = ids.iter().map(FileId::to_string).collect();
        ids.sort_unstable();
        ids.dedup();
        let keys: Vec<(String, String)> = ids.iter().map(|id| (tenant.as_str().to_owned(), id.clone())).collect();

        let mut tx = self.engine.pool.begin().await.map_err(store_err)?;
        lock(&mut tx, &keys).await?;
        let mut q = QueryBuilder::<Postgres>::new("DELETE FROM search_documents WHERE tenant = ");
        q.push_bind(tenant.as_str().to_owned())
            .push(" AND file_id = ANY(")
            .push_bind(ids)
            .push(") RETURNING tenant, owner, tsvector_to_array(words), completions");
        let removed: Vec<EntryRow> = q.build_query_as().fetch_all(&mut *tx).await.map_err(store_err)?;
        let mut counts = Counts::default();
        uncount(&mut counts, removed);
        apply_counts(&mut tx, counts).await?;
        tx.commit().await.map_err(store_err)
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchHits, StoreError> {
        // A transaction: the typo lookup sets its similarity threshold for it alone.
        let mut tx = self.engine.pool.begin().await.map_err(store_err)?;
        let ts = text::ts_queries(&mut tx, &query.tenant, &query.text).await?;
        let hits = find::run(&mut tx, query, ts.as_ref()).await?;
        tx.commit().await.map_err(store_err)?;
        Ok(hits)
    }

    async fn suggest(
        &self,
        tenant: &TenantId,
        prefix: &str,
        owner: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Suggestion>, StoreError> {
        let mut conn = self.engine.pool.acquire().await.map_err(store_err)?;
        suggest::run(&mut conn, tenant, prefix, owner, limit).await
    }

    async fn clear(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut tx = self.engine.pool.begin().await.map_err(store_err)?;
        // Alone: no write of this tenant's documents runs meanwhile.
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(TENANT_LOCKS)
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        for statement in [
            "DELETE FROM search_documents WHERE tenant = $1",
            "DELETE FROM search_terms WHERE tenant = $1",
        ] {
            sqlx::query(statement)
                .bind(tenant.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
        }
        tx.commit().await.map_err(store_err)
    }
}

/// What a stored document counted for, as read back: tenant, owner, lexemes, completions.
type EntryRow = (String, String, Vec<String>, Vec<String>);

/// Counts the documents of `rows`, replaced or removed, once less.
fn uncount(counts: &mut Counts, rows: Vec<EntryRow>) {
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

/// Takes the locks of a write of these (tenant, file id) documents: each tenant's shared
/// lock, then the lock of each document's slot, every writer in the same order (no
/// deadlock). Documents share [`DOCUMENT_SLOTS`] slots, so that a batch of thousands takes
/// a bounded number of locks (PostgreSQL's lock table is small); writers of different
/// documents in one slot merely take turns.
async fn lock(conn: &mut PgConnection, keys: &[(String, String)]) -> Result<(), StoreError> {
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

/// Changes the counts by `counts` (one statement, rows in key order), then deletes the ones
/// that reached 0.
async fn apply_counts(conn: &mut PgConnection, counts: Counts) -> Result<(), StoreError> {
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
