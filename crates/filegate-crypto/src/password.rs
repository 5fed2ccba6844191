//! `Argon2Hasher`: the `PasswordHasher` port with Argon2id and its default parameters
//! (19 MiB, 2 passes), written as PHC strings so that the parameters can change later
//! without breaking the hashes already stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use filegate_core::domain::{PasswordHash, SharePassword};
use filegate_core::ports::{HashError, PasswordHasher};
use rand::RngCore as _;

#[derive(Debug, Clone, Copy, Default)]
pub struct Argon2Hasher;

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &SharePassword) -> Result<PasswordHash, HashError> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        Argon2::default()
            .hash_password_with_salt(password.expose().as_bytes(), &salt)
            .map(|hash| PasswordHash::from_stored(hash.to_string()))
            .map_err(|e| HashError(e.to_string()))
    }

    /// Argon2's own constant-time comparison.
    fn verify(&self, hash: &PasswordHash, candidate: &str) -> bool {
        Argon2::default()
            .verify_password(candidate.as_bytes(), hash.as_str())
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_salted_and_verified() {
        let password = SharePassword::parse("correct horse").unwrap();
        let hash = Argon2Hasher.hash(&password).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"), "{}", hash.as_str());
        assert!(!hash.as_str().contains("horse"));
        assert!(Argon2Hasher.verify(&hash, "correct horse"));
        assert!(!Argon2Hasher.verify(&hash, "correct horse "));
        assert!(!Argon2Hasher.verify(&PasswordHash::from_stored("garbage".into()), "correct horse"));
        assert_ne!(Argon2Hasher.hash(&password).unwrap(), hash, "salted");
    }
}
