//! `BlobStore`: where the bytes live (a local directory, or an S3-compatible store).

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;

use crate::domain::{ByteRange, ContentType, ETag, Sha256Hex};
use crate::error::StoreError;

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What storage reports about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub etag: ETag,
    /// The SHA-256 of the object's bytes when the store vouches for it: it computed the
    /// digest over exactly these bytes as they were stored (the local store while writing
    /// them; an S3 store that checked a signed `x-amz-checksum-sha256` and reports it as a
    /// whole-object checksum). `None` when it cannot say: the bytes are then read back.
    pub sha256: Option<Sha256Hex>,
}

/// What a signed upload pins: the exact size and the content type, and the bytes' SHA-256
/// when the client declared one (a store that can refuses other bytes outright).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadConstraints {
    pub size: u64,
    pub content_type: ContentType,
    pub sha256: Option<Sha256Hex>,
}

/// A request the client makes directly to storage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedRequest {
    pub method: String,
    pub url: String,
    /// Headers the client must send (PUT).
    pub headers: BTreeMap<String, String>,
    /// Form fields the client must send before the `file` field (POST form).
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Disposition {
    Inline,
    #[default]
    Attachment,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Attachment => "attachment",
        }
    }

    /// The `Content-Disposition` value for `filename` (RFC 6266):
    /// `attachment; filename="plain ascii"; filename*=UTF-8''exact%20name`. Old clients get a
    /// harmless ASCII name, new ones the exact one, and no name can break out of the header.
    /// Every download answers with this, whether filegate or the object store serves it.
    pub fn header_value(self, filename: &str) -> String {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        /// RFC 5987 `attr-char`: everything else is percent-encoded in `filename*`.
        const ATTR: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'!')
            .remove(b'#')
            .remove(b'$')
            .remove(b'&')
            .remove(b'+')
            .remove(b'-')
            .remove(b'.')
            .remove(b'^')
            .remove(b'_')
            .remove(b'`')
            .remove(b'|')
            .remove(b'~');
        let fallback: String = filename
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{}; filename=\"{fallback}\"; filename*=UTF-8''{}",
            self.as_str(),
            utf8_percent_encode(filename, ATTR)
        )
    }
}

/// How a signed download should be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    pub disposition: Disposition,
    pub filename: String,
    pub content_type: ContentType,
}

/// Where an appending upload (tus) stands in storage: what a store needs to go on, kept by
/// the caller (in the file's row) between requests, so any gateway can go on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Appending {
    /// The store's upload (a multipart upload's id).
    pub upload_id: String,
    /// Bytes stored and durable.
    pub offset: u64,
    /// The store's own state beyond the offset (S3: the part size, the parts' etags, which
    /// tail slot holds the bytes past them); `null` for a store that needs none.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub engine: serde_json::Value,
}

/// What one [`BlobStore::append`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The state after the append: durable, but only what the caller records counts (the
    /// next append starts from the state it is given, whatever else was written).
    pub state: Appending,
    /// The body broke off (the client went away): `state` holds what arrived before.
    pub broke: Option<String>,
}

/// What an append may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendLimits {
    /// The offset the bytes must not pass: `TooLarge(max_offset)` as soon as one would
    /// (then nothing of the body is in the returned state, as there is none).
    pub max_offset: u64,
    /// The upload's length when known: an append that reaches it stored the last byte (S3
    /// sends what is left as the last part instead of keeping a tail).
    pub length: Option<u64>,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Cheap check for `/readyz` (the directory is writable, the bucket answers).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Streams `body` into `key`. The object appears whole or not at all. Fails with
    /// `TooLarge` as soon as more than `max_size` bytes arrive, and `Input` when the body
    /// stream breaks; nothing is stored in either case.
    async fn put(&self, key: &str, body: ByteStream, max_size: u64) -> Result<BlobMeta, StoreError>;
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, StoreError>;
    /// The bytes of `key`, or of `range` within it. `NotFound` when absent.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<ByteStream, StoreError>;
    /// Idempotent: deleting an absent key succeeds.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    fn presign_put(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError>;
    /// A browser form POST; the file must be the last field, named `file`. Its bytes count
    /// only once [`adopt_form_upload`](Self::adopt_form_upload) made them the object at `key`.
    fn presign_post(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError>;
    fn presign_get(&self, key: &str, o: &DownloadOptions, expires_at: DateTime<Utc>) -> Result<String, StoreError>;

    /// Starts a multipart upload and returns its id.
    async fn create_multipart(&self, key: &str, content_type: &ContentType) -> Result<String, StoreError>;
    /// A signed PUT URL for one part (numbers start at 1).
    fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<String, StoreError>;
    /// Assembles the parts, in the given order, into `key`. `Conflict` when a part is missing
    /// or its etag differs; `NotFound` when the upload does not exist.
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, ETag)],
    ) -> Result<BlobMeta, StoreError>;
    /// Frees the parts. Idempotent.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError>;

    /// Starts an appending upload (tus) for `key`: bytes arrive in order, over many calls.
    /// `part_size` is the size of the pieces a store that sends parts cuts them into (at
    /// least S3's 5 MiB); a store that appends to a file ignores it.
    async fn begin_append(
        &self,
        key: &str,
        content_type: &ContentType,
        part_size: u64,
    ) -> Result<Appending, StoreError>;
    /// Appends `body` at `from.offset`, dropping whatever an earlier append left past it, and
    /// answers the new state once it is durable. `Conflict` when another append to the
    /// upload is running; `NotFound` when the upload is gone; `TooLarge` past the limits.
    async fn append(
        &self,
        key: &str,
        from: &Appending,
        body: ByteStream,
        limits: AppendLimits,
    ) -> Result<Appended, StoreError>;
    /// Makes the appended bytes the object at `key` (once: an object already there is
    /// answered as it is) and frees the upload.
    async fn finish_append(&self, key: &str, at: &Appending) -> Result<BlobMeta, StoreError>;
    /// Fills the appending upload `into` of `key` (begun, nothing appended yet) with the
    /// bytes of the finished appending uploads `sources` (`(key, state)`, each `offset`
    /// bytes long), in order, and answers its state: [`finish_append`](Self::finish_append)
    /// then makes them the object (tus concatenation). The sources keep their bytes until
    /// they are freed ([`abort_append`](Self::abort_append), and `delete` of their key: a
    /// store may make a source its object on the way). `NotFound` when a source is gone.
    async fn concat_append(
        &self,
        key: &str,
        into: &Appending,
        sources: &[(String, Appending)],
    ) -> Result<Appending, StoreError>;
    /// Frees an appending upload and anything it keeps beside the object. Idempotent.
    async fn abort_append(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.abort_multipart(key, upload_id).await
    }

    /// Makes what a form from [`presign_post`](Self::presign_post) brought the object at
    /// `key`, for good, and answers it (`None`: nothing arrived). Once this answered, a form
    /// still valid can post again without changing the object: `complete` verifies these
    /// bytes, and they are the ones served. A store that refuses a second post itself (the
    /// local one, which stores a form's bytes once) has nothing to do: the default.
    async fn adopt_form_upload(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        self.head(key).await
    }
    /// Frees whatever form posts to `key` left beside the object (a post that came after
    /// [`adopt_form_upload`](Self::adopt_form_upload)). Idempotent.
    async fn discard_form_upload(&self, key: &str) -> Result<(), StoreError> {
        let _ = key;
        Ok(())
    }
}
