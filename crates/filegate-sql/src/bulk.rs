//! Loading many file rows at once, for benchmarks (the growth measurements seed a million
//! rows) and imports. The rows go into the same table, through the same indexes, with
//! change numbers taken the same way as [`MetadataStore::insert_file`] takes them; only
//! many rows share a statement and a transaction.
//!
//! [`MetadataStore::insert_file`]: filegate_core::ports::MetadataStore::insert_file

use filegate_core::StoreError;
use filegate_core::domain::FileRecord;

use crate::dialect::Run as _;
use crate::engine::Engine;
use crate::file_row::{COLUMNS, FileValues, insert_head, push_row};
use crate::store::{SqlStore, commit};

/// Rows per `INSERT`: 29 parameters each stays under both engines' parameter limits.
const ROWS_PER_STATEMENT: usize = 500;
const _: () = assert!((COLUMNS.len() + 2) * ROWS_PER_STATEMENT < 32_766);

impl<E: Engine> SqlStore<E> {
    /// Inserts `files` in one transaction, with change numbers in their order: the rows [`insert_file`](filegate_core::ports::MetadataStore::insert_file)
    /// would write one by one. For benchmarks and imports; `Conflict` when an id exists
    /// (and then nothing is inserted).
    pub async fn insert_files_bulk(&self, files: &[FileRecord]) -> Result<(), StoreError> {
        if files.is_empty() {
            return Ok(());
        }
        let values = files.iter().map(FileValues::of).collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.engine.begin_write().await?;
        let mut seqs = E::take_change_seqs(&mut tx, files.len()).await?.into_iter();
        for chunk in values.chunks(ROWS_PER_STATEMENT) {
            let mut q = insert_head::<E::DB>();
            for (i, (v, seq)) in chunk.iter().zip(&mut seqs).enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                push_row(&mut q, v, seq);
            }
            q.execute(&mut tx).await?;
        }
        commit::<E>(tx).await
    }
}
