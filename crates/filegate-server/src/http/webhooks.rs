//! `/v1/webhooks` (tenant admin): subscriptions to the tenant's events, and the record of
//! every delivery attempt.

use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;

use filegate_api::{CreateWebhook, DeliveryList, DeliveryView, WebhookList, WebhookView};
use filegate_core::domain::{DeliveryId, EventPattern, Webhook, WebhookDelivery, WebhookId, WebhookSecret, WebhookUrl};
use filegate_core::usecases::webhooks::{self, NewWebhook};
use filegate_core::{Error, ErrorCode};

use crate::auth::Authenticated;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::state::AppState;

fn view(w: Webhook) -> WebhookView {
    WebhookView {
        id: w.id.to_string(),
        url: w.url.to_string(),
        events: w.events.iter().map(|p| p.as_str().to_owned()).collect(),
        created_at: w.created_at,
        secret: None,
    }
}

fn delivery_view(d: WebhookDelivery) -> DeliveryView {
    DeliveryView {
        id: d.id.to_string(),
        event_id: d.event_id.to_string(),
        event_type: d.event_type,
        attempt: d.attempt,
        attempted_at: d.attempted_at,
        status_code: d.status_code,
        error: d.error,
        duration_ms: d.duration_ms,
        delivered: d.delivered,
    }
}

/// An unknown id is a webhook that does not exist.
fn webhook_id(id: &str) -> Result<WebhookId, Error> {
    WebhookId::parse(id)
}

/// Subscribes a URL to event types; the secret is generated and shown once when absent.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookView), (status = 400, body = filegate_api::ErrorBody),
              (status = 403, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Json(req): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let new = NewWebhook {
        url: WebhookUrl::parse(&req.url)?,
        events: req
            .events
            .iter()
            .map(|e| EventPattern::parse(e))
            .collect::<Result<_, _>>()?,
        secret: req.secret.as_deref().map(WebhookSecret::parse).transpose()?,
    };
    let created = webhooks::create(&state.services, &p, new).await?;
    let mut answer = view(created.webhook);
    answer.secret = created.generated_secret.map(|s| s.expose());
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The tenant's webhook subscriptions, never their secrets (tenant admins).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", responses((status = 200, body = WebhookList)))]
pub async fn list(State(state): State<AppState>, Authenticated(p): Authenticated) -> ApiResult<Json<WebhookList>> {
    let items = webhooks::list(&state.services, &p)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(Json(WebhookList { items }))
}

/// One webhook subscription, without its secret (tenant admins).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(view(webhooks::get(&state.services, &p, webhook_id(&id)?).await?)))
}

/// Unsubscribes; deliveries still queued are dropped and the delivery record goes too.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&state.services, &p, webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// 1 to 200, default 50.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Every attempt, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = String, Path), DeliveryParams),
    responses((status = 200, body = DeliveryList), (status = 400, body = filegate_api::ErrorBody), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    Query(params): Query<DeliveryParams>,
) -> ApiResult<Json<DeliveryList>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=webhooks::MAX_DELIVERY_PAGE).contains(&limit) {
        return Err(Error::invalid(
            ErrorCode::InvalidQuery,
            format!("limit must be 1 to {}", webhooks::MAX_DELIVERY_PAGE),
        )
        .into());
    }
    let before = params
        .cursor
        .as_deref()
        .map(|c| {
            DeliveryId::parse(c).map_err(|_| Error::invalid(ErrorCode::InvalidCursor, "the cursor is not one we gave"))
        })
        .transpose()?;
    let page = webhooks::deliveries(&state.services, &p, webhook_id(&id)?, before, limit).await?;
    Ok(Json(DeliveryList {
        items: page.items.into_iter().map(delivery_view).collect(),
        next_cursor: page.next_before.map(|d| d.to_string()),
    }))
}
