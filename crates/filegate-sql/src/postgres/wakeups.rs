//! Waking idle workers: each store keeps one connection that `LISTEN`s on `filegate_jobs`,
//! and turns every notification (sent by an enqueue in any process, at its commit) into a
//! `LaneWakeups::wake`, which the waiting worker loops wait on.
//!
//! An optimisation only: a worker still returns from `wait_for_work` at its timeout and
//! claims, so a notification lost while the connection was down delays work, never loses it.
//! When the listener's connection drops it reconnects (with a growing delay until the
//! database answers again) and, once listening again, wakes a worker anyway: something may
//! have been enqueued while it was away.

use std::sync::Arc;
use std::time::Duration;

use crate::wakeups::LaneWakeups;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::task::JoinHandle;

use super::JOBS_CHANNEL;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);

pub(super) struct Wakeups {
    work: Arc<LaneWakeups>,
    listener: JoinHandle<()>,
}

impl Wakeups {
    /// Subscribes before returning, so every job enqueued after this is heard.
    pub async fn start(options: PgConnectOptions, acquire_timeout: Duration) -> Result<Self, sqlx::Error> {
        let subscriber = Subscriber {
            options,
            acquire_timeout,
        };
        let listener = subscriber.subscribe().await?;
        let work = Arc::new(LaneWakeups::default());
        let listener = tokio::spawn(subscriber.run(listener, work.clone()));
        Ok(Self { work, listener })
    }

    /// What `wait_for_work` waits on: notified by every notification heard, and by enqueues
    /// in this process.
    pub fn work(&self) -> &LaneWakeups {
        &self.work
    }

    /// Stops listening; the connection is released.
    pub fn stop(&self) {
        self.listener.abort();
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

struct Subscriber {
    options: PgConnectOptions,
    acquire_timeout: Duration,
}

impl Subscriber {
    /// A listener on a pool of its own (one connection, held for as long as it listens),
    /// so it neither takes a connection from the store's pool nor waits for one.
    async fn subscribe(&self) -> Result<PgListener, sqlx::Error> {
        let pool: PgPool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(self.acquire_timeout)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(self.options.clone());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(JOBS_CHANNEL).await?;
        Ok(listener)
    }

    async fn run(self, mut listener: PgListener, work: Arc<LaneWakeups>) {
        let mut retry = FIRST_RETRY;
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => {
                    retry = FIRST_RETRY;
                    work.wake();
                    continue;
                }
                Ok(None) => {
                    // sqlx noticed the connection drop and subscribed again on a new one;
                    // whatever was sent in between is lost, so let a worker look.
                    tracing::warn!("the job listener's connection to PostgreSQL dropped; listening again");
                    work.wake();
                    continue;
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::warn!(%error, "the job listener failed; reconnecting");
                }
            }
            // Start over on a fresh connection, waiting longer after each failure.
            drop(listener);
            listener = loop {
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
                match self.subscribe().await {
                    Ok(listener) => break listener,
                    Err(error) => {
                        tracing::warn!(%error, retry_in = ?retry, "the job listener cannot reconnect to PostgreSQL");
                    }
                }
            };
            tracing::info!("the job listener is listening again");
            // Anything enqueued while it was away: let a worker look.
            work.wake();
        }
    }
}
