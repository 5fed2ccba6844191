//! `PasswordHasher`: share passwords are stored as slow, salted hashes, so that a copy of the
//! database does not give them away cheaply. Implemented with Argon2id in `filegate-crypto`;
//! the rules around it (attempts counted before each check, lockouts) are the use case's.

use crate::domain::{PasswordHash, SharePassword};

/// Why a password could not be hashed (the engine's own failure, not the password's).
#[derive(Debug, thiserror::Error)]
#[error("hashing a password: {0}")]
pub struct HashError(pub String);

/// Both calls are slow on purpose (tens of milliseconds of CPU and megabytes of memory):
/// callers run them off the async threads, a few at a time.
pub trait PasswordHasher: Send + Sync + 'static {
    /// A hash of `password` under a fresh salt, carrying its own parameters.
    fn hash(&self, password: &SharePassword) -> Result<PasswordHash, HashError>;
    /// Whether `candidate` is the password `hash` was made from, compared in constant time.
    /// A hash that does not parse matches nothing.
    fn verify(&self, hash: &PasswordHash, candidate: &str) -> bool;
}
