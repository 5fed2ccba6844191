//! `decrypt`: an upload created with `"encryption": "age"` arrives as an age file encrypted
//! with the tenant's exchange passphrase (passphrase mode, what `age -p` writes; binary,
//! not armored). The newest passphrase version is tried first, then the older ones. The plaintext
//! is streamed into storage beside the ciphertext while its sha256 is computed; the file then
//! describes the plaintext, and the pipeline's final save removes the ciphertext. Memory
//! stays flat: the `PassphraseDecryptor` port (age, in `filegate-crypto`) streams.
//!
//! An older version opening the file is audited here (once per file) and alerted with the
//! `ready` transition (`pipeline::ready`). No version opening it fails the file with a
//! reason starting `cannot-decrypt`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::TryStreamExt as _;
use sha2::{Digest as _, Sha256};

use super::{Stage, StageContext, StageError};
use crate::domain::{ContentType, Decryption, Encryption, Sha256Hex, plaintext_key};
use crate::error::{Error, StoreError};
use crate::ports::{ByteStream, DecryptError, Opened};
use crate::usecases::audit::{self, Actor};
use crate::usecases::exchange;

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
        let max_work = services.settings.max_scrypt_work_factor;
        let opened = services
            .decryptor
            .open(Box::pin(ciphertext), candidates, max_work)
            .await;
        let Opened { version, plaintext } = match opened {
            Ok(opened) => opened,
            Err(DecryptError::Task(why)) => {
                return Err(StageError::Retry(anyhow::anyhow!("the decryption task failed: {why}")));
            }
            Err(_) if source_failed.load(Ordering::SeqCst) => {
                return Err(StageError::Retry(anyhow::anyhow!("reading the ciphertext failed")));
            }
            Err(e) => return Err(cannot(&e.to_string())),
        };

        let hasher = Arc::new(Mutex::new(Sha256::new()));
        let key = plaintext_key(&ctx.file.blob_key);
        // The plaintext is never longer than the ciphertext.
        let meta = match services
            .blobs
            .put(&key, hashed(plaintext, hasher.clone()), ctx.file.size)
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

/// The plaintext as it streams, hashed on the way.
fn hashed(plaintext: ByteStream, hasher: Arc<Mutex<Sha256>>) -> ByteStream {
    Box::pin(plaintext.inspect_ok(move |chunk| {
        if let Ok(mut h) = hasher.lock() {
            h.update(chunk);
        }
    }))
}

fn cannot(why: &str) -> StageError {
    StageError::Fail(format!("cannot-decrypt: {why}"))
}

fn retry(e: Error) -> StageError {
    StageError::Retry(anyhow::Error::new(e))
}
