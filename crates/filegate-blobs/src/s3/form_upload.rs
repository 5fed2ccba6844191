//! Browser form uploads, made create-once although a POST policy cannot say so.
//!
//! A presigned `PUT` signs `if-none-match: *`, so S3 itself refuses a second `PUT` to its
//! URL. A POST policy has no such condition: while the form is valid, whoever holds it can
//! post again and S3 replaces the object. Had the form pointed at the file's own key, bytes
//! that `complete` verified, and that passed the allow-list and the scan, could be replaced
//! afterwards (an allow-list of PNGs then serving HTML). So a form posts to a staging key of
//! its own ([`staging_key`]), which nothing is ever served from, and `complete` *adopts* it:
//! one server-side copy to the file's key, which no client can write to.
//!
//! - The copy is pinned to the staging object it looked at (`x-amz-copy-source-if-match`):
//!   the bytes copied are the ones seen, even if another post lands meanwhile.
//! - It is not made when the file's key holds an object already (an earlier `complete`
//!   adopted it), and it carries `if-none-match: *`, which AWS S3 checks on a copy: of two
//!   completes racing, one copy wins. (A store that ignores the condition on a copy leaves
//!   only that race between two completes of one file open, not a late post.)
//! - Afterwards the staging object is deleted. A post that comes later leaves one there:
//!   [`discard_form_upload`](filegate_core::ports::BlobStore::discard_form_upload) frees it
//!   with the file's bytes, and a lifecycle rule on the `form/` prefix may expire it sooner.
//!
//! Forms are capped at 5 GiB by S3, which is also what a single copy can carry.

use filegate_core::StoreError;
use filegate_core::domain::ETag;
use filegate_core::ports::BlobMeta;
use reqwest::StatusCode;
use rusty_s3::S3Action as _;

use super::S3BlobStore;
use super::errors::{Failure, read_bounded};
use super::presign::{CREATE_ONLY, check_key};
use super::xml;

/// Where form posts for `key` land until adopted.
pub const STAGING_PREFIX: &str = "form/";

/// The staging key of the file key `key`.
pub fn staging_key(key: &str) -> String {
    format!("{STAGING_PREFIX}{key}")
}

/// How often adopting looks again when the staging object changed under it.
const ATTEMPTS: usize = 4;
/// A copy's answer is a short XML document.
const MAX_COPY_ANSWER: usize = 64 * 1024;

/// What a conditional copy did.
enum Copy {
    Done,
    /// A condition failed: the file's key holds an object now, or another post replaced the
    /// staging object, or it is gone (a concurrent adoption took it).
    Refused,
}

impl S3BlobStore {
    pub(super) async fn adopt_form(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        check_key(key)?;
        let staging = staging_key(key);
        for _ in 0..ATTEMPTS {
            if let Some(adopted) = self.head_object(key).await? {
                return Ok(Some(adopted));
            }
            let Some(posted) = self.head_object(&staging).await? else {
                return Ok(None);
            };
            if let Copy::Done = self.copy_once(&staging, &posted.etag, key).await? {
                // What is left behind is freed with the file's bytes; no reason to fail here.
                if let Err(e) = self.delete_object(&staging).await {
                    tracing::warn!(error = %e, key, "could not delete an adopted form upload's staging object");
                }
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!(
            "a form upload kept changing while it was being adopted"
        )))
    }

    pub(super) async fn discard_form(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        self.delete_object(&staging_key(key)).await
    }

    /// Copies `source` (if its etag is still `etag`) to `target` (if nothing is there).
    async fn copy_once(&self, source: &str, etag: &ETag, target: &str) -> Result<Copy, StoreError> {
        let copy_source = format!("/{}/{source}", self.bucket.name());
        let source_etag = format!("\"{}\"", etag.as_str());
        let mut action = self.bucket.put_object(Some(&self.credentials), target);
        let signed = [
            ("x-amz-copy-source", copy_source.as_str()),
            ("x-amz-copy-source-if-match", source_etag.as_str()),
            CREATE_ONLY,
        ];
        for (name, value) in signed {
            action.headers_mut().insert(name, value);
        }
        let mut request = self
            .client
            .put(self.internal(&action))
            .header(reqwest::header::CONTENT_LENGTH, 0);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let resp = self.send(request, "copy a form upload").await?;
        match resp.status() {
            // S3 may answer a copy `200 OK` and still have failed, with an error document.
            StatusCode::OK => {
                let answer = read_bounded(resp, MAX_COPY_ANSWER).await;
                match xml::error(&answer) {
                    None => Ok(Copy::Done),
                    Some(body) => Err(Failure {
                        status: StatusCode::OK,
                        body,
                    }
                    .into_error("copy a form upload")),
                }
            }
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT | StatusCode::NOT_FOUND => Ok(Copy::Refused),
            _ => Err(Failure::read(resp).await.into_error("copy a form upload")),
        }
    }
}
