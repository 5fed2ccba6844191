//! How often an upload's bytes are read, counted by a blob store that wraps the gateway's
//! own: `complete` reads nothing back to check a declared sha256 when the store vouches for
//! the digest (it hashed the bytes as it stored them), and still refuses bytes that differ;
//! `hash` and `scan` share one read of the object.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use filegate_client::api::{CreateBucket, UploadInstructions};
use filegate_core::domain::{ByteRange, ContentType, ETag, FileId, FileStatus, Sha256Hex};
use filegate_core::ports::{
    AppendLimits, Appended, Appending, BlobMeta, BlobStore, ByteStream, DownloadOptions, SignedRequest,
    UploadConstraints,
};
use filegate_core::usecases::Services;
use filegate_core::usecases::pipeline::Worker;
use filegate_core::usecases::uploads::{self, Completion};
use filegate_core::{Error, ErrorCode, StoreError};

use crate::common::TestApp;
use crate::dedup::create_declaring;
use crate::engines::{EICAR, clamd_url};
use crate::support::{content_of, default_admin, pattern, sha256_hex};
use crate::uploads::status_of;

/// The gateway's blob store, counting the reads of whole objects.
struct Counting {
    inner: Arc<dyn BlobStore>,
    whole_reads: Arc<AtomicUsize>,
}

#[async_trait]
impl BlobStore for Counting {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn put(&self, key: &str, body: ByteStream, max_size: u64) -> Result<BlobMeta, StoreError> {
        self.inner.put(key, body, max_size).await
    }
    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        self.inner.head(key).await
    }
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
        if range.is_none() {
            self.whole_reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(key, range).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    fn presign_put(&self, key: &str, c: &UploadConstraints, at: DateTime<Utc>) -> Result<SignedRequest, StoreError> {
        self.inner.presign_put(key, c, at)
    }
    fn presign_post(&self, key: &str, c: &UploadConstraints, at: DateTime<Utc>) -> Result<SignedRequest, StoreError> {
        self.inner.presign_post(key, c, at)
    }
    fn presign_get(&self, key: &str, o: &DownloadOptions, at: DateTime<Utc>) -> Result<String, StoreError> {
        self.inner.presign_get(key, o, at)
    }
    async fn create_multipart(&self, key: &str, content_type: &ContentType) -> Result<String, StoreError> {
        self.inner.create_multipart(key, content_type).await
    }
    fn presign_part(&self, key: &str, upload_id: &str, part: u32, at: DateTime<Utc>) -> Result<String, StoreError> {
        self.inner.presign_part(key, upload_id, part, at)
    }
    async fn complete_multipart(&self, key: &str, id: &str, parts: &[(u32, ETag)]) -> Result<BlobMeta, StoreError> {
        self.inner.complete_multipart(key, id, parts).await
    }
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.inner.abort_multipart(key, upload_id).await
    }
    async fn begin_append(&self, key: &str, ct: &ContentType, part_size: u64) -> Result<Appending, StoreError> {
        self.inner.begin_append(key, ct, part_size).await
    }
    async fn append(
        &self,
        key: &str,
        from: &Appending,
        body: ByteStream,
        l: AppendLimits,
    ) -> Result<Appended, StoreError> {
        self.inner.append(key, from, body, l).await
    }
    async fn concat_append(
        &self,
        key: &str,
        into: &Appending,
        sources: &[(String, Appending)],
    ) -> Result<Appending, StoreError> {
        self.inner.concat_append(key, into, sources).await
    }
    async fn finish_append(&self, key: &str, at: &Appending) -> Result<BlobMeta, StoreError> {
        self.inner.finish_append(key, at).await
    }
    async fn abort_append(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.inner.abort_append(key, upload_id).await
    }
    async fn adopt_form_upload(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        self.inner.adopt_form_upload(key).await
    }
    async fn discard_form_upload(&self, key: &str) -> Result<(), StoreError> {
        self.inner.discard_form_upload(key).await
    }
}

/// The gateway's engines with its blob store counted, and the count.
fn counted(app: &TestApp) -> (Services, Arc<AtomicUsize>) {
    let whole_reads = Arc::new(AtomicUsize::new(0));
    let blobs = Arc::new(Counting {
        inner: app.services.blobs.clone(),
        whole_reads: whole_reads.clone(),
    });
    (
        Services {
            blobs,
            ..app.services.clone()
        },
        whole_reads,
    )
}

/// Runs every due job with a worker on `services`, as `TestApp::run_jobs` does.
async fn run_jobs_with(services: Services) {
    Worker::new(
        services,
        filegate_server::config::WorkersConfig::default().worker_settings(),
    )
    .run_until_idle()
    .await
    .expect("queue reachable");
}

