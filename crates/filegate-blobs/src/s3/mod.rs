//! `S3BlobStore`: objects in a bucket of an S3-compatible store (AWS S3, MinIO, Garage,
//! Ceph RGW, Cloudflare R2, ...).
//!
//! rusty-s3 builds and signs the requests (SigV4, as presigned URLs, so our own calls and
//! the ones handed to clients are signed the same way); reqwest sends them. Clients upload
//! and download straight to and from the store with presigned URLs: a `PUT` pinned to one
//! size and content type, a browser form `POST` with a signed policy, one `PUT` per part of
//! a multipart upload, and a `GET` that answers with the download's Content-Disposition.
//!
//! - [`config`]: the `s3://bucket?...` URL and the environment variables.
//! - `presign`, `post_policy`: what clients get.
//! - `upload`, `multipart`: filegate's own streaming `put`, and multipart uploads.
//! - `append`: appending uploads (tus), a multipart upload plus a small tail object.
//! - `concat`: tus concatenation, partial uploads copied into a final one (`UploadPartCopy`).
//! - `form_upload`: a form's bytes land beside the file's key until `complete` adopts them.
//! - `errors`: S3 answers → [`StoreError`].

mod append;
mod concat;
pub mod config;
mod errors;
mod form_upload;
mod multipart;
pub mod post_policy;
mod presign;
mod upload;
mod xml;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::domain::{ByteRange, ContentType, ETag};
use filegate_core::ports::{
    AppendLimits, Appended, Appending, BlobMeta, BlobStore, ByteStream, DownloadOptions, SignedRequest,
    UploadConstraints,
};
use futures::TryStreamExt as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderValue, RANGE};
use rusty_s3::S3Action;
use rusty_s3::actions::{DeleteObjectsResponse, ObjectIdentifier};
use url::Url;

pub use self::config::S3Config;
use self::errors::{Failure, read_bounded, transport};
use self::presign::{CHECKSUM_MODE, check_key, vouched_sha256};
pub use self::presign::{MAX_VALIDITY, content_disposition};
pub use self::upload::PART_SIZE;

/// How long the URLs of filegate's own requests are valid: enough for a part to get going
/// on a slow link. S3 checks the expiry when a request starts.
const INTERNAL_VALIDITY: Duration = Duration::from_secs(15 * 60);
/// The longest a `ping` waits.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// DeleteObjects takes at most this many keys a call.
pub const DELETE_BATCH: usize = 1000;

