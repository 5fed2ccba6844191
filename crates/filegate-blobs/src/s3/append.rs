//! Appending uploads (tus) on S3: a multipart upload, plus a small tail object.
//!
//! The bytes are cut into parts of the upload's fixed part size (at least S3's 5 MiB), each
//! sent as it fills. What is left past the last full part when a request ends (less than a
//! part) is written to a tail object, `<key>.tus-tail-0` or `-1`, and read back by the next
//! request. Each request writes the slot the caller's recorded state does not point at, so a
//! request that wrote its tail but whose state was never recorded (a crash, a refused
//! checksum) leaves the recorded tail intact. When the last byte arrives, what is left goes
//! as the (short) last part instead. Memory per request: one part.

use filegate_core::StoreError;
use filegate_core::domain::{ContentType, ETag};
use filegate_core::ports::{AppendLimits, Appended, Appending, BlobMeta, BlobStore as _, ByteStream};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::S3BlobStore;
use super::upload::Part;

/// This store's part of [`Appending`]: what it needs beyond the offset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct State {
    part_size: u64,
    /// The etags of parts 1, 2, … (each `part_size` bytes, but for a last one; a final
    /// upload of tus concatenation copies whole partial uploads, of any size: `concat`).
    pub(super) parts: Vec<String>,
    /// The slot of the tail object holding the bytes past the parts.
    tail: u8,
}

impl State {
    pub(super) fn of(at: &Appending) -> Result<Self, StoreError> {
        serde_json::from_value(at.engine.clone())
            .map_err(|e| StoreError::Other(anyhow::anyhow!("the state of an S3 appending upload: {e}")))
    }

    pub(super) fn value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn in_parts(&self) -> u64 {
        self.parts.len() as u64 * self.part_size
    }
}

fn tail_key(key: &str, slot: u8) -> String {
    format!("{key}.tus-tail-{slot}")
}

impl S3BlobStore {
    pub(super) async fn begin_appending(
        &self,
        key: &str,
        content_type: &ContentType,
        part_size: u64,
    ) -> Result<Appending, StoreError> {
        let state = State {
            part_size: part_size.max(filegate_core::usecases::uploads::MIN_PART_SIZE),
            ..State::default()
        };
        Ok(Appending {
            upload_id: self.create_upload(key, content_type).await?,
            offset: 0,
            engine: state.value(),
        })
    }

    /// The recorded tail's bytes: exactly those between the parts and the offset.
    async fn read_tail(&self, key: &str, state: &State, len: u64) -> Result<Part, StoreError> {
        let mut tail = Part::default();
        if len == 0 {
            return Ok(tail);
        }
        let mut stream = self.get(&tail_key(key, state.tail), None).await.map_err(|e| match e {
            StoreError::NotFound => {
                StoreError::Other(anyhow::anyhow!("the tail of the appending upload {key} is gone"))
            }
            other => other,
        })?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| StoreError::Other(anyhow::anyhow!("reading a tail back: {e}")))?;
            if tail.len() as u64 + chunk.len() as u64 > len {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "the tail of {key} is longer than recorded"
                )));
            }
            tail.push(chunk);
        }
        if tail.len() as u64 != len {
            return Err(StoreError::Other(anyhow::anyhow!(
                "the tail of {key} is shorter than recorded"
            )));
        }
        Ok(tail)
    }

    pub(super) async fn append_body(
        &self,
        key: &str,
        from: &Appending,
        mut body: ByteStream,
        limits: AppendLimits,
    ) -> Result<Appended, StoreError> {
        let mut state = State::of(from)?;
        let part_size = usize::try_from(state.part_size).unwrap_or(usize::MAX);
        let tail_len = from
            .offset
            .checked_sub(state.in_parts())
            .filter(|t| *t < state.part_size)
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("an appending upload's offset does not fit its parts")))?;
        let mut buffer = self.read_tail(key, &state, tail_len).await?;
        let mut broke = None;
        loop {
            let chunk = match body.next().await {
                None => break,
                Some(Err(e)) => {
                    broke = Some(format!("the body broke off: {e}"));
                    break;
                }
                Some(Ok(chunk)) => chunk,
            };
            let offset = state.in_parts() + buffer.len() as u64;
            if offset.saturating_add(chunk.len() as u64) > limits.max_offset {
                return Err(StoreError::TooLarge(limits.max_offset));
            }
            let mut chunk = chunk;
            while buffer.len() + chunk.len() >= part_size {
                let room = part_size - buffer.len();
                buffer.push(chunk.split_to(room));
                let number = state.parts.len() as u32 + 1;
                let etag = self
                    .upload_part(key, &from.upload_id, number, std::mem::take(&mut buffer))
                    .await?;
                state.parts.push(etag.as_str().to_owned());
            }
            if !chunk.is_empty() {
                buffer.push(chunk);
            }
        }
        let offset = state.in_parts() + buffer.len() as u64;
        if limits.length == Some(offset) {
            // The last byte is here: what is left is the last part (S3 allows it short).
            if buffer.len() > 0 || state.parts.is_empty() {
                let number = state.parts.len() as u32 + 1;
                let etag = self.upload_part(key, &from.upload_id, number, buffer).await?;
                state.parts.push(etag.as_str().to_owned());
            }
        } else if buffer.len() > 0 {
            state.tail = 1 - state.tail.min(1);
            self.put_whole(&tail_key(key, state.tail), buffer).await?;
        }
        Ok(Appended {
            state: Appending {
                offset,
                engine: state.value(),
                ..from.clone()
            },
            broke,
        })
    }

    pub(super) async fn finish_appending(&self, key: &str, at: &Appending) -> Result<BlobMeta, StoreError> {
        if let Some(meta) = self.head_object(key).await? {
            return Ok(meta);
        }
        let mut state = State::of(at)?;
        if state.parts.is_empty() {
            // An empty upload: S3 completes nothing without a part.
            let etag = self.upload_part(key, &at.upload_id, 1, Part::default()).await?;
            state.parts.push(etag.as_str().to_owned());
        }
        let parts: Vec<(u32, ETag)> = (1..)
            .zip(state.parts.iter().map(|e| ETag::new_unchecked(e.clone())))
            .collect();
        let meta = self.complete_upload(key, &at.upload_id, &parts).await?;
        self.delete_tails(key).await;
        Ok(meta)
    }

    pub(super) async fn abort_appending(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.abort_upload(key, upload_id).await?;
        self.delete_tails(key).await;
        Ok(())
    }

    /// Best effort: a tail left behind costs a few MiB until the bucket's lifecycle rules
    /// (or an operator) remove it.
    async fn delete_tails(&self, key: &str) {
        for slot in [0, 1] {
            if let Err(e) = self.delete_object(&tail_key(key, slot)).await {
                tracing::warn!(%key, error = %e, "could not delete the tail of an appending upload");
            }
        }
    }
}
