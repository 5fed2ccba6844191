//! `EventSink`: where events go once the outbox delivers them.

use async_trait::async_trait;

use crate::domain::FileEvent;
use crate::error::StoreError;

/// Delivery is at least once: a sink may see an event again (after a retry or a worker
/// that died), and consumers drop duplicates by the event's `id`.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    async fn publish(&self, event: &FileEvent) -> Result<(), StoreError>;
}

/// The embedded default when nothing subscribes: events are logged.
pub struct LogSink;

#[async_trait]
impl EventSink for LogSink {
    async fn publish(&self, event: &FileEvent) -> Result<(), StoreError> {
        tracing::debug!(event_id = %event.id, kind = %event.kind, file_id = %event.file_id, "event");
        Ok(())
    }
}
