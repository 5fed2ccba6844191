//! The local store's etags: the hex SHA-256 of an object's bytes, what `sha256sum` prints.
//!
//! S3 answers the MD5 instead, but MD5 runs at a third of SHA-256's speed on a CPU with SHA
//! extensions (which the `sha2` crate uses), and hashing is what bounds an upload here: with
//! MD5 the local store could not take a body as fast as the disk does. An etag is opaque to
//! clients — they hand it back to `complete` as they got it — so only its shape differs
//! between the engines. A multipart object's etag keeps S3's shape with the same hash: the
//! SHA-256 of the parts' binary digests, then `-<number of parts>`.

use filegate_core::domain::Sha256Hex;
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

/// The SHA-256 an object's etag vouches for: all of it, unless the object was assembled
/// from parts (`<hash of the parts' hashes>-N`), whose etag says nothing of the whole.
pub(crate) fn sha256_of(etag: &str) -> Option<Sha256Hex> {
    (etag.len() == 2 * DIGEST_LEN && etag.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Sha256Hex::parse(etag).ok())
        .flatten()
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
    fn a_single_objects_etag_vouches_for_its_sha256_and_an_assembled_ones_does_not() {
        let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(sha256_of(hello).map(|s| s.to_string()).as_deref(), Some(hello));
        assert_eq!(sha256_of(&format!("{hello}-3")), None);
        assert_eq!(sha256_of("d41d8cd98f00b204e9800998ecf8427e"), None);
    }

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
