//! `BatchedAuditLog`: the audit appends that arrive together are written together.
//!
//! The records of file changes commit with the changes themselves (`ports::Effects`); what
//! comes here are the appends of audited reads (each download, each passphrase read, each
//! share link opened: recorded before the data is handed out) and of changes to other
//! things (keys, buckets, webhooks, …). On SQLite each append was a transaction of its own
//! on the one writer connection; on PostgreSQL a round trip and a commit each. Here a task
//! takes whatever appends have gathered while its previous write ran (up to
//! [`MAX_BATCH`]) and stores them with one `append_many`. Nothing waits for a batch to fill:
//! a lone append is written at once, and under load the batches grow by themselves.
//!
//! Callers still wait until their own record is stored and hear its own outcome, so an
//! audited read still fails closed. When a batch fails as a whole, its records are appended
//! one by one: one record the database refuses fails only its own caller.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use filegate_core::StoreError;
use filegate_core::domain::{AuditQuery, AuditRecord, TenantId};
use filegate_core::ports::AuditLog;

/// The most records one statement appends (10 bound values each: well under every
/// engine's limit on bound parameters).
pub const MAX_BATCH: usize = 256;
/// Appends waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4 * MAX_BATCH;

struct Append {
    record: AuditRecord,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// An [`AuditLog`] that groups concurrent appends; listing goes straight to the inner log.
pub struct BatchedAuditLog {
    inner: Arc<dyn AuditLog>,
    appends: mpsc::Sender<Append>,
}

impl std::fmt::Debug for BatchedAuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedAuditLog").finish_non_exhaustive()
    }
}

impl BatchedAuditLog {
    /// Starts the writer task (so: inside a Tokio runtime). It ends once this log is
    /// dropped and the appends it had taken are written.
    pub fn new(inner: Arc<dyn AuditLog>) -> Self {
        let (appends, queued) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(inner.clone(), queued));
        Self { inner, appends }
    }
}

#[async_trait]
impl AuditLog for BatchedAuditLog {
    async fn append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        let append = Append {
            record: record.clone(),
            done,
        };
        if self.appends.send(append).await.is_err() {
            // The writer is gone (the runtime is shutting down): write it ourselves.
            return self.inner.append(record).await;
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(StoreError::Other(anyhow::anyhow!("the audit writer stopped"))))
    }

    async fn append_many(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        self.inner.append_many(records).await
    }

    async fn list(&self, tenant: &TenantId, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.list(tenant, query).await
    }
}

