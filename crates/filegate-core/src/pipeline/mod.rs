//! The processing pipeline: typed jobs, the stages a bucket runs, the worker that claims
//! jobs, and the sweeper that expires and purges.
//!
//! A stage is one idempotent step over a file (verify, hash, and later decrypt, scan,
//! sniff, metadata, thumbnail, index). New stages slot into [`registry`]; a bucket's
//! policy names which ones run, in pipeline order.

mod process;
mod ready;
pub mod stages;
mod sweep;
mod worker;

pub use process::process_file;
pub use stages::{Stage, StageContext, StageError};
pub use sweep::sweep;
pub use worker::{JobOutcome, Worker, WorkerSettings, backoff};

use crate::error::{Error, Result};

/// The stages this build can run, in pipeline order.
pub fn registry() -> Vec<Box<dyn Stage>> {
    vec![
        Box::new(stages::verify::Verify),
        Box::new(stages::decrypt::Decrypt),
        Box::new(stages::hash::Hash),
    ]
}

/// Refuses a policy naming a stage this build cannot run: a stage that is asked for is never
/// skipped silently.
pub fn check_stages(names: &[String]) -> Result<()> {
    let available: Vec<&'static str> = registry().iter().map(|s| s.name()).collect();
    match names.iter().find(|n| !available.contains(&n.as_str())) {
        Some(missing) => Err(Error::invalid(
            "stage-unavailable",
            format!(
                "stage {missing:?} is not available in this build (available: {})",
                available.join(", ")
            ),
        )),
        None => Ok(()),
    }
}
