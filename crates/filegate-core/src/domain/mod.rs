//! Domain types. Everything from outside becomes one of these at the edge.

mod audit;
mod bucket;
mod checksum;
mod content_type;
mod email;
mod event;
mod exchange;
mod file;
mod ids;
mod listing;
mod metadata;
mod path;
mod principal;
mod range;
mod request;
mod status;
mod tenant;
mod webhook;

pub use audit::{AuditAction, AuditQuery, AuditRecord, MAX_AUDIT_PAGE};
pub use bucket::*;
pub use checksum::{ETag, Sha256Hex};
pub use content_type::ContentType;
pub use email::EmailAddress;
pub use event::FileEvent;
pub use exchange::*;
pub use file::*;
pub use ids::*;
pub use listing::*;
pub use metadata::Metadata;
pub use path::{FileName, ObjectPath, parse_prefix};
pub use principal::{Origin, Permission, Principal, Role};
pub use range::ByteRange;
pub use request::*;
pub use status::FileStatus;
pub use tenant::*;
pub use webhook::*;
