//! `Upload-Checksum`: the body of one `PATCH` hashed as it streams through.

use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt as _;
use sha1::Digest as _;

use crate::domain::{ChecksumAlgorithm, UploadChecksum};
use crate::ports::ByteStream;

enum State {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// The digest of what went through a [`Checked::wrap`]ped body.
#[derive(Clone)]
pub(super) struct Checked(Arc<Mutex<State>>);

impl Checked {
    /// `body`, hashed with the algorithm of `expected` on its way through.
    pub(super) fn wrap(expected: &UploadChecksum, body: ByteStream) -> (Self, ByteStream) {
        let state = match expected.algorithm {
            ChecksumAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        };
        let checked = Self(Arc::new(Mutex::new(state)));
        let hashing = checked.clone();
        let body = body.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                match &mut *hashing.0.lock().unwrap_or_else(PoisonError::into_inner) {
                    State::Sha1(h) => h.update(bytes),
                    State::Sha256(h) => h.update(bytes),
                }
            }
            chunk
        });
        (checked, Box::pin(body))
    }

    /// Whether the bytes that went through hash to `expected`'s digest.
    pub(super) fn matches(&self, expected: &UploadChecksum) -> bool {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let digest: Vec<u8> = match &*state {
            State::Sha1(h) => h.clone().finalize().to_vec(),
            State::Sha256(h) => h.clone().finalize().to_vec(),
        };
        subtle::ConstantTimeEq::ct_eq(digest.as_slice(), expected.digest.as_slice()).into()
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use bytes::Bytes;

    use super::*;

    async fn check(header: &str, chunks: &[&'static [u8]]) -> bool {
        let expected = UploadChecksum::parse(header).unwrap();
        let body: ByteStream = Box::pin(futures::stream::iter(
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect::<Vec<_>>(),
        ));
        let (checked, mut body) = Checked::wrap(&expected, body);
        while body.next().await.is_some() {}
        checked.matches(&expected)
    }

    #[tokio::test]
    async fn the_digest_covers_every_chunk_in_order() {
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let sha1 = format!("sha1 {}", b64(&sha1::Sha1::digest(b"hello world")));
        let sha256 = format!("sha256 {}", b64(&sha2::Sha256::digest(b"hello world")));
        for header in [&sha1, &sha256] {
            assert!(check(header, &[b"hello", b" ", b"world"]).await, "{header}");
            assert!(!check(header, &[b"hello", b"world"]).await, "{header}");
            assert!(!check(header, &[b"world", b" ", b"hello"]).await, "{header}");
        }
    }
}
