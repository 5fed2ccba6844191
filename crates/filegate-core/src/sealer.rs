//! Secrets at rest: small values (exchange passphrases) are stored sealed with AES-256-GCM
//! under a key the server derives from the deployment secret, so a copy of the database alone
//! reveals nothing. Core never reads the key from a file; the server hands it over.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

use crate::error::Error;

/// The first byte of every sealed value: the format, so the scheme can change later.
const FORMAT_V1: u8 = 1;

/// Seals and opens small secrets. Cheap to clone; `Debug` never shows the key.
#[derive(Clone)]
pub struct Sealer {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// A sealer for a 256-bit key (derive one per purpose from the deployment secret).
    pub fn new(key: &[u8; 32]) -> Self {
        let unbound = UnboundKey::new(&AES_256_GCM, key).unwrap_or_else(|_| unreachable!("AES-256 takes 32 bytes"));
        Self {
            key: Arc::new(LessSafeKey::new(unbound)),
        }
    }

    /// `format || nonce || ciphertext || tag`. `context` is authenticated but not stored: a
    /// sealed value only opens with the same context (the tenant and version it belongs to),
    /// so a row copied elsewhere does not decrypt.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Internal(anyhow::anyhow!("no randomness for a nonce")))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut body,
            )
            .map_err(|_| Error::Internal(anyhow::anyhow!("sealing failed")))?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// The plaintext of a value sealed with the same key and context.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        let fail = |why: &str| {
            Error::Internal(anyhow::anyhow!(
                "cannot open a sealed secret ({why}); was the deployment secret changed?"
            ))
        };
        let Some((&FORMAT_V1, rest)) = sealed.split_first() else {
            return Err(fail("unknown format"));
        };
        if rest.len() < NONCE_LEN {
            return Err(fail("too short"));
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail("bad nonce"))?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| fail("authentication failed"))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal("t/1", b"secret words").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(sealer.open("t/1", &sealed).unwrap(), b"secret words");
        assert!(sealer.open("t/2", &sealed).is_err());
        assert!(Sealer::new(&[8; 32]).open("t/1", &sealed).is_err());
        assert!(sealer.open("t/1", &sealed[..5]).is_err());
        assert_ne!(sealer.seal("t/1", b"x").unwrap(), sealer.seal("t/1", b"x").unwrap());
    }
}
