//! `decrypt`: an upload created with `"encryption": "age"` arrives as an age file encrypted
//! with the tenant's exchange passphrase (passphrase mode, what `age -p` writes; binary,
//! not armored). The newest passphrase version is tried first, then the older ones. The plaintext
//! is streamed into storage beside the ciphertext while its sha256 is computed; the file then
//! describes the plaintext, and the pipeline's final save removes the ciphertext. Memory
//! stays flat: 64 KiB chunks through age's streaming decryptor.
//!
//! An older version opening the file is audited here (once per file) and alerted with the
//! `ready` transition (`pipeline::ready`). No version opening it fails the file with a
//! reason starting `cannot-decrypt`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use age::secrecy::SecretString;
use age::{DecryptError, Decryptor};
use age_core::format::{FileKey, Stanza};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{AsyncReadExt as _, TryStreamExt as _};
use sha2::{Digest as _, Sha256};

use super::{Stage, StageContext, StageError};
use crate::domain::{ContentType, Decryption, Encryption, Passphrase, Sha256Hex, plaintext_key};
use crate::error::{Error, StoreError};
use crate::ports::ByteStream;
use crate::usecases::audit::{self, Actor};
use crate::usecases::exchange;

const CHUNK: usize = 64 * 1024;

pub struct Decrypt;

