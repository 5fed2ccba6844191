//! Exchange passphrases (the hospital exchange): read the current one, rotate, list the history; and the
//! versions the `decrypt` stage tries. Passphrases are generated here, stored sealed, and
//! only ever shown by `current`.

use chrono::{DateTime, Utc};

use serde_json::json;

use super::audit::{self, Actor};
use super::context::{HasAudit, HasClock, HasExchange, HasSealer};
use crate::domain::{Passphrase, PassphraseVersion, Permission, Principal, TenantId};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Effects;

/// The current passphrase, as an exchange client receives it.
#[derive(Debug, Clone)]
pub struct CurrentPassphrase {
    pub version: u32,
    pub passphrase: Passphrase,
    pub created_at: DateTime<Utc>,
}

/// What authenticates a sealed passphrase: its tenant and version.
fn seal_context(tenant: &TenantId, version: u32) -> String {
    format!("filegate/exchange-passphrase/{tenant}/{version}")
}

fn unseal(cx: &impl HasSealer, v: &PassphraseVersion) -> Result<Passphrase> {
    let plain = cx
        .sealer()
        .open(&v.sealed, seal_context(&v.tenant, v.version).as_bytes())
        .ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "cannot open a sealed passphrase; was the deployment secret changed?"
            ))
        })?;
    Passphrase::from_unsealed(plain)
}

/// Adds the version after `newest` with a fresh passphrase: by `rotator`, with its record
/// (`exchange.passphrase_rotated`) in the same transaction, or else by `system`, unrecorded.
/// `None` when another process added that version first (the caller reads again).
async fn add_next(
    cx: &(impl HasExchange + HasSealer + HasClock),
    tenant: &TenantId,
    newest: Option<u32>,
    rotator: Option<&Actor>,
) -> Result<Option<PassphraseVersion>> {
    let version = newest.map_or(Ok(1), |n| {
        n.checked_add(1)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("passphrase versions exhausted")))
    })?;
    let passphrase = Passphrase::generate();
    let row = PassphraseVersion {
        tenant: tenant.clone(),
        version,
        sealed: cx
            .sealer()
            .seal(passphrase.expose().as_bytes(), seal_context(tenant, version).as_bytes())?,
        created_at: cx.clock().now(),
        created_by: rotator.map_or("system", |a| a.subject.as_str()).to_owned(),
        retired_at: None,
    };
    let effects = match rotator {
        Some(actor) => {
            let details = json!({ "version": version });
            Effects::NONE.audited(audit::entry(cx, actor, "exchange.passphrase_rotated", None, details))
        }
        None => Effects::NONE,
    };
    match cx.exchange().add_passphrase(&row, &effects).await {
        Ok(()) => Ok(Some(row)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The tenant's versions, newest first, creating version 1 on first use. Lazily rather than
/// at tenant creation, so tenants that existed before this feature (and `default`) get one
/// too, and tenants that never exchange files never hold a secret.
async fn versions_or_first(
    cx: &(impl HasExchange + HasSealer + HasClock),
    tenant: &TenantId,
) -> Result<Vec<PassphraseVersion>> {
    for _ in 0..3 {
        let versions = cx.exchange().passphrases(tenant).await?;
        if !versions.is_empty() {
            return Ok(versions);
        }
        if let Some(first) = add_next(cx, tenant, None, None).await? {
            tracing::info!(tenant = %tenant, "first exchange passphrase created");
            return Ok(vec![first]);
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "the first exchange passphrase could not be created"
    )))
}

/// `GET /v1/exchange/passphrase`: the current passphrase (exchange clients and admins).
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn current(
    cx: &(impl HasAudit + HasExchange + HasSealer + HasClock),
    principal: &Principal,
) -> Result<CurrentPassphrase> {
    principal.require(Permission::Exchange)?;
    let versions = versions_or_first(cx, &principal.tenant).await?;
    let newest = versions
        .first()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no passphrase version")))?;
    let passphrase = unseal(cx, newest)?;
    // Recorded before the secret is handed out: no trail, no passphrase.
    audit::record(
        cx,
        &Actor::of(principal),
        "exchange.passphrase_read",
        None,
        json!({ "version": newest.version }),
    )
    .await?;
    tracing::info!(version = newest.version, "exchange passphrase read");
    Ok(CurrentPassphrase {
        version: newest.version,
        passphrase,
        created_at: newest.created_at,
    })
}

/// `POST /v1/admin/exchange/rotate`: a new current version; the older ones keep decrypting
/// (with an alert). Answers the new version without its secret.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn rotate(
    cx: &(impl HasExchange + HasSealer + HasClock),
    principal: &Principal,
) -> Result<PassphraseVersion> {
    principal.require(Permission::Administer)?;
    let rotator = Actor::of(principal);
    for _ in 0..3 {
        let newest = cx
            .exchange()
            .passphrases(&principal.tenant)
            .await?
            .first()
            .map(|v| v.version);
        if let Some(added) = add_next(cx, &principal.tenant, newest, Some(&rotator)).await? {
            tracing::info!(version = added.version, "exchange passphrase rotated");
            return Ok(added);
        }
    }
    Err(Error::conflict(
        ErrorCode::Conflict,
        "another rotation is in progress; try again",
    ))
}

/// `GET /v1/admin/exchange/passphrases`: every version, newest first, without secrets (the
/// caller renders only the metadata).
pub async fn history(cx: &impl HasExchange, principal: &Principal) -> Result<Vec<PassphraseVersion>> {
    principal.require(Permission::Administer)?;
    Ok(cx.exchange().passphrases(&principal.tenant).await?)
}

/// The passphrases the `decrypt` stage tries, newest first. No version yet means nothing
/// can have been encrypted with one: the list is empty.
pub(crate) async fn candidates(
    cx: &(impl HasExchange + HasSealer),
    tenant: &TenantId,
) -> Result<Vec<(u32, Passphrase)>> {
    cx.exchange()
        .passphrases(tenant)
        .await?
        .iter()
        .map(|v| Ok((v.version, unseal(cx, v)?)))
        .collect()
}
