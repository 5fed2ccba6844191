//! The processing pipeline: typed jobs, the stages a bucket runs, the worker that claims
//! jobs, and the sweeper that expires and purges.
//!
//! A stage is one idempotent step over a file (verify, hash, and later decrypt, scan,
//! sniff, metadata, thumbnail, index). New stages slot into [`registry`]; a bucket's
//! policy names which ones run, in pipeline order.

mod archive;
mod dispatch;
pub mod notify;
mod process;
mod ready;
mod remove;
pub mod stages;
mod streams;
mod sweep;
mod worker;
pub mod zip;

pub use process::process_file;
pub use stages::{Halt, Stage, StageContext, StageError};
pub use sweep::sweep;
pub use worker::{JobOutcome, Worker, WorkerSettings, backoff};

use crate::error::{Error, ErrorCode, Result};
use crate::usecases::context::HasScanner;

/// The stages this build can run, in pipeline order.
pub fn registry() -> Vec<Box<dyn Stage>> {
    vec![
        Box::new(stages::verify::Verify),
        Box::new(stages::decrypt::Decrypt),
        Box::new(stages::hash::Hash),
        Box::new(stages::scan::Scan),
        Box::new(stages::sniff::Sniff),
        Box::new(stages::metadata::Metadata),
        Box::new(stages::thumbnail::Thumbnail),
        Box::new(stages::index::Index),
    ]
}

/// The stages a new bucket runs: everything cheap and useful by default, and the virus scan
/// whenever this deployment has a scanner (a gateway with clamd configured should not hand
/// out unscanned files because an admin forgot a policy field). Buckets made before a
/// scanner was configured keep their stages; an admin adds `scan` to them.
/// Named explicitly (not "the whole registry"): a stage that only makes sense for some
/// buckets (`decrypt`) must be chosen, and `index` waits for search.
pub fn default_stages(cx: &impl HasScanner) -> Vec<String> {
    ["verify", "hash", "scan", "sniff", "metadata", "thumbnail"]
        .into_iter()
        .filter(|name| *name != "scan" || cx.scanner().is_some())
        .map(str::to_owned)
        .collect()
}

/// Refuses a policy naming a stage this deployment cannot run (`scan` without a scanner):
/// a stage that is asked for is never skipped silently.
pub fn check_stages(names: &[String], cx: &impl HasScanner) -> Result<()> {
    let available: Vec<&'static str> = registry()
        .iter()
        .filter(|s| s.available(cx))
        .map(|s| s.name())
        .collect();
    match names.iter().find(|n| !available.contains(&n.as_str())) {
        Some(missing) => Err(Error::invalid(
            ErrorCode::StageUnavailable,
            format!(
                "stage {missing:?} is not available in this build (available: {})",
                available.join(", ")
            ),
        )),
        None => Ok(()),
    }
}
