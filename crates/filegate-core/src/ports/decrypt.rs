//! `PassphraseDecryptor`: opens files a client encrypted with a passphrase (`age -p`; age in
//! `filegate-crypto`), as a stream. Which passphrases to try, what an old one opening a file
//! means and where the plaintext goes are the `decrypt` stage's rules.

use async_trait::async_trait;

use super::ByteStream;
use crate::domain::Passphrase;

#[async_trait]
pub trait PassphraseDecryptor: Send + Sync + 'static {
    /// Reads the header of `ciphertext` and opens it with the first of `candidates`
    /// (version and passphrase, newest first) that fits, refusing a key-derivation work
    /// factor (log2) above `max_work_factor` before deriving anything. The derivation is
    /// seconds of CPU per candidate: implementations run it off the async threads. The
    /// plaintext then streams, in bounded chunks, as it is read.
    async fn open(
        &self,
        ciphertext: ByteStream,
        candidates: Vec<(u32, Passphrase)>,
        max_work_factor: u8,
    ) -> Result<Opened, DecryptError>;
}

/// A file that opened: the passphrase version that did it and the plaintext.
pub struct Opened {
    pub version: u32,
    pub plaintext: ByteStream,
}

/// Why a file did not open. Every variant but `Task` is about the bytes (or, when reading
/// them failed, about the failure: the caller, who wraps the ciphertext stream, can tell).
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error("not a binary age file ({0}); armored files (age -a) are refused")]
    NotAge(String),
    #[error("the age file is not encrypted with a passphrase (age -p)")]
    NotPassphrase,
    #[error("the file's scrypt work factor 2^{required} exceeds the accepted 2^{max}")]
    ExcessiveWork { required: u8, max: u8 },
    #[error("none of the {tried} exchange passphrase version(s) opens the file")]
    NoMatch { tried: usize },
    #[error("{0}")]
    Other(String),
    /// The decryption task itself stopped: nothing is known about the bytes.
    #[error("the decryption task failed: {0}")]
    Task(String),
}
