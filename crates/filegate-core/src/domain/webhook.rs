//! Webhook subscriptions and their deliveries, signed the Standard Webhooks way
//! (<https://www.standardwebhooks.com/>): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::{DeliveryId, FileEvent, TenantId, WebhookId};
use crate::error::Error;

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
        let bad = |why: &str| Error::invalid("invalid-url", format!("webhook URL {why}"));
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
                "invalid-event-pattern",
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
                "invalid-secret",
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
