//! The `BlobStore` contract: scenarios every engine must pass, run by `local_store/` and
//! `s3_store.rs` against their engine. Each takes an [`Engine`]: the store, plus how a
//! client uploads one part of a multipart upload to it (straight into the local store; to
//! the presigned part URL for S3).
#![allow(dead_code)] // each test binary uses its own subset

use std::io;

use async_trait::async_trait;
use bytes::Bytes;
use filegate_core::StoreError;
use filegate_core::domain::{ByteRange, ContentType, ETag};
use filegate_core::ports::{BlobStore, ByteStream};
use futures::{StreamExt as _, TryStreamExt as _, stream};
use md5::{Digest as _, Md5};
use sha2::Sha256;

/// Calls `$run!` with the name of every scenario below, so that each engine's test file runs
/// all of them (`every_scenario!(contract_tests)`, its macro making one test per name).
macro_rules! every_scenario {
    ($run:ident) => {
        $run!(
            put_get_head_round_trip,
            range_get_returns_exactly_the_range,
            too_large_stops_mid_stream_and_leaves_nothing,
            a_body_that_breaks_halfway_leaves_nothing,
            a_20_mib_upload_streams_through,
            delete_is_idempotent,
            unsafe_keys_are_refused,
            multipart_round_trip_with_an_s3_style_etag,
            multipart_checks_the_part_list_before_sending_it,
            abort_frees_the_upload_and_is_idempotent,
            ping_answers,
            a_signed_single_upload_stores_once,
            a_form_upload_once_adopted_is_never_replaced,
        );
    };
}

pub const KEY: &str = "t/default/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
pub const MIB: u64 = 1024 * 1024;

#[async_trait]
pub trait Engine: Send + Sync {
    fn store(&self) -> &dyn BlobStore;
    /// How this engine derives etags from bytes.
    fn etags(&self) -> Etags;
    /// Uploads one part the way a client would; returns its etag.
    async fn put_part(&self, key: &str, upload_id: &str, part: u32, bytes: Vec<u8>) -> ETag;
    /// Sends `bytes` as a client sends a signed single upload (a `PUT` to a fresh presigned
    /// URL for S3; the local store's create-once write, which filegate serves its signed
    /// URLs with). `true` when stored, `false` when refused because an object is at `key`.
    async fn upload_signed(&self, key: &str, bytes: Vec<u8>) -> bool;
    /// Sends `bytes` as a browser posts a form from `presign_post` (to S3 itself; the local
    /// store's create-once write, which filegate serves its forms with). `true` when the
    /// store took them.
    async fn upload_form(&self, key: &str, bytes: Vec<u8>) -> bool;
}

/// Deterministic bytes that differ at every offset a test looks at.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed as u64)
                .to_le_bytes()[1]
        })
        .collect()
}

/// `bytes` as a body arriving in uneven chunks.
pub fn body(bytes: &[u8]) -> ByteStream {
    let chunks: Vec<io::Result<Bytes>> = bytes.chunks(7_777).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(stream::iter(chunks))
}

/// How an engine's etags follow from the bytes. Clients treat etags as opaque; the contract
/// is that each engine derives them the same way every time, from the bytes alone.
#[derive(Debug, Clone, Copy)]
pub enum Etags {
    /// S3's: the hex MD5.
    Md5,
    /// The local store's: the hex SHA-256, what `sha256sum` prints.
    Sha256,
}

impl Etags {
    fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Md5 => Md5::digest(bytes).to_vec(),
            Self::Sha256 => Sha256::digest(bytes).to_vec(),
        }
    }

    /// A single upload's etag.
    pub fn of(self, bytes: &[u8]) -> String {
        hex::encode(self.digest(bytes))
    }

    /// A multipart upload's etag, S3's shape: the hash of the parts' binary hashes, then
    /// `-<number of parts>`.
    pub fn of_parts(self, parts: &[&[u8]]) -> String {
        let digests: Vec<u8> = parts.iter().flat_map(|p| self.digest(p)).collect();
        format!("{}-{}", self.of(&digests), parts.len())
    }
}

pub async fn read_all(s: ByteStream) -> Vec<u8> {
    s.try_fold(Vec::new(), |mut acc, chunk| async move {
        acc.extend_from_slice(&chunk);
        Ok(acc)
    })
    .await
    .unwrap()
}

