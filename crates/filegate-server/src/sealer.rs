//! Webhook secrets at rest: sealed with AES-256-GCM under a key derived from the deployment
//! secret, so a database dump alone does not let anyone forge deliveries. The sealed value
//! is bound to its row (the context is the associated data): copied to another webhook, it
//! does not open. Changing the deployment secret makes existing webhook secrets unreadable
//! (their deliveries fail, saying to recreate the webhook).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use filegate_core::ports::SecretSealer;

/// Key-derivation label of the webhook secret key.
pub const WEBHOOK_KEY_PURPOSE: &str = "filegate/webhook-secrets/v1";
/// The first byte of a sealed value: the format, so another can follow.
const VERSION: u8 = 1;

pub struct AeadSealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl AeadSealer {
    pub fn new(key: &[u8; 32]) -> anyhow::Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| anyhow::anyhow!("AES-256-GCM refused the key"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        })
    }
}

impl SecretSealer for AeadSealer {
    fn seal(&self, plain: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // The system's random source does not fail on the platforms we build for; if it ever
        // did, a zero nonce repeated would weaken only the secrets sealed meanwhile.
        if self.random.fill(&mut nonce).is_err() {
            tracing::error!("the system random source failed while sealing a secret");
        }
        let mut sealed = plain.to_vec();
        if self
            .key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut sealed)
            .is_err()
        {
            tracing::error!("sealing a secret failed");
        }
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(context), &mut buffer).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let sealer = AeadSealer::new(&[7u8; 32]).unwrap();
        let sealed = sealer.seal(b"the secret", b"row-1");
        assert!(!sealed.windows(10).any(|w| w == b"the secret"), "stored in the clear");
        assert_eq!(sealer.open(&sealed, b"row-1").as_deref(), Some(&b"the secret"[..]));
        assert_eq!(sealer.open(&sealed, b"row-2"), None, "moved to another row");
        let other = AeadSealer::new(&[8u8; 32]).unwrap();
        assert_eq!(other.open(&sealed, b"row-1"), None, "another deployment secret");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(sealer.open(&tampered, b"row-1"), None);
        assert_eq!(sealer.open(&[], b"row-1"), None);
        assert_ne!(
            sealer.seal(b"x", b"c"),
            sealer.seal(b"x", b"c"),
            "fresh nonce each time"
        );
    }
}
