//! The ports: narrow traits each engine implements, held as `Arc<dyn …>`.

pub mod archives;
pub mod audit;
pub mod blobs;
pub mod cache;
pub mod clock;
pub mod events;
pub mod exchange;
pub mod mailer;
pub mod metadata;
pub mod notifications;
pub mod queue;
pub mod scanner;
pub mod shares;
pub mod triggers;

pub use archives::ArchiveStore;
pub use audit::AuditLog;
pub use blobs::*;
pub use cache::*;
pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{EventSink, LogSink};
pub use exchange::ExchangeStore;
pub use mailer::{Email, LogMailer, MailError, Mailer};
pub use metadata::MetadataStore;
pub use notifications::*;
pub use queue::*;
pub use scanner::{ScanError, ScanVerdict, Scanner};
pub use shares::{FilesByPath, ShareStore};
pub use triggers::{TriggerCaller, TriggerResponse};
