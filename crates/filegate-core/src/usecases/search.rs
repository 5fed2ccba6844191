//! Search: find the files of the caller's tenant by words, filters and facets, complete
//! what is being typed, and keep the index following the database.
//!
//! The index answers which files match; the database has the last word on each of them.
//! Every hit is read back from the store (one batch per page) and dropped if it is no
//! longer searchable, so a file deleted or quarantined a moment ago is never returned even
//! while its index update is still queued.

use std::collections::{BTreeMap, HashMap};

use super::archives::LOOKUP_BATCH;
use super::context::{HasArchives, HasClock, HasSearch, HasStore};
use crate::domain::{After, Facet, FileQuery, PageStart};
use crate::domain::{
    FacetCounts, FileAction, FileId, FileRecord, MAX_SEARCH_DEPTH, MAX_SEARCH_MATCHES, MAX_SUGGEST_CHARS,
    MAX_SUGGESTIONS, Principal, SearchDocument, SearchFilter, SearchHits, SearchQuery, SearchSort, SearchText,
    Suggestion, TenantId, encode_search_cursor, highlights, is_searchable, words,
};
use crate::error::{Error, ErrorCode, Result, StoreError};

/// A search as the caller asked it (the tenant and reach come from the principal).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRequest {
    pub text: SearchText,
    pub filter: SearchFilter,
    pub sort: SearchSort,
    pub offset: u32,
    pub limit: u32,
    pub facets: Vec<Facet>,
}

/// One file found, how well it matched and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub file: FileRecord,
    pub score: f32,
    /// `name`, `path`, `external_id`, `metadata.KEY` → the value, escaped, matches in
    /// `<mark>`.
    pub highlights: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub items: Vec<Found>,
    pub total: u64,
    /// More files than `total` match (see [`MAX_SEARCH_MATCHES`]).
    pub total_is_lower_bound: bool,
    pub facets: FacetCounts,
    pub next_cursor: Option<String>,
}

/// Files of the caller's tenant (its own only, for a principal that may see no others)
/// matching `request`.
pub async fn search(
    cx: &(impl HasClock + HasSearch + HasArchives),
    principal: &Principal,
    request: SearchRequest,
) -> Result<SearchResults> {
    let mut filter = request.filter;
    filter.owner = principal.owner_filter(FileAction::See)?.map(str::to_owned);
    if filter.status.is_some_and(|s| !is_searchable(s)) {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            "search finds ready and failed files; list the others with GET /v1/files",
        ));
    }
    if request.offset.saturating_add(request.limit) > MAX_SEARCH_DEPTH {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            format!("search pages go {MAX_SEARCH_DEPTH} results deep; narrow the query"),
        ));
    }
    let query = SearchQuery {
        tenant: principal.tenant.clone(),
        text: request.text,
        filter,
        sort: request.sort,
        offset: request.offset,
        limit: request.limit,
        facets: request.facets,
        now: cx.clock().now(),
        max_matches: MAX_SEARCH_MATCHES,
    };
    let SearchHits {
        hits,
        total,
        total_is_lower_bound,
        facets,
    } = cx.search().search(&query).await?;
    let end = query.offset.saturating_add(hits.len() as u32);
    let next_cursor = (u64::from(end) < total && end < MAX_SEARCH_DEPTH && hits.len() as u32 == query.limit)
        .then(|| encode_search_cursor(query.sort, end));
    let ids: Vec<FileId> = hits.iter().map(|h| h.id).collect();
    let mut files = current(cx, &query.tenant, &ids).await?;
    let items = hits
        .into_iter()
        .filter_map(|hit| {
            let file = files.remove(&hit.id)?;
            let visible = is_searchable(file.status) && query.filter.owner.as_ref().is_none_or(|o| *o == file.owner);
            visible.then(|| Found {
                highlights: highlights(&file, &query.text),
                score: hit.score,
                file,
            })
        })
        .collect();
    Ok(SearchResults {
        items,
        total,
        total_is_lower_bound,
        facets,
        next_cursor,
    })
}

/// The files behind a page of hits, as the database has them now.
async fn current(cx: &impl HasArchives, tenant: &TenantId, ids: &[FileId]) -> Result<HashMap<FileId, FileRecord>> {
    let mut found = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(LOOKUP_BATCH) {
        for file in cx.archives().files_by_id(tenant, batch).await? {
            found.insert(file.id, file);
        }
    }
    Ok(found)
}

/// Completions of what is being typed: the last words of `q`, lowercased.
pub async fn suggest(cx: &impl HasSearch, principal: &Principal, q: &str, limit: u32) -> Result<Vec<Suggestion>> {
    let owner = principal.owner_filter(FileAction::See)?;
    let prefix = q.trim_start().to_lowercase();
    if prefix.chars().count() > MAX_SUGGEST_CHARS {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            format!("q is at most {MAX_SUGGEST_CHARS} characters"),
        ));
    }
    if words(&prefix).next().is_none() {
        return Ok(Vec::new());
    }
    let limit = limit.clamp(1, MAX_SUGGESTIONS);
    Ok(cx.search().suggest(&principal.tenant, &prefix, owner, limit).await?)
}

/// The `IndexFile` job: the file's entry as the database has it now (written when the file
/// is searchable, removed otherwise). Idempotent, and any order of such jobs ends in the
/// same index, since each reads the current row.
pub async fn index_file(
    cx: &(impl HasStore + HasSearch),
    tenant: &TenantId,
    id: FileId,
) -> std::result::Result<(), StoreError> {
    let file = cx.store().get_file_fresh(tenant, id).await?;
    match file.as_ref().and_then(SearchDocument::of) {
        Some(document) => cx.search().upsert(&[document]).await,
        None => cx.search().remove(tenant, &[id]).await,
    }
}

/// Files read and written per step of a rebuild: one commit of the index each.
const REINDEX_BATCH: u32 = 5000;

/// Rebuilds the tenant's index from the database: empties it, then writes every searchable
/// file, a batch at a time, telling `progress` how many files were read of how many. Each
/// batch is read while the one before is written (the database and the index work at
/// once). Searches meanwhile see the files written so far.
pub async fn reindex(
    cx: &(impl HasStore + HasSearch),
    tenant: &TenantId,
    mut progress: impl FnMut(u64, u64),
) -> std::result::Result<u64, StoreError> {
    cx.search().clear(tenant).await?;
    let mut query = FileQuery {
        limit: REINDEX_BATCH,
        start: PageStart::Offset(0),
        ..FileQuery::default()
    };
    let (mut read, mut indexed, mut total) = (0u64, 0u64, 0u64);
    let mut writing: Vec<SearchDocument> = Vec::new();
    loop {
        let write = async {
            if writing.is_empty() {
                Ok(())
            } else {
                cx.search().upsert(&writing).await
            }
        };
        let (written, listed) = futures::join!(write, cx.store().list_files(tenant, &query));
        written?;
        let (mut page, count) = listed?;
        if let Some(count) = count {
            total = count;
        }
        let more = page.len() > REINDEX_BATCH as usize;
        page.truncate(REINDEX_BATCH as usize);
        writing = page.iter().filter_map(SearchDocument::of).collect();
        read += page.len() as u64;
        indexed += writing.len() as u64;
        progress(read, total.max(read));
        match page.last() {
            Some(last) if more => query.start = PageStart::After(After::of(last, query.sort.key)),
            _ => {
                if !writing.is_empty() {
                    cx.search().upsert(&writing).await?;
                }
                cx.search().rebuilt().await?;
                return Ok(indexed);
            }
        }
    }
}
