//! filegate's [`BlobStore`](filegate_core::ports::BlobStore) engines: where the bytes live.
//!
//! - [`LocalBlobStore`]: a local directory. Objects appear whole or not at all (temp file,
//!   fsync, rename, fsync of the directory); its signed URLs are served by filegate itself
//!   and checked with [`UrlSigner::verify`] / [`UrlSigner::verify_form`].
//!
//! Every key is checked by [`key::validate`] before it reaches a filesystem path or a URL.

pub mod key;
pub mod local;
pub mod signing;

pub use local::LocalBlobStore;
pub use signing::{FORM_ROUTE, Grant, GrantKind, OBJECT_ROUTE, UrlSigner};
