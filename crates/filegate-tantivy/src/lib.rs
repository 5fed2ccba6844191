//! filegate's embedded search index: the `SearchIndex` port on tantivy, in a directory of
//! its own (`<data_dir>/search` by default). Nothing to install or start.
//!
//! - `schema`: the fields, the `words` analyzer, a `SearchDocument` as a document;
//! - `query`: a `SearchQuery` as a tantivy query (typo tolerance, prefixes, phrases,
//!   filters);
//! - `search`: the page, the total and the facets; `suggest`: completions;
//! - `writer`: the one writer, on its own thread, committing changes in groups.
//!
//! Searches run on the blocking pool against the last committed state; a change is
//! visible to the process that made it when `upsert`/`remove` returns, and to other
//! processes sharing the directory within moments (tantivy watches its `meta.json`).

mod query;
mod schema;
mod search;
mod suggest;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_trait::async_trait;
use filegate_core::StoreError;
use filegate_core::domain::{FileId, SearchDocument, SearchHits, SearchQuery, Suggestion, TenantId};
use filegate_core::ports::SearchIndex;
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, ReloadPolicy, Term};
use tokio::sync::oneshot;

use crate::schema::{Fields, SCHEMA_VERSION};
use crate::writer::{Change, WriterHandle, WriterThread};

/// The file in the index directory that names the schema version it was built with.
const VERSION_FILE: &str = "filegate-schema-version";

#[derive(Clone)]
pub struct TantivyIndex {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Started at the first change (see `writer`); dropped when its thread is gone, so the
    /// next change starts another.
    writer: Mutex<Option<WriterThread>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let slot = self.writer.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(WriterThread { handle, thread }) = slot.take() {
            // Its channel closes with the last handle: the thread commits what it holds,
            // drops the writer (and its lock) and ends.
            drop(handle);
            if thread.join().is_err() {
                tracing::error!("the search index writer thread panicked");
            }
        }
    }
}

impl TantivyIndex {
    /// Opens the index in `dir`, creating it when missing. An index written by another
    /// version of the schema is emptied (a warning says to run `filegate reindex`).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("search index directory {}", dir.display()))?;
        let version_file = dir.join(VERSION_FILE);
        let found = std::fs::read_to_string(&version_file).ok();
        let expected = SCHEMA_VERSION.to_string();
        if found.as_deref().map(str::trim) != Some(expected.as_str()) {
            let holds_an_index = dir.join("meta.json").exists();
            if holds_an_index {
                tracing::warn!(dir = %dir.display(), "the search index was built by another version; it starts empty: run `filegate reindex`");
                for entry in std::fs::read_dir(dir)? {
                    let path = entry?.path();
                    if path.is_file() {
                        std::fs::remove_file(&path)?;
                    }
                }
            }
            std::fs::write(&version_file, &expected)?;
        }
        let (schema, fields) = Fields::schema();
        let directory = MmapDirectory::open(dir).with_context(|| format!("search index {}", dir.display()))?;
        let index = Index::open_or_create(directory, schema).context("search index")?;
        schema::register_analyzers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .context("search index reader")?;
        Ok(Self {
            inner: Arc::new(Inner {
                index,
                reader,
                fields,
                writer: Mutex::new(None),
            }),
        })
    }

    fn writer(&self) -> Result<WriterHandle, StoreError> {
        let mut slot = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(writer) = slot.as_ref() {
            return Ok(writer.handle.clone());
        }
        let writer = WriterHandle::start(&self.inner.index, self.inner.reader.clone()).map_err(|e| {
            // Most likely another process holds the index's writer lock.
            StoreError::Unavailable(anyhow::anyhow!("cannot open the search index for writing: {e}"))
        })?;
        let handle = writer.handle.clone();
        *slot = Some(writer);
        Ok(handle)
    }

    async fn change(&self, delete: Vec<Term>, add: Vec<tantivy::TantivyDocument>) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        let sent = self.writer()?.send(Change { delete, add, done });
        if !sent {
            *self.inner.writer.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "the search index writer stopped"
            )));
        }
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(anyhow::anyhow!("search index commit: {e}"))),
            Err(_) => Err(StoreError::Unavailable(anyhow::anyhow!(
                "the search index writer stopped"
            ))),
        }
    }

    /// Runs `f` on the blocking pool with a searcher of the last commit.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&tantivy::Searcher, &Fields) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner.reader.searcher(), &inner.fields))
            .await
            .map_err(|e| StoreError::Other(anyhow::anyhow!("search task: {e}")))?
            .map_err(StoreError::Other)
    }
}

#[async_trait]
impl SearchIndex for TantivyIndex {
    async fn upsert(&self, documents: &[SearchDocument]) -> Result<(), StoreError> {
        let fields = &self.inner.fields;
        // The last of a file's documents wins: a delete removes only what was added before
        // it, so two documents of one file in a batch would both stay.
        let mut latest: HashMap<FileId, &SearchDocument> = HashMap::with_capacity(documents.len());
        for doc in documents {
            latest.insert(doc.id, doc);
        }
        let delete = latest.keys().map(|id| fields.id_term(&id.to_string())).collect();
        let add = latest.values().map(|d| fields.document(d)).collect();
        self.change(delete, add).await
    }

    async fn remove(&self, tenant: &TenantId, ids: &[FileId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // Only the tenant's own entries: a file id of another tenant names nothing here.
        let (tenant, wanted) = (tenant.clone(), ids.to_vec());
        let held = self
            .read(move |searcher, fields| search::held_by(searcher, fields, &tenant, &wanted))
            .await?;
        if held.is_empty() {
            return Ok(());
        }
        let fields = &self.inner.fields;
        let delete = held.iter().map(|id| fields.id_term(&id.to_string())).collect();
        self.change(delete, Vec::new()).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchHits, StoreError> {
        let query = query.clone();
        self.read(move |searcher, fields| search::run(searcher, fields, &query))
            .await
    }

    async fn suggest(
        &self,
        tenant: &TenantId,
        prefix: &str,
        owner: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Suggestion>, StoreError> {
        let (tenant, prefix, owner) = (tenant.clone(), prefix.to_owned(), owner.map(str::to_owned));
        self.read(move |searcher, fields| {
            suggest::run(searcher, fields, &tenant, &prefix, owner.as_deref(), limit as usize)
        })
        .await
    }

    async fn clear(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let term = Term::from_field_text(self.inner.fields.tenant, tenant.as_str());
        self.change(vec![term], Vec::new()).await
    }
}
