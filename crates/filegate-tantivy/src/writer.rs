//! The one writer of the index, on a thread of its own, committing in groups.
//!
//! A commit writes new segment files and syncs them: a few milliseconds whatever it holds.
//! Index jobs arrive one file at a time from many workers, so the writer takes every change
//! waiting when it is free, applies them all, commits once, reloads the reader, and only
//! then tells each caller it is done: a job completes once its change is durable and
//! visible, and a burst of jobs costs one commit.
//!
//! tantivy allows one writer per index (a lock file in its directory): the writer is opened
//! at the first change, so a gateway that only searches (its workers run elsewhere) never
//! takes it.

use std::sync::mpsc;

use tantivy::{IndexReader, IndexWriter, TantivyDocument, Term};
use tokio::sync::oneshot;

/// Most changes one commit takes, so that a huge burst still shows progress.
const MAX_GROUP: usize = 4096;
/// Memory the writer buffers documents in before it writes a segment anyway.
const WRITER_MEMORY: usize = 50_000_000;

/// One change: the terms whose documents go, then the documents that come.
pub struct Change {
    pub delete: Vec<Term>,
    pub add: Vec<TantivyDocument>,
    pub done: oneshot::Sender<Result<(), String>>,
}

/// Hands changes to the writer thread.
#[derive(Clone)]
pub struct WriterHandle {
    changes: mpsc::Sender<Change>,
}

/// The writer thread, joined when the index is closed: its `IndexWriter` holds the
/// index's lock until it is dropped, and an index opened again in the same process (a
/// restart in tests, `filegate reindex` after a server stopped) must find it free.
pub struct WriterThread {
    pub handle: WriterHandle,
    pub thread: std::thread::JoinHandle<()>,
}

impl WriterHandle {
    /// Opens the index's writer (taking its lock) and starts its thread.
    pub fn start(index: &tantivy::Index, reader: IndexReader) -> tantivy::Result<WriterThread> {
        let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let (changes, incoming) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("search-writer".into())
            .spawn(move || run(writer, reader, incoming))
            .map_err(|e| tantivy::TantivyError::SystemError(format!("cannot start the writer thread: {e}")))?;
        Ok(WriterThread {
            handle: Self { changes },
            thread,
        })
    }

    /// Sends `change`; `false` when the writer thread is gone.
    pub fn send(&self, change: Change) -> bool {
        self.changes.send(change).is_ok()
    }
}

fn run(mut writer: IndexWriter, reader: IndexReader, incoming: mpsc::Receiver<Change>) {
    // Ends when every handle is dropped.
    while let Ok(first) = incoming.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match incoming.try_recv() {
                Ok(change) => group.push(change),
                Err(_) => break,
            }
        }
        let outcome = apply(&mut writer, &reader, &mut group);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, changes = group.len(), "search index commit failed");
        }
        for change in group {
            let _ = change.done.send(outcome.clone());
        }
    }
}

fn apply(writer: &mut IndexWriter, reader: &IndexReader, group: &mut [Change]) -> Result<(), String> {
    let staged = (|| -> tantivy::Result<()> {
        for change in group.iter_mut() {
            for term in change.delete.drain(..) {
                writer.delete_term(term);
            }
            for doc in change.add.drain(..) {
                writer.add_document(doc)?;
            }
        }
        writer.commit()?;
        reader.reload()
    })();
    staged.map_err(|e| {
        // Nothing of this group stays half-applied: its callers get the error and retry.
        if let Err(rollback) = writer.rollback() {
            tracing::error!(error = %rollback, "search index rollback failed");
        }
        e.to_string()
    })
}
