//! `TriggerCaller`: how a trigger's HTTP call leaves the process.

use async_trait::async_trait;

use crate::domain::Trigger;

/// How a trigger's target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerResponse {
    /// It answered with this status; `body` is its answer (bounded by the caller), `json`
    /// whether it said it was JSON.
    Answered { status: u16, body: Vec<u8>, json: bool },
    /// No answer within the trigger's timeout.
    TimedOut,
    /// No answer: refused, TLS failure, an answer too large. Said for the log, not for
    /// clients.
    Failed(String),
}

/// Calls a trigger's target: its configured URL, method, headers and timeout, and nothing
/// else — no redirect is followed, no proxy from the environment is used, nothing of the
/// incoming request is forwarded but `body`.
#[async_trait]
pub trait TriggerCaller: Send + Sync + 'static {
    async fn call(&self, trigger: &Trigger, body: Option<Vec<u8>>) -> TriggerResponse;
}
