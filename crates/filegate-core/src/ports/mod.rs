//! The ports: narrow traits each engine implements, held as `Arc<dyn …>`.

pub mod blobs;
pub mod metadata;
pub mod queue;

pub use blobs::*;
pub use metadata::MetadataStore;
pub use queue::*;
