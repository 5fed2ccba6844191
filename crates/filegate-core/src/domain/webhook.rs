//! Webhook subscriptions and their deliveries, signed the Standard Webhooks way
//! (<https://www.standardwebhooks.com/>): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::{DeliveryId, FileEvent, TenantId, WebhookId};
use crate::error::{Error, ErrorCode};

/// The longest URL a subscription may name.
pub const MAX_URL_LEN: usize = 2048;
/// At most this many event patterns per subscription.
pub const MAX_PATTERNS: usize = 32;

/// Where deliveries go: an absolute `http` or `https` URL with a host, no credentials and no
/// fragment, at most [`MAX_URL_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid(ErrorCode::InvalidUrl, format!("webhook URL {why}"));
        if s.len() > MAX_URL_LEN {
            return Err(bad(&format!("is longer than {MAX_URL_LEN} characters")));
        }
        let url = url::Url::parse(s).map_err(|e| bad(&format!("does not parse: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("needs a host"));
        }
        // Credentials in the URL would be shown by every GET; the signature authenticates us.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry credentials"));
        }
        if url.fragment().is_some() {
            return Err(bad("must not have a fragment"));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// Whether the URL itself names a host off the public internet: an address that
    /// [`is_public_address`] refuses, in any form the URL standard reads as one (`127.1`,
    /// `0x7f000001`, `2130706433` are all 127.0.0.1; an IPv4 address inside IPv6, mapped,
    /// NAT64 or 6to4, counts as that IPv4 address), or `localhost` and the names under it,
    /// with or without the final dot. A name that merely resolves to such an address is
    /// caught when it is resolved, at delivery.
    pub fn names_private_host(&self) -> bool {
        match self.0.host() {
            Some(url::Host::Ipv4(ip)) => !is_public_address(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => !is_public_address(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => is_loopback_name(name),
            None => true,
        }
    }
}

/// `localhost`, the names under it (RFC 6761) and the loopback names of common
/// `/etc/hosts` files, in any case, with or without the final dot (`localhost.` is the
/// same host).
fn is_loopback_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || matches!(
            name.as_str(),
            "localhost.localdomain" | "ip6-localhost" | "ip6-loopback"
        )
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), documentation, benchmarking, multicast, reserved or unspecified. An IPv4
/// address carried in IPv6 (IPv4-mapped or -compatible, SIIT, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) is judged as that IPv4 address: `64:ff9b::7f00:1` reaches 127.0.0.1 through
/// a NAT64 gateway. Teredo and local-use NAT64 are refused whole. The one classification
/// for webhook URLs when they are created and addresses when they are resolved.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
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
        // 192.0.0.0/24, IETF protocol assignments.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one
/// a router or gateway would deliver to.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last32 = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::a.b.c.d (IPv4-compatible, deprecated) and ::ffff:a.b.c.d (IPv4-mapped).
        [0, 0, 0, 0, 0, 0 | 0xffff, _, _] => Some(last32()),
        // ::ffff:0:a.b.c.d, SIIT (RFC 6145).
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last32()),
        // 64:ff9b::a.b.c.d, the well-known NAT64 prefix (RFC 6052).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last32()),
        // 2002:AABB:CCDD::/48, 6to4 (RFC 3056): the relay is AA.BB.CC.DD.
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // 64:ff9b:1::/48, NAT64 for local use (RFC 8215).
        || (first == 0x64 && second == 0xff9b)
        // 100::/64, discard only.
        || (first == 0x100 && ip.segments()[1..4] == [0, 0, 0])
        // 2001::/32 Teredo (the client address is obfuscated), 2001:db8::/32 documentation,
        // 2001:2::/48 benchmarking, 2001:10::/28 and 2001:20::/28 ORCHID.
        || (first == 0x2001 && (matches!(second, 0 | 2 | 0x0db8) || matches!(second & 0xfff0, 0x10 | 0x20)))
        // 3fff::/20, documentation (RFC 9637).
        || (first == 0x3fff && second < 0x1000))
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Which events a subscription wants: an exact type (`file.ready`), every type under a
/// prefix (`file.*`, `alert.*`), or every event (`*`). Types are dot-separated segments of
/// lowercase letters, digits and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EventPattern(String);

