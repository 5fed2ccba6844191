//! Triggers (a route that calls one of the operator's own services): a caller names a configured trigger and
//! passes `data`; filegate calls the trigger's target — the URL, method, headers and
//! timeout of the configuration, never anything from the request.
//!
//! - `sync`: the caller waits; a target that answers is relayed as `{"success": <2xx>,
//!   "status", "result"}` (its JSON, or its text); no answer within the timeout is
//!   `504 trigger-timeout`, no answer at all `502 trigger-failed`.
//! - `async`: the call is queued (`Job::CallTrigger`) and the caller gets `202` with the
//!   call's id; a worker calls until the target answers 2xx, with backoff, at most
//!   `max_attempts` times (and at most `workers.max_attempts`), then gives up: logged, and
//!   audited as `trigger.failed`.
//!
//! Who may fire one is the trigger's `role` (the roles are cumulative) or `public`. An
//! anonymous caller learns nothing about triggers that are not public: an unknown name
//! answers 401 to it, 404 only to an authenticated caller.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor};
use super::context::{HasAudit, HasClock, HasStore, HasTriggers};
use crate::domain::{AuditRecord, Principal, Trigger, TriggerCall, TriggerMode, TriggerName};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::{Effects, Job, NewJob, TriggerCaller, TriggerResponse};
use crate::usecases::pipeline::StageError;

/// The configured triggers and the client that calls them.
#[derive(Clone)]
pub struct Triggers {
    pub table: Arc<BTreeMap<TriggerName, Trigger>>,
    pub caller: Arc<dyn TriggerCaller>,
}

impl Triggers {
    pub fn new(triggers: Vec<Trigger>, caller: Arc<dyn TriggerCaller>) -> Self {
        Self {
            table: Arc::new(triggers.into_iter().map(|t| (t.name.clone(), t)).collect()),
            caller,
        }
    }

    fn get(&self, name: &TriggerName) -> Option<&Trigger> {
        self.table.get(name)
    }
}

/// What firing a trigger gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    /// Sync: the target answered.
    Answered {
        success: bool,
        status: u16,
        result: serde_json::Value,
    },
    /// Async: queued; `id` is the call's id (sent to the target as `id`).
    Queued { id: Uuid },
}

/// `POST /v1/triggers/{name}`. `principal` is `None` for a request without credentials.
#[tracing::instrument(skip_all, fields(trigger = name, actor = principal.map(|p| p.subject.as_str())))]
pub async fn fire(
    cx: &(impl HasStore + HasAudit + HasClock + HasTriggers),
    principal: Option<&Principal>,
    name: &str,
    data: serde_json::Value,
) -> Result<Fired> {
    let unknown = || match principal {
        None => Error::unauthenticated(
            ErrorCode::Unauthenticated,
            "send Authorization: Bearer <token or API key>",
        ),
        Some(_) => Error::not_found("trigger"),
    };
    let name = TriggerName::parse(name).map_err(|_| unknown())?;
    let trigger = cx.triggers().get(&name).ok_or_else(unknown)?;
    trigger.access.admit(principal)?;
    let call = TriggerCall {
        id: Uuid::now_v7(),
        trigger: name,
        tenant: principal.map(|p| p.tenant.clone()),
        subject: principal.map(|p| p.subject.clone()),
        data,
        requested_at: cx.clock().now(),
    };
    match trigger.mode {
        TriggerMode::Sync => fire_sync(cx, principal, trigger, &call).await,
        TriggerMode::Async => {
            // Queued through the outbox with its record: both commit, or neither.
            let job = NewJob::now(Job::CallTrigger { call: call.clone() });
            let record = entry(cx, principal, &call, json!({"mode": "async", "job_id": job.id}));
            let mut effects = Effects::jobs([job]);
            effects.audit.extend(record);
            cx.store().commit_effects(&effects).await?;
            tracing::info!(call_id = %call.id, "trigger call queued");
            Ok(Fired::Queued { id: call.id })
        }
    }
}

async fn fire_sync(
    cx: &(impl HasAudit + HasClock + HasTriggers),
    principal: Option<&Principal>,
    trigger: &Trigger,
    call: &TriggerCall,
) -> Result<Fired> {
    let response = cx.triggers().caller.call(trigger, body(trigger, call)).await;
    let outcome = outcome_label(&response);
    metrics::counter!("filegate_trigger_calls_total", "mode" => "sync", "outcome" => outcome).increment(1);
    let status = match &response {
        TriggerResponse::Answered { status, .. } => Some(*status),
        _ => None,
    };
    // The call is made and cannot be taken back: its record follows it.
    if let Some(record) = entry(
        cx,
        principal,
        call,
        json!({"mode": "sync", "outcome": outcome, "status": status}),
    ) {
        audit::record_after(cx, &record).await;
    }
    match response {
        TriggerResponse::Answered { status, body, json } => Ok(Fired::Answered {
            success: (200..300).contains(&status),
            status,
            result: relayed(&body, json),
        }),
        TriggerResponse::TimedOut => Err(Error::Upstream {
            code: ErrorCode::TriggerTimeout,
            message: format!("the trigger's target did not answer within {:?}", trigger.timeout),
        }),
        TriggerResponse::Failed(why) => {
            tracing::warn!(error = %why, "trigger call failed");
            Err(Error::Upstream {
                code: ErrorCode::TriggerFailed,
                message: "the trigger's target could not be reached".into(),
            })
        }
    }
}

