//! Download counting, batched: downloads are gathered in memory and written to the database
//! in batches, never one write per download.
//!
//! What counts as one download: a signed download URL handed out (`GET /v1/files/{id}/download`;
//! the bytes then go from storage to the client without us seeing them, which is the only
//! moment we learn of an S3 download), and a `GET /v1/files/{id}/content` that serves bytes
//! from the start of the file (the whole file, or a range starting at byte 0). Later ranges
//! of the same transfer (a video player seeking, a resumed download) and `304 Not Modified`
//! answers do not count, nor does a `GET` of the signed URL itself (it was counted when the
//! URL was issued).
//!
//! Downloads are counted in memory per (tenant, file) and added to `download_count` by
//! [`flush`] — periodically and at shutdown — in one statement per batch, without a new
//! `change_seq` (a download is not a change of the file). A flush that fails puts its counts
//! back for the next one: a count is never lost while the process lives, and may be counted
//! twice only if the store committed but its answer was lost. A process killed without a
//! graceful shutdown loses at most one interval of counts: they are analytics, not state.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::context::{HasDownloads, HasStore};
use crate::domain::{FileId, TenantId};
use crate::error::StoreError;

/// A flush is asked for early once this many files have pending counts.
const FLUSH_SOON: usize = 10_000;
/// Past this many files with pending counts (the store has been down for long), new
/// downloads of other files are not counted rather than let memory grow without bound.
const MAX_PENDING: usize = 1_000_000;
/// Rows per statement.
const BATCH: usize = 1_000;

/// The downloads counted since the last flush. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<(TenantId, FileId), u64>>,
    /// Wakes the flusher early when many files have pending counts.
    full: Notify,
}

impl DownloadCounter {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(TenantId, FileId), u64>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one download of `file_id`.
    pub fn record(&self, tenant: &TenantId, file_id: FileId) {
        let mut pending = self.lock();
        let key = (tenant.clone(), file_id);
        if let Some(n) = pending.get_mut(&key) {
            *n = n.saturating_add(1);
            return;
        }
        if pending.len() >= MAX_PENDING {
            metrics::counter!("filegate_download_counts_dropped_total").increment(1);
            return;
        }
        pending.insert(key, 1);
        if pending.len() == FLUSH_SOON {
            self.full.notify_one();
        }
    }

    /// How many files have counts waiting for a flush.
    pub fn pending_files(&self) -> usize {
        self.lock().len()
    }

    fn take(&self) -> Vec<(TenantId, FileId, u64)> {
        std::mem::take(&mut *self.lock())
            .into_iter()
            .map(|((tenant, id), n)| (tenant, id, n))
            .collect()
    }

    /// Puts counts that could not be written back, adding to what arrived meanwhile.
    fn restore(&self, counts: &[(TenantId, FileId, u64)]) {
        let mut pending = self.lock();
        for (tenant, id, n) in counts {
            let slot = pending.entry((tenant.clone(), *id)).or_insert(0);
            *slot = slot.saturating_add(*n);
        }
    }
}

/// Writes the pending counts to the store; returns how many files were updated. On an error
/// the counts not yet written are kept for the next flush.
pub async fn flush(cx: &(impl HasStore + HasDownloads)) -> Result<usize, StoreError> {
    let counts = cx.downloads().take();
    let mut written = 0;
    for (i, batch) in counts.chunks(BATCH).enumerate() {
        if let Err(e) = cx.store().add_download_counts(batch).await {
            cx.downloads().restore(&counts[i * BATCH..]);
            return Err(e);
        }
        written += batch.len();
    }
    if written > 0 {
        tracing::debug!(files = written, "download counts flushed");
    }
    Ok(written)
}

/// Flushes every `interval` (earlier when many files wait) until `shutdown`. The caller
/// flushes once more after the last request has finished.
pub async fn run_flusher(cx: impl HasStore + HasDownloads, interval: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            () = cx.downloads().full.notified() => {}
        }
        if let Err(e) = flush(&cx).await {
            tracing::warn!(error = %e, pending = cx.downloads().pending_files(), "could not flush download counts; will retry");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_file_and_survive_a_failed_flush() {
        let counter = DownloadCounter::new();
        let tenant = TenantId::default_tenant();
        let (a, b) = (FileId::new(), FileId::new());
        counter.record(&tenant, a);
        counter.record(&tenant, a);
        counter.record(&tenant, b);
        let mut taken = counter.take();
        taken.sort_by_key(|(_, id, _)| *id);
        let mut expected = vec![(tenant.clone(), a, 2), (tenant.clone(), b, 1)];
        expected.sort_by_key(|(_, id, _)| *id);
        assert_eq!(taken, expected);
        assert_eq!(counter.pending_files(), 0);

        counter.record(&tenant, a);
        counter.restore(&taken);
        let mut again = counter.take();
        again.sort_by_key(|(_, id, _)| *id);
        let mut expected = vec![(tenant.clone(), a, 3), (tenant, b, 1)];
        expected.sort_by_key(|(_, id, _)| *id);
        assert_eq!(again, expected);
    }
}
