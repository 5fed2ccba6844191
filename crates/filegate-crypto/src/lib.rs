//! filegate's cryptographic engines, behind the ports of `filegate-core`:
//!
//! - [`Sealer`]: the `SecretSealer` port, AES-256-GCM (aws-lc-rs) for small secrets at rest.
//! - [`Argon2Hasher`]: the `PasswordHasher` port, Argon2id for share passwords.
//! - [`AgeDecryptor`]: the `PassphraseDecryptor` port, age (`age -p` files) as a stream.

pub mod decrypt;
mod password;
mod sealer;

pub use decrypt::AgeDecryptor;
pub use password::Argon2Hasher;
pub use sealer::{RandomSource, Sealer, system_random};
