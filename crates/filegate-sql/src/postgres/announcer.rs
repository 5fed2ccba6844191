//! Telling other processes' workers about new jobs: one `NOTIFY filegate_jobs` for whatever
//! was committed while the previous one was being sent.
//!
//! A `NOTIFY` sent inside the enqueuing transaction makes its commit take the server's one
//! notification-queue lock (wait event `Lock:object`) and hold it through the commit's WAL
//! flush: every enqueuing transaction of every process then commits one at a time. Sent
//! after the commit instead, from a transaction of its own that writes nothing, the lock is
//! held for a moment, and while one is under way the commits that follow it are announced
//! together by the next.
//!
//! Every commit with jobs stores a permit ([`Notify::notify_one`] keeps at most one) before
//! the announcer's next `NOTIFY` starts, so each job is announced by a notification sent
//! after it committed: the worker it wakes finds the job. An announcement that fails is
//! only logged: workers also look for work at the end of every wait.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::JOBS_CHANNEL;

pub(super) struct Announcer {
    committed: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Announcer {
    pub fn start(pool: PgPool) -> Self {
        let committed = Arc::new(Notify::new());
        let task = tokio::spawn(announce(pool, committed.clone()));
        Self { committed, task }
    }

    /// Jobs were just committed: they will be announced.
    pub fn jobs_committed(&self) {
        self.committed.notify_one();
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn announce(pool: PgPool, committed: Arc<Notify>) {
    loop {
        committed.notified().await;
        match sqlx::query("SELECT pg_notify($1, '')")
            .bind(JOBS_CHANNEL)
            .execute(&pool)
            .await
        {
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(%error, "could not announce new jobs to other processes; their workers will find them when their wait ends");
            }
        }
    }
}
