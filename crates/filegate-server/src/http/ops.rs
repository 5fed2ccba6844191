//! Operations endpoints (public): liveness, readiness, the OpenAPI document.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use filegate_api::{Health, Readiness};

use super::extract::Json;
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Alias of `/healthz` (seed 003).
#[utoipa::path(get, path = "/heartbeat", tag = "operations", responses((status = 200, body = Health)))]
pub async fn heartbeat() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Every configured engine answers: the database and the object storage.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (db, blobs) = tokio::join!(state.services.store.ping(), state.services.blobs.ping());
    let mut checks = BTreeMap::new();
    let mut ready = true;
    for (name, result) in [("database", db), ("storage", blobs)] {
        let value = match result {
            Ok(()) => "ok".to_owned(),
            Err(e) => {
                ready = false;
                tracing::warn!(engine = name, error = %e, "readiness check failed");
                "unavailable".to_owned()
            }
        };
        checks.insert(name.to_owned(), value);
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" }.into(),
        checks,
    };
    (status, Json(body)).into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        state.openapi.as_ref().clone(),
    )
        .into_response()
}
