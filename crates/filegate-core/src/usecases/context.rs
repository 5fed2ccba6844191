//! What a use case may touch: one capability trait per engine (or group of engines) of
//! [`Services`], so that a signature names everything its use case can reach, and a reader
//! (or a reviewer of a change) sees from `cx: &(impl HasStore + HasAudit + HasClock)` that
//! it cannot send mail, read bytes or call a trigger — and the compiler keeps it so.
//!
//! Callers keep passing `&Services`, which provides every capability; a test may pass a
//! narrow context of its own that provides only what the use case names (see
//! `filegate-server/tests/api/narrow_context.rs`).
//!
//! One style everywhere: the context is the first parameter, `cx: &(impl HasA + HasB)`,
//! with the capabilities in the order of the fields of [`Services`]. An engine a use case
//! hands to another task (`passwords`, hashed on the blocking pool) comes as its `Arc`; the
//! others as a plain reference.
//!
//! Only the fields some use case outside the pipeline reads have a capability yet; the
//! pipeline's worker and stages (`usecases::pipeline`) take `&Services`: a worker runs every
//! stage, and between them they touch nearly every engine.

use std::borrow::Borrow;
use std::sync::Arc;

use super::downloads::DownloadCounter;
use super::notifications::Notifications;
use super::triggers::Triggers;
use super::{Services, Settings};
use crate::ports::{
    ArchiveStore, AuditLog, BlobStore, Clock, ExchangeStore, FilesByPath, JobQueue, Lookups, MetadataStore,
    PasswordHasher, Scanner, SearchIndex, SecretSealer, ShareStore,
};

/// Declares each capability trait and implements it for [`Services`] by handing out the
/// field of the same name (`Borrow`: what its `Arc` holds, or the `Arc` or field itself, as
/// the trait's return type says).
macro_rules! capabilities {
    ($($(#[$doc:meta])* pub trait $name:ident { fn $field:ident(&self) -> $ty:ty; })*) => {
        $(
            $(#[$doc])*
            pub trait $name {
                fn $field(&self) -> $ty;
            }

            impl $name for Services {
                fn $field(&self) -> $ty {
                    Borrow::borrow(&self.$field)
                }
            }
        )*
    };
}

capabilities! {
    /// Tenants, buckets, API keys and file records.
    pub trait HasStore { fn store(&self) -> &dyn MetadataStore; }
    /// The job queue, for work not tied to a state change (which goes through the outbox).
    pub trait HasQueue { fn queue(&self) -> &dyn JobQueue; }
    /// The stored bytes, and the URLs signed for them.
    pub trait HasBlobs { fn blobs(&self) -> &dyn BlobStore; }
    /// The append-only audit trail (`audit::record` needs [`HasClock`] too).
    pub trait HasAudit { fn audit(&self) -> &dyn AuditLog; }
    /// Webhooks and alert emails: their store, the outbound client, the mailer.
    pub trait HasNotifications { fn notifications(&self) -> &Notifications; }
    /// The rules an operator tunes.
    pub trait HasSettings { fn settings(&self) -> &Settings; }
    /// Downloads counted since the last flush.
    pub trait HasDownloads { fn downloads(&self) -> &DownloadCounter; }
    /// Exchange passphrases and file requests.
    pub trait HasExchange { fn exchange(&self) -> &dyn ExchangeStore; }
    /// Seals secrets kept at rest (passphrases, share tokens waiting for their email).
    pub trait HasSealer { fn sealer(&self) -> &dyn SecretSealer; }
    /// Share passwords: an `Arc`, because hashing runs on the blocking pool.
    pub trait HasPasswords { fn passwords(&self) -> &Arc<dyn PasswordHasher>; }
    /// Share links.
    pub trait HasShares { fn shares(&self) -> &dyn ShareStore; }
    /// Files by path, for the unsigned URLs of public buckets.
    pub trait HasPaths { fn paths(&self) -> &dyn FilesByPath; }
    /// What time it is: the one clock (tests move a `ManualClock`).
    pub trait HasClock { fn clock(&self) -> &dyn Clock; }
    /// The search index.
    pub trait HasSearch { fn search(&self) -> &dyn SearchIndex; }
    /// Zip bundle records and the file selections they are made from.
    pub trait HasArchives { fn archives(&self) -> &dyn ArchiveStore; }
    /// The configured triggers and the client that calls their targets.
    pub trait HasTriggers { fn triggers(&self) -> &Triggers; }
    /// Bucket policies, quotas and webhook lists as recently read.
    pub trait HasLookups { fn lookups(&self) -> &dyn Lookups; }
}

/// The virus scanner, when this deployment has one (which stages a bucket may ask for).
pub trait HasScanner {
    fn scanner(&self) -> Option<&dyn Scanner>;
}

impl HasScanner for Services {
    fn scanner(&self) -> Option<&dyn Scanner> {
        self.scanner.as_deref()
    }
}
