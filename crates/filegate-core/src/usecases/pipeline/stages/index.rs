//! `index`: keeps the search index up to date. A no-op until search exists; registered so
//! that policies may already name it (a policy listing every stage does).

use async_trait::async_trait;

use super::{Stage, StageContext, StageError};

pub struct Index;

#[async_trait]
impl Stage for Index {
    fn name(&self) -> &'static str {
        "index"
    }

    async fn run(&self, _ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        Ok(())
    }
}
