//! `LocalBlobStore`: objects as plain files under a root directory.
//!
//! ```text
//! root/objects/<key>          the bytes, exactly as uploaded
//! root/objects/<key>~etag     the etag (see `sidecar`)
//! root/multipart/<upload id>/ an unfinished multipart upload (see `multipart`)
//! root/tmp/<instance>/        temp files, swept when a store opens (see `scratch`)
//! ```
//!
//! All of it must be one filesystem: objects appear by `rename` out of `tmp`. Keys are
//! paths, so a key cannot also be the directory of a longer key (`a` and `a/b`); filegate's
//! keys (`t/<tenant>/<uuid>`) never collide that way.

mod append;
mod dir_sync;
mod etag;
mod etag_xattr;
mod modes;
mod multipart;
mod read;
mod scratch;
mod sidecar;
mod write;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{ByteRange, ContentType, ETag};
use filegate_core::ports::{
    AppendLimits, Appended, Appending, BlobMeta, BlobStore, ByteStream, DownloadOptions, SignedRequest,
    UploadConstraints,
};
use url::Url;

use self::scratch::Scratch;
use self::sidecar::Sidecar;
use self::write::{Limits, Placement, blocking, commit_error, io_error};
use crate::key;
use crate::signing::UrlSigner;

#[derive(Debug)]
pub struct LocalBlobStore {
    objects: PathBuf,
    multipart: PathBuf,
    scratch: Scratch,
    signer: UrlSigner,
    base_url: Url,
}

impl LocalBlobStore {
    /// Opens (creating if needed) the store under `root` and sweeps the temp files a crash
    /// left. Signed URLs point at `public_base_url`, where filegate serves
    /// [`OBJECT_ROUTE`](crate::OBJECT_ROUTE) and [`FORM_ROUTE`](crate::FORM_ROUTE).
    pub fn open(root: PathBuf, signer: UrlSigner, public_base_url: Url) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        anyhow::ensure!(
            matches!(public_base_url.scheme(), "http" | "https") && !public_base_url.cannot_be_a_base(),
            "the public base URL must be an http(s) URL, got {public_base_url}"
        );
        let (objects, multipart, tmp) = (root.join("objects"), root.join("multipart"), root.join("tmp"));
        for dir in [&objects, &multipart, &tmp] {
            modes::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let scratch = Scratch::open(&tmp).with_context(|| format!("preparing {}", tmp.display()))?;
        Ok(Self {
            objects,
            multipart,
            scratch,
            signer,
            base_url: public_base_url,
        })
    }

    /// The signer the HTTP layer verifies this store's URLs with.
    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// This instance's temp directory (inside `root/tmp`).
    pub fn scratch_dir(&self) -> &Path {
        self.scratch.dir()
    }

    /// [`BlobStore::put`], and with `exact_size` the body must also be exactly that long
    /// (a signed upload pins its size): more is `TooLarge(exact)`, fewer is `Input`.
    /// Nothing is stored unless the whole body arrived and fits.
    pub async fn put_with_limits(
        &self,
        key: &str,
        body: ByteStream,
        max_size: u64,
        exact_size: Option<u64>,
    ) -> Result<BlobMeta, StoreError> {
        self.store(key, body, max_size, exact_size, Placement::Replace).await
    }

    /// A signed single upload: exactly `size` bytes, stored only if no object is at `key`
    /// yet. `Conflict` when one is, decided at the rename itself: of two uploads to one URL
    /// the first to finish is kept, and a late one cannot replace bytes that `complete`
    /// verified, however long it was held open.
    pub async fn put_once(&self, key: &str, body: ByteStream, size: u64) -> Result<BlobMeta, StoreError> {
        self.store(key, body, size, Some(size), Placement::CreateOnce).await
    }

    async fn store(
        &self,
        key: &str,
        body: ByteStream,
        max_size: u64,
        exact_size: Option<u64>,
        placement: Placement,
    ) -> Result<BlobMeta, StoreError> {
        let dest = self.object_path(key)?;
        let limits = Limits {
            max: max_size,
            exact: exact_size,
        };
        let (scratch, objects, key) = (self.scratch.dir().to_owned(), self.objects.clone(), key.to_owned());
        write::receive_then(self.scratch.dir(), body, limits, move |received| {
            let etag = etag::of_object(&received.digest);
            let (temp, file) = (received.temp, received.file);
            let kept = write::stamp(&file, &etag, sidecar::Durability::Rebuildable)
                .map_err(|e| io_error("stamp an etag", e))?;
            file.sync_all().map_err(|e| io_error("fsync a temp file", e))?;
            drop(file);
            write::commit(temp, &scratch, &objects, &dest, &etag, kept, placement)
                .map_err(|e| commit_error(e, &key))?;
            Ok(BlobMeta {
                size: received.size,
                sha256: etag::sha256_of(&etag),
                etag: ETag::new_unchecked(etag),
            })
        })
        .await
    }