/// The bucket of an S3-compatible store.
#[derive(Clone)]
pub struct S3BlobStore {
    bucket: rusty_s3::Bucket,
    credentials: rusty_s3::Credentials,
    client: reqwest::Client,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket_url", &self.bucket.base_url().as_str())
            .field("region", &self.bucket.region())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// A store for `config`, with an HTTP client that gives up connecting after 10 s, and
    /// waiting after 120 s: for an answer (including the time to send a request's body, so
    /// the link to S3 must carry a part, 8 MiB, in that time) or for the next bytes of one.
    /// Then the store is `Unavailable`.
    pub fn new(config: S3Config) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()?;
        Self::with_client(config, client)
    }

    /// A store for `config` that sends its requests with `client` (proxies, DNS overrides,
    /// timeouts of your own).
    pub fn with_client(config: S3Config, client: reqwest::Client) -> anyhow::Result<Self> {
        Ok(Self {
            bucket: config.bucket()?,
            credentials: rusty_s3::Credentials::new(config.access_key, config.secret_key),
            client,
        })
    }

    /// [`S3Config::from_url`], then [`new`](Self::new).
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        Self::new(S3Config::from_url(url)?)
    }

    /// The bucket's URL, where browser forms are posted (path or virtual-host style).
    pub fn bucket_url(&self) -> &Url {
        self.bucket.base_url()
    }

    /// Deletes `keys` with DeleteObjects, [`DELETE_BATCH`] keys a call. Absent keys are
    /// fine; any key the store could not delete fails the call (after all batches ran).
    pub async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            check_key(key)?;
        }
        let mut refused = Vec::new();
        for batch in keys.chunks(DELETE_BATCH) {
            let objects: Vec<ObjectIdentifier> = batch.iter().cloned().map(ObjectIdentifier::new).collect();
            let mut action = self.bucket.delete_objects(Some(&self.credentials), objects.iter());
            action.set_quiet(true);
            let url = self.internal(&action);
            let (body, md5) = action.body_with_md5();
            let request = self
                .client
                .post(url)
                .header("content-md5", md5)
                .header(reqwest::header::CONTENT_TYPE, "application/xml")
                .body(body);
            let resp = self.send(request, "delete objects").await?;
            if !resp.status().is_success() {
                return Err(Failure::read(resp).await.into_error("delete objects"));
            }
            let answer = read_bounded(resp, 4 * 1024 * 1024).await;
            let result = DeleteObjectsResponse::parse(&answer).map_err(|e| {
                StoreError::Other(anyhow::anyhow!(
                    "S3 answered DeleteObjects with something unexpected: {e}"
                ))
            })?;
            refused.extend(
                result
                    .errors
                    .into_iter()
                    .filter(|e| e.code != "NoSuchKey")
                    .map(|e| format!("{}: {} {}", e.key, e.code, e.message)),
            );
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Other(anyhow::anyhow!(
                "S3 did not delete {} of {} keys, e.g. {}",
                refused.len(),
                keys.len(),
                refused[0]
            )))
        }
    }

    /// A URL for one of filegate's own requests.
    fn internal<'a>(&self, action: &impl S3Action<'a>) -> Url {
        action.sign(INTERNAL_VALIDITY)
    }

    async fn send(&self, request: reqwest::RequestBuilder, doing: &str) -> Result<reqwest::Response, StoreError> {
        request.send().await.map_err(|e| transport(doing, e))
    }

    async fn ping_bucket(&self) -> Result<(), StoreError> {
        let url = self.internal(&self.bucket.head_bucket(Some(&self.credentials)));
        // Quick, for `/readyz`: a store that takes longer is as good as down.
        let request = self.client.head(url).timeout(PING_TIMEOUT);
        let resp = self.send(request, "check the bucket").await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(StoreError::Other(anyhow::anyhow!(
                "S3 bucket {} does not exist at {}",
                self.bucket.name(),
                self.bucket.base_url()
            ))),
            _ => Err(Failure::read(resp).await.into_error("check the bucket")),
        }
    }

    /// Deletes one object; an absent one is fine.
    async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        let url = self.internal(&self.bucket.delete_object(Some(&self.credentials), key));
        let resp = self.send(self.client.delete(url), "delete an object").await?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(Failure::read(resp).await.into_error("delete an object"))
    }

    async fn head_object(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        check_key(key)?;
        let mut action = self.bucket.head_object(Some(&self.credentials), key);
        action.headers_mut().insert(CHECKSUM_MODE.0, CHECKSUM_MODE.1);
        let request = self
            .client
            .head(self.internal(&action))
            .header(CHECKSUM_MODE.0, CHECKSUM_MODE.1);
        let resp = self.send(request, "head an object").await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let size = resp
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| StoreError::Other(anyhow::anyhow!("S3 HEAD answered without a Content-Length")))?;
                let etag = etag_from(resp.headers().get(ETAG), "HeadObject")?;
                let sha256 = vouched_sha256(resp.headers());
                Ok(Some(BlobMeta { size, etag, sha256 }))
            }
            _ => Err(Failure::read(resp).await.into_error("head an object")),
        }
    }

    async fn get_object(&self, key: &str, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
        check_key(key)?;
        let url = self.internal(&self.bucket.get_object(Some(&self.credentials), key));
        let mut request = self.client.get(url);
        if let Some(r) = range {
            if r.start > r.end {
                return Err(StoreError::Input(format!("range {}-{} is empty", r.start, r.end)));
            }
            request = request.header(RANGE, format!("bytes={}-{}", r.start, r.end));
        }
        let resp = self.send(request, "get an object").await?;
        match (resp.status(), range) {
            (StatusCode::OK, None) => {}
            (StatusCode::PARTIAL_CONTENT, Some(r)) => check_content_range(resp.headers().get(CONTENT_RANGE), r)?,
            (StatusCode::OK, Some(_)) => {
                return Err(StoreError::Other(anyhow::anyhow!("S3 ignored the Range of a GET")));
            }
            (StatusCode::RANGE_NOT_SATISFIABLE, Some(r)) => {
                return Err(StoreError::Input(format!(
                    "range {}-{} is outside the object",
                    r.start, r.end
                )));
            }
            _ => return Err(Failure::read(resp).await.into_error("get an object")),
        }
        Ok(Box::pin(resp.bytes_stream().map_err(std::io::Error::other)))
    }
}