/// Creates a signed-PUT upload declaring `declared`'s sha256 and sends `sent`: its file id.
async fn sent_with_declared_sha256(app: &TestApp, path: &str, declared: &[u8], sent: &[u8]) -> FileId {
    let created = create_declaring(&app.client, "default", path, declared).await;
    let Some(UploadInstructions::Put { url, headers }) = created.upload else {
        panic!("expected PUT instructions, got {:?}", created.upload)
    };
    app.anonymous
        .put_signed(&url, &headers, Bytes::copy_from_slice(sent))
        .await
        .expect("signed PUT");
    FileId::parse(&created.file_id).expect("a file id")
}

#[tokio::test]
async fn complete_reads_nothing_back_when_the_store_vouches_for_the_sha256() {
    let app = TestApp::spawn().await;
    let bytes = pattern(700_000, 11);
    let id = sent_with_declared_sha256(&app, "in/vouched.bin", &bytes, &bytes).await;
    let (services, whole_reads) = counted(&app);

    let done = uploads::complete(&services, &default_admin(), id, Completion::default())
        .await
        .expect("complete");
    assert_eq!(done.status, FileStatus::Uploaded);
    assert_eq!(done.sha256, Some(Sha256Hex::parse(&sha256_hex(&bytes)).unwrap()));
    assert_eq!(whole_reads.load(Ordering::SeqCst), 0, "nothing was read back");

    // The digest recorded is the bytes' own, and the pipeline needs no read for it either.
    run_jobs_with(services).await;
    assert_eq!(
        whole_reads.load(Ordering::SeqCst),
        0,
        "the hash stage found its work done"
    );
    let file = app.client.get_file(&id.to_string()).await.expect("file");
    assert_eq!(file.status, "ready");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert!(content_of(&app.client, &file.id).await == bytes);
}

#[tokio::test]
async fn complete_still_refuses_bytes_that_differ_from_the_declared_sha256() {
    let app = TestApp::spawn().await;
    let (right, wrong) = (pattern(300_000, 1), pattern(300_000, 2));
    let id = sent_with_declared_sha256(&app, "in/wrong.bin", &right, &wrong).await;
    let (services, whole_reads) = counted(&app);

    let refused = uploads::complete(&services, &default_admin(), id, Completion::default()).await;
    assert!(
        matches!(
            refused,
            Err(Error::Mismatch {
                code: ErrorCode::ChecksumMismatch,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(whole_reads.load(Ordering::SeqCst), 0, "refused without reading back");
    assert_eq!(status_of(&app.client, &id.to_string()).await, "pending");
    assert!(app.stored_objects().is_empty(), "the refused bytes are removed");

    // A claim at completion that differs is refused too, the bytes kept.
    let bytes = pattern(2048, 3);
    let id = sent_with_declared_sha256(&app, "in/claimed.bin", &bytes, &bytes).await;
    let claimed = Completion {
        sha256: Some(Sha256Hex::parse(&sha256_hex(b"other")).unwrap()),
        ..Completion::default()
    };
    let refused = uploads::complete(&services, &default_admin(), id, claimed).await;
    assert!(matches!(refused, Err(Error::Mismatch { .. })), "{refused:?}");
    assert_eq!(status_of(&app.client, &id.to_string()).await, "pending");
    assert_eq!(app.stored_objects().len(), 1);
    assert_eq!(whole_reads.load(Ordering::SeqCst), 0);
}

/// A bucket that hashes and scans reads each file once: the scan gets the bytes the hash
/// reads, and its verdict holds (EICAR inside a file big enough for several chunks).
#[tokio::test]
async fn hash_and_scan_share_one_read() {
    let Some(url) = clamd_url() else { return };
    let app = TestApp::spawn_with(move |c| c.scanner.url = Some(url)).await;
    app.client
        .create_bucket(&CreateBucket {
            name: "scanned".into(),
            stages: Some(["verify", "hash", "scan"].map(str::to_owned).to_vec()),
            ..CreateBucket::default()
        })
        .await
        .expect("bucket");
    let clean = pattern(900_000, 4);
    let mut infected = pattern(900_000, 5);
    infected.splice(600_000..600_000, EICAR.iter().copied());
    let mut ids = Vec::new();
    for (path, bytes) in [("clean.bin", &clean), ("infected.bin", &infected)] {
        let file = app
            .client
            .upload_bytes("scanned", path, "application/octet-stream", Bytes::from(bytes.clone()))
            .await
            .expect("upload");
        ids.push(file.id);
    }
    let (services, whole_reads) = counted(&app);
    run_jobs_with(services).await;
    assert_eq!(whole_reads.load(Ordering::SeqCst), 2, "one read of each file");

    let clean_file = app.client.get_file(&ids[0]).await.expect("clean file");
    assert_eq!(clean_file.status, "ready");
    assert_eq!(clean_file.processing.scan.as_deref(), Some("clean"));
    assert_eq!(clean_file.sha256.as_deref(), Some(sha256_hex(&clean).as_str()));
    let infected_file = app.client.get_file(&ids[1]).await.expect("infected file");
    assert_eq!(infected_file.status, "quarantined");
    assert_eq!(infected_file.processing.scan.as_deref(), Some("infected"));
    assert_eq!(infected_file.sha256.as_deref(), Some(sha256_hex(&infected).as_str()));
}