pub async fn assert_absent(store: &dyn BlobStore, key: &str) {
    assert_eq!(store.head(key).await.unwrap(), None, "{key} should be absent");
    assert!(
        matches!(store.get(key, None).await, Err(StoreError::NotFound)),
        "{key} should be absent"
    );
}

/// A signed single upload creates its object once: a second one to the same key is refused
/// and the bytes stay those of the first, so bytes `complete` verified cannot be replaced
/// through a URL that is still valid. Once the object is deleted (a completion that refused
/// the bytes), the key takes a new upload.
pub async fn a_signed_single_upload_stores_once(e: &impl Engine) {
    let store = e.store();
    let first = data(10_000, 1);
    assert!(e.upload_signed(KEY, first.clone()).await, "the first upload is stored");
    let meta = store.head(KEY).await.unwrap().unwrap();
    assert_eq!(meta.etag.as_str(), e.etags().of(&first));

    let second = data(10_000, 2);
    assert!(
        !e.upload_signed(KEY, second.clone()).await,
        "a second upload is refused"
    );
    assert_eq!(read_all(store.get(KEY, None).await.unwrap()).await, first);
    assert_eq!(store.head(KEY).await.unwrap(), Some(meta));

    store.delete(KEY).await.unwrap();
    assert!(
        e.upload_signed(KEY, second.clone()).await,
        "a deleted object's key takes a new upload"
    );
    assert_eq!(read_all(store.get(KEY, None).await.unwrap()).await, second);
    store.delete(KEY).await.unwrap();
}

/// A form stays valid after `complete` verified what it brought: posting it again must not
/// change the bytes that were verified, which are the ones served.
pub async fn a_form_upload_once_adopted_is_never_replaced(e: &impl Engine) {
    let store = e.store();
    assert_eq!(store.adopt_form_upload(KEY).await.unwrap(), None, "nothing posted yet");
    let first = data(10_000, 3);
    assert!(e.upload_form(KEY, first.clone()).await, "the first post is taken");
    let adopted = store.adopt_form_upload(KEY).await.unwrap().expect("the posted bytes");
    assert_eq!(
        (adopted.size, adopted.etag.as_str()),
        (10_000, e.etags().of(&first).as_str())
    );

    // The same form again, with other bytes: S3 takes the post (beside the file's key), the
    // local store refuses it. Either way the object is what was adopted, now and later.
    e.upload_form(KEY, data(10_000, 4)).await;
    assert!(
        read_all(store.get(KEY, None).await.unwrap()).await == first,
        "the object changed"
    );
    assert_eq!(store.head(KEY).await.unwrap(), Some(adopted.clone()));
    assert_eq!(store.adopt_form_upload(KEY).await.unwrap(), Some(adopted));
    assert!(
        read_all(store.get(KEY, None).await.unwrap()).await == first,
        "adopting again changed it"
    );

    store.discard_form_upload(KEY).await.unwrap();
    store.discard_form_upload(KEY).await.unwrap();
    store.delete(KEY).await.unwrap();
    assert_eq!(store.adopt_form_upload(KEY).await.unwrap(), None, "nothing left behind");
}

pub async fn put_get_head_round_trip(e: &impl Engine) {
    let store = e.store();
    let bytes = data(300_001, 1);
    let meta = store.put(KEY, body(&bytes), 10 * MIB).await.unwrap();
    assert_eq!(meta.size, bytes.len() as u64);
    assert_eq!(meta.etag.as_str(), e.etags().of(&bytes));
    assert_eq!(store.head(KEY).await.unwrap(), Some(meta));
    assert_eq!(read_all(store.get(KEY, None).await.unwrap()).await, bytes);

    // Replacing the object replaces bytes and etag together.
    let newer = data(10, 2);
    let meta = store.put(KEY, body(&newer), 10 * MIB).await.unwrap();
    assert_eq!(store.head(KEY).await.unwrap(), Some(meta));
    assert_eq!(read_all(store.get(KEY, None).await.unwrap()).await, newer);

    // An empty object is an object.
    let meta = store.put("t/default/empty", body(&[]), 10).await.unwrap();
    assert_eq!((meta.size, meta.etag.as_str()), (0, e.etags().of(b"").as_str()));
    assert_eq!(store.head("t/default/empty").await.unwrap(), Some(meta));
    assert!(
        read_all(store.get("t/default/empty", None).await.unwrap())
            .await
            .is_empty()
    );
    assert_absent(store, "t/default/never-written").await;
}

