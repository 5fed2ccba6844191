//! One module per stage.

use async_trait::async_trait;
use futures::TryStreamExt as _;

use crate::domain::{Bucket, ByteRange, FileRecord};
use crate::usecases::Services;
use crate::usecases::context::HasScanner;

pub mod decrypt;
pub mod hash;
pub mod index;
pub mod metadata;
mod one_pass;
pub mod scan;
pub mod sniff;
pub mod thumbnail;
pub mod verify;

/// The file as it moves through the stages; each stage reads and updates it. The pipeline
/// writes it back once every stage has run (or one halted it).
pub struct StageContext<'a> {
    pub services: &'a Services,
    /// The file's bucket, whose policy some stages enforce (the allowed types).
    pub bucket: &'a Bucket,
    pub file: FileRecord,
    /// Set by a stage that ends the pipeline with a verdict other than `ready`; the stages
    /// after it do not run.
    pub halt: Option<Halt>,
    /// The start of the stored bytes, read once for every stage that looks at a header.
    pub(crate) prefix: Option<Prefix>,
    /// The scan verdict `hash` reached on its read of the bytes, for `scan` (`one_pass`).
    pub(crate) scanned: Option<one_pass::Scanned>,
}

impl<'a> StageContext<'a> {
    pub fn new(services: &'a Services, bucket: &'a Bucket, file: FileRecord) -> Self {
        Self {
            services,
            bucket,
            file,
            halt: None,
            prefix: None,
            scanned: None,
        }
    }
}

/// The first bytes of one stored object (up to [`PREFIX_BYTES`], all of a smaller one).
pub(crate) struct Prefix {
    blob_key: String,
    bytes: Vec<u8>,
}

/// How much of an object's start one read keeps for the stages after it: the most any
/// header-reading stage asks for (`metadata::HEADER_BYTES`).
pub(crate) const PREFIX_BYTES: u64 = metadata::HEADER_BYTES;

/// A final verdict a stage reaches that is not a failure: the pipeline stops there and the
/// file takes the matching status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// The scanner found something: the file is `quarantined`, the signature its reason.
    Quarantine { signature: String },
}

/// How a stage fails. Every stage says explicitly whether trying again could help.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Might work later (storage down, scanner unreachable): retried with backoff.
    #[error("{0}")]
    Retry(anyhow::Error),
    /// Will never work (bytes do not match, cannot decrypt): the file fails now.
    #[error("{0}")]
    Fail(String),
}

impl From<crate::error::StoreError> for StageError {
    fn from(e: crate::error::StoreError) -> Self {
        Self::Retry(anyhow::Error::new(e))
    }
}

#[async_trait]
pub trait Stage: Send + Sync {
    /// The name bucket policies use.
    fn name(&self) -> &'static str;
    /// Whether this deployment can run the stage (`scan` needs a configured scanner). A
    /// policy naming an unavailable stage is refused when it is set.
    fn available(&self, _cx: &dyn HasScanner) -> bool {
        true
    }
    /// Runs the stage. Must be idempotent: a job can run twice, or be cut off anywhere.
    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError>;
}

/// The first `limit` bytes of the file (all of it when shorter), read with one ranged get:
/// stages that look at a header never pull a whole object. Up to [`PREFIX_BYTES`] are kept
/// in the context, so sniff, metadata and thumbnail share one read of a small file or of a
/// big file's header.
pub(crate) async fn read_prefix(ctx: &mut StageContext<'_>, limit: u64) -> Result<Vec<u8>, StageError> {
    let want = ctx.file.size.min(limit);
    if want == 0 {
        return Ok(Vec::new());
    }
    let want_len = usize::try_from(want).unwrap_or(usize::MAX);
    if let Some(prefix) = &ctx.prefix
        && prefix.blob_key == ctx.file.blob_key
        && prefix.bytes.len() >= want_len
    {
        return Ok(prefix.bytes[..want_len].to_vec());
    }
    let read = want.max(ctx.file.size.min(PREFIX_BYTES));
    let bytes = read_start(ctx, read).await?;
    let out = bytes[..want_len.min(bytes.len())].to_vec();
    if read <= PREFIX_BYTES {
        ctx.prefix = Some(Prefix {
            blob_key: ctx.file.blob_key.clone(),
            bytes,
        });
    }
    Ok(out)
}

/// The first `want` bytes of the stored object, at most.
async fn read_start(ctx: &StageContext<'_>, want: u64) -> Result<Vec<u8>, StageError> {
    let range = ByteRange {
        start: 0,
        end: want - 1,
    };
    let mut stream = ctx.services.blobs.get(&ctx.file.blob_key, Some(range)).await?;
    let mut out = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| StageError::Retry(anyhow::Error::new(e).context("reading the stored bytes")))?
    {
        // Storage answering more than asked must not grow the buffer past the limit.
        let room = usize::try_from(want).unwrap_or(usize::MAX).saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() as u64 >= want {
            break;
        }
    }
    Ok(out)
}
