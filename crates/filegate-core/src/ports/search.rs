//! `SearchIndex`: finds and counts files for a search (the embedded tantivy index, or
//! PostgreSQL's full text in the metadata database). The rules (what is indexed, typo
//! tolerance, highlights, who sees what) are core's, in `domain::search`; an engine keeps
//! the documents it is handed and answers queries over them.

use async_trait::async_trait;

use crate::domain::{FileId, SearchDocument, SearchHits, SearchQuery, Suggestion, TenantId};
use crate::error::StoreError;

#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Puts these documents in the index, each replacing any earlier entry of its file.
    /// When it returns, searches see them (and a restart keeps them).
    async fn upsert(&self, documents: &[SearchDocument]) -> Result<(), StoreError>;
    /// Takes these files out of the index; ids it does not hold are no error.
    async fn remove(&self, tenant: &TenantId, ids: &[FileId]) -> Result<(), StoreError>;
    /// The page of hits `query` asks for, in its order, with the total and its facets.
    /// Every filter of the query (tenant, owner, ...) is applied by the engine itself, so a
    /// page is full whenever enough files match.
    async fn search(&self, query: &SearchQuery) -> Result<SearchHits, StoreError>;
    /// Completions of `prefix` (lowercased, one or more words) among the tenant's names,
    /// folders and metadata values (only `owner`'s files when given), the ones most files
    /// would match first, at most `limit`.
    async fn suggest(
        &self,
        tenant: &TenantId,
        prefix: &str,
        owner: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Suggestion>, StoreError>;
    /// Takes every file of the tenant out of the index (before it is rebuilt).
    async fn clear(&self, tenant: &TenantId) -> Result<(), StoreError>;
    /// A rebuild has written every document: whatever the engine keeps about its contents
    /// for planning (PostgreSQL's statistics of the search tables) is brought up to date,
    /// so the first searches after it are planned for what the index now holds.
    async fn rebuilt(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
