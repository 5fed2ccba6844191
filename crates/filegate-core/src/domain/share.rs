//! Share links: a random token that lets whoever holds it see one file — its page,
//! and its bytes when the share allows downloads — until the share expires, is revoked or has
//! been downloaded as often as it allows. Only the token's SHA-256 is stored; an optional
//! password is stored as an Argon2id PHC string.

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use super::{EmailAddress, FileId, ShareId, TenantId};
use crate::error::{Error, ErrorCode};

/// Random bytes in a token: 256 bits.
pub const TOKEN_BYTES: usize = 32;
/// The base64url (unpadded) length of a token.
pub const TOKEN_CHARS: usize = 43;
/// The longest share password accepted (Argon2 takes any length; a bound keeps requests cheap).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The most downloads a limit may allow.
pub const MAX_DOWNLOAD_LIMIT: u32 = 1_000_000;

/// The secret part of a share link. It is shown once, to the person who created the share
/// (and sent to the recipient); filegate keeps only [`TokenHash`]. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareToken(String);

impl ShareToken {
    /// 32 fresh random bytes, base64url.
    pub fn generate() -> Self {
        let mut raw = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut raw);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    }

    /// A token from a URL. Anything that cannot be a token is `not-found`, like a token
    /// that is well formed but unknown: the answer must not say which.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let decodes = s.len() == TOKEN_CHARS
            && base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .is_ok_and(|raw| raw.len() == TOKEN_BYTES);
        if decodes {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::not_found("share"))
        }
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The token itself, to put in the link handed to the creator and the recipient.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShareToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShareToken(<redacted>)")
    }
}

/// The SHA-256 of a token: what the store keeps and looks shares up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality. A lookup by hash already leaks nothing useful (knowing a
    /// prefix of the hash does not help forge a token); this keeps the final check honest.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// What a share lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SharePermission {
    /// See the file's page and view its bytes in the browser.
    View,
    /// Also download it as an attachment.
    Download,
}

impl SharePermission {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "view" => Ok(Self::View),
            "download" => Ok(Self::Download),
            _ => Err(Error::invalid(
                ErrorCode::InvalidPermission,
                format!("unknown share permission {s:?}; known: view, download"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Download => "download",
        }
    }
}

impl fmt::Display for SharePermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password chosen for a share, as sent by its creator or its recipient. `Debug` never
/// shows it.
#[derive(Clone)]
pub struct SharePassword(String);

impl SharePassword {
    /// 1 to 256 characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let chars = s.chars().count();
        if (1..=MAX_PASSWORD_CHARS).contains(&chars) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(
                ErrorCode::InvalidPassword,
                format!("a share password is 1 to {MAX_PASSWORD_CHARS} characters"),
            ))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SharePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharePassword(<redacted>)")
    }
}

/// A hash of a share password as the `PasswordHasher` port writes it (a PHC string such as
/// `$argon2id$v=19$m=…`): the parameters travel with the hash, so they can change without
/// breaking older shares.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A hash as the hasher wrote it or the store read it back.
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A share as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub id: ShareId,
    pub tenant: TenantId,
    pub file_id: FileId,
    pub token_hash: TokenHash,
    pub permission: SharePermission,
    /// Who shared: a JWT `sub` or `key:<id>` (the email's sender).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub recipient_email: Option<EmailAddress>,
    pub password: Option<PasswordHash>,
    /// At most this many byte downloads (views included), when set.
    pub max_downloads: Option<u32>,
    /// Requests that served bytes (`/view`, `/download`).
    pub download_count: u32,
    /// Every successful access: pages, views and downloads.
    pub access_count: u64,
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Password attempts counted since the last right one (each is counted before it is
    /// checked, so concurrent guesses cannot outrun the lockout).
    pub password_failures: u32,
    /// No password is checked before this time.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Why a share no longer opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareRefusal {
    Revoked,
    Expired,
    Exhausted,
}

impl ShareRefusal {
    pub fn code(self) -> ErrorCode {
        match self {
            Self::Revoked => ErrorCode::ShareRevoked,
            Self::Expired => ErrorCode::ShareExpired,
            Self::Exhausted => ErrorCode::ShareExhausted,
        }
    }

    pub fn into_error(self) -> Error {
        let message = match self {
            Self::Revoked => "this share link was revoked by the person who shared it",
            Self::Expired => "this share link has expired",
            Self::Exhausted => "this share link has been downloaded as often as it allows",
        };
        Error::Forbidden {
            code: self.code(),
            message: message.to_owned(),
        }
    }
}