    /// `root/objects/<key>`, for a valid key only.
    fn object_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        key::validate(key).map_err(|e| StoreError::Input(e.to_string()))?;
        Ok(self.objects.join(key))
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let probe = write::TempPath::new_in(self.scratch.dir(), "ping");
        let unavailable =
            |e: std::io::Error| StoreError::Unavailable(anyhow::Error::new(e).context("local blob store"));
        // Inside this instance's 0700 directory: no need for a mode of its own.
        tokio::fs::write(probe.path(), b"ping").await.map_err(unavailable)?;
        tokio::fs::remove_file(probe.path()).await.map_err(unavailable)?;
        probe.disarm();
        Ok(())
    }

    async fn put(&self, key: &str, body: ByteStream, max_size: u64) -> Result<BlobMeta, StoreError> {
        self.put_with_limits(key, body, max_size, None).await
    }

    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        let (path, scratch) = (self.object_path(key)?, self.scratch.dir().to_owned());
        let found =
            blocking(move || Sidecar::etag_of(&path, &scratch).map_err(|e| io_error("read an etag", e))).await?;
        // The etag of an object stored whole is the SHA-256 this store computed while
        // writing it (or, after a crash, rebuilt from the bytes): `complete` need not read
        // the bytes back to check a declared sha256.
        Ok(found.map(|(size, etag)| BlobMeta {
            size,
            sha256: etag::sha256_of(&etag),
            etag: ETag::new_unchecked(etag),
        }))
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
        read::open(self.object_path(key)?, range).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.object_path(key)?;
        // The object first: once it is gone, a leftover sidecar is never read.
        for path in [Sidecar::path_for(&path), path].into_iter().rev() {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                // A directory is no object (it holds longer keys): nothing to delete.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                    ) => {}
                Err(e) => return Err(io_error("delete an object", e)),
            }
        }
        Ok(())
    }

    fn presign_put(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError> {
        self.object_path(key)?;
        let url = self.signer.put_url(&self.base_url, key, c, expires_at);
        Ok(SignedRequest {
            method: "PUT".into(),
            url: url.into(),
            headers: [("content-type".to_owned(), c.content_type.to_string())].into(),
            fields: Default::default(),
        })
    }

    fn presign_post(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError> {
        self.object_path(key)?;
        let (url, fields) = self.signer.form(&self.base_url, key, c, expires_at);
        Ok(SignedRequest {
            method: "POST".into(),
            url: url.into(),
            headers: Default::default(),
            fields,
        })
    }

    fn presign_get(&self, key: &str, o: &DownloadOptions, expires_at: DateTime<Utc>) -> Result<String, StoreError> {
        self.object_path(key)?;
        Ok(self.signer.get_url(&self.base_url, key, o, expires_at).into())
    }

    async fn create_multipart(&self, key: &str, _content_type: &ContentType) -> Result<String, StoreError> {
        // The content type is the caller's to serve; local objects do not keep one.
        self.create_upload(key).await
    }

    fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        self.object_path(key)?;
        key::validate_upload_id(upload_id).map_err(|e| StoreError::Input(e.to_string()))?;
        multipart::check_part_number(part)?;
        Ok(self
            .signer
            .part_url(&self.base_url, key, upload_id, part, expires_at)
            .into())
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, ETag)],
    ) -> Result<BlobMeta, StoreError> {
        self.complete_upload(key, upload_id, parts).await
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.abort_upload(key, upload_id).await
    }

    async fn begin_append(
        &self,
        key: &str,
        _content_type: &ContentType,
        _part_size: u64,
    ) -> Result<Appending, StoreError> {
        self.begin_appending(key).await
    }

    async fn append(
        &self,
        key: &str,
        from: &Appending,
        body: ByteStream,
        limits: AppendLimits,
    ) -> Result<Appended, StoreError> {
        self.append_body(key, from, body, limits).await
    }

    async fn concat_append(
        &self,
        key: &str,
        into: &Appending,
        sources: &[(String, Appending)],
    ) -> Result<Appending, StoreError> {
        self.concat_appending(key, into, sources).await
    }

    async fn finish_append(&self, key: &str, at: &Appending) -> Result<BlobMeta, StoreError> {
        self.finish_appending(key, at).await
    }
}
