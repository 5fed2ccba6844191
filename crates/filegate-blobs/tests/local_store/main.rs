//! The local-directory store against the `BlobStore` contract, through its public API only.

// The contract is shared with the S3 store's tests, beside this directory.
#[path = "../contract/mod.rs"]
#[macro_use]
mod contract;
mod multipart;
mod presigned;

use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;

use bytes::Bytes;
use filegate_blobs::{LocalBlobStore, UrlSigner};
use filegate_core::StoreError;
use filegate_core::domain::{ContentType, ETag};
use filegate_core::ports::{BlobStore, ByteStream};
use futures::{StreamExt as _, stream};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use url::Url;

use contract::{KEY, MIB, assert_absent, body, data, read_all};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: LocalBlobStore,
}

fn signer() -> UrlSigner {
    UrlSigner::new([42; 32])
}

fn open(root: &Path) -> LocalBlobStore {
    let base = Url::parse("http://127.0.0.1:8080/").unwrap();
    LocalBlobStore::open(root.to_owned(), signer(), base).unwrap()
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let store = open(&root);
    Fixture { _dir: dir, root, store }
}

/// This store's etag of `bytes` (see the contract's `Etags`).
fn etag_of(bytes: &[u8]) -> String {
    contract::Etags::Sha256.of(bytes)
}

/// Every file under `root/tmp` except the lock files of live stores.
fn leftovers(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if !matches!(path.file_name().and_then(|n| n.to_str()), Some(".lock" | ".sweep-lock")) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("tmp"), &mut out);
    out
}

/// The shared contract (`contract/mod.rs`), run against this engine too.
struct Local(Fixture);

#[async_trait::async_trait]
impl contract::Engine for Local {
    fn store(&self) -> &dyn BlobStore {
        &self.0.store
    }

    fn etags(&self) -> contract::Etags {
        contract::Etags::Sha256
    }

    async fn put_part(&self, key: &str, upload_id: &str, part: u32, bytes: Vec<u8>) -> ETag {
        self.0
            .store
            .put_part(key, upload_id, part, body(&bytes), 16 * MIB)
            .await
            .unwrap()
    }

    async fn upload_signed(&self, key: &str, bytes: Vec<u8>) -> bool {
        match self.0.store.put_once(key, body(&bytes), bytes.len() as u64).await {
            Ok(_) => true,
            Err(StoreError::Conflict(_)) => false,
            Err(e) => panic!("{e:?}"),
        }
    }

    async fn upload_form(&self, key: &str, bytes: Vec<u8>) -> bool {
        self.upload_signed(key, bytes).await
    }
}

mod contract_tests {
    use super::*;

    macro_rules! contract_tests {
        ($($scenario:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $scenario() {
                let local = Local(fixture());
                contract::$scenario(&local).await;
                assert!(leftovers(&local.0.root).is_empty());
            }
        )*};
    }

    every_scenario!(contract_tests);
}

/// A body fed by a channel; returns once the store has taken `chunks` chunks (the channel
/// holds one, so every send but the last waited for the store to read the one before).
async fn feed_until_taken(put: std::pin::Pin<&mut impl Future>, tx: &mpsc::Sender<io::Result<Bytes>>, chunks: usize) {
    let feed = async {
        for i in 0..chunks {
            tx.send(Ok(Bytes::from(data(64 * 1024, i as u8)))).await.unwrap();
        }
    };
    tokio::select! {
        _ = put => panic!("the put finished while its body was still open"),
        _ = feed => {}
    }
}

#[tokio::test]
async fn a_dropped_put_leaves_nothing() {
    let f = fixture();
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(1);
    let body: ByteStream = Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    {
        let mut put = pin!(f.store.put(KEY, body, 100 * MIB));
        feed_until_taken(put.as_mut(), &tx, 8).await;
        assert!(!leftovers(&f.root).is_empty(), "the bytes so far are in a temp file");
        // The client disconnects: the server drops the request's future.
    }
    assert_absent(&f.store, KEY).await;
    assert!(leftovers(&f.root).is_empty(), "the dropped put removed its temp file");
}