async fn write_batches(log: Arc<dyn AuditLog>, mut queued: mpsc::Receiver<Append>) {
    let mut taken = Vec::with_capacity(MAX_BATCH);
    while queued.recv_many(&mut taken, MAX_BATCH).await > 0 {
        let (records, callers): (Vec<AuditRecord>, Vec<_>) = taken.drain(..).map(|a| (a.record, a.done)).unzip();
        metrics::histogram!("filegate_audit_batch_size").record(records.len() as f64);
        match log.append_many(&records).await {
            // A caller that went away meanwhile still had its record stored.
            Ok(()) => callers.into_iter().for_each(|done| {
                let _ = done.send(Ok(()));
            }),
            Err(e) if records.len() == 1 => {
                if let Some(done) = callers.into_iter().next() {
                    let _ = done.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, records = records.len(), "a batch of audit records failed; appending them one by one");
                for (record, done) in records.iter().zip(callers) {
                    let _ = done.send(log.append(record).await);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::Semaphore;

    use super::*;

    /// Stores records in memory. `append_many` waits for a permit of `gate` (when set), so
    /// a test can hold the writer while appends gather; it refuses every batch holding a
    /// record whose action is `refuse`, as `append` refuses that record alone.
    #[derive(Default)]
    struct Memory {
        stored: Mutex<Vec<AuditRecord>>,
        batches: Mutex<Vec<usize>>,
        gate: Option<Semaphore>,
        /// `append_many` calls begun (counted before the gate).
        entered: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl AuditLog for Memory {
        async fn append(&self, record: &AuditRecord) -> Result<(), StoreError> {
            if record.action == "refuse" {
                return Err(StoreError::Other(anyhow::anyhow!("refused")));
            }
            self.stored.lock().unwrap().push(record.clone());
            Ok(())
        }

        async fn append_many(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
            self.entered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("gate open").forget();
            }
            self.batches.lock().unwrap().push(records.len());
            if records.iter().any(|r| r.action == "refuse") {
                return Err(StoreError::Other(anyhow::anyhow!("refused")));
            }
            self.stored.lock().unwrap().extend_from_slice(records);
            Ok(())
        }

        async fn list(&self, _: &TenantId, _: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
            Ok(self.stored.lock().unwrap().clone())
        }
    }

    fn record(actor: &str, action: &str) -> AuditRecord {
        AuditRecord {
            id: uuid::Uuid::now_v7(),
            tenant: TenantId::default_tenant(),
            actor: actor.into(),
            action: action.into(),
            file_id: None,
            request_id: None,
            client_ip: None,
            user_agent: None,
            at: chrono::Utc::now(),
            details: serde_json::json!({}),
            seq: 0,
        }
    }

    async fn until(deadline_secs: u64, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(deadline_secs);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "condition not reached in time");
            tokio::task::yield_now().await;
        }
    }

    /// A batched log whose writer is busy writing `actor`'s record alone, held at the gate
    /// (released by adding permits), and the task waiting for that record.
    async fn writer_busy_with(
        actor: &'static str,
    ) -> (
        Arc<Memory>,
        Arc<BatchedAuditLog>,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ) {
        let memory = Arc::new(Memory {
            gate: Some(Semaphore::new(0)),
            ..Memory::default()
        });
        let log = Arc::new(BatchedAuditLog::new(memory.clone()));
        let waiting = tokio::spawn({
            let log = log.clone();
            async move { log.append(&record(actor, "file.uploaded")).await }
        });
        until(10, || memory.entered.load(std::sync::atomic::Ordering::SeqCst) == 1).await;
        (memory, log, waiting)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_that_arrive_while_one_is_written_share_the_next_statement() {
        let (memory, log, first) = writer_busy_with("first").await;
        let rest: Vec<_> = (0..50)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { log.append(&record(&format!("user-{i}"), "file.uploaded")).await })
            })
            .collect();
        until(10, || log.appends.capacity() == QUEUE - 50).await;
        memory.gate.as_ref().unwrap().add_permits(2);

        first.await.unwrap().expect("stored");
        for append in rest {
            append.await.unwrap().expect("stored");
        }
        assert_eq!(*memory.batches.lock().unwrap(), vec![1, 50], "one statement for the 50");
        let actors: Vec<String> = memory.stored.lock().unwrap().iter().map(|r| r.actor.clone()).collect();
        assert_eq!(actors.len(), 51);
        assert_eq!(actors[0], "first");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_record_fails_only_its_own_caller() {
        let (memory, log, hold) = writer_busy_with("holder").await;
        let appends: Vec<_> = ["good-1", "bad", "good-2"]
            .into_iter()
            .map(|actor| {
                let log = log.clone();
                let action = if actor == "bad" { "refuse" } else { "file.uploaded" };
                tokio::spawn(async move { log.append(&record(actor, action)).await })
            })
            .collect();
        until(10, || log.appends.capacity() == QUEUE - 3).await;
        memory.gate.as_ref().unwrap().add_permits(2);

        hold.await.unwrap().expect("stored");
        let outcomes: Vec<bool> = futures::future::join_all(appends)
            .await
            .into_iter()
            .map(|joined| joined.unwrap().is_ok())
            .collect();
        assert_eq!(outcomes, vec![true, false, true]);
        assert_eq!(*memory.batches.lock().unwrap(), vec![1, 3]);
        let mut actors: Vec<String> = memory.stored.lock().unwrap().iter().map(|r| r.actor.clone()).collect();
        // The three appends are spawned at once, so they may reach the queue in any order.
        actors[1..].sort();
        assert_eq!(actors, vec!["holder", "good-1", "good-2"]);
    }
}
