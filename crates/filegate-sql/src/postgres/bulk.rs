//! Many file rows in one transaction (see [`crate::bulk`]).

use filegate_core::StoreError;
use filegate_core::domain::FileRecord;
use sqlx::Postgres;

use super::PostgresStore;
use crate::bulk::{ROWS_PER_STATEMENT, insert_files, take_change_seqs};
use crate::errors::store_err;

impl PostgresStore {
    /// Inserts `files` in one transaction, with consecutive `change_seq` values in their
    /// order: the rows [`insert_file`](filegate_core::ports::MetadataStore::insert_file)
    /// would write one by one. For benchmarks and imports; `Conflict` when an id exists
    /// (and then nothing is inserted).
    pub async fn insert_files_bulk(&self, files: &[FileRecord]) -> Result<(), StoreError> {
        if files.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let n = i64::try_from(files.len()).map_err(|e| StoreError::Input(e.to_string()))?;
        let last: i64 = take_change_seqs::<Postgres>(n)
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(store_err)?;
        let mut seq = last - n + 1;
        for chunk in files.chunks(ROWS_PER_STATEMENT) {
            insert_files::<Postgres>(chunk, seq, "::jsonb")?
                .build()
                .execute(&mut *tx)
                .await
                .map_err(store_err)?;
            seq += chunk.len() as i64;
        }
        tx.commit().await.map_err(store_err)
    }
}