#[tokio::test]
async fn a_crash_between_writing_and_renaming_leaves_nothing_visible() {
    let f = fixture();
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(1);
    let body: ByteStream = Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let mut put = Box::pin(f.store.put(KEY, body, 100 * MIB));
    feed_until_taken(put.as_mut(), &tx, 8).await;
    // A crash runs no destructors: forget the future so its cleanup never happens.
    std::mem::forget(put);
    assert!(!leftovers(&f.root).is_empty());
    assert_absent(&f.store, KEY).await;

    // The process is gone (its lock with it); the next start sweeps what it left.
    let Fixture { _dir, root, store } = f;
    drop(store);
    let store = open(&root);
    assert_absent(&store, KEY).await;
    assert_eq!(leftovers(&root), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn opening_a_second_store_spares_the_first_ones_uploads() {
    let f = fixture();
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(1);
    let body: ByteStream = Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let mut put = pin!(f.store.put(KEY, body, 100 * MIB));
    feed_until_taken(put.as_mut(), &tx, 4).await;
    let _cli = open(&f.root); // e.g. a CLI command run beside the server
    drop(tx);
    let meta = put.await.unwrap();
    assert_eq!(f.store.head(KEY).await.unwrap(), Some(meta));
}

#[tokio::test]
async fn exact_size_is_enforced_both_ways() {
    let f = fixture();
    let bytes = data(5000, 5);
    let err = f
        .store
        .put_with_limits(KEY, body(&bytes), MIB, Some(4999))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooLarge(4999)), "{err:?}");
    let err = f
        .store
        .put_with_limits(KEY, body(&bytes), MIB, Some(5001))
        .await
        .unwrap_err();
    match err {
        StoreError::Input(m) => assert!(m.contains("expected 5001 bytes, got 5000"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_absent(&f.store, KEY).await;
    assert!(leftovers(&f.root).is_empty());
    let meta = f
        .store
        .put_with_limits(KEY, body(&bytes), MIB, Some(5000))
        .await
        .unwrap();
    assert_eq!(meta.etag.as_str(), etag_of(&bytes));
}

/// Form parsers hand over empty chunks now and then: they store nothing and break nothing,
/// for an empty body as for a full one.
#[tokio::test]
async fn empty_chunks_in_a_body_are_harmless() {
    let f = fixture();
    let chunks = |parts: Vec<&'static [u8]>| -> ByteStream {
        Box::pin(stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))))
    };
    let meta = f.store.put(KEY, chunks(vec![b"", b""]), 0).await.unwrap();
    assert_eq!((meta.size, meta.etag.as_str()), (0, etag_of(b"").as_str()));
    let meta = f
        .store
        .put(KEY, chunks(vec![b"", b"hel", b"", b"lo", b""]), 10)
        .await
        .unwrap();
    assert_eq!((meta.size, meta.etag.as_str()), (5, etag_of(b"hello").as_str()));
    let mut got = Vec::new();
    let mut stream = f.store.get(KEY, None).await.unwrap();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, b"hello");
}

#[tokio::test]
async fn delete_is_idempotent_and_complete() {
    let f = fixture();
    f.store.put(KEY, body(b"bye"), 10).await.unwrap();
    // A key that is only a directory of longer keys deletes nothing.
    f.store.delete("t/default").await.unwrap();
    assert_eq!(f.store.head(KEY).await.unwrap().map(|m| m.size), Some(3));
    f.store.delete(KEY).await.unwrap();
    assert_absent(&f.store, KEY).await;
    f.store.delete(KEY).await.unwrap();
    let dir = f.root.join("objects/t/default");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "the etag sidecar went too");
}

/// The etag lives on the object's inode (a filesystem with user attributes, as ext4, XFS
/// and tmpfs have): one file per object, and an object written with a sidecar beside it (as
/// before, or on a filesystem without them) still reports its etag.
#[tokio::test]
async fn an_object_is_one_file_and_an_older_sidecar_still_counts() {
    let f = fixture();
    let meta = f.store.put(KEY, body(b"hello"), 10).await.unwrap();
    let dir = f.root.join("objects/t/default");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(f.store.head(KEY).await.unwrap(), Some(meta));

    // An object from before: plain bytes, its etag in a sidecar naming its inode and size.
    let old = dir.join("older");
    std::fs::write(&old, b"legacy").unwrap();
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&old).unwrap());
    std::fs::write(
        dir.join("older~etag"),
        format!("d41d8cd98f00b204e9800998ecf8427e\n{ino}\n6\n"),
    )
    .unwrap();
    let head = f.store.head("t/default/older").await.unwrap().unwrap();
    assert_eq!((head.size, head.etag.as_str()), (6, "d41d8cd98f00b204e9800998ecf8427e"));
}

#[tokio::test]
async fn path_escaping_keys_are_refused() {
    let f = fixture();
    std::fs::write(f._dir.path().join("secret"), b"outside").unwrap();
    for bad in [
        "../secret",
        "../../secret",
        "/etc/passwd",
        "t/../../secret",
        "t//x",
        "t/x/",
        "",
        "t/x~etag",
        "a\\b",
    ] {
        assert!(
            matches!(f.store.put(bad, body(b"x"), 10).await, Err(StoreError::Input(_))),
            "{bad:?}"
        );
        assert!(
            matches!(f.store.get(bad, None).await, Err(StoreError::Input(_))),
            "{bad:?}"
        );
        assert!(matches!(f.store.head(bad).await, Err(StoreError::Input(_))), "{bad:?}");
        assert!(
            matches!(f.store.delete(bad).await, Err(StoreError::Input(_))),
            "{bad:?}"
        );
        let ct = ContentType::octet_stream();
        assert!(f.store.create_multipart(bad, &ct).await.is_err(), "{bad:?}");
    }
    assert!(f._dir.path().join("secret").exists());
    for bad in ["../x", "..", "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b/../x"] {
        let r = f.store.put_part(KEY, bad, 1, body(b"x"), 10).await;
        assert!(matches!(r, Err(StoreError::Input(_))), "{bad:?}");
        assert!(f.store.abort_multipart(KEY, bad).await.is_err());
    }
}

