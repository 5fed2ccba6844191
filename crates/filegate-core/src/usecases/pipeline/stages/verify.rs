//! `verify`: the bytes are still there and still the size that was confirmed.

use async_trait::async_trait;

use super::{Stage, StageContext, StageError};

pub struct Verify;

#[async_trait]
impl Stage for Verify {
    fn name(&self) -> &'static str {
        "verify"
    }

    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        let file = &ctx.file;
        let meta = ctx
            .services
            .blobs
            .head(&file.blob_key)
            .await?
            .ok_or_else(|| StageError::Fail("the uploaded bytes are missing from storage".into()))?;
        if meta.size != file.size {
            return Err(StageError::Fail(format!(
                "storage holds {} bytes, {} were confirmed",
                meta.size, file.size
            )));
        }
        Ok(())
    }
}