impl Share {
    /// Why the share does not open at `now`, if it does not: revoked first (the owner's
    /// decision), then expired, then out of downloads.
    pub fn refusal(&self, now: DateTime<Utc>) -> Option<ShareRefusal> {
        if self.revoked_at.is_some() {
            Some(ShareRefusal::Revoked)
        } else if self.expires_at <= now {
            Some(ShareRefusal::Expired)
        } else if self.downloads_left() == Some(0) {
            Some(ShareRefusal::Exhausted)
        } else {
            None
        }
    }

    /// Downloads still allowed, when the share has a limit.
    pub fn downloads_left(&self) -> Option<u32> {
        self.max_downloads.map(|max| max.saturating_sub(self.download_count))
    }

    /// `active`, `revoked`, `expired` or `exhausted` at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        self.refusal(now).map_or("active", |r| match r {
            ShareRefusal::Revoked => "revoked",
            ShareRefusal::Expired => "expired",
            ShareRefusal::Exhausted => "exhausted",
        })
    }
}

/// A download limit from a request: 1 to [`MAX_DOWNLOAD_LIMIT`].
pub fn parse_download_limit(n: u64) -> Result<u32, Error> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_DOWNLOAD_LIMIT).contains(n))
        .ok_or_else(|| {
            Error::invalid(
                ErrorCode::InvalidMaxDownloads,
                format!("max_downloads is 1 to {MAX_DOWNLOAD_LIMIT}, or null for no limit"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(now: DateTime<Utc>) -> Share {
        Share {
            id: ShareId::new(),
            tenant: TenantId::default_tenant(),
            file_id: FileId::new(),
            token_hash: ShareToken::generate().hash(),
            permission: SharePermission::Download,
            created_by: "u".into(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            recipient_email: None,
            password: None,
            max_downloads: Some(2),
            download_count: 0,
            access_count: 0,
            last_accessed_at: None,
            revoked_at: None,
            password_failures: 0,
            locked_until: None,
        }
    }

    #[test]
    fn tokens_are_256_random_bits_that_parse_back_and_never_print() {
        let a = ShareToken::generate();
        let b = ShareToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.reveal().len(), TOKEN_CHARS);
        assert_eq!(ShareToken::parse(a.reveal()).unwrap().hash(), a.hash());
        assert!(a.hash().matches(&a.hash()));
        assert!(!a.hash().matches(&b.hash()));
        assert!(!format!("{a:?}").contains(a.reveal()));
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &format!("{}!", &a.reveal()[..42]),
            "../../etc/passwd",
        ] {
            assert!(matches!(ShareToken::parse(bad), Err(Error::NotFound { .. })), "{bad:?}");
        }
    }

    #[test]
    fn passwords_are_bounded_and_redacted() {
        assert!(SharePassword::parse("").is_err());
        assert!(SharePassword::parse(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
        let password = SharePassword::parse("correct horse").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
        let hash = PasswordHash::from_stored("$argon2id$v=19$horse".into());
        assert!(!format!("{hash:?}").contains("horse"));
    }

    #[test]
    fn a_share_is_refused_when_revoked_expired_or_exhausted() {
        let now = Utc::now();
        let mut s = share(now);
        assert_eq!(s.refusal(now), None);
        assert_eq!(s.state(now), "active");
        s.download_count = 2;
        assert_eq!(s.refusal(now), Some(ShareRefusal::Exhausted));
        assert_eq!(s.refusal(now + chrono::Duration::hours(1)), Some(ShareRefusal::Expired));
        s.revoked_at = Some(now);
        assert_eq!(s.refusal(now + chrono::Duration::hours(2)), Some(ShareRefusal::Revoked));
        s.max_downloads = None;
        s.revoked_at = None;
        assert_eq!(s.refusal(now), None);
        assert_eq!(s.downloads_left(), None);
    }

    #[test]
    fn permissions_and_limits_parse() {
        assert_eq!(SharePermission::parse("view").unwrap(), SharePermission::View);
        assert_eq!(SharePermission::parse("download").unwrap().as_str(), "download");
        assert!(SharePermission::parse("edit").is_err());
        assert_eq!(parse_download_limit(3).unwrap(), 3);
        assert!(parse_download_limit(0).is_err());
        assert!(parse_download_limit(u64::from(MAX_DOWNLOAD_LIMIT) + 1).is_err());
    }
}
