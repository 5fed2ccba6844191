//! The S3-compatible store against a real S3 server that checks signatures (s3s-fs, one
//! process per test): the `BlobStore` contract, then what only S3 has — presigned requests
//! that clients send to the store itself, batch deletes, addressing styles.

#[macro_use]
mod contract;
mod s3s_fs;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use filegate_blobs::s3::content_disposition;
use filegate_blobs::{S3BlobStore, S3Config};
use filegate_core::StoreError;
use filegate_core::domain::{ContentType, ETag, Sha256Hex};
use filegate_core::ports::{BlobStore, ByteStream, Disposition, DownloadOptions, SignedRequest, UploadConstraints};
use futures::{StreamExt as _, TryStreamExt as _, stream};
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};

use contract::{Etags, KEY, MIB, assert_absent, body, data, read_all};
use s3s_fs::{BUCKET, S3sFs};

struct S3 {
    server: S3sFs,
    store: S3BlobStore,
    http: reqwest::Client,
}

fn start() -> Option<S3> {
    let server = S3sFs::start()?;
    let store = server.store();
    Some(S3 {
        server,
        store,
        // A fresh connection per request: s3s-fs may close a connection after refusing a
        // request whose body it did not read, and a pooled one reused in that instant fails
        // with `IncompleteMessage` (seen once in CI on a refused form POST; not reproduced in
        // 250 runs of that test alone, which is why the cause is the likely one, not a seen one).
        http: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(),
    })
}

#[async_trait]
impl contract::Engine for S3 {
    fn store(&self) -> &dyn BlobStore {
        &self.store
    }

    fn etags(&self) -> contract::Etags {
        contract::Etags::Md5
    }

    /// The way a client does it: a `PUT` to the presigned part URL.
    async fn put_part(&self, key: &str, upload_id: &str, part: u32, bytes: Vec<u8>) -> ETag {
        let url = self
            .store
            .presign_part(key, upload_id, part, Utc::now() + chrono::Duration::minutes(5))
            .unwrap();
        let resp = self.http.put(url).body(bytes).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
        ETag::parse(resp.headers()["etag"].to_str().unwrap()).unwrap()
    }

    /// A fresh presigned `PUT` with the headers it came with, as a client sends it.
    async fn upload_signed(&self, key: &str, bytes: Vec<u8>) -> bool {
        let signed = self.store.presign_put(key, &csv(bytes.len() as u64), soon()).unwrap();
        let resp = send_put(&self.http, &signed, bytes).await;
        match resp.status() {
            StatusCode::OK => true,
            StatusCode::PRECONDITION_FAILED => false,
            other => panic!("{other}: {}", resp.text().await.unwrap()),
        }
    }

    async fn upload_form(&self, key: &str, bytes: Vec<u8>) -> bool {
        let signed = self.store.presign_post(key, &csv(bytes.len() as u64), soon()).unwrap();
        let resp = post_form(&self.http, &signed, bytes, "text/csv").await;
        assert!(resp.status().is_success(), "{}", resp.status());
        true
    }
}

macro_rules! contract_tests {
    ($($scenario:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $scenario() {
            let Some(s3) = start() else { return };
            contract::$scenario(&s3).await;
        }
    )*};
}

every_scenario!(contract_tests);

/// Waits for `condition` (checked every 20 ms) until `within` has passed.
async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn csv(size: u64) -> UploadConstraints {
    UploadConstraints {
        size,
        content_type: ContentType::parse("text/csv").unwrap(),
        sha256: None,
    }
}

fn soon() -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::minutes(15)
}

