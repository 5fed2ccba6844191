//! filegate's outbound HTTP: webhook deliveries and trigger calls, with reqwest, behind the
//! `WebhookClient` and `TriggerCaller` ports of `filegate-core`. Which deliveries and calls
//! to make, when to retry them and how they are signed are core's rules; this crate only
//! sends them, each call bounded in time and redirects, webhooks to public addresses only.

mod trigger;
mod webhook;

pub use trigger::{HttpTriggerCaller, MAX_ANSWER};
pub use webhook::HttpWebhookClient;
