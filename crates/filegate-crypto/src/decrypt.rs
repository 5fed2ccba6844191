//! `AgeDecryptor`: the `PassphraseDecryptor` port with age's streaming decryptor, for files
//! encrypted with a passphrase (`age -p`; binary, not armored). The plaintext streams in
//! chunks of 64 KiB, so memory stays flat whatever the file's size.

use std::sync::Mutex;

use age::secrecy::SecretString;
use age::{DecryptError as AgeError, Decryptor};
use age_core::format::{FileKey, Stanza};
use async_trait::async_trait;
use bytes::Bytes;
use filegate_core::domain::Passphrase;
use filegate_core::ports::{ByteStream, DecryptError, Opened, PassphraseDecryptor};
use futures::{AsyncReadExt as _, TryStreamExt as _};

const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct AgeDecryptor;

#[async_trait]
impl PassphraseDecryptor for AgeDecryptor {
    async fn open(
        &self,
        ciphertext: ByteStream,
        candidates: Vec<(u32, Passphrase)>,
        max_work_factor: u8,
    ) -> Result<Opened, DecryptError> {
        let tried = candidates.len();
        // Binary only: age's armored reader spins forever on some short inputs (age 0.12),
        // which a client could use to hang a worker. `age -p` writes binary by default.
        let decryptor = Decryptor::new_async_buffered(ciphertext.into_async_read())
            .await
            .map_err(|e| DecryptError::NotAge(e.to_string()))?;
        if !decryptor.is_scrypt() {
            return Err(DecryptError::NotPassphrase);
        }
        // scrypt is seconds of CPU per version tried: off the async threads.
        let identity = Versions::new(candidates, max_work_factor);
        let (opened, identity) = tokio::task::spawn_blocking(move || {
            let opened = decryptor.decrypt_async(std::iter::once(&identity as &dyn age::Identity));
            (opened, identity)
        })
        .await
        .map_err(|e| DecryptError::Task(e.to_string()))?;
        let reader = opened.map_err(|e| match e {
            // Never through `Display`: age 0.12 computes `1 << (required - target)` there,
            // which overflows (a panic with overflow checks) for a factor far off the target.
            AgeError::ExcessiveWork { required, .. } => DecryptError::ExcessiveWork {
                required,
                max: max_work_factor,
            },
            AgeError::DecryptionFailed | AgeError::NoMatchingKeys => DecryptError::NoMatch { tried },
            other => DecryptError::Other(other.to_string()),
        })?;
        let version = identity
            .used()
            .ok_or_else(|| DecryptError::Other("the file opened without a passphrase version".into()))?;
        Ok(Opened {
            version,
            plaintext: chunks(reader),
        })
    }
}

/// The plaintext reader as a stream of chunks of at most 64 KiB.
fn chunks<R>(reader: R) -> ByteStream
where
    R: futures::AsyncRead + Unpin + Send + 'static,
{
    Box::pin(futures::stream::try_unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), reader)))
    }))
}

/// One age identity trying the tenant's passphrase versions in order (newest first) and
/// remembering which one opened the file. age stops at the first identity that answers with
/// an error, and a wrong passphrase is an error, so the versions cannot be separate
/// identities.
#[doc(hidden)] // public for the fuzz target (fuzz/fuzz_targets/age_header.rs)
pub struct Versions {
    candidates: Vec<(u32, age::scrypt::Identity)>,
    used: Mutex<Option<u32>>,
}

impl Versions {
    pub fn new(candidates: Vec<(u32, Passphrase)>, max_work_factor: u8) -> Self {
        let candidates = candidates
            .into_iter()
            .map(|(version, passphrase)| {
                let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.expose().to_owned()));
                identity.set_max_work_factor(max_work_factor);
                (version, identity)
            })
            .collect();
        Self {
            candidates,
            used: Mutex::new(None),
        }
    }

    pub fn used(&self) -> Option<u32> {
        self.used.lock().ok().and_then(|v| *v)
    }
}

impl age::Identity for Versions {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, AgeError>> {
        let mut last = None;
        for (version, identity) in &self.candidates {
            match age::Identity::unwrap_stanza(identity, stanza)? {
                Ok(key) => {
                    if let Ok(mut used) = self.used.lock() {
                        *used = Some(*version);
                    }
                    return Some(Ok(key));
                }
                // A wrong passphrase: try the next version.
                Err(AgeError::DecryptionFailed) => last = Some(Err(AgeError::DecryptionFailed)),
                // Too much work or a malformed stanza: the same for every version.
                Err(e) => return Some(Err(e)),
            }
        }
        last
    }
}
