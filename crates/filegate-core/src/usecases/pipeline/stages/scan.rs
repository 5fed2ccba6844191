//! `scan`: the bytes through the virus scanner (clamd). Found → the pipeline halts and the
//! file is `quarantined`. The scanner unreachable → retried, never "assume clean". A file
//! over the scanner's stream limit fails (`scan-too-large`): it was not scanned, so it must
//! not be served, and retrying cannot change that. Operators raise clamd's
//! `StreamMaxLength`, or keep such buckets' `max_file_size` below it.

use async_trait::async_trait;

use super::{Halt, Stage, StageContext, StageError, one_pass};
use crate::ports::{ScanError, ScanVerdict};
use crate::usecases::context::HasScanner;

pub struct Scan;

/// `processing.scan` values.
pub const CLEAN: &str = "clean";
pub const INFECTED: &str = "infected";

#[async_trait]
impl Stage for Scan {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn available(&self, cx: &dyn HasScanner) -> bool {
        cx.scanner().is_some()
    }

    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        // The scanner was configured when the policy was set, and is gone now: wait for it
        // to come back rather than let unscanned bytes through.
        let scanner = ctx.services.scanner.as_ref().ok_or_else(|| {
            StageError::Retry(anyhow::anyhow!(
                "the bucket asks for a virus scan and no scanner is configured"
            ))
        })?;
        // `hash` may have scanned the bytes on its read already (`one_pass`).
        let verdict = match one_pass::take_scan(ctx) {
            Some(verdict) => verdict,
            None => {
                let body = ctx.services.blobs.get(&ctx.file.blob_key, None).await?;
                scanner.scan(body).await
            }
        };
        match verdict {
            Ok(ScanVerdict::Clean) => {
                ctx.file.processing.scan = Some(CLEAN.into());
                Ok(())
            }
            Ok(ScanVerdict::Infected { signature }) => {
                tracing::warn!(file_id = %ctx.file.id, %signature, "virus found; quarantining");
                ctx.file.processing.scan = Some(INFECTED.into());
                ctx.halt = Some(Halt::Quarantine { signature });
                Ok(())
            }
            Err(e @ ScanError::Unavailable(_)) => Err(StageError::Retry(anyhow::Error::new(e))),
            Err(e @ ScanError::TooLarge { .. }) => Err(StageError::Fail(format!(
                "scan-too-large: {e}; it was not scanned and will not be served"
            ))),
        }
    }
}
