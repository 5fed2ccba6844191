//! `HttpWebhookClient`: posts webhook deliveries with reqwest. Each call is bounded by a
//! timeout, follows no redirect (a receiver cannot bounce us elsewhere), and reads nothing of
//! the answer but its status.
//!
//! Unless `allow_private_networks` is set, only public addresses are called: host names are
//! resolved by a resolver that drops loopback, private, link-local and other non-global
//! addresses (so a tenant admin cannot point filegate at the cloud metadata service or an
//! internal admin port, even through DNS), and literal IP addresses are checked the same way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use filegate_core::domain::WebhookUrl;
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
        let refused = || {
            Err("the webhook URL points to a private, loopback or link-local address \
                 (set webhooks.allow_private_networks to allow it)"
                .to_owned())
        };
        match url.url().host() {
            Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => refused(),
            Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => refused(),
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => refused(),
            _ => Ok(()),
        }
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
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address (private networks are not allowed)").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// documentation, multicast or unspecified).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT.
        || (a == 100 && (64..128).contains(&b))
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let strict = HttpWebhookClient::new(Duration::from_secs(1), false).unwrap();
        let open = HttpWebhookClient::new(Duration::from_secs(1), true).unwrap();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://localhost/",
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
