//! Email addresses of alert recipients.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};

/// An address an alert may be sent to: `local@domain`, at most 254 characters, printable
/// ASCII without spaces, quotes, angle brackets or commas (nothing that could smuggle a
/// second recipient or a header into a message). Stricter than RFC 5321 on purpose; the
/// SMTP adapter parses it once more with its own parser.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                ErrorCode::InvalidEmail,
                format!("{s:?} is not an email address (local@domain)"),
            )
        };
        if s.len() > 254
            || s.chars()
                .any(|c| !c.is_ascii_graphic() || matches!(c, '"' | '<' | '>' | ',' | ';' | '\\'))
        {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad());
        }
        // Domains are case-insensitive; keep the local part as given.
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_parse_and_domains_are_lowercased() {
        assert_eq!(
            EmailAddress::parse("Ops+alerts@Example.ORG").unwrap().as_str(),
            "Ops+alerts@example.org"
        );
        assert!(EmailAddress::parse("a@localhost").is_ok());
    }

    #[test]
    fn anything_that_could_add_a_recipient_or_header_is_refused() {
        for bad in [
            "",
            "a",
            "@x.org",
            "a@",
            "a@@x.org",
            "a b@x.org",
            "a@x.org\r\nBcc: evil@x.org",
            "a@x.org,b@x.org",
            "<a@x.org>",
            "\"a\"@x.org",
            "a@-x.org",
            "a@x..org",
            "é@x.org",
            &format!("{}@x.org", "a".repeat(65)),
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
