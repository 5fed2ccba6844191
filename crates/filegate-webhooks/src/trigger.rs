//! `HttpTriggerCaller`: calls triggers' targets with reqwest. Only what the configuration
//! says goes out — its URL, method and headers, the JSON body core made — and every call is
//! bounded: the trigger's timeout, no redirect followed (a target cannot bounce us to another
//! host), no proxy taken from the environment, and at most `MAX_ANSWER` bytes of the answer
//! read. Targets are the operator's own services, so private addresses are allowed (unlike
//! webhooks, whose URLs tenants choose).

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use filegate_core::domain::{Trigger, TriggerMethod};
use filegate_core::ports::{TriggerCaller, TriggerResponse};

use crate::webhook::describe;

/// Largest answer relayed to a sync caller.
pub const MAX_ANSWER: usize = 1024 * 1024;

pub struct HttpTriggerCaller {
    client: reqwest::Client,
}

impl HttpTriggerCaller {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("filegate-triggers/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

fn method(m: TriggerMethod) -> Method {
    match m {
        TriggerMethod::Get => Method::GET,
        TriggerMethod::Post => Method::POST,
        TriggerMethod::Put => Method::PUT,
        TriggerMethod::Patch => Method::PATCH,
        TriggerMethod::Delete => Method::DELETE,
    }
}

#[async_trait]
impl TriggerCaller for HttpTriggerCaller {
    async fn call(&self, trigger: &Trigger, body: Option<Vec<u8>>) -> TriggerResponse {
        let mut request = self
            .client
            .request(method(trigger.method), trigger.url.as_url().clone())
            .timeout(trigger.timeout);
        for (name, value) in trigger.headers.iter() {
            // Checked when the config was loaded; a header that still does not fit is skipped.
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                request = request.header(name, value);
            }
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        // The answer must arrive within the same timeout as the call.
        match tokio::time::timeout(trigger.timeout, exchange(request)).await {
            Ok(Ok(answered)) => answered,
            Ok(Err(e)) if e.is_timeout() => TriggerResponse::TimedOut,
            Ok(Err(e)) => TriggerResponse::Failed(describe(&e.without_url())),
            Err(_) => TriggerResponse::TimedOut,
        }
    }
}

async fn exchange(request: reqwest::RequestBuilder) -> Result<TriggerResponse, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        });
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_ANSWER {
            return Ok(TriggerResponse::Failed(format!(
                "the answer is larger than {MAX_ANSWER} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(TriggerResponse::Answered { status, body, json })
}
