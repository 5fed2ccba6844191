//! `HttpWebhookClient`: posts webhook deliveries with reqwest. Each call is bounded by a
//! timeout, follows no redirect (a receiver cannot bounce us elsewhere), and reads nothing of
//! the answer but its status.
//!
//! Unless `allow_private_networks` is set, only public addresses are called: host names are
//! resolved by a resolver that drops loopback, private, link-local and other non-global
//! addresses (so a tenant admin cannot point filegate at the cloud metadata service or an
//! internal admin port, even through DNS), and literal IP addresses are checked the same way.
//! Both use `domain::is_public_address`, which also refuses a URL when its webhook is
//! created (`WebhookUrl::names_private_host`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use filegate_core::domain::{WebhookUrl, is_public_address};
use filegate_core::ports::{WebhookClient, WebhookRequest, WebhookResponse};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub struct HttpWebhookClient {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
}

impl HttpWebhookClient {
    pub fn new(timeout: Duration, allow_private_networks: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("filegate-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private_networks {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            client: builder.build()?,
            timeout,
            allow_private: allow_private_networks,
        })
    }
}

#[async_trait]
impl WebhookClient for HttpWebhookClient {
    fn check_url(&self, url: &WebhookUrl) -> Result<(), String> {
        if self.allow_private {
            return Ok(());
        }
        if url.names_private_host() {
            return Err("the webhook URL points to a private, loopback or link-local address \
                 (set webhooks.allow_private_networks to allow it)"
                .to_owned());
        }
        Ok(())
    }

    async fn post(&self, request: WebhookRequest) -> (WebhookResponse, Duration) {
        let started = Instant::now();
        if let Err(why) = self.check_url(&request.url) {
            return (WebhookResponse::Failed(why), started.elapsed());
        }
        let mut call = self.client.post(request.url.url().clone()).body(request.body);
        for (name, value) in request.headers {
            call = call.header(name, value);
        }
        let response = match call.send().await {
            // The status is all we want; the body is dropped unread.
            Ok(r) => WebhookResponse::Status(r.status().as_u16()),
            Err(e) if e.is_timeout() => WebhookResponse::Failed(format!("timed out after {:?}", self.timeout)),
            Err(e) => WebhookResponse::Failed(describe(&e.without_url())),
        };
        (response, started.elapsed())
    }
}

/// The error and its causes on one line (`error sending request: connection refused`).
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Resolves with the system resolver and keeps only public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public_address(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address (private networks are not allowed)").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let strict = HttpWebhookClient::new(Duration::from_secs(1), false).unwrap();
        let open = HttpWebhookClient::new(Duration::from_secs(1), true).unwrap();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://localhost/",
            "http://localhost./",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://127.1/",
            "http://169.254.169.254/latest",
        ] {
            let url = WebhookUrl::parse(url).unwrap();
            assert!(strict.check_url(&url).is_err(), "{url}");
            assert!(open.check_url(&url).is_ok(), "{url}");
        }
        assert!(
            strict
                .check_url(&WebhookUrl::parse("https://hooks.example.org/").unwrap())
                .is_ok()
        );
    }
}