#[tokio::test]
async fn ping_checks_the_directory() {
    let f = fixture();
    f.store.ping().await.unwrap();
    std::fs::remove_dir_all(&f.root).unwrap();
    assert!(matches!(f.store.ping().await, Err(StoreError::Unavailable(_))));
}

#[tokio::test]
async fn a_64_mib_upload_streams_through() {
    let f = fixture();
    const CHUNK: usize = 256 * 1024;
    let chunks = (64 * MIB as usize) / CHUNK;
    // Made on the fly, so the test itself holds one chunk at a time.
    let block = Bytes::from(data(CHUNK, 9));
    let chunk = move |i: usize| {
        let mut c = block.to_vec();
        c[..8].copy_from_slice(&(i as u64).to_le_bytes());
        Bytes::from(c)
    };
    let mut expected = Sha256::new();
    (0..chunks).for_each(|i| expected.update(chunk(i)));
    let body: ByteStream = Box::pin(stream::iter(0..chunks).map(move |i| Ok(chunk(i))));
    let meta = f.store.put(KEY, body, 64 * MIB).await.unwrap();
    assert_eq!(meta.size, 64 * MIB);
    assert_eq!(meta.etag.as_str(), hex::encode(expected.finalize()));

    let mut got = Sha256::new();
    let mut stream = f.store.get(KEY, None).await.unwrap();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= 256 * 1024, "reads come in bounded chunks");
        total += chunk.len() as u64;
        got.update(&chunk);
    }
    assert_eq!(total, 64 * MIB);
    assert_eq!(hex::encode(got.finalize()), meta.etag.as_str());
}

/// Stored bytes are readable by filegate's user only (not by other local users): objects, their temp files
/// and parts 0600, every directory the store makes 0700, whatever the umask lets through.
#[tokio::test]
async fn objects_and_directories_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = fixture();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    f.store.put(KEY, body(b"private"), MIB).await.unwrap();
    assert!(f.store.put_once("t/other/one", body(b"x"), 1).await.is_ok());
    let object = f.root.join("objects").join(KEY);
    assert_eq!(mode(&object), 0o600, "an object");
    assert_eq!(
        mode(&f.root.join("objects/t/other/one")),
        0o600,
        "a signed upload's object"
    );
    for dir in ["", "objects", "objects/t", "objects/t/default", "multipart", "tmp"] {
        assert_eq!(mode(&f.root.join(dir)), 0o700, "directory {dir:?}");
    }
    assert_eq!(mode(f.store.scratch_dir()), 0o700, "the instance's temp directory");

    let id = f
        .store
        .create_multipart("t/default/parts", &ContentType::octet_stream())
        .await
        .unwrap();
    let etag = f
        .store
        .put_part("t/default/parts", &id, 1, body(b"part"), MIB)
        .await
        .unwrap();
    let upload = f.root.join("multipart").join(&id);
    assert_eq!(mode(&upload), 0o700, "a multipart upload's directory");
    for entry in std::fs::read_dir(&upload).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    f.store
        .complete_multipart("t/default/parts", &id, &[(1, etag)])
        .await
        .unwrap();
    assert_eq!(
        mode(&f.root.join("objects/t/default/parts")),
        0o600,
        "an assembled object"
    );
}

/// Of two single uploads to one key, the first to finish is kept even when the other one
/// started first and was still streaming: the late one is refused at its rename, its temp
/// file goes, and the stored bytes and etag are the first one's.
#[tokio::test]
async fn a_held_open_signed_upload_cannot_replace_one_that_finished() {
    let f = fixture();
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(1);
    let held: ByteStream = Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let size: usize = 300_000;
    let mut late_put = pin!(f.store.put_once(KEY, held, size as u64));
    feed_until_taken(late_put.as_mut(), &tx, 2).await; // 2 × 64 KiB taken, the rest to come

    let first = data(size, 9);
    let meta = f.store.put_once(KEY, body(&first), size as u64).await.unwrap();

    let rest = async move {
        tx.send(Ok(Bytes::from(data(size - 2 * 64 * 1024, 2)))).await.unwrap();
    };
    let (late, ()) = tokio::join!(late_put, rest);
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    assert_eq!(f.store.head(KEY).await.unwrap(), Some(meta));
    assert_eq!(read_all(f.store.get(KEY, None).await.unwrap()).await, first);
    assert!(leftovers(&f.root).is_empty(), "the refused upload's temp file is gone");
}
