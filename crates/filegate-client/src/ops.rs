//! The public operations routes: health, readiness, metrics, the OpenAPI document.

use filegate_api::{Health, Readiness};
use reqwest::{Method, StatusCode};

use crate::{
    Client, Result,
    error::decode_error,
    response::{decode_json, header_str, json, success},
};

impl Client {
    /// `GET /healthz`
    pub async fn health(&self) -> Result<Health> {
        self.send_json(self.request(Method::GET, &["healthz"])?).await
    }

    /// `GET /heartbeat` (an alias of `/healthz`).
    pub async fn heartbeat(&self) -> Result<Health> {
        self.send_json(self.request(Method::GET, &["heartbeat"])?).await
    }

    /// `GET /readyz`. A server that is not ready answers `503` with the same body; that
    /// is returned as `Ok` with `status: "unavailable"`, so callers see which check failed.
    pub async fn readiness(&self) -> Result<Readiness> {
        let resp = self.request(Method::GET, &["readyz"])?.send().await?;
        let status = resp.status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            return json(resp).await;
        }
        // Read the 503 body once: a Readiness, or else an ErrorBody.
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        match decode_json::<Readiness>(status.as_u16(), &body) {
            Ok(readiness) => Ok(readiness),
            Err(_) => {
                let request_id = header_str(&headers, "x-request-id");
                Err(decode_error(status.as_u16(), request_id.as_deref(), &body))
            }
        }
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String> {
        let resp = success(self.request(Method::GET, &["metrics"])?.send().await?).await?;
        Ok(resp.text().await?)
    }

    /// `GET /openapi.json`
    pub async fn openapi(&self) -> Result<serde_json::Value> {
        self.send_json(self.request(Method::GET, &["openapi.json"])?).await
    }
}
