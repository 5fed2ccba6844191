//! tus concatenation on S3: a final upload's multipart upload filled from partial uploads.
//!
//! Each partial upload is first completed into its own object (its multipart upload's parts
//! can be read or copied no other way). Then, when every partial but the last holds at
//! least S3's 5 MiB minimum part size, each is copied into the final upload server-side
//! (`UploadPartCopy`, in pieces of at most 5 GiB, S3's limit for one copy): no byte passes
//! through the gateway. Otherwise a part could be too small, and the partials are streamed
//! through the gateway in order, cut into the final upload's part size as any tus append is
//! (one part in memory).

use std::io;

use filegate_core::StoreError;
use filegate_core::domain::ETag;
use filegate_core::ports::{AppendLimits, Appending};
use filegate_core::usecases::uploads::MIN_PART_SIZE;
use futures::{StreamExt as _, TryStreamExt as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::CONTENT_LENGTH;
use rusty_s3::S3Action as _;

use super::S3BlobStore;
use super::append::State;
use super::errors::{Failure, read_bounded};
use super::presign::{MAX_PARTS, check_key, check_part_number};
use super::xml::{self, Completed};

/// The most one `UploadPartCopy` copies.
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;
/// An `UploadPartCopy` answer is small (S3 may send spaces while it copies).
const MAX_COPY_ANSWER: usize = 1024 * 1024;
/// What `x-amz-copy-source` leaves unencoded in a key.
const KEY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.');

/// The byte ranges (inclusive) each source is copied in, when a server-side copy can make
/// valid parts of them: every part but the last at least [`MIN_PART_SIZE`], at most
/// [`MAX_COPY`] each, and no more than [`MAX_PARTS`] in all. Empty sources give no part.
fn copy_plan(sizes: &[u64]) -> Option<Vec<(usize, u64, u64)>> {
    let nonempty: Vec<(usize, u64)> = sizes.iter().copied().enumerate().filter(|(_, s)| *s > 0).collect();
    let mut plan = Vec::new();
    for (n, (index, size)) in nonempty.iter().enumerate() {
        if n + 1 < nonempty.len() && *size < MIN_PART_SIZE {
            return None;
        }
        // Even pieces: each at least half of MAX_COPY when there are several.
        let pieces = size.div_ceil(MAX_COPY);
        let (each, mut start) = (size.div_ceil(pieces), 0);
        while start < *size {
            let end = (start + each).min(*size);
            plan.push((*index, start, end - 1));
            start = end;
        }
    }
    (plan.len() <= MAX_PARTS as usize).then_some(plan)
}

impl S3BlobStore {
    pub(super) async fn concat_appending(
        &self,
        key: &str,
        into: &Appending,
        sources: &[(String, Appending)],
    ) -> Result<Appending, StoreError> {
        let mut total = 0u64;
        for (source_key, source) in sources {
            let stored = self.finish_appending(source_key, source).await?;
            if stored.size != source.offset {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "the partial upload {source_key} holds {} bytes, {} were recorded",
                    stored.size,
                    source.offset
                )));
            }
            total = total.saturating_add(source.offset);
        }
        let sizes: Vec<u64> = sources.iter().map(|(_, s)| s.offset).collect();
        let Some(plan) = copy_plan(&sizes) else {
            tracing::debug!(%key, total, "partial uploads joined through the gateway");
            return self.concat_streamed(key, into, sources, total).await;
        };
        tracing::debug!(%key, total, parts = plan.len(), "partial uploads copied inside S3");
        let mut state = State::of(into)?;
        for (number, (index, start, end)) in (1u32..).zip(plan) {
            let etag = self
                .upload_part_copy(key, &into.upload_id, number, &sources[index].0, (start, end))
                .await?;
            state.parts.push(etag);
        }
        Ok(Appending {
            offset: total,
            engine: state.value(),
            ..into.clone()
        })
    }

    /// The partials' objects read in order and appended as one body.
    async fn concat_streamed(
        &self,
        key: &str,
        into: &Appending,
        sources: &[(String, Appending)],
        total: u64,
    ) -> Result<Appending, StoreError> {
        let store = self.clone();
        let keys: Vec<String> = sources.iter().map(|(k, _)| k.clone()).collect();
        let body = futures::stream::iter(keys)
            .then(move |k| {
                let store = store.clone();
                async move { store.get_object(&k, None).await.map_err(io::Error::other) }
            })
            .try_flatten();
        let limits = AppendLimits {
            max_offset: total,
            length: Some(total),
        };
        let appended = self.append_body(key, into, Box::pin(body), limits).await?;
        match appended.broke {
            Some(reason) => Err(StoreError::Other(anyhow::anyhow!("joining partial uploads: {reason}"))),
            None if appended.state.offset != total => Err(StoreError::Other(anyhow::anyhow!(
                "joined {} bytes of partial uploads holding {total}",
                appended.state.offset
            ))),
            None => Ok(appended.state),
        }
    }

    /// Copies the bytes `range` (inclusive) of the object `source` into part `number` of the
    /// multipart upload `upload_id` of `key`; answers the part's etag.
    async fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        source: &str,
        range: (u64, u64),
    ) -> Result<String, StoreError> {
        check_key(source)?;
        check_part_number(number)?;
        let copy_source = format!("/{}/{}", self.bucket.name(), utf8_percent_encode(source, KEY));
        let copy_range = format!("bytes={}-{}", range.0, range.1);
        let mut action = self
            .bucket
            .upload_part(Some(&self.credentials), key, number as u16, upload_id);
        // Signed with the request, as S3 wants every `x-amz-*` header.
        action.headers_mut().insert("x-amz-copy-source", copy_source.clone());
        action
            .headers_mut()
            .insert("x-amz-copy-source-range", copy_range.clone());
        let request = self
            .client
            .put(self.internal(&action))
            .header("x-amz-copy-source", copy_source)
            .header("x-amz-copy-source-range", copy_range)
            .header(CONTENT_LENGTH, 0);
        let resp = self.send(request, "copy a part").await?;
        if !resp.status().is_success() {
            return Err(Failure::read(resp).await.into_error("copy a part"));
        }
        let status = resp.status();
        let answer = read_bounded(resp, MAX_COPY_ANSWER).await;
        match xml::copied_part(&answer) {
            Ok(Completed::Done(etag)) => ETag::parse(&etag).map(|e| e.as_str().to_owned()).map_err(|_| {
                StoreError::Other(anyhow::anyhow!("S3 answered UploadPartCopy with an odd ETag {etag:?}"))
            }),
            Ok(Completed::Failed(body)) => Err(Failure { status, body }.into_error("copy a part")),
            Err(e) => Err(StoreError::Other(anyhow::anyhow!("S3 {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn partials_are_copied_when_every_part_but_the_last_is_large_enough() {
        assert_eq!(
            copy_plan(&[5 * MIB, 6 * MIB, 1]),
            Some(vec![(0, 0, 5 * MIB - 1), (1, 0, 6 * MIB - 1), (2, 0, 0)])
        );
        assert_eq!(
            copy_plan(&[5 * MIB, 0, 3]),
            Some(vec![(0, 0, 5 * MIB - 1), (2, 0, 2)]),
            "empty: no part"
        );
        assert_eq!(copy_plan(&[0, 0]), Some(vec![]));
        assert_eq!(
            copy_plan(&[5 * MIB - 1, 5 * MIB]),
            None,
            "a small part that is not the last"
        );
        assert_eq!(copy_plan(&[5 * MIB - 1, 0]), Some(vec![(0, 0, 5 * MIB - 2)]));
        // Past 5 GiB: even pieces, none above the limit, none small.
        let big = 2 * MAX_COPY + 3;
        let plan = copy_plan(&[big, 1]).unwrap();
        assert_eq!(plan.len(), 4);
        let len = |(_, start, end): &(usize, u64, u64)| end - start + 1;
        assert!(
            plan[..3]
                .iter()
                .all(|p| p.0 == 0 && (MAX_COPY / 2..=MAX_COPY).contains(&len(p)))
        );
        assert_eq!((plan[0].1, plan[2].2), (0, big - 1));
        assert!(plan.windows(2).take(2).all(|w| w[0].2 + 1 == w[1].1));
        // More parts than S3 takes: streamed instead.
        assert_eq!(copy_plan(&vec![5 * MIB; MAX_PARTS as usize + 1]), None);
    }
}