pub async fn range_get_returns_exactly_the_range(e: &impl Engine) {
    let store = e.store();
    let bytes = data(200_000, 3);
    store.put(KEY, body(&bytes), MIB).await.unwrap();
    for (start, end) in [
        (0, 0),
        (0, 199_999),
        (65_535, 65_536),
        (100, 150_000),
        (199_999, 199_999),
    ] {
        let got = read_all(store.get(KEY, Some(ByteRange { start, end })).await.unwrap()).await;
        assert_eq!(got, &bytes[start as usize..=end as usize], "{start}-{end}");
    }
    for (start, end) in [(10, 200_000), (200_000, 200_001)] {
        let r = store.get(KEY, Some(ByteRange { start, end })).await;
        assert!(matches!(r, Err(StoreError::Input(_))), "{start}-{end}");
    }
    let r = store
        .get("t/default/never-written", Some(ByteRange { start: 0, end: 1 }))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound)));
}

pub async fn too_large_stops_mid_stream_and_leaves_nothing(e: &impl Engine) {
    let store = e.store();
    // The body would go on forever: the store must stop reading, not drain it.
    let endless: ByteStream = Box::pin(stream::repeat_with(|| Ok(Bytes::from_static(&[7; 1000]))));
    let err = store.put(KEY, endless, 50_000).await.unwrap_err();
    assert!(matches!(err, StoreError::TooLarge(50_000)), "{err:?}");
    assert_absent(store, KEY).await;

    // One byte over is over; exactly the limit is fine.
    assert!(matches!(
        store.put(KEY, body(&data(1001, 0)), 1000).await,
        Err(StoreError::TooLarge(1000))
    ));
    assert_absent(store, KEY).await;
    assert_eq!(store.put(KEY, body(&data(1000, 0)), 1000).await.unwrap().size, 1000);
}

pub async fn a_body_that_breaks_halfway_leaves_nothing(e: &impl Engine) {
    let store = e.store();
    let chunks = vec![
        Ok(Bytes::from(data(100_000, 4))),
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
    ];
    let err = store.put(KEY, Box::pin(stream::iter(chunks)), MIB).await.unwrap_err();
    assert!(matches!(err, StoreError::Input(_)), "{err:?}");
    assert_absent(store, KEY).await;
}

/// A body longer than a part of the S3 store's own streaming upload, made on the fly.
pub async fn a_20_mib_upload_streams_through(e: &impl Engine) {
    let store = e.store();
    const CHUNK: usize = 256 * 1024;
    let chunks = (20 * MIB as usize) / CHUNK + 1;
    let block = Bytes::from(data(CHUNK, 9));
    let chunk = move |i: usize| {
        let mut c = block.to_vec();
        c[..8].copy_from_slice(&(i as u64).to_le_bytes());
        Bytes::from(c)
    };
    let mut expected = Md5::new();
    (0..chunks).for_each(|i| expected.update(chunk(i)));
    let expected = hex::encode(expected.finalize());
    let body: ByteStream = Box::pin(stream::iter(0..chunks).map(move |i| Ok(chunk(i))));
    let meta = store.put(KEY, body, 64 * MIB).await.unwrap();
    assert_eq!(meta.size, (chunks * CHUNK) as u64);
    assert_eq!(store.head(KEY).await.unwrap(), Some(meta.clone()));

    let mut got = Md5::new();
    let mut total = 0;
    let mut stream = store.get(KEY, None).await.unwrap();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len() as u64;
        got.update(&chunk);
    }
    assert_eq!(total, meta.size);
    assert_eq!(hex::encode(got.finalize()), expected);
}

pub async fn delete_is_idempotent(e: &impl Engine) {
    let store = e.store();
    store.put(KEY, body(b"bye"), 10).await.unwrap();
    let neighbour = "t/default/neighbour";
    store.put(neighbour, body(b"stay"), 10).await.unwrap();
    store.delete(KEY).await.unwrap();
    assert_absent(store, KEY).await;
    store.delete(KEY).await.unwrap();
    store.delete("t/default/never-written").await.unwrap();
    assert_eq!(store.head(neighbour).await.unwrap().map(|m| m.size), Some(4));
}

