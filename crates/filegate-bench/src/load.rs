//! A closed-loop load: `concurrency` tasks, each doing one operation after another until a
//! deadline or a count is reached (whichever comes first, so every loop is bounded), with
//! every operation's latency recorded. Any failed operation fails the measurement: a
//! benchmark that counts errors as work measures nothing.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::stats::quantile;

/// What one load run did.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl LoadResult {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p50(&self) -> Duration {
        quantile(&self.latencies, 0.50).unwrap_or_default()
    }

    pub fn p99(&self) -> Duration {
        quantile(&self.latencies, 0.99).unwrap_or_default()
    }
}

/// How long and how much.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub duration: Duration,
    pub max_ops: usize,
}

/// Runs `op(n)` for n = 0, 1, 2, … (each n once, across all tasks) on `concurrency` tasks.
pub async fn closed_loop<F, Fut>(concurrency: usize, bound: Bound, op: F) -> anyhow::Result<LoadResult>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + bound.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= bound.max_ops {
                    break;
                }
                let t = Instant::now();
                op(n).await.with_context(|| format!("operation {n}"))?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.context("a load task panicked")??);
    }
    Ok(LoadResult {
        elapsed: started.elapsed(),
        latencies,
    })
}