/// Sends a presigned `PUT` as a client would: the URL, the headers it came with, the body.
async fn send_put(http: &reqwest::Client, signed: &SignedRequest, body: Vec<u8>) -> reqwest::Response {
    let mut request = http.put(&signed.url).body(body);
    for (name, value) in &signed.headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn too_large_after_several_parts_aborts_the_multipart_upload() {
    let Some(s3) = start() else { return };
    // Past one part, the store streams a multipart upload; the limit strikes in part 3.
    let endless: ByteStream = Box::pin(stream::repeat_with(|| Ok(Bytes::from(vec![7u8; 64 * 1024]))));
    let err = s3.store.put(KEY, endless, 20 * MIB).await.unwrap_err();
    assert!(matches!(err, StoreError::TooLarge(l) if l == 20 * MIB), "{err:?}");
    assert_absent(&s3.store, KEY).await;
    assert_eq!(s3.server.open_uploads(), 0, "the multipart upload was aborted");

    // A body that breaks off after a few parts: the same.
    let chunks = (0..3)
        .map(|i| Ok(Bytes::from(data(4 * MIB as usize, i))))
        .chain([Err(std::io::Error::other("reset"))]);
    let err = s3
        .store
        .put(KEY, Box::pin(stream::iter(chunks)), 100 * MIB)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Input(_)), "{err:?}");
    assert_absent(&s3.store, KEY).await;
    assert_eq!(s3.server.open_uploads(), 0);
}

#[tokio::test]
async fn a_dropped_put_aborts_its_multipart_upload() {
    let Some(s3) = start() else { return };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
    let body: ByteStream = Box::pin(stream::poll_fn(move |cx| rx.poll_recv(cx)));
    {
        let put = s3.store.put(KEY, body, 100 * MIB);
        tokio::pin!(put);
        // Feed until the server has an upload under way (more than a part has gone in).
        let feed = async {
            for i in 0.. {
                tx.send(Ok(Bytes::from(data(MIB as usize, i as u8)))).await.unwrap();
                if s3.server.open_uploads() == 1 {
                    break;
                }
            }
        };
        tokio::select! {
            r = &mut put => panic!("the put finished while its body was open: {r:?}"),
            () = feed => {}
        }
        // The client goes away: the request's future is dropped.
    }
    eventually(Duration::from_secs(10), "the abandoned upload is aborted", || {
        s3.server.open_uploads() == 0
    })
    .await;
    assert_absent(&s3.store, KEY).await;
}

