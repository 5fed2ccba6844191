//! The application layer: one function per thing a caller can do, and the processing
//! [`pipeline`] the workers run. Each use case checks the principal's permission, parses
//! nothing (the edge already did), applies the rules, and talks to the engines only
//! through the ports. The pipeline is part of this layer, not beneath it: a stage records
//! audit and outbox rows the way a use case does, and a use case (a bucket's policy, a
//! file request) names the stages; they share these helpers instead of importing across
//! a layer boundary.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::{
    ArchiveStore, AuditLog, BlobStore, Clock, EventSink, ExchangeStore, FilesByPath, JobQueue, Lookups, Media,
    MetadataStore, PassphraseDecryptor, PasswordHasher, Scanner, SearchIndex, SecretSealer, ShareStore, ZipWriter,
};

pub mod alerts;
pub mod api_keys;
pub mod archives;
pub mod audit;
pub mod buckets;
pub mod context;
pub mod dedup;
pub mod disposition;
pub mod downloads;
pub mod exchange;
pub mod files;
pub mod folders;
pub mod images;
pub mod notifications;
pub mod pipeline;
pub mod proxied;
pub mod public;
pub mod quotas;
pub mod requests;
pub mod search;
pub mod shares;
pub mod tenants;
pub mod thumbnails;
pub mod triggers;
pub mod tus;
pub mod uploads;
pub mod webhooks;

pub(crate) mod outbox;
pub(crate) mod verify;

/// The engines, behind their ports, and the tunables the rules depend on. Use cases ask
/// for the ones they use as capabilities ([`context`]); this provides every one of them.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn MetadataStore>,
    pub queue: Arc<dyn JobQueue>,
    pub blobs: Arc<dyn BlobStore>,
    /// Where delivered events go (the broker's exchange; logged when nothing subscribes).
    pub events: Arc<dyn EventSink>,
    /// The append-only audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Webhooks and alert emails: their store, the outbound client, the mailer.
    pub notifications: notifications::Notifications,
    /// The virus scanner (clamd), when one is configured. Buckets may ask for the `scan`
    /// stage only when it is.
    pub scanner: Option<Arc<dyn Scanner>>,
    /// What the bytes are: their sniffed type, an image's facts, its thumbnails.
    pub media: Arc<dyn Media>,
    pub settings: Arc<Settings>,
    /// Downloads counted since the last flush (`downloads::flush`).
    pub downloads: Arc<downloads::DownloadCounter>,
    /// Exchange passphrases and file requests (the hospital exchange), and the sealer that keeps the
    /// passphrases (and share tokens waiting for their email) encrypted at rest.
    pub exchange: Arc<dyn ExchangeStore>,
    pub sealer: Arc<dyn SecretSealer>,
    /// Opens the files clients encrypted with the exchange passphrase (the `decrypt` stage).
    pub decryptor: Arc<dyn PassphraseDecryptor>,
    /// Hashes share passwords and checks the attempts against them.
    pub passwords: Arc<dyn PasswordHasher>,
    /// Share links.
    pub shares: Arc<dyn ShareStore>,
    /// Files by path, for the unsigned URLs of public buckets.
    pub paths: Arc<dyn FilesByPath>,
    /// What time it is: the one clock of the use cases and the pipeline (tests move a
    /// `ManualClock` instead of sleeping).
    pub clock: Arc<dyn Clock>,
    /// The search index: finds and counts files; the database has the last word.
    pub search: Arc<dyn SearchIndex>,
    /// Zip bundle records and the file selections they are made from.
    pub archives: Arc<dyn ArchiveStore>,
    /// Writes the zip bundles.
    pub zip: Arc<dyn ZipWriter>,
    /// The configured triggers and the client that calls their targets.
    pub triggers: triggers::Triggers,
    /// Bucket policies, quotas and webhook lists as recently read (see `ports::Lookups`).
    pub lookups: Arc<dyn Lookups>,
    /// Turns for the jobs of this process that stream stored bytes (`workers.streams`; see
    /// `pipeline::streams`): each holds read buffers, and a scan holds a clamd connection,
    /// so they are bounded apart from the jobs in flight, most of which only wait.
    pub stream_turns: Arc<tokio::sync::Semaphore>,
}

/// Rules that an operator may tune, built from the server's config, which holds every
/// default (docs/configuration.md); the fixed ones are the constants below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long signed upload URLs stay valid and a pending file waits (1 h by default).
    pub upload_url_ttl: Duration,
    /// How long after `upload_expires_at` a pending upload is left alone before it expires
    /// and its bytes and parts are removed: an upload that started before its URL expired
    /// may still be streaming, and its client still has to complete it.
    pub upload_expiry_grace: Duration,
    /// How long signed download URLs stay valid.
    pub download_url_ttl: Duration,
    /// Uploads larger than this use multipart unless the client says otherwise (100 MiB by
    /// default).
    pub multipart_threshold: u64,
    /// The preferred part size; grown when a file would need more than `max_parts`.
    pub part_size: u64,
    pub max_parts: u32,
    /// How many part URLs a create-upload hands out at once; more on request.
    pub part_urls_per_request: u32,
    /// At most this many items in one batch call.
    pub max_batch: usize,
    /// Image types `POST /v1/images` accepts before the bucket adds its own.
    pub image_types: Vec<String>,
    /// The thumbnail sizes the pipeline renders (the longer side, in pixels).
    pub thumbnail_sizes: Vec<u32>,
    /// Limits on decoding an image for its thumbnails (decompression bombs).
    pub image_limits: crate::domain::ImageLimits,
    /// Largest stored image thumbnails are made from: it is read whole to be decoded.
    pub max_thumbnail_source: u64,
    /// The largest scrypt work factor (log2 N) the `decrypt` stage accepts in an age header:
    /// each unit doubles the CPU time and memory (18 = 256 MiB, what `age -p` writes), so a
    /// crafted header cannot make a worker spend minutes and gigabytes.
    pub max_scrypt_work_factor: u8,
    /// Share links: where they point, how long they live, how passwords are guarded.
    pub shares: shares::ShareSettings,
    /// `Cache-Control: public, max-age=…` of public buckets' unsigned URLs.
    pub public_max_age: Duration,
    /// The storage quota a new tenant starts with (`[quotas]`; unlimited by default).
    pub default_quota: crate::domain::Quota,
    /// How long a zip bundle is kept (and a request for one waits) before it is deleted.
    pub archive_ttl: Duration,
    /// Most files in one zip bundle.
    pub archive_max_files: u32,
    /// Most bytes of files in one zip bundle (the zip adds a little).
    pub archive_max_bytes: u64,
}

/// How many part URLs a create-upload hands out at once; more on request.
pub const PART_URLS_PER_REQUEST: u32 = 1000;
/// At most this many items in one batch call.
pub const MAX_BATCH: usize = 1000;
/// Image types `POST /v1/images` accepts before the bucket adds its own.
pub const IMAGE_TYPES: [&str; 3] = ["image/gif", "image/png", "image/jpeg"];

/// `chrono` duration from a std one, saturating instead of panicking on absurd values.
pub(crate) fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
