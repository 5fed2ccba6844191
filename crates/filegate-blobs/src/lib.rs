//! filegate's [`BlobStore`](filegate_core::ports::BlobStore) engines: where the bytes live.
//!
//! - [`LocalBlobStore`]: a local directory. Objects appear whole or not at all (temp file,
//!   fsync, rename, fsync of the directory); its signed URLs are served by filegate itself
//!   and checked with [`UrlSigner::verify`] / [`UrlSigner::verify_form`].
//! - [`S3BlobStore`]: a bucket of an S3-compatible store, configured by an
//!   `s3://bucket?endpoint=…` URL ([`S3Config`]); its signed URLs are the store's own
//!   presigned URLs (SigV4), so clients talk to the store directly.
//!
//! Every key is checked by [`key::validate`] before it reaches a filesystem path or a URL.

pub mod key;
pub mod local;
pub mod s3;
pub mod signing;

pub use local::LocalBlobStore;
pub use s3::{S3BlobStore, S3Config};
pub use signing::{FORM_ROUTE, Grant, GrantKind, OBJECT_ROUTE, UrlSigner};
