//! Seeding a deployment's database through the store layer, faster than any API would:
//! the same tables, indexes and change numbers as files created one by one.

use std::path::Path;

use chrono::{DateTime, TimeZone as _, Utc};
use filegate_core::domain::FileRecord;

use crate::deploy::Deployment;

/// Where rows go: the store of the deployment's database.
pub enum Store {
    Sqlite(filegate_sql::SqliteStore),
    Postgres(filegate_sql::PostgresStore),
}

impl Store {
    pub async fn open(deployment: &Deployment, data_dir: &Path) -> anyhow::Result<Self> {
        Ok(match &deployment.database_url {
            Some(url) => Store::Postgres(filegate_sql::PostgresStore::connect(url).await?),
            None => Store::Sqlite(filegate_sql::SqliteStore::open(&data_dir.join("filegate.db")).await?),
        })
    }

    pub async fn insert(&self, files: &[FileRecord]) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(s) => s.insert_files_bulk(files).await?,
            Store::Postgres(s) => s.insert_files_bulk(files).await?,
        }
        Ok(())
    }

    pub async fn close(self) {
        if let Store::Sqlite(s) = self {
            s.close().await;
        }
    }
}

/// The first seeded file's creation time; the others follow it.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default()
}
