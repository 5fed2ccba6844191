//! The local store's etags: the hex SHA-256 of an object's bytes, what `sha256sum` prints.
//!
//! S3 answers the MD5 instead, but MD5 runs at a third of SHA-256's speed on a CPU with SHA
//! extensions (which the `sha2` crate uses), and hashing is what bounds an upload here: with
//! MD5 the local store could not take a body as fast as the disk does. An etag is opaque to
//! clients — they hand it back to `complete` as they got it — so only its shape differs
//! between the engines. A multipart object's etag keeps S3's shape with the same hash: the
//! SHA-256 of the parts' binary digests, then `-<number of parts>`.

use sha2::{Digest as _, Sha256};

/// Bytes in a digest: the trailer of a stored part (see `multipart.rs`).
pub(crate) const DIGEST_LEN: usize = 32;

pub(crate) type Digest = [u8; DIGEST_LEN];

/// Hashes a body as it arrives.
#[derive(Default)]
pub(crate) struct Hasher(Sha256);

impl Hasher {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn finish(self) -> Digest {
        self.0.finalize().into()
    }
}

/// The etag of an object (or of one part) whose bytes hash to `digest`.
pub(crate) fn of_object(digest: &Digest) -> String {
    hex::encode(digest)
}

/// The etag of an object assembled from parts with these digests, in order.
pub(crate) fn of_parts<'a>(digests: impl ExactSizeIterator<Item = &'a Digest>) -> String {
    let count = digests.len();
    let mut all = Sha256::new();
    for digest in digests {
        all.update(digest);
    }
    format!("{}-{count}", hex::encode(all.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_is_what_sha256sum_prints() {
        let mut h = Hasher::default();
        h.update(b"hel");
        h.update(b"lo");
        assert_eq!(
            of_object(&h.finish()),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }
}
