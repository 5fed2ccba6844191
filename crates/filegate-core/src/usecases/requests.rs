//! File requests (the extracts asked of a partner, still pending): admins create and cancel them,
//! exchange clients list the pending ones and upload against one, and the pipeline fulfils
//! a request when its file becomes `ready` (through `Job::FulfilRequest`, enqueued with the
//! `ready` transition, so a crash never loses it).

use chrono::{DateTime, Utc};

use serde_json::json;

use super::audit::{self, Actor};
use super::context::{HasClock, HasExchange, HasStore};
use crate::domain::{
    FileEvent, FileId, FileRequest, Permission, Principal, RequestId, RequestParameters, RequestStatus, TenantId,
};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::{Effects, Job, NewJob};
use crate::usecases::pipeline::StageError;

/// Most requests one listing returns.
pub const MAX_LIST: u32 = 500;

#[derive(Debug, Clone)]
pub struct NewRequest {
    pub parameters: RequestParameters,
    pub due_at: Option<DateTime<Utc>>,
    pub note: String,
}

/// `POST /v1/requests` (admin).
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn create(cx: &(impl HasExchange + HasClock), principal: &Principal, new: NewRequest) -> Result<FileRequest> {
    principal.require(Permission::Administer)?;
    // The stores keep microseconds: answer what a later read returns.
    let micros = |t: DateTime<Utc>| DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t);
    let now = micros(cx.clock().now());
    let new = NewRequest {
        due_at: new.due_at.map(micros),
        ..new
    };
    if new.due_at.is_some_and(|due| due < now) {
        return Err(Error::invalid(ErrorCode::InvalidDueAt, "due_at is in the past"));
    }
    let request = FileRequest {
        id: RequestId::new(),
        tenant: principal.tenant.clone(),
        parameters: new.parameters,
        note: new.note,
        status: RequestStatus::Pending,
        due_at: new.due_at,
        file_id: None,
        created_by: principal.subject.clone(),
        created_at: now,
        updated_at: now,
    };
    let record = audit::entry(
        cx,
        &Actor::of(principal),
        "request.created",
        None,
        json!({ "request_id": request.id, "parameters": request.parameters.as_json(), "due_at": request.due_at }),
    );
    cx.exchange()
        .create_request(&request, &Effects::NONE.audited(record))
        .await?;
    tracing::info!(request_id = %request.id, "file request created");
    Ok(request)
}

/// `GET /v1/requests?status=` (exchange clients and admins), oldest first.
pub async fn list(
    cx: &impl HasExchange,
    principal: &Principal,
    status: Option<RequestStatus>,
    limit: Option<u32>,
) -> Result<Vec<FileRequest>> {
    principal.require(Permission::Exchange)?;
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_LIST).contains(&limit) {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            format!("limit must be 1 to {MAX_LIST}"),
        ));
    }
    Ok(cx.exchange().list_requests(&principal.tenant, status, limit).await?)
}

/// `GET /v1/requests/{id}` (exchange clients and admins).
pub async fn get(cx: &impl HasExchange, principal: &Principal, id: RequestId) -> Result<FileRequest> {
    principal.require(Permission::Exchange)?;
    cx.exchange()
        .get_request(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("file request"))
}

fn not_pending(request: &FileRequest) -> Error {
    Error::conflict(
        ErrorCode::RequestNotPending,
        format!("the file request is {}, not pending", request.status),
    )
}

/// `DELETE /v1/requests/{id}` (admin): only a pending request can be cancelled.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, request_id = %id))]
pub async fn cancel(cx: &(impl HasExchange + HasClock), principal: &Principal, id: RequestId) -> Result<FileRequest> {
    principal.require(Permission::Administer)?;
    let record = audit::entry(
        cx,
        &Actor::of(principal),
        "request.cancelled",
        None,
        json!({ "request_id": id }),
    );
    match cx
        .exchange()
        .close_request(
            &principal.tenant,
            id,
            RequestStatus::Cancelled,
            None,
            cx.clock().now(),
            &Effects::NONE.audited(record),
        )
        .await
    {
        Ok(cancelled) => {
            tracing::info!("file request cancelled");
            Ok(cancelled)
        }
        Err(StoreError::NotFound) => Err(Error::not_found("file request")),
        Err(StoreError::Conflict(_)) => Err(not_pending(&get(cx, principal, id).await?)),
        Err(e) => Err(e.into()),
    }
}

/// An upload may answer only a pending request of its own tenant.
pub(crate) async fn require_pending(cx: &impl HasExchange, tenant: &TenantId, id: RequestId) -> Result<()> {
    match cx.exchange().get_request(tenant, id).await? {
        None => Err(Error::invalid(
            ErrorCode::UnknownRequest,
            "request_id names no file request of this tenant",
        )),
        Some(r) if r.status != RequestStatus::Pending => Err(not_pending(&r)),
        Some(_) => Ok(()),
    }
}

/// `Job::FulfilRequest`: the file answering `id` is `ready`. Idempotent: the request moves
/// from pending to fulfilled once, and its `request.fulfilled` event is enqueued with that
/// move; a request closed meanwhile (cancelled, or fulfilled by another file) stays as is.
#[tracing::instrument(skip(cx))]
pub(crate) async fn fulfil(
    cx: &(impl HasStore + HasExchange + HasClock),
    tenant: &TenantId,
    id: RequestId,
    file_id: FileId,
) -> Result<(), StageError> {
    let Some(file) = cx.store().get_file_fresh(tenant, file_id).await? else {
        return Ok(());
    };
    let event = FileEvent::about("request.fulfilled", &file, serde_json::json!({ "request_id": id }));
    // The record commits with the move to `fulfilled`, once per request.
    let record = audit::entry_once(
        cx,
        &Actor::system(tenant.clone(), "pipeline"),
        audit::once_key("request.fulfilled", &id.to_string()),
        "request.fulfilled",
        Some(file_id),
        json!({ "request_id": id }),
    );
    let effects = Effects::jobs([NewJob::now(Job::PublishEvent { event })]).audited(record);
    match cx
        .exchange()
        .close_request(
            tenant,
            id,
            RequestStatus::Fulfilled,
            Some(file_id),
            cx.clock().now(),
            &effects,
        )
        .await
    {
        Ok(_) => {
            tracing::info!("file request fulfilled");
            Ok(())
        }
        Err(StoreError::NotFound) => {
            tracing::warn!("the file request no longer exists");
            Ok(())
        }
        Err(StoreError::Conflict(_)) => {
            // Closed already: fulfilled by this file on an earlier run (its record committed
            // with it), or closed otherwise before this file was ready.
            let current = cx.exchange().get_request(tenant, id).await?;
            if current.as_ref().and_then(|r| r.file_id) != Some(file_id) {
                tracing::info!(status = ?current.map(|r| r.status), "the file request was closed before this file was ready");
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