pub async fn unsafe_keys_are_refused(e: &impl Engine) {
    let store = e.store();
    for bad in [
        "../secret",
        "/etc/passwd",
        "t/../../secret",
        "t//x",
        "t/x/",
        "",
        "a\\b",
        "a b",
        "a?b",
    ] {
        assert!(
            matches!(store.put(bad, body(b"x"), 10).await, Err(StoreError::Input(_))),
            "{bad:?}"
        );
        assert!(
            matches!(store.get(bad, None).await, Err(StoreError::Input(_))),
            "{bad:?}"
        );
        assert!(matches!(store.head(bad).await, Err(StoreError::Input(_))), "{bad:?}");
        assert!(matches!(store.delete(bad).await, Err(StoreError::Input(_))), "{bad:?}");
        let ct = ContentType::octet_stream();
        assert!(store.create_multipart(bad, &ct).await.is_err(), "{bad:?}");
    }
}

/// Parts of 5 MiB (S3's minimum for all but the last), uploaded out of order, one retried.
pub async fn multipart_round_trip_with_an_s3_style_etag(e: &impl Engine) {
    let store = e.store();
    let id = store.create_multipart(KEY, &ContentType::octet_stream()).await.unwrap();
    let parts = [data(5 * MIB as usize, 1), data(5 * MIB as usize, 2), data(12_345, 3)];
    e.put_part(KEY, &id, 2, b"first try".to_vec()).await;
    let mut etags = Vec::new();
    for (i, part) in parts.iter().enumerate().rev() {
        let n = i as u32 + 1;
        let etag = e.put_part(KEY, &id, n, part.clone()).await;
        assert_eq!(etag.as_str(), e.etags().of(part));
        etags.push((n, etag));
    }
    etags.reverse();
    assert_absent(store, KEY).await;

    let meta = store.complete_multipart(KEY, &id, &etags).await.unwrap();
    let whole = parts.concat();
    assert_eq!(meta.size, whole.len() as u64);
    assert_eq!(
        meta.etag.as_str(),
        e.etags().of_parts(&[&parts[0], &parts[1], &parts[2]])
    );
    assert_eq!(store.head(KEY).await.unwrap(), Some(meta));
    assert_eq!(read_all(store.get(KEY, None).await.unwrap()).await, whole);

    // The upload is gone once completed.
    assert!(matches!(
        store.complete_multipart(KEY, &id, &etags).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn multipart_checks_the_part_list_before_sending_it(e: &impl Engine) {
    let store = e.store();
    let id = store.create_multipart(KEY, &ContentType::octet_stream()).await.unwrap();
    let a = e.put_part(KEY, &id, 1, data(5 * MIB as usize, 1)).await;
    let b = e.put_part(KEY, &id, 2, data(100, 2)).await;
    for bad in [
        vec![(2, b.clone()), (1, a.clone())],
        vec![(1, a.clone()), (1, a.clone())],
        vec![],
    ] {
        assert!(
            matches!(
                store.complete_multipart(KEY, &id, &bad).await,
                Err(StoreError::Input(_))
            ),
            "{bad:?}"
        );
    }
    // Nothing of that reached the store: the upload still completes.
    assert_eq!(
        store
            .complete_multipart(KEY, &id, &[(1, a), (2, b)])
            .await
            .unwrap()
            .size,
        5 * MIB + 100
    );
}

pub async fn abort_frees_the_upload_and_is_idempotent(e: &impl Engine) {
    let store = e.store();
    let id = store.create_multipart(KEY, &ContentType::octet_stream()).await.unwrap();
    let etags = vec![
        (1, e.put_part(KEY, &id, 1, data(5 * MIB as usize, 1)).await),
        (2, e.put_part(KEY, &id, 2, data(10, 2)).await),
    ];
    store.abort_multipart(KEY, &id).await.unwrap();
    store.abort_multipart(KEY, &id).await.unwrap();
    assert!(matches!(
        store.complete_multipart(KEY, &id, &etags).await,
        Err(StoreError::NotFound)
    ));
    assert_absent(store, KEY).await;
}

pub async fn ping_answers(e: &impl Engine) {
    e.store().ping().await.unwrap();
}
