//! Waking the idle workers of this process, one wake-up per lane.
//!
//! A worker keeps one loop per lane (`Lane::Pipeline`, `Lane::Delivery`), each sleeping in
//! `JobQueue::wait_for_lane` until work may be due. With one wake-up for both, an enqueue's
//! permit could be taken by the delivery loop while the pipeline loop slept out its whole
//! idle wait (a second): a single upload's complete → ready took that long. Now every
//! enqueue wakes both lanes; a lane with nothing of its own claims nothing and sleeps again.

use std::time::Duration;

use filegate_core::ports::Lane;
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct LaneWakeups {
    pipeline: Notify,
    delivery: Notify,
}

impl LaneWakeups {
    /// Work may be due in any lane. `notify_one` keeps a permit when no loop waits yet, so a
    /// loop between its claim and its wait still sees it.
    pub fn wake(&self) {
        self.pipeline.notify_one();
        self.delivery.notify_one();
    }

    fn of(&self, lane: Lane) -> &Notify {
        match lane {
            Lane::Pipeline => &self.pipeline,
            Lane::Delivery => &self.delivery,
        }
    }

    /// Returns when `lane` is woken, or after `max` (the normal way when nothing came).
    pub async fn wait(&self, lane: Lane, max: Duration) {
        let _ = tokio::time::timeout(max, self.of(lane).notified()).await;
    }

    /// Returns when any lane is woken, or after `max`.
    pub async fn wait_any(&self, max: Duration) {
        let either = async {
            tokio::select! {
                () = self.pipeline.notified() => {}
                () = self.delivery.notified() => {}
            }
        };
        let _ = tokio::time::timeout(max, either).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_reaches_each_lane_even_when_one_already_took_its_permit() {
        let wakeups = LaneWakeups::default();
        wakeups.wake();
        // The delivery loop takes its permit first; the pipeline's is still there.
        tokio::time::timeout(Duration::from_secs(5), wakeups.of(Lane::Delivery).notified())
            .await
            .expect("delivery woken");
        tokio::time::timeout(Duration::from_secs(5), wakeups.of(Lane::Pipeline).notified())
            .await
            .expect("pipeline woken as well");
    }
}
