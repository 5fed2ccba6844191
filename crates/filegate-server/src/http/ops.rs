//! Operations endpoints (public): liveness, readiness, the OpenAPI document.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use filegate_api::{Health, Readiness};

use super::extract::Json;

/// A check slower than this counts as down: readiness must answer fast.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Alias of `/healthz`, for monitors that ask for `/heartbeat`.
#[utoipa::path(get, path = "/heartbeat", tag = "operations", security(), responses((status = 200, body = Health)))]
pub async fn heartbeat() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Every configured engine answers (database, storage, and the broker and cache when set).
#[utoipa::path(get, path = "/readyz", tag = "operations", security(), responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let results = futures::future::join_all(state.probes.iter().map(|probe| async move {
        let outcome = tokio::time::timeout(PROBE_TIMEOUT, probe.ping()).await;
        (probe.name, outcome)
    }))
    .await;
    let mut checks = BTreeMap::new();
    let mut ready = true;
    for (name, outcome) in results {
        let value = match outcome {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => {
                tracing::warn!(engine = name, error = %e, "readiness check failed");
                "unavailable".to_owned()
            }
            Err(_) => {
                tracing::warn!(engine = name, "readiness check timed out");
                "timeout".to_owned()
            }
        };
        ready &= value == "ok";
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
#[utoipa::path(get, path = "/openapi.json", tag = "operations", security(), responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        state.openapi.as_ref().clone(),
    )
        .into_response()
}