/// S3 shortens a range that runs past the end; filegate's contract refuses it instead.
fn check_content_range(header: Option<&HeaderValue>, r: ByteRange) -> Result<(), StoreError> {
    let parsed = header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split_once('/'))
        .and_then(|(span, total)| {
            let (start, end) = span.split_once('-')?;
            Some((start.parse::<u64>().ok()?, end.parse::<u64>().ok()?, total.to_owned()))
        });
    match parsed {
        Some((start, end, _)) if (start, end) == (r.start, r.end) => Ok(()),
        Some((_, _, total)) => Err(StoreError::Input(format!(
            "range {}-{} is outside the object's {total} bytes",
            r.start, r.end
        ))),
        None => Err(StoreError::Other(anyhow::anyhow!(
            "S3 answered a ranged GET without a usable Content-Range"
        ))),
    }
}

/// The etag of an answer, without quotes.
fn etag_from(value: Option<&HeaderValue>, action: &str) -> Result<ETag, StoreError> {
    let raw = value
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("S3 answered {action} without an ETag")))?;
    ETag::parse(raw).map_err(|_| StoreError::Other(anyhow::anyhow!("S3 answered {action} with an odd ETag {raw:?}")))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    /// A `HEAD` on the bucket.
    async fn ping(&self) -> Result<(), StoreError> {
        self.ping_bucket().await
    }

    async fn put(&self, key: &str, body: ByteStream, max_size: u64) -> Result<BlobMeta, StoreError> {
        self.put_stream(key, body, max_size).await
    }

    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        self.head_object(key).await
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
        self.get_object(key, range).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        self.delete_object(key).await
    }

    fn presign_put(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError> {
        self.presign_put_at(key, c, expires_at, Utc::now())
    }

    fn presign_post(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError> {
        self.presign_post_at(key, c, expires_at, Utc::now())
    }

    fn presign_get(&self, key: &str, o: &DownloadOptions, expires_at: DateTime<Utc>) -> Result<String, StoreError> {
        self.presign_get_at(key, o, expires_at, Utc::now())
    }

    async fn create_multipart(&self, key: &str, content_type: &ContentType) -> Result<String, StoreError> {
        self.create_upload(key, content_type).await
    }

    fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u32,
        expires_at: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        Ok(self
            .presign_part_at(key, upload_id, part, expires_at, Utc::now())?
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
        content_type: &ContentType,
        part_size: u64,
    ) -> Result<Appending, StoreError> {
        self.begin_appending(key, content_type, part_size).await
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

    async fn finish_append(&self, key: &str, at: &Appending) -> Result<BlobMeta, StoreError> {
        self.finish_appending(key, at).await
    }

    async fn concat_append(
        &self,
        key: &str,
        into: &Appending,
        sources: &[(String, Appending)],
    ) -> Result<Appending, StoreError> {
        self.concat_appending(key, into, sources).await
    }

    async fn abort_append(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.abort_appending(key, upload_id).await
    }

    async fn adopt_form_upload(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        self.adopt_form(key).await
    }

    async fn discard_form_upload(&self, key: &str) -> Result<(), StoreError> {
        self.discard_form(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_range_is_refused() {
        let r = ByteRange { start: 10, end: 99 };
        let header = |s: &'static str| HeaderValue::from_static(s);
        assert!(check_content_range(Some(&header("bytes 10-99/1000")), r).is_ok());
        assert!(matches!(
            check_content_range(Some(&header("bytes 10-49/50")), r),
            Err(StoreError::Input(_))
        ));
        assert!(matches!(check_content_range(None, r), Err(StoreError::Other(_))));
        assert!(matches!(
            check_content_range(Some(&header("bytes */1000")), r),
            Err(StoreError::Other(_))
        ));
    }
}
