//! One module per stage.

use async_trait::async_trait;

use crate::domain::FileRecord;
use crate::usecases::Services;

pub mod decrypt;
pub mod hash;
pub mod verify;

/// The file as it moves through the stages; each stage reads and updates it. The pipeline
/// writes it back once every stage has run.
pub struct StageContext<'a> {
    pub services: &'a Services,
    pub file: FileRecord,
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
    /// Runs the stage. Must be idempotent: a job can run twice, or be cut off anywhere.
    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError>;
}