#[tokio::test]
async fn a_presigned_put_pins_type_size_signature_and_time() {
    let Some(s3) = start() else { return };
    let bytes = data(18_233, 5);
    let c = csv(bytes.len() as u64);

    let signed = s3.store.presign_put(KEY, &c, soon()).unwrap();
    assert_eq!(signed.method, "PUT");
    assert_eq!(signed.headers["content-type"], "text/csv");
    assert_eq!(signed.headers["content-length"], "18233");

    // Another type, another size, another signature: refused, and nothing stored.
    let mut wrong_type = signed.clone();
    wrong_type.headers.insert("content-type".into(), "text/html".into());
    assert_eq!(
        send_put(&s3.http, &wrong_type, bytes.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    let mut wrong_size = signed.clone();
    wrong_size.headers.remove("content-length");
    let resp = send_put(&s3.http, &wrong_size, data(18_234, 5)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let mut tampered = signed.clone();
    let at = tampered.url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &tampered.url[at..at + 1] == "0" { "1" } else { "0" };
    tampered.url.replace_range(at..at + 1, flipped);
    assert_eq!(
        send_put(&s3.http, &tampered, bytes.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    let other_key = signed.url.replace(KEY, "t/default/other");
    let redirected = SignedRequest {
        url: other_key,
        ..signed.clone()
    };
    assert_eq!(
        send_put(&s3.http, &redirected, bytes.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_absent(&s3.store, KEY).await;
    assert_absent(&s3.store, "t/default/other").await;

    // The real thing works, and the store reports what arrived.
    let resp = send_put(&s3.http, &signed, bytes.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    let meta = s3.store.head(KEY).await.unwrap().unwrap();
    assert_eq!(
        (meta.size, meta.etag.as_str()),
        (18_233, Etags::Md5.of(&bytes).as_str())
    );
    assert_eq!(read_all(s3.store.get(KEY, None).await.unwrap()).await, bytes);
}

/// The replay attack on a stored file: whoever holds a still-valid presigned `PUT` URL sends it again
/// after the file was completed and verified. S3 must refuse it, and the URL cannot be
/// stripped of its create-once header (the header is signed).
#[tokio::test]
async fn a_presigned_put_url_stores_once_while_it_is_still_valid() {
    let Some(s3) = start() else { return };
    let (first, second) = (data(2_048, 1), data(2_048, 2));
    let signed = s3.store.presign_put(KEY, &csv(2_048), soon()).unwrap();
    assert_eq!(signed.headers["if-none-match"], "*");

    let mut unconditional = signed.clone();
    unconditional.headers.remove("if-none-match");
    assert_eq!(
        send_put(&s3.http, &unconditional, first.clone()).await.status(),
        StatusCode::FORBIDDEN,
        "the create-once header is part of the signature"
    );
    let resp = send_put(&s3.http, &signed, first.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    let stored = s3.store.head(KEY).await.unwrap().unwrap();

    for request in [&signed, &unconditional] {
        let resp = send_put(&s3.http, request, second.clone()).await;
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    assert_eq!(s3.store.head(KEY).await.unwrap(), Some(stored));
    assert_eq!(read_all(s3.store.get(KEY, None).await.unwrap()).await, first);
}

/// With a sha256 declared, the presigned `PUT` signs its checksum: the S3 server refuses
/// other bytes, and `head` vouches for the digest only of bytes it checked, so `complete`
/// need not read them back.
#[tokio::test]
async fn a_presigned_put_with_a_declared_sha256_takes_only_those_bytes() {
    let Some(s3) = start() else { return };
    let (right, wrong) = (data(4_096, 1), data(4_096, 2));
    let digest = Sha256Hex::from_digest(&Sha256::digest(&right));
    let pinned = UploadConstraints {
        sha256: Some(digest.clone()),
        ..csv(4_096)
    };
    let signed = s3.store.presign_put(KEY, &pinned, soon()).unwrap();
    assert!(
        signed.headers.contains_key("x-amz-checksum-sha256"),
        "{:?}",
        signed.headers
    );

    let refused = send_put(&s3.http, &signed, wrong).await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        refused.text().await.unwrap()
    );
    // S3 stores nothing; s3s-fs 0.14 keeps the refused bytes, but never with a checksum:
    // no store vouches for bytes that differ, so `complete` reads them back and refuses them.
    let kept = s3.store.head(KEY).await.unwrap();
    assert!(kept.as_ref().is_none_or(|meta| meta.sha256.is_none()), "{kept:?}");

    let key = "t/default/0190a0a0-0000-7000-8000-000000000002";
    let signed = s3.store.presign_put(key, &pinned, soon()).unwrap();
    let mut unpinned = signed.clone();
    unpinned.headers.remove("x-amz-checksum-sha256");
    assert_eq!(
        send_put(&s3.http, &unpinned, right.clone()).await.status(),
        StatusCode::FORBIDDEN,
        "the checksum is part of the signature"
    );
    assert_absent(&s3.store, key).await;
    let resp = send_put(&s3.http, &signed, right.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    let stored = s3.store.head(key).await.unwrap().expect("stored");
    assert_eq!((stored.size, stored.sha256), (4_096, Some(digest)));
    assert_eq!(read_all(s3.store.get(key, None).await.unwrap()).await, right);

    // Without a declared sha256 the store vouches for nothing: the bytes are read back.
    let other = "t/default/0190a0a0-0000-7000-8000-000000000003";
    let signed = s3.store.presign_put(other, &csv(4_096), soon()).unwrap();
    assert!(!signed.headers.contains_key("x-amz-checksum-sha256"));
    assert_eq!(send_put(&s3.http, &signed, right).await.status(), StatusCode::OK);
    assert_eq!(s3.store.head(other).await.unwrap().expect("stored").sha256, None);
}

#[tokio::test]
async fn a_presigned_put_expires() {
    let Some(s3) = start() else { return };
    let c = csv(3);
    let expires_at = Utc::now() + chrono::Duration::seconds(1);
    let signed = s3.store.presign_put(KEY, &c, expires_at).unwrap();
    // Wait on the clock until the expiry (whole seconds) has surely passed.
    eventually(Duration::from_secs(5), "the URL's time is up", || {
        Utc::now().timestamp() > expires_at.timestamp() + 1
    })
    .await;
    let resp = send_put(&s3.http, &signed, b"a,b".to_vec()).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_absent(&s3.store, KEY).await;

    // An expiry already past gives a URL that is already expired (not an error).
    let signed = s3
        .store
        .presign_put(KEY, &c, Utc::now() - chrono::Duration::seconds(5))
        .unwrap();
    assert_eq!(
        send_put(&s3.http, &signed, b"a,b".to_vec()).await.status(),
        StatusCode::FORBIDDEN
    );
    // S3 caps presigned URLs at 7 days.
    assert!(matches!(
        s3.store.presign_put(KEY, &c, Utc::now() + chrono::Duration::days(8)),
        Err(StoreError::Input(_))
    ));
}

#[tokio::test]
async fn a_presigned_get_answers_with_the_download_headers() {
    let Some(s3) = start() else { return };
    let bytes = data(50_000, 6);
    s3.store.put(KEY, body(&bytes), MIB).await.unwrap();
    let o = DownloadOptions {
        disposition: Disposition::Attachment,
        filename: "relev\u{e9} \"mars\"; 2026.csv".into(),
        content_type: ContentType::parse("text/csv").unwrap(),
    };
    let url = s3.store.presign_get(KEY, &o, soon()).unwrap();
    let resp = s3.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-disposition"].to_str().unwrap(),
        content_disposition(Disposition::Attachment, &o.filename)
    );
    assert_eq!(resp.headers()["content-type"], "text/csv");
    assert_eq!(resp.bytes().await.unwrap(), bytes);

    // Ranges work through the URL too (players, resumed downloads).
    let resp = s3.http.get(&url).header("range", "bytes=100-199").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), &bytes[100..200]);

    // The disposition is signed: asking for inline instead is refused.
    let inline = url.replace("attachment", "inline");
    assert_ne!(inline, url);
    assert_eq!(
        s3.http.get(&inline).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let expired = s3
        .store
        .presign_get(KEY, &o, Utc::now() - chrono::Duration::seconds(5))
        .unwrap();
    assert_eq!(
        s3.http.get(&expired).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

/// A browser form: every field, then the file, last.
async fn post_form(
    http: &reqwest::Client,
    signed: &SignedRequest,
    bytes: Vec<u8>,
    file_type: &str,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in &signed.fields {
        form = form.text(name.clone(), value.clone());
    }
    let file = reqwest::multipart::Part::bytes(bytes)
        .file_name("ward.csv")
        .mime_str(file_type)
        .unwrap();
    http.post(&signed.url)
        .multipart(form.part("file", file))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_presigned_post_form_pins_key_type_and_size() {
    let Some(s3) = start() else { return };
    let bytes = data(4_321, 7);
    let c = csv(bytes.len() as u64);
    let signed = s3.store.presign_post(KEY, &c, soon()).unwrap();
    assert_eq!(signed.method, "POST");
    assert_eq!(signed.url, s3.store.bucket_url().as_str());

    // One byte more or less: outside the content-length-range.
    for wrong in [data(4_322, 7), data(4_320, 7)] {
        let resp = post_form(&s3.http, &signed, wrong, "text/csv").await;
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    // Another key or type in the form: the policy says no.
    for (field, value) in [("key", "t/default/other"), ("Content-Type", "text/html")] {
        let mut altered = signed.clone();
        altered.fields.insert(field.into(), value.into());
        let resp = post_form(&s3.http, &altered, bytes.clone(), "text/csv").await;
        assert!(resp.status().is_client_error(), "{field}: {}", resp.status());
    }
    // A policy signed by someone else.
    let mut forged = signed.clone();
    forged.fields.insert("x-amz-signature".into(), "0".repeat(64));
    assert_eq!(
        post_form(&s3.http, &forged, bytes.clone(), "text/csv").await.status(),
        StatusCode::FORBIDDEN
    );
    // An expired form.
    let expired = s3
        .store
        .presign_post(KEY, &c, Utc::now() - chrono::Duration::seconds(5))
        .unwrap();
    assert_eq!(
        post_form(&s3.http, &expired, bytes.clone(), "text/csv").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_absent(&s3.store, KEY).await;
    assert_absent(&s3.store, "t/default/other").await;

    let resp = post_form(&s3.http, &signed, bytes.clone(), "text/csv").await;
    assert!(
        resp.status().is_success(),
        "{}: {}",
        resp.status(),
        resp.text().await.unwrap()
    );
    // The post lands beside the file's key until `complete` adopts it.
    assert_absent(&s3.store, KEY).await;
    let meta = s3.store.adopt_form_upload(KEY).await.unwrap().unwrap();
    assert_eq!((meta.size, meta.etag.as_str()), (4_321, Etags::Md5.of(&bytes).as_str()));
    assert_eq!(read_all(s3.store.get(KEY, None).await.unwrap()).await, bytes);
    assert_absent(&s3.store, "form/t/default/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").await;
}

#[tokio::test]
async fn presigned_part_urls_are_signed_per_part() {
    let Some(s3) = start() else { return };
    let id = s3
        .store
        .create_multipart(KEY, &ContentType::octet_stream())
        .await
        .unwrap();
    let url = s3.store.presign_part(KEY, &id, 1, soon()).unwrap();
    // The part number is signed: the URL for part 1 cannot upload part 2.
    let as_part_2 = url.replace("partNumber=1", "partNumber=2");
    assert_ne!(as_part_2, url);
    let resp = s3.http.put(&as_part_2).body(b"x".to_vec()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let expired = s3
        .store
        .presign_part(KEY, &id, 1, Utc::now() - chrono::Duration::seconds(5))
        .unwrap();
    let resp = s3.http.put(&expired).body(b"x".to_vec()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(matches!(
        s3.store.presign_part(KEY, &id, 0, soon()),
        Err(StoreError::Input(_))
    ));
    assert!(matches!(
        s3.store.presign_part(KEY, &id, 10_001, soon()),
        Err(StoreError::Input(_))
    ));
    assert!(matches!(
        s3.store.presign_part(KEY, "a b", 1, soon()),
        Err(StoreError::Input(_))
    ));

    let resp = s3.http.put(&url).body(b"only part".to_vec()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = ETag::parse(resp.headers()["etag"].to_str().unwrap()).unwrap();
    let meta = s3.store.complete_multipart(KEY, &id, &[(1, etag)]).await.unwrap();
    assert_eq!(meta.etag.as_str(), Etags::Md5.of_parts(&[b"only part"]));

    // A part under 5 MiB that is not the last: S3 will not assemble it.
    let other = "t/default/small-parts";
    let id = s3
        .store
        .create_multipart(other, &ContentType::octet_stream())
        .await
        .unwrap();
    let parts = vec![
        (1, contract::Engine::put_part(&s3, other, &id, 1, data(10, 1)).await),
        (2, contract::Engine::put_part(&s3, other, &id, 2, data(10, 2)).await),
    ];
    match s3.store.complete_multipart(other, &id, &parts).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("EntityTooSmall"), "{m}"),
        r => panic!("{r:?}"),
    }
    assert_absent(&s3.store, other).await;
}

#[tokio::test]
async fn delete_many_deletes_1500_keys_in_batches() {
    let Some(s3) = start() else { return };
    let keys: Vec<String> = (0..1500).map(|i| format!("t/batch/{i:04}")).collect();
    let store = &s3.store;
    stream::iter(&keys)
        .map(|k| async move { store.put(k, body(k.as_bytes()), 100).await.map(|_| ()) })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    store.put("t/keep/me", body(b"keep"), 100).await.unwrap();

    let mut doomed = keys.clone();
    doomed.push("t/batch/never-written".into());
    store.delete_many(&doomed).await.unwrap();
    let left: Vec<String> = stream::iter(&keys)
        .map(|k| async move { (k, store.head(k).await.unwrap()) })
        .buffer_unordered(16)
        .filter_map(|(k, meta)| async move { meta.map(|_| k.clone()) })
        .collect()
        .await;
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(store.head("t/keep/me").await.unwrap().map(|m| m.size), Some(4));

    store.delete_many(&[]).await.unwrap();
    let bad = vec!["t/ok".to_string(), "../escape".to_string()];
    assert!(matches!(store.delete_many(&bad).await, Err(StoreError::Input(_))));
}

#[tokio::test]
async fn misconfiguration_and_outages_are_told_apart() {
    let Some(mut s3) = start() else { return };
    let mut wrong_secret = s3.server.config();
    wrong_secret.secret_key = "not-the-secret".into();
    let wrong_secret = S3BlobStore::new(wrong_secret).unwrap();
    for err in [
        wrong_secret.ping().await.unwrap_err(),
        wrong_secret.put(KEY, body(b"x"), 10).await.unwrap_err(),
        wrong_secret.get(KEY, None).await.err().unwrap(),
    ] {
        match err {
            StoreError::Other(e) => assert!(format!("{e:#}").contains("secret key"), "{e:#}"),
            other => panic!("{other:?}"),
        }
    }
    let mut no_bucket = s3.server.config();
    no_bucket.bucket = "no-such-bucket".into();
    match S3BlobStore::new(no_bucket).unwrap().ping().await {
        Err(StoreError::Other(e)) => assert!(e.to_string().contains("does not exist"), "{e}"),
        other => panic!("{other:?}"),
    }

    // The server goes away: every call is `Unavailable` (retry later), nothing else.
    s3.server.stop();
    assert!(matches!(s3.store.ping().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(s3.store.head(KEY).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(s3.store.get(KEY, None).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        s3.store.put(KEY, body(b"x"), 10).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(s3.store.delete(KEY).await, Err(StoreError::Unavailable(_))));
}

#[tokio::test]
async fn virtual_host_addressing_works_end_to_end() {
    // s3s-fs answers `<bucket>.<domain>` hosts with --domain; DNS is pointed at it by the
    // HTTP client, so no resolver setup is needed.
    let Some(server) = S3sFs::start_with(Some("s3.filegate.test")) else {
        return;
    };
    let endpoint = format!("http://s3.filegate.test:{}", server.addr.port());
    let config = S3Config {
        endpoint: url::Url::parse(&endpoint).unwrap(),
        path_style: false,
        ..server.config()
    };
    let host = format!("{BUCKET}.s3.filegate.test");
    let client = reqwest::Client::builder().resolve(&host, server.addr).build().unwrap();
    let store = S3BlobStore::with_client(config, client.clone()).unwrap();
    assert_eq!(
        store.bucket_url().as_str(),
        format!("http://{host}:{}/", server.addr.port())
    );
    store.ping().await.unwrap();
    let bytes = data(10_000, 8);
    store.put(KEY, body(&bytes), MIB).await.unwrap();
    assert_eq!(read_all(store.get(KEY, None).await.unwrap()).await, bytes);

    let signed = store.presign_put("t/default/vh", &csv(3), soon()).unwrap();
    assert!(signed.url.starts_with(&format!("http://{host}:")), "{}", signed.url);
    assert_eq!(
        send_put(&client, &signed, b"a,b".to_vec()).await.status(),
        StatusCode::OK
    );
    assert_eq!(store.head("t/default/vh").await.unwrap().map(|m| m.size), Some(3));
    // The same object, seen path-style through the plain endpoint.
    assert_eq!(
        read_all(server.store().get("t/default/vh", None).await.unwrap()).await,
        b"a,b"
    );
}
