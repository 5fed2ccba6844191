//! The search story scenarios every `SearchIndex` engine passes (written once, beside the
//! PostgreSQL engine that runs them in `filegate-sql/tests/postgres.rs`), on the embedded
//! index: one fresh index directory per test.

#[path = "../../filegate-sql/tests/search/mod.rs"]
mod search;

use std::sync::Arc;

use filegate_tantivy::TantivyIndex;

macro_rules! search_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let dir = tempfile::tempdir().expect("index directory");
                let index: search::Index = Arc::new(TantivyIndex::open(dir.path()).expect("open the index"));
                search::$name(index).await;
            }
        )*
    };
}

search::search_scenarios!(search_tests);