#[async_trait]
impl Stage for Decrypt {
    fn name(&self) -> &'static str {
        "decrypt"
    }

    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        if ctx.file.encryption != Some(Encryption::Age) || ctx.file.processing.decryption.is_some() {
            return Ok(());
        }
        let services = ctx.services;
        let candidates = exchange::candidates(services, &ctx.file.tenant).await.map_err(retry)?;
        let Some(newest) = candidates.first().map(|(v, _)| *v) else {
            return Err(cannot("the tenant has no exchange passphrase yet"));
        };
        let tried = candidates.len();

        // Storage failing mid-read is worth a retry; bytes that do not decrypt are not. The
        // flag tells the two apart once the error has travelled through age's reader.
        let source_failed = Arc::new(AtomicBool::new(false));
        let flag = source_failed.clone();
        let ciphertext = match services.blobs.get(&ctx.file.blob_key, None).await {
            Ok(stream) => stream.map_err(move |e| {
                flag.store(true, Ordering::SeqCst);
                e
            }),
            Err(StoreError::NotFound) => {
                return Err(StageError::Fail("the uploaded bytes are missing from storage".into()));
            }
            Err(e) => return Err(e.into()),
        };
        // Binary only: age's armored reader spins forever on some short inputs (age 0.12),
        // which a client could use to hang a worker. `age -p` writes binary by default.
        let decryptor = match Decryptor::new_async_buffered(ciphertext.into_async_read()).await {
            Ok(d) => d,
            Err(_) if source_failed.load(Ordering::SeqCst) => {
                return Err(StageError::Retry(anyhow::anyhow!("reading the ciphertext failed")));
            }
            Err(e) => {
                return Err(cannot(&format!(
                    "not a binary age file ({e}); armored files (age -a) are refused"
                )));
            }
        };
        if !decryptor.is_scrypt() {
            return Err(cannot("the age file is not encrypted with a passphrase (age -p)"));
        }

        // scrypt is seconds of CPU per version tried: off the async threads.
        let max_work = services.settings.max_scrypt_work_factor;
        let identity = Versions::new(candidates, max_work);
        let (opened, identity) = tokio::task::spawn_blocking(move || {
            let opened = decryptor.decrypt_async(std::iter::once(&identity as &dyn age::Identity));
            (opened, identity)
        })
        .await
        .map_err(|e| StageError::Retry(anyhow::anyhow!("the decryption task failed: {e}")))?;
        let plaintext = opened.map_err(|e| match e {
            // Never through `Display`: age 0.12 computes `1 << (required - target)` there,
            // which overflows (a panic with overflow checks) for a factor far off the target.
            DecryptError::ExcessiveWork { required, .. } => cannot(&format!(
                "the file's scrypt work factor 2^{required} exceeds the accepted 2^{max_work}"
            )),
            DecryptError::DecryptionFailed | DecryptError::NoMatchingKeys => cannot(&format!(
                "none of the {tried} exchange passphrase version(s) opens the file"
            )),
            other => cannot(&other.to_string()),
        })?;
        let version = identity
            .used()
            .ok_or_else(|| cannot("the file opened without a passphrase version"))?;

        let hasher = Arc::new(Mutex::new(Sha256::new()));
        let key = plaintext_key(&ctx.file.blob_key);
        // The plaintext is never longer than the ciphertext.
        let meta = match services
            .blobs
            .put(&key, chunks(Box::pin(plaintext), hasher.clone()), ctx.file.size)
            .await
        {
            Ok(meta) => meta,
            Err(StoreError::Input(_)) if source_failed.load(Ordering::SeqCst) => {
                return Err(StageError::Retry(anyhow::anyhow!("reading the ciphertext failed")));
            }
            Err(StoreError::Input(why)) => {
                return Err(cannot(&format!("the ciphertext is damaged or truncated ({why})")));
            }
            Err(StoreError::TooLarge(_)) => return Err(cannot("the plaintext is longer than the ciphertext")),
            Err(e) => return Err(e.into()),
        };
        let digest = hasher
            .lock()
            .map_err(|_| StageError::Retry(anyhow::anyhow!("the hasher was poisoned")))?
            .clone()
            .finalize();

        let old_passphrase = version != newest;
        if old_passphrase {
            // Once per file, even when the job runs again (the alert rides with `ready`).
            audit::record_once(
                services,
                &Actor::system(ctx.file.tenant.clone(), "pipeline"),
                audit::once_key("exchange.old_passphrase_used", &ctx.file.id.to_string()),
                "exchange.old_passphrase_used",
                Some(ctx.file.id),
                serde_json::json!({ "version": version, "newest": newest, "principal": ctx.file.owner }),
            )
            .await
            .map_err(retry)?;
            tracing::warn!(version, newest, owner = %ctx.file.owner, "file encrypted with an old exchange passphrase");
        }
        let file = &mut ctx.file;
        file.blob_key = key;
        file.size = meta.size;
        file.etag = Some(meta.etag);
        file.sha256 = Some(Sha256Hex::from_digest(&digest));
        // The declared type describes the plaintext, unless the client declared the
        // ciphertext's own type; then the plaintext's is unknown (`sniff` may find it).
        if matches!(file.content_type.essence(), "application/age" | "application/x-age") {
            file.content_type = ContentType::octet_stream();
        }
        file.processing.decryption = Some(Decryption {
            passphrase_version: version,
            old_passphrase,
        });
        tracing::info!(version, size = meta.size, "decrypted");
        Ok(())
    }
}

/// The plaintext reader as a stream of chunks of at most 64 KiB, hashed on the way.
fn chunks<R>(reader: R, hasher: Arc<Mutex<Sha256>>) -> ByteStream
where
    R: futures::AsyncRead + Unpin + Send + 'static,
{
    Box::pin(
        futures::stream::try_unfold(reader, |mut reader| async move {
            let mut buf = vec![0u8; CHUNK];
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), reader)))
        })
        .inspect_ok(move |chunk| {
            if let Ok(mut h) = hasher.lock() {
                h.update(chunk);
            }
        }),
    )
}

fn cannot(why: &str) -> StageError {
    StageError::Fail(format!("cannot-decrypt: {why}"))
}

fn retry(e: Error) -> StageError {
    StageError::Retry(anyhow::Error::new(e))
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
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
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
                Err(DecryptError::DecryptionFailed) => last = Some(Err(DecryptError::DecryptionFailed)),
                // Too much work or a malformed stanza: the same for every version.
                Err(e) => return Some(Err(e)),
            }
        }
        last
    }
}
