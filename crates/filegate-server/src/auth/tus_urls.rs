//! Signed tus URLs (docs/tus.md, "Signed tus URLs"): `POST /v1/uploads` with
//! `"protocol": "tus"` answers `{public_url}/v1/tus/{id}?token=…`, which a tus client that
//! holds no credential resumes (`HEAD`, `PATCH`, `DELETE` of that one upload).
//!
//! The token is an HS256 JWT (the same well-kept format and checks as filegate's own
//! tokens) for the upload's owner, under a key derived for that upload's id from a key of its
//! own purpose: it verifies for no other upload, and it is no bearer token anywhere else
//! (filegate's bearer tokens are checked with another key). Its principal may only finish
//! its own uploads (the `exchange` role's reach), so it reaches no other file of the owner's
//! either.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use filegate_core::domain::{FileId, Principal, Role, TenantId};
use filegate_core::{Error, ErrorCode};

use super::jwt::JwtKeys;
use crate::secret::Secret;

/// The purpose the tus URL keys are derived for (see `Secret::derive`).
const TUS_URL_PURPOSE: &str = "filegate/tus-url/v1";

/// Signs and checks the tokens of signed tus URLs.
pub struct TusUrls {
    key: [u8; 32],
    /// `{public_url}/v1/tus/`, where the URLs point.
    base: String,
}

impl std::fmt::Debug for TusUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusUrls")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl TusUrls {
    pub fn new(secret: &Secret, public_url: &url::Url) -> Self {
        let base = format!("{}/v1/tus/", public_url.as_str().trim_end_matches('/'));
        Self {
            key: secret.derive(TUS_URL_PURPOSE),
            base,
        }
    }

    /// The keys of the one upload `id`.
    fn keys(&self, id: FileId) -> JwtKeys {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(id.to_string().as_bytes());
        JwtKeys::new(&mac.finalize().into_bytes().into())
    }

    /// The URL that lets a tus client finish `owner`'s upload `id` until `expires_at`.
    pub fn url(&self, tenant: &TenantId, owner: &str, id: FileId, expires_at: DateTime<Utc>) -> anyhow::Result<String> {
        let ttl = (expires_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let token = self.keys(id).issue(owner, tenant, &[Role::Exchange], ttl)?;
        Ok(format!("{}{id}?token={token}", self.base))
    }

    /// The principal a signed tus URL's `token` stands for, when it was made for upload `id`.
    pub fn verify(&self, id: FileId, token: &str) -> Result<Principal, Error> {
        let principal = self.keys(id).verify(token).map_err(|e| match e.code() {
            ErrorCode::TokenExpired => {
                Error::unauthenticated(ErrorCode::TokenExpired, "the signed tus URL has expired")
            }
            _ => Error::unauthenticated(
                ErrorCode::InvalidToken,
                "the signed tus URL is not valid for this upload",
            ),
        })?;
        // Only what the URL was made for: finishing the owner's own upload.
        Ok(Principal {
            roles: vec![Role::Exchange],
            ..principal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> TusUrls {
        let secret = Secret::from_hex(&"ab".repeat(32)).unwrap();
        TusUrls::new(&secret, &url::Url::parse("https://files.example.org/").unwrap())
    }

    fn token_of(url: &str) -> &str {
        url.split_once("?token=").unwrap().1
    }

    #[test]
    fn a_url_opens_its_own_upload_only() {
        let urls = urls();
        let tenant = TenantId::parse("acme").unwrap();
        let (id, other) = (FileId::new(), FileId::new());
        let url = urls
            .url(&tenant, "alice", id, Utc::now() + chrono::Duration::minutes(5))
            .unwrap();
        assert!(
            url.starts_with(&format!("https://files.example.org/v1/tus/{id}?token=")),
            "{url}"
        );
        let principal = urls.verify(id, token_of(&url)).unwrap();
        assert_eq!(
            (principal.subject.as_str(), principal.tenant.as_str()),
            ("alice", "acme")
        );
        assert_eq!(principal.roles, [Role::Exchange]);
        let refused = urls.verify(other, token_of(&url)).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidToken);
    }

    #[test]
    fn a_bearer_token_is_no_signed_url() {
        let urls = urls();
        let tenant = TenantId::parse("acme").unwrap();
        let secret = Secret::from_hex(&"ab".repeat(32)).unwrap();
        let bearer = JwtKeys::new(&secret.derive(crate::app::JWT_KEY_PURPOSE))
            .issue("alice", &tenant, &[Role::Admin], Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            urls.verify(FileId::new(), &bearer).unwrap_err().code(),
            ErrorCode::InvalidToken
        );
    }
}
