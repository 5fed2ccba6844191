//! Multipart uploads: create, upload a part (filegate's own streaming `put`), complete,
//! abort.
//!
//! Two things S3-compatible servers do differently, handled here:
//! - S3 may answer `CompleteMultipartUpload` with `200 OK` and an `Error` document;
//!   the body is always read.
//! - An upload id the server no longer knows is `404 NoSuchUpload` on AWS, MinIO and Garage,
//!   but `403 AccessDenied` on some (s3s-fs). A `403 AccessDenied` on an upload is therefore
//!   checked against the bucket: when our credentials still work there, the upload is gone.

use filegate_core::StoreError;
use filegate_core::domain::{ContentType, ETag};
use filegate_core::ports::BlobMeta;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use rusty_s3::S3Action as _;

use super::errors::{Failure, read_bounded};
use super::presign::{check_key, check_part_number, check_upload_id};
use super::upload::Part;
use super::xml::{self, Completed};
use super::{S3BlobStore, etag_from};

/// A completion answer can be long (S3 sends spaces while it works); this is plenty.
const MAX_COMPLETE_BODY: usize = 1024 * 1024;

impl S3BlobStore {
    pub(super) async fn create_upload(&self, key: &str, content_type: &ContentType) -> Result<String, StoreError> {
        check_key(key)?;
        let mut action = self.bucket.create_multipart_upload(Some(&self.credentials), key);
        action.headers_mut().insert("content-type", content_type.as_str());
        let url = self.internal(&action);
        let resp = self
            .send(
                self.client
                    .post(url)
                    .header(CONTENT_TYPE, content_type.as_str())
                    .header(CONTENT_LENGTH, 0),
                "create a multipart upload",
            )
            .await?;
        if !resp.status().is_success() {
            return Err(Failure::read(resp).await.into_error("create a multipart upload"));
        }
        let body = read_bounded(resp, MAX_COMPLETE_BODY).await;
        let id = xml::upload_id(&body).map_err(|e| StoreError::Other(anyhow::anyhow!("S3 {e}")))?;
        check_upload_id(&id)
            .map_err(|_| StoreError::Other(anyhow::anyhow!("S3 answered an unusable upload id {id:?}")))?;
        Ok(id)
    }

    /// Uploads one part of filegate's own streaming `put`; returns its etag.
    pub(super) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        part: Part,
    ) -> Result<ETag, StoreError> {
        check_part_number(number)?;
        let action = self
            .bucket
            .upload_part(Some(&self.credentials), key, number as u16, upload_id);
        let url = self.internal(&action);
        let resp = self
            .send(
                self.client
                    .put(url)
                    .header(CONTENT_LENGTH, part.len())
                    .body(part.into_body()),
                "upload a part",
            )
            .await?;
        if !resp.status().is_success() {
            return Err(Failure::read(resp).await.into_error("upload a part"));
        }
        etag_from(resp.headers().get(ETAG), "UploadPart")
    }

    pub(super) async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, ETag)],
    ) -> Result<BlobMeta, StoreError> {
        check_key(key)?;
        check_upload_id(upload_id)?;
        if parts.is_empty() {
            return Err(StoreError::Input("a multipart upload needs at least one part".into()));
        }
        for (i, (number, _)) in parts.iter().enumerate() {
            check_part_number(*number)?;
            if i > 0 && parts[i - 1].0 >= *number {
                return Err(StoreError::Input(
                    "parts must be listed in ascending order of their numbers, each once".into(),
                ));
            }
        }
        let action = self
            .bucket
            .complete_multipart_upload(Some(&self.credentials), key, upload_id, std::iter::empty());
        let body = xml::complete_body(parts.iter().map(|(n, etag)| (*n, etag.as_str())));
        let resp = self
            .send(
                self.client
                    .post(self.internal(&action))
                    .header(CONTENT_TYPE, "application/xml")
                    .body(body),
                "complete a multipart upload",
            )
            .await?;
        let failure = if resp.status().is_success() {
            let status = resp.status();
            let answer = read_bounded(resp, MAX_COMPLETE_BODY).await;
            match xml::completed(&answer) {
                Ok(Completed::Done(_)) => None,
                Ok(Completed::Failed(body)) => Some(Failure { status, body }),
                Err(e) => return Err(StoreError::Other(anyhow::anyhow!("S3 {e}"))),
            }
        } else {
            Some(Failure::read(resp).await)
        };
        if let Some(failure) = failure {
            if self.upload_is_gone(&failure).await {
                return Err(StoreError::NotFound);
            }
            return Err(failure.into_error("complete a multipart upload"));
        }
        // What is stored now, as every reader will see it.
        self.head_object(key).await?.ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!(
                "S3 completed the multipart upload of {key} but HEAD does not find it"
            ))
        })
    }

    pub(super) async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        check_key(key)?;
        check_upload_id(upload_id)?;
        let action = self
            .bucket
            .abort_multipart_upload(Some(&self.credentials), key, upload_id);
        let resp = self
            .send(self.client.delete(self.internal(&action)), "abort a multipart upload")
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let failure = Failure::read(resp).await;
        if failure.status == reqwest::StatusCode::NOT_FOUND || self.upload_is_gone(&failure).await {
            return Ok(()); // already aborted or completed
        }
        Err(failure.into_error("abort a multipart upload"))
    }

    /// A `403 AccessDenied` about an upload while the bucket still accepts our credentials:
    /// the server does not know the upload (any more).
    async fn upload_is_gone(&self, failure: &Failure) -> bool {
        failure.status == reqwest::StatusCode::FORBIDDEN
            && failure.is("AccessDenied")
            && self.ping_bucket().await.is_ok()
    }
}

/// Aborts a multipart upload that filegate's own `put` started if that `put` is dropped
/// half-way (the client went away): the parts are not left behind to be paid for. Best
/// effort, in a spawned task; a lifecycle rule (`AbortIncompleteMultipartUpload`) on the
/// bucket catches what a crash leaves.
pub(super) struct AbortOnDrop {
    store: Option<S3BlobStore>,
    key: String,
    upload_id: String,
}

impl AbortOnDrop {
    pub fn new(store: &S3BlobStore, key: &str, upload_id: &str) -> Self {
        Self {
            store: Some(store.clone()),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
        }
    }

    pub fn disarm(mut self) {
        self.store = None;
    }

    /// Aborts now, keeping the error that made us give up as the one reported.
    pub async fn abort_now(mut self) {
        if let Some(store) = self.store.take()
            && let Err(e) = store.abort_upload(&self.key, &self.upload_id).await
        {
            tracing::warn!(key = %self.key, error = %e, "could not abort a failed multipart upload");
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (key, upload_id) = (std::mem::take(&mut self.key), std::mem::take(&mut self.upload_id));
        runtime.spawn(async move {
            if let Err(e) = store.abort_upload(&key, &upload_id).await {
                tracing::warn!(%key, error = %e, "could not abort an abandoned multipart upload");
            }
        });
    }
}
