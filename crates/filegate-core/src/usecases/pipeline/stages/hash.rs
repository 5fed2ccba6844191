//! `hash`: the SHA-256 of the stored bytes, computed by us (the only hash we trust).

use async_trait::async_trait;

use super::{Stage, StageContext, StageError, one_pass};

pub struct Hash;

#[async_trait]
impl Stage for Hash {
    fn name(&self) -> &'static str {
        "hash"
    }

    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        // Completion may already have hashed the bytes to check a declared sha256.
        if ctx.file.sha256.is_some() {
            return Ok(());
        }
        // One read, which the scanner shares when the bucket scans too.
        let (digest, size) = one_pass::hash(ctx).await?;
        if size != ctx.file.size {
            return Err(StageError::Fail(format!(
                "read {size} bytes, {} were confirmed",
                ctx.file.size
            )));
        }
        if let Some(declared) = &ctx.file.declared_sha256
            && declared != &digest
        {
            return Err(StageError::Fail(
                "the sha256 of the bytes differs from the declared one".into(),
            ));
        }
        ctx.file.sha256 = Some(digest);
        Ok(())
    }
}
