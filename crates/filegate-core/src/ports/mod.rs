//! The ports: narrow traits each engine implements, held as `Arc<dyn …>`.

pub mod audit;
pub mod blobs;
pub mod cache;
pub mod events;
pub mod exchange;
pub mod metadata;
pub mod queue;

pub use audit::AuditLog;
pub use blobs::*;
pub use cache::*;
pub use events::{EventSink, LogSink};
pub use exchange::ExchangeStore;
pub use metadata::MetadataStore;
pub use queue::*;
