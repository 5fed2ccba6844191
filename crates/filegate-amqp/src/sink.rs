//! `AmqpEventSink`: an `EventSink` that publishes to the events exchange, for setups where
//! workers (not the relay) deliver events (`EventRoute::Workers`). Same message as the
//! relay's: routing key = event type, `message_id` = event id, confirmed.

use async_trait::async_trait;
use filegate_core::StoreError;
use filegate_core::domain::FileEvent;
use filegate_core::ports::EventSink;

use crate::connection::AmqpConnection;
use crate::message::event_message;

#[derive(Debug, Clone)]
pub struct AmqpEventSink {
    broker: AmqpConnection,
}

impl AmqpEventSink {
    pub fn new(broker: AmqpConnection) -> Self {
        Self { broker }
    }
}

#[async_trait]
impl EventSink for AmqpEventSink {
    async fn publish(&self, event: &FileEvent) -> Result<(), StoreError> {
        let message = event_message(event, &self.broker.config().events_exchange)?;
        self.broker.publish(&message).await
    }
}
