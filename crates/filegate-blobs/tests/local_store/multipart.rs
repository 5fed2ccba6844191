//! Multipart uploads in the local directory: parts in any order, an S3-style etag, wrong or
//! missing parts refused, abort, and an upload that belongs to one key.

use filegate_blobs::LocalBlobStore;
use filegate_core::StoreError;
use filegate_core::domain::{ContentType, ETag};
use filegate_core::ports::BlobStore as _;

use super::{KEY, MIB, assert_absent, body, contract, data, etag_of, fixture, leftovers, read_all};

/// Starts a multipart upload of `KEY`; returns its id.
pub(super) async fn new_upload(store: &LocalBlobStore) -> String {
    store.create_multipart(KEY, &ContentType::octet_stream()).await.unwrap()
}

async fn upload_parts(store: &LocalBlobStore, id: &str, parts: &[Vec<u8>]) -> Vec<(u32, ETag)> {
    let mut etags = Vec::new();
    // Out of order on purpose: parts arrive in any order.
    for (i, part) in parts.iter().enumerate().rev() {
        let n = i as u32 + 1;
        let etag = store.put_part(KEY, id, n, body(part), 16 * MIB).await.unwrap();
        assert_eq!(etag.as_str(), etag_of(part));
        etags.push((n, etag));
    }
    etags.reverse();
    etags
}

#[tokio::test]
async fn multipart_round_trip_with_an_s3_style_etag() {
    let f = fixture();
    let id = new_upload(&f.store).await;
    let parts = vec![data(5 * MIB as usize, 1), data(5 * MIB as usize, 2), data(12_345, 3)];
    // A retried part replaces the first try.
    f.store
        .put_part(KEY, &id, 2, body(b"first try"), 16 * MIB)
        .await
        .unwrap();
    let etags = upload_parts(&f.store, &id, &parts).await;

    let meta = f.store.complete_multipart(KEY, &id, &etags).await.unwrap();
    let whole = parts.concat();
    assert_eq!(meta.size, whole.len() as u64);
    assert_eq!(
        meta.etag.as_str(),
        contract::Etags::Sha256.of_parts(&[&parts[0], &parts[1], &parts[2]])
    );
    assert_eq!(f.store.head(KEY).await.unwrap(), Some(meta));
    assert_eq!(read_all(f.store.get(KEY, None).await.unwrap()).await, whole);

    // The upload is gone once completed.
    assert_eq!(std::fs::read_dir(f.root.join("multipart")).unwrap().count(), 0);
    assert!(matches!(
        f.store.complete_multipart(KEY, &id, &etags).await,
        Err(StoreError::NotFound)
    ));
    assert!(leftovers(&f.root).is_empty());
}

#[tokio::test]
async fn multipart_refuses_wrong_or_missing_parts() {
    let f = fixture();
    let id = new_upload(&f.store).await;
    let mut etags = upload_parts(&f.store, &id, &[data(1000, 1), data(1000, 2)]).await;

    let mut wrong = etags.clone();
    wrong[1].1 = ETag::parse(&etag_of(b"something else")).unwrap();
    match f.store.complete_multipart(KEY, &id, &wrong).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("part 2"), "{m}"),
        other => panic!("{other:?}"),
    }
    etags.push((3, ETag::parse(&etag_of(b"never sent")).unwrap()));
    assert!(matches!(
        f.store.complete_multipart(KEY, &id, &etags).await,
        Err(StoreError::Conflict(_))
    ));
    etags.pop();
    let unordered = vec![etags[1].clone(), etags[0].clone()];
    assert!(matches!(
        f.store.complete_multipart(KEY, &id, &unordered).await,
        Err(StoreError::Input(_))
    ));
    assert!(matches!(
        f.store.put_part(KEY, &id, 0, body(b"x"), 10).await,
        Err(StoreError::Input(_))
    ));
    assert!(matches!(
        f.store.put_part(KEY, &id, 10_001, body(b"x"), 10).await,
        Err(StoreError::Input(_))
    ));
    assert!(matches!(
        f.store.put_part(KEY, &id, 1, body(&data(11, 0)), 10).await,
        Err(StoreError::TooLarge(10))
    ));

    // Nothing of the failed attempts is visible, and the upload still completes.
    assert_absent(&f.store, KEY).await;
    let meta = f.store.complete_multipart(KEY, &id, &etags).await.unwrap();
    assert_eq!(meta.size, 2000);
}

#[tokio::test]
async fn abort_removes_everything_and_is_idempotent() {
    let f = fixture();
    let id = new_upload(&f.store).await;
    let etags = upload_parts(&f.store, &id, &[data(1000, 1), data(10, 2)]).await;
    f.store.abort_multipart(KEY, &id).await.unwrap();
    assert_eq!(std::fs::read_dir(f.root.join("multipart")).unwrap().count(), 0);
    assert!(leftovers(&f.root).is_empty());
    f.store.abort_multipart(KEY, &id).await.unwrap();
    assert!(matches!(
        f.store.complete_multipart(KEY, &id, &etags).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        f.store.put_part(KEY, &id, 1, body(b"x"), 10).await,
        Err(StoreError::NotFound)
    ));
    assert_absent(&f.store, KEY).await;
}

#[tokio::test]
async fn an_upload_belongs_to_its_key() {
    let f = fixture();
    let id = new_upload(&f.store).await;
    let etags = upload_parts(&f.store, &id, &[data(100, 1)]).await;
    let other = "t/other/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    assert!(matches!(
        f.store.put_part(other, &id, 1, body(b"x"), 10).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        f.store.complete_multipart(other, &id, &etags).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        f.store.abort_multipart(other, &id).await,
        Err(StoreError::NotFound)
    ));
    let unknown = "0123456789abcdef0123456789abcdef";
    assert!(matches!(
        f.store.complete_multipart(KEY, unknown, &etags).await,
        Err(StoreError::NotFound)
    ));
    // The owner's upload is untouched by all that.
    assert_eq!(f.store.complete_multipart(KEY, &id, &etags).await.unwrap().size, 100);
    assert_absent(&f.store, other).await;
}
