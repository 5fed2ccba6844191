//! API keys for machines: created by a tenant admin, shown once, stored as a SHA-256.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use super::audit::{self, Actor};
use super::context::{HasClock, HasStore};
use crate::domain::{ApiKey, ApiKeyId, Permission, Principal, Role};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Effects;

/// Every API key starts with this, so a bearer credential tells what it is at a glance (and
/// secret scanners can find leaked keys).
pub const KEY_PREFIX: &str = "fgk_";

/// A newly created key: the record and the secret, which is never shown again.
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

#[tracing::instrument(skip(cx, principal), fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn create(
    cx: &(impl HasStore + HasClock),
    principal: &Principal,
    name: String,
    roles: Vec<Role>,
) -> Result<CreatedKey> {
    principal.require(Permission::Administer)?;
    if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            ErrorCode::InvalidName,
            "a key name is 1-128 characters without control characters",
        ));
    }
    if roles.is_empty() {
        return Err(Error::invalid(ErrorCode::InvalidRole, "a key needs at least one role"));
    }
    // Nobody hands out more than they hold: an admin cannot mint a superadmin key.
    if let Some(role) = roles
        .iter()
        .find(|r| **r == Role::Superadmin && !principal.has(Role::Superadmin))
    {
        return Err(Error::forbidden(format!(
            "only a superadmin may create a key with role {role}"
        )));
    }
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let secret = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let key = ApiKey {
        id: ApiKeyId::new(),
        tenant: principal.tenant.clone(),
        name,
        roles,
        secret_hash: hash(&secret),
        created_at: cx.clock().now(),
        revoked_at: None,
    };
    let details = serde_json::json!({"key_id": key.id.to_string(), "name": key.name, "roles": key.roles});
    let record = audit::entry(cx, &Actor::of(principal), "api_key.created", None, details);
    cx.store().create_api_key(&key, &Effects::NONE.audited(record)).await?;
    Ok(CreatedKey { key, secret })
}

pub async fn list(cx: &impl HasStore, principal: &Principal) -> Result<Vec<ApiKey>> {
    principal.require(Permission::Administer)?;
    Ok(cx.store().list_api_keys(&principal.tenant).await?)
}

pub async fn revoke(cx: &(impl HasStore + HasClock), principal: &Principal, id: ApiKeyId) -> Result<()> {
    principal.require(Permission::Administer)?;
    let details = serde_json::json!({"key_id": id.to_string()});
    let record = audit::entry(cx, &Actor::of(principal), "api_key.revoked", None, details);
    cx.store()
        .revoke_api_key(&principal.tenant, id, cx.clock().now(), &Effects::NONE.audited(record))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::not_found("api key"),
            other => other.into(),
        })?;
    Ok(())
}

/// Turns a presented key into a principal. Unknown and revoked keys are refused alike.
pub async fn authenticate(cx: &impl HasStore, secret: &str) -> Result<Principal> {
    let refused = || Error::unauthenticated(ErrorCode::InvalidCredentials, "the API key is not valid");
    if !secret.starts_with(KEY_PREFIX) || secret.len() > 128 {
        return Err(refused());
    }
    // Lookup by the hash of a 256-bit random secret: no timing leak worth having, since
    // knowing the hash's prefix does not help to forge a secret.
    let key = cx.store().find_api_key(&hash(secret)).await?.ok_or_else(refused)?;
    if key.revoked_at.is_some() {
        return Err(refused());
    }
    Ok(Principal {
        subject: format!("key:{}", key.id),
        tenant: key.tenant,
        roles: key.roles,
        origin: Default::default(),
    })
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