impl EventPattern {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let segment_ok = |seg: &str| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let body = s.strip_suffix(".*").unwrap_or(s);
        let ok = s == "*" || (s.len() <= 64 && body.split('.').all(segment_ok));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(
                ErrorCode::InvalidEventPattern,
                format!("{s:?} is not an event type (file.ready), a prefix (alert.*) or *"),
            ))
        }
    }

    pub fn matches(&self, kind: &str) -> bool {
        match self.0.as_str() {
            "*" => true,
            p => match p.strip_suffix(".*") {
                Some(prefix) => kind.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')),
                None => p == kind,
            },
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EventPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A subscription's signing secret: 24 to 64 random bytes, written `whsec_<base64>`.
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

pub const SECRET_PREFIX: &str = "whsec_";

impl WebhookSecret {
    /// 32 fresh random bytes.
    pub fn generate() -> Self {
        let mut raw = vec![0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        Self(raw)
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                ErrorCode::InvalidSecret,
                "a webhook secret is whsec_ followed by the base64 of 24 to 64 bytes",
            )
        };
        let encoded = s.strip_prefix(SECRET_PREFIX).ok_or_else(bad)?;
        let raw = BASE64.decode(encoded).map_err(|_| bad())?;
        if !(24..=64).contains(&raw.len()) {
            return Err(bad());
        }
        Ok(Self(raw))
    }

    pub fn from_bytes(raw: Vec<u8>) -> Self {
        Self(raw)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `whsec_…` form, for the one answer that shows it.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.0))
    }

    /// The `webhook-signature` header value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A tenant's subscription. The secret is stored sealed (see `ports::SecretSealer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant: TenantId,
    pub url: WebhookUrl,
    pub events: Vec<EventPattern>,
    /// The secret as the sealer returned it; opened only to sign a delivery.
    pub sealed_secret: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|p| p.matches(kind))
    }

    /// What the sealed secret is bound to: a sealed secret copied onto another row does not
    /// open.
    pub fn seal_context(id: WebhookId, tenant: &TenantId) -> Vec<u8> {
        format!("filegate/webhook/{tenant}/{id}").into_bytes()
    }
}

/// One attempt to deliver one event to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Time-ordered: listing by id is listing by attempt time.
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub tenant: TenantId,
    pub event_id: Uuid,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed without an answer (timeout, refused connection, ...).
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The receiver answered 2xx.
    pub delivered: bool,
}

/// The body of a delivery (Standard Webhooks' suggested shape): `type`, `timestamp` (when it
/// happened) and `data` (what it is about). The same bytes on every attempt.
pub fn webhook_body(event: &FileEvent) -> Vec<u8> {
    let mut data = serde_json::json!({
        "event_id": event.id,
        "tenant": event.tenant,
        "file_id": event.file_id,
        "bucket": event.bucket,
        "path": event.path,
        "status": event.status,
        "status_reason": event.status_reason,
        "size": event.size,
        "sha256": event.sha256,
    });
    if !event.data.is_null() {
        data["details"] = event.data.clone();
    }
    let body = serde_json::json!({
        "type": event.kind,
        "timestamp": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    });
    // A `Value` always serialises.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host_and_nothing_secret() {
        assert!(WebhookUrl::parse("https://hooks.example.org/filegate?x=1").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/in").is_ok());
        for bad in [
            "",
            "hooks.example.org/x",
            "ftp://example.org/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://user:pw@example.org/",
            "https://example.org/#frag",
            &format!("https://example.org/{}", "a".repeat(MAX_URL_LEN)),
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn urls_naming_a_private_host_in_any_spelling_are_recognised() {
        for private in [
            "http://127.0.0.1:9000/in",
            "http://localhost/",
            "http://localhost./",
            "http://LocalHost./x",
            "http://api.localhost/",
            "http://api.localhost./",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://127.1/",
            "http://0177.0.0.1/",
            "http://127.0.0.1./",
            "http://0/",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let url = WebhookUrl::parse(private).unwrap();
            assert!(url.names_private_host(), "{private} ({url})");
        }
        for public in [
            "https://hooks.example.org/filegate",
            "https://localhost.example.org/",
            "http://93.184.216.34/",
            "http://[2606:4700::1111]/",
        ] {
            assert!(!WebhookUrl::parse(public).unwrap().names_private_host(), "{public}");
        }
    }

    #[test]
    fn patterns_match_exact_types_prefixes_and_everything() {
        let p = |s| EventPattern::parse(s).unwrap();
        assert!(p("file.ready").matches("file.ready"));
        assert!(!p("file.ready").matches("file.ready2"));
        assert!(p("alert.*").matches("alert.old_passphrase"));
        assert!(!p("alert.*").matches("alerts.x"));
        assert!(!p("alert.*").matches("alert"));
        assert!(p("*").matches("request.fulfilled"));
        for bad in [
            "",
            "File.ready",
            "file.",
            ".x",
            "file.*.x",
            "file*",
            "a b",
            "**",
            "file.rea-dy",
        ] {
            assert!(EventPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_round_trip_and_never_print() {
        let s = WebhookSecret::generate();
        assert_eq!(WebhookSecret::parse(&s.expose()).unwrap(), s);
        assert!(!format!("{s:?}").contains(&s.expose()[6..]));
        for bad in [
            "",
            "whsec_",
            "whsec_!!!",
            "c2VjcmV0",
            &format!("whsec_{}", BASE64.encode([1u8; 8])),
        ] {
            assert!(WebhookSecret::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