/// The target's answer as the caller sees it: its JSON when it says and is JSON, else its
/// text (`null` when empty).
fn relayed(body: &[u8], json: bool) -> serde_json::Value {
    if body.is_empty() {
        return serde_json::Value::Null;
    }
    if json && let Ok(value) = serde_json::from_slice(body) {
        return value;
    }
    serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
}

fn body(trigger: &Trigger, call: &TriggerCall) -> Option<Vec<u8>> {
    // A `TriggerCall` is plain data: serializing it cannot fail.
    trigger
        .method
        .has_body()
        .then(|| serde_json::to_vec(call).unwrap_or_default())
}

fn outcome_label(response: &TriggerResponse) -> &'static str {
    match response {
        TriggerResponse::Answered { status, .. } if (200..300).contains(status) => "success",
        TriggerResponse::Answered { .. } => "refused",
        TriggerResponse::TimedOut => "timeout",
        TriggerResponse::Failed(_) => "failed",
    }
}

/// The record of a call by an authenticated caller; anonymous calls of public triggers have
/// no tenant to audit in, and are logged.
fn entry(
    cx: &impl HasClock,
    principal: Option<&Principal>,
    call: &TriggerCall,
    extra: serde_json::Value,
) -> Option<AuditRecord> {
    let Some(principal) = principal else {
        tracing::info!(call_id = %call.id, details = %extra, "public trigger fired");
        return None;
    };
    let mut details = json!({"trigger": call.trigger, "call_id": call.id});
    if let (Some(details), Some(extra)) = (details.as_object_mut(), extra.as_object()) {
        details.extend(extra.clone());
    }
    Some(audit::entry(cx, &Actor::of(principal), "trigger.fired", None, details))
}

/// `Job::CallTrigger`: one attempt of an async call. Anything but a 2xx answer is retried,
/// until the trigger's own `max_attempts`.
#[tracing::instrument(skip(cx, call), fields(trigger = %call.trigger, call_id = %call.id))]
pub(crate) async fn run(cx: &impl HasTriggers, call: &TriggerCall, attempt: u32) -> Result<(), StageError> {
    let Some(trigger) = cx.triggers().get(&call.trigger) else {
        return Err(StageError::Fail(format!(
            "trigger {} is no longer configured",
            call.trigger
        )));
    };
    let response = cx.triggers().caller.call(trigger, body(trigger, call)).await;
    metrics::counter!("filegate_trigger_calls_total", "mode" => "async", "outcome" => outcome_label(&response))
        .increment(1);
    let error = match response {
        TriggerResponse::Answered { status, .. } if (200..300).contains(&status) => {
            tracing::info!(status, attempt, "trigger call delivered");
            return Ok(());
        }
        TriggerResponse::Answered { status, .. } => format!("the target answered {status}"),
        TriggerResponse::TimedOut => format!("no answer within {:?}", trigger.timeout),
        TriggerResponse::Failed(why) => why,
    };
    if attempt >= trigger.max_attempts {
        return Err(StageError::Fail(format!("gave up after {attempt} attempts: {error}")));
    }
    Err(StageError::Retry(anyhow::anyhow!(error)))
}

/// The worker gave an async call up: audited once (in the caller's tenant) when the call
/// had one.
pub(crate) async fn gave_up(cx: &(impl HasAudit + HasClock), call: &TriggerCall, reason: &str) {
    tracing::error!(trigger = %call.trigger, call_id = %call.id, reason, "trigger call given up");
    let Some(tenant) = &call.tenant else {
        return;
    };
    let actor = Actor::system(tenant.clone(), "triggers");
    let key = audit::once_key("trigger.failed", &call.id.to_string());
    let details = json!({"trigger": call.trigger, "call_id": call.id, "subject": call.subject, "reason": reason});
    if let Err(e) = audit::record_once(cx, &actor, key, "trigger.failed", None, details).await {
        metrics::counter!("filegate_audit_failures_total").increment(1);
        tracing::error!(error = %e, "could not audit the failed trigger call");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_relayed_as_json_or_text() {
        assert_eq!(relayed(br#"{"ok":1}"#, true), json!({"ok": 1}));
        assert_eq!(relayed(br#"{"ok":1}"#, false), json!(r#"{"ok":1}"#));
        assert_eq!(relayed(b"not json", true), json!("not json"));
        assert_eq!(relayed(b"", true), serde_json::Value::Null);
    }
}
