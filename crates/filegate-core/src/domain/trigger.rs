//! Triggers: named outbound HTTP calls, each defined in the
//! configuration — its URL, method, timeout, headers, mode and who may fire it. A request
//! only *names* a trigger; nothing in it can change where the call goes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Permission, Principal, Role, TenantId};
use crate::error::{Error, ErrorCode};

pub const MAX_TRIGGER_TIMEOUT: Duration = Duration::from_secs(300);
pub const MAX_TRIGGER_ATTEMPTS: u32 = 100;

/// A trigger's name: 1-64 characters of `a-z 0-9 - _`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TriggerName(String);

impl TriggerName {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = (1..=64).contains(&s.len())
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(
                ErrorCode::InvalidName,
                "a trigger name is 1-64 characters of a-z, 0-9, '-', '_', starting with a letter or digit",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TriggerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl TriggerMethod {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Ok(Self::Get),
            "POST" => Ok(Self::Post),
            "PUT" => Ok(Self::Put),
            "PATCH" => Ok(Self::Patch),
            "DELETE" => Ok(Self::Delete),
            _ => Err(Error::invalid(
                ErrorCode::InvalidMethod,
                format!("unknown method {s:?}; known: GET, POST, PUT, PATCH, DELETE"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Whether the call carries the JSON body (every method but GET).
    pub fn has_body(self) -> bool {
        self != Self::Get
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerMode {
    /// The caller waits; the target's answer is relayed.
    Sync,
    /// Queued; a worker makes the call, retrying with backoff.
    Async,
}

impl TriggerMode {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "sync" => Ok(Self::Sync),
            "async" => Ok(Self::Async),
            _ => Err(Error::invalid(
                ErrorCode::InvalidMode,
                format!("unknown mode {s:?}; known: sync, async"),
            )),
        }
    }
}

/// Who may fire a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerAccess {
    /// Anyone, without credentials (e.g. a privacy request form on a public site).
    Public,
    /// A principal whose roles include this one's permission (`writer`: writers, admins…).
    Role(Role),
}

impl TriggerAccess {
    fn permission(role: Role) -> Permission {
        match role {
            Role::Reader => Permission::Read,
            Role::Writer => Permission::Write,
            Role::Admin => Permission::Administer,
            Role::Superadmin => Permission::Operate,
            Role::Exchange => Permission::Exchange,
        }
    }

    /// Whether `principal` (absent for an anonymous request) may fire the trigger.
    pub fn admit(self, principal: Option<&Principal>) -> Result<(), Error> {
        match (self, principal) {
            (Self::Public, _) => Ok(()),
            (Self::Role(_), None) => Err(Error::unauthenticated(
                ErrorCode::Unauthenticated,
                "send Authorization: Bearer <token or API key>",
            )),
            (Self::Role(role), Some(p)) => {
                if p.may(Self::permission(role)) {
                    Ok(())
                } else {
                    Err(Error::forbidden(format!("this trigger needs the role {role} or above")))
                }
            }
        }
    }
}

/// An absolute `http`/`https` URL with a host, from the configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct TriggerUrl(url::Url);

impl TriggerUrl {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::invalid(ErrorCode::InvalidUrl, format!("trigger url: {why}"));
        let url = url::Url::parse(s).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("a host is required"));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &url::Url {
        &self.0
    }
}

/// Never prints credentials a URL may carry (`https://user:pass@host/`), nor the query.
impl fmt::Debug for TriggerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.0.scheme(),
            self.0.host_str().unwrap_or_default(),
            self.0.port().map(|p| format!(":{p}")).unwrap_or_default()
        )?;
        f.write_str(self.0.path())
    }
}

/// Headers sent with every call of a trigger. Values may be secrets (`Authorization`):
/// `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TriggerHeaders(Vec<(String, String)>);

