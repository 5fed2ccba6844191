//! Secrets at rest: small values (exchange passphrases, share tokens waiting for their
//! email, webhook signing secrets) are stored sealed with AES-256-GCM under a key the server
//! derives from the deployment secret, one key per purpose, so a copy of the database alone
//! reveals nothing. Core never reads the key from a file; the server hands it over.
//!
//! The one implementation of [`SecretSealer`]. It fails closed: when the random source gives
//! no nonce, or the cipher fails, `seal` returns an error and the caller stores nothing —
//! never the plain value, never a value sealed under a nonce used before.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

use filegate_core::ports::{SealError, SecretSealer};

/// The first byte of every sealed value: the format, so the scheme can change later.
/// Format 1 is `1 || nonce (12) || ciphertext || tag (16)`, the context authenticated but
/// not stored.
const FORMAT_V1: u8 = 1;

/// Fills a buffer with cryptographically secure random bytes, or fails.
pub type RandomSource = fn(&mut [u8]) -> Result<(), Unspecified>;

/// The system's random source (aws-lc-rs: `getrandom` on Linux).
pub fn system_random(buffer: &mut [u8]) -> Result<(), Unspecified> {
    SystemRandom::new().fill(buffer)
}

/// Seals and opens small secrets. Cheap to clone; `Debug` never shows the key.
#[derive(Clone)]
pub struct Sealer {
    key: Arc<LessSafeKey>,
    random: RandomSource,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// A sealer for a 256-bit key (derive one per purpose from the deployment secret),
    /// drawing its nonces from the system's random source.
    pub fn new(key: &[u8; 32]) -> Self {
        Self::with_random(key, system_random)
    }

    /// A sealer drawing its nonces from `random` (a test's failing source).
    pub fn with_random(key: &[u8; 32], random: RandomSource) -> Self {
        let unbound = UnboundKey::new(&AES_256_GCM, key).unwrap_or_else(|_| unreachable!("AES-256 takes 32 bytes"));
        Self {
            key: Arc::new(LessSafeKey::new(unbound)),
            random,
        }
    }
}

impl SecretSealer for Sealer {
    /// `format || nonce || ciphertext || tag`. `context` is authenticated but not stored: a
    /// sealed value only opens with the same context (the row it belongs to), so a value
    /// copied elsewhere does not decrypt.
    fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        (self.random)(&mut nonce).map_err(|_| SealError::NoRandomness)?;
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut body)
            .map_err(|_| SealError::Cipher)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + body.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let (&FORMAT_V1, rest) = sealed.split_first()? else {
            return None;
        };
        if rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context), &mut body).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal(b"secret words", b"t/1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"), "stored in the clear");
        assert_eq!(sealer.open(&sealed, b"t/1").unwrap(), b"secret words");
        assert_eq!(sealer.open(&sealed, b"t/2"), None, "moved to another row");
        assert_eq!(
            Sealer::new(&[8; 32]).open(&sealed, b"t/1"),
            None,
            "another deployment secret"
        );
        assert_eq!(sealer.open(&sealed[..5], b"t/1"), None);
        assert_eq!(sealer.open(&[], b"t/1"), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.open(&tampered, b"t/1"), None);
        assert_ne!(
            sealer.seal(b"x", b"t/1").unwrap(),
            sealer.seal(b"x", b"t/1").unwrap(),
            "a fresh nonce each time"
        );
    }

    /// Values sealed before the two sealers became one still open: the exchange passphrase
    /// sealer's (context as text) and the webhook secret sealer's (context as bytes) wrote
    /// the same format. Both vectors were written by the code as it was then.
    #[test]
    fn values_sealed_by_the_earlier_sealers_still_open() {
        let exchange = unhex(
            "01c0a3a58c8f98f5f8ddcacd3a12376c8fa07fa0a0a9656576c8e8e8fe5a4deb8f4fbe7d45a9157319e3646ae089b89d40b51bcbb3969e43fc",
        );
        assert_eq!(
            Sealer::new(&[7; 32])
                .open(&exchange, b"filegate/exchange-passphrase/acme/1")
                .as_deref(),
            Some(&b"correct horse battery staple"[..])
        );
        let webhook =
            unhex("01046f80f661e9b660128910a1b650cc68d370876efcf1188f2268ec5f6741824d705edde27b720e95c399396c");
        assert_eq!(
            Sealer::new(&[9; 32]).open(&webhook, b"webhook/acme/0190").as_deref(),
            Some(&b"whsec-old-format"[..])
        );
    }

    /// Without a fresh nonce nothing is sealed: no value under a zero (or repeated) nonce,
    /// and never the plain text in its place.
    #[test]
    fn a_failing_random_source_fails_the_seal() {
        fn broken(_: &mut [u8]) -> Result<(), Unspecified> {
            Err(Unspecified)
        }
        let sealer = Sealer::with_random(&[7; 32], broken);
        assert!(matches!(
            sealer.seal(b"secret words", b"t/1"),
            Err(SealError::NoRandomness)
        ));
    }
}
