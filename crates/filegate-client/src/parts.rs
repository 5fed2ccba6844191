//! Sending the parts of a multipart upload: several at once, asking for part URLs a
//! window at a time, and (when resumable) writing each stored part to the journal the
//! moment its etag is known.

use std::{collections::HashMap, path::Path};

use filegate_api::CompletedPart;
use futures::{StreamExt, TryStreamExt, stream};

use crate::{
    Client, Error, Payload, Result, UploadSource, encrypt::Encrypting, resume::ResumeStore, taps::Taps,
    transfer::PlannedPart,
};

/// How many part URLs are asked for at a time when the create answer lacked some.
const PART_URL_BATCH: usize = 64;

/// Where part bodies come from.
pub(crate) enum PartBodies<'a> {
    /// Ranges of a file or of bytes in memory: any part, in any order.
    Source(&'a UploadSource, Taps),
    /// The ciphertext of a file being encrypted: strictly in order, one at a time.
    Cipher(&'a Encrypting, Taps),
}

impl PartBodies<'_> {
    async fn body(&self, part: PlannedPart) -> Result<Payload> {
        match self {
            PartBodies::Source(source, taps) => source.range(part.offset, part.len, taps).await,
            PartBodies::Cipher(cipher, taps) => Ok(cipher.next_part(part.len, taps.clone())),
        }
    }

    fn parallelism(&self, wanted: usize) -> usize {
        match self {
            PartBodies::Source(..) => wanted.max(1),
            PartBodies::Cipher(..) => 1,
        }
    }
}

/// Where stored parts are recorded, for a resumable upload.
#[derive(Clone, Copy)]
pub(crate) struct PartJournal<'a> {
    pub store: &'a ResumeStore,
    pub path: &'a Path,
}

impl Client {
    /// PUTs every part of `plan` (at most `parallel` at once), using `urls` first and
    /// asking for the missing ones; returns the stored parts, ascending.
    pub(crate) async fn send_parts(
        &self,
        file_id: &str,
        plan: &[PlannedPart],
        mut urls: HashMap<u32, String>,
        bodies: &PartBodies<'_>,
        parallel: usize,
        journal: Option<PartJournal<'_>>,
    ) -> Result<Vec<CompletedPart>> {
        let no_headers = Default::default();
        let mut done = Vec::with_capacity(plan.len());
        for window in plan.chunks(PART_URL_BATCH) {
            let missing: Vec<u32> = window
                .iter()
                .map(|p| p.number)
                .filter(|n| !urls.contains_key(n))
                .collect();
            if !missing.is_empty() {
                let more = self.upload_parts(file_id, &missing).await?;
                urls.extend(more.parts.into_iter().map(|p| (p.number, p.url)));
            }
            let jobs = window
                .iter()
                .map(|part| {
                    let url = urls
                        .remove(&part.number)
                        .ok_or_else(|| Error::Protocol(format!("no URL for part {} of {file_id}", part.number)))?;
                    Ok((*part, url))
                })
                .collect::<Result<Vec<_>>>()?;
            let sent: Vec<CompletedPart> = stream::iter(jobs)
                .map(|(part, url)| {
                    let no_headers = &no_headers;
                    async move {
                        let body = bodies.body(part).await?;
                        let etag = self.put_signed(&url, no_headers, body).await?;
                        if let Some(journal) = journal {
                            journal.store.record_part(journal.path, part.number, &etag).await?;
                        }
                        Ok::<_, Error>(CompletedPart {
                            number: part.number,
                            etag,
                        })
                    }
                })
                .buffer_unordered(bodies.parallelism(parallel))
                .try_collect()
                .await?;
            done.extend(sent);
        }
        done.sort_by_key(|p| p.number);
        Ok(done)
    }
}