impl TriggerHeaders {
    /// Names are HTTP tokens, values visible ASCII (and spaces, tabs); the headers that
    /// frame the request (`host`, `content-length`, `transfer-encoding`, `connection`) are
    /// filegate's to set.
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, Error> {
        let invalid = |m: String| Error::invalid(ErrorCode::InvalidHeader, m);
        let mut out = Vec::with_capacity(map.len());
        for (name, value) in map {
            let token = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if !token {
                return Err(invalid(format!("header name {name:?} is not a valid HTTP token")));
            }
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection"
            ) {
                return Err(invalid(format!("header {name:?} is set by filegate")));
            }
            if value.chars().any(|c| !(c == '\t' || (' '..='~').contains(&c))) {
                return Err(invalid(format!("the value of header {name:?} must be visible ASCII")));
            }
            out.push((lower, value.clone()));
        }
        Ok(Self(out))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl fmt::Debug for TriggerHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(n, _)| n)).finish()
    }
}

/// One configured trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub name: TriggerName,
    pub url: TriggerUrl,
    pub method: TriggerMethod,
    /// Per call attempt: connecting, sending and reading the answer.
    pub timeout: Duration,
    pub headers: TriggerHeaders,
    pub mode: TriggerMode,
    pub access: TriggerAccess,
    /// Async mode: calls of one request before it is given up.
    pub max_attempts: u32,
}

/// One firing of a trigger: what the target receives as the JSON body (`POST`, `PUT`,
/// `PATCH`, `DELETE`): `{"id", "trigger", "tenant", "subject", "data", "requested_at"}`.
/// `tenant` and `subject` are `null` for an anonymous call of a public trigger. `id` is the
/// same on every attempt of an async call, so the target can drop repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerCall {
    pub id: Uuid,
    pub trigger: TriggerName,
    pub tenant: Option<TenantId>,
    pub subject: Option<String>,
    pub data: serde_json::Value,
    pub requested_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_slugs() {
        for ok in ["ccpa", "waveprep", "gen-sms-wave-codes", "a_1"] {
            assert!(TriggerName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Ccpa", "-a", "a/b", "a.b", "../x", &"a".repeat(65)] {
            assert!(TriggerName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_are_absolute_http_and_never_print_their_secrets() {
        assert!(TriggerUrl::parse("ftp://x/").is_err());
        assert!(TriggerUrl::parse("/relative").is_err());
        assert!(TriggerUrl::parse("http://").is_err());
        let url = TriggerUrl::parse("https://user:secret@hooks.example.org:8443/run?token=abc").unwrap();
        let shown = format!("{url:?}");
        assert_eq!(shown, "https://hooks.example.org:8443/run");
    }

    #[test]
    fn headers_are_checked_and_their_values_never_printed() {
        let ok = BTreeMap::from([("Authorization".to_owned(), "Bearer s3cret".to_owned())]);
        let headers = TriggerHeaders::parse(&ok).unwrap();
        assert_eq!(headers.iter().collect::<Vec<_>>(), [("authorization", "Bearer s3cret")]);
        assert!(!format!("{headers:?}").contains("s3cret"));
        for (name, value) in [("bad name", "x"), ("Host", "evil.example"), ("x-a", "line\r\nbreak")] {
            let map = BTreeMap::from([(name.to_owned(), value.to_owned())]);
            assert!(TriggerHeaders::parse(&map).is_err(), "{name}: {value:?}");
        }
    }

    #[test]
    fn access_follows_the_cumulative_roles() {
        let who = |roles: &[Role]| Principal {
            subject: "u".into(),
            tenant: TenantId::default_tenant(),
            roles: roles.to_vec(),
            origin: Default::default(),
        };
        let writer = TriggerAccess::Role(Role::Writer);
        assert!(writer.admit(Some(&who(&[Role::Admin]))).is_ok());
        assert!(writer.admit(Some(&who(&[Role::Writer]))).is_ok());
        assert!(matches!(
            writer.admit(Some(&who(&[Role::Reader]))),
            Err(Error::Forbidden { .. })
        ));
        assert!(matches!(writer.admit(None), Err(Error::Unauthenticated { .. })));
        assert!(TriggerAccess::Public.admit(None).is_ok());
    }

    #[test]
    fn methods_and_modes_parse() {
        assert_eq!(TriggerMethod::parse("post").unwrap(), TriggerMethod::Post);
        assert!(TriggerMethod::parse("CONNECT").is_err());
        assert!(!TriggerMethod::Get.has_body());
        assert_eq!(TriggerMode::parse("async").unwrap(), TriggerMode::Async);
        assert!(TriggerMode::parse("later").is_err());
    }
}
