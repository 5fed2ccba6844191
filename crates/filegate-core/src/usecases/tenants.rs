//! Tenants: created by a superadmin, each with its `default` bucket.

use super::audit::{self, Actor};
use super::context::{HasClock, HasLookups, HasScanner, HasSettings, HasStore};
use crate::domain::{Bucket, BucketName, BucketPolicy, Permission, Principal, Tenant, TenantId};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Effects;

#[tracing::instrument(skip(cx, principal), fields(actor = %principal.subject))]
pub async fn create(
    cx: &(impl HasStore + HasSettings + HasClock + HasLookups + HasScanner),
    principal: &Principal,
    id: TenantId,
) -> Result<Tenant> {
    principal.require(Permission::Operate)?;
    // In the superadmin's own trail, and in the new tenant's, whose admins see who made it.
    let details = serde_json::json!({"tenant": id.as_str()});
    let actor = Actor::of(principal);
    let in_new = Actor {
        tenant: id.clone(),
        ..actor.clone()
    };
    let effects = Effects::NONE
        .audited(audit::entry(cx, &actor, "tenant.created", None, details.clone()))
        .audited(audit::entry(cx, &in_new, "tenant.created", None, details));
    insert(cx, id, &effects).await.map_err(|e| match e {
        Error::Conflict { .. } => Error::conflict(ErrorCode::TenantExists, "a tenant with this id exists"),
        other => other,
    })
}

/// Creates a tenant and its `default` bucket. Used at first start, without a principal.
pub async fn create_unchecked(
    cx: &(impl HasStore + HasSettings + HasClock + HasLookups + HasScanner),
    id: TenantId,
) -> Result<Tenant> {
    insert(cx, id, &Effects::NONE).await
}

/// Creates a tenant and its `default` bucket, with `effects` (its records), then gives it
/// the default quota.
async fn insert(
    cx: &(impl HasStore + HasSettings + HasClock + HasLookups + HasScanner),
    id: TenantId,
    effects: &Effects,
) -> Result<Tenant> {
    let now = cx.clock().now();
    let tenant = Tenant {
        id: id.clone(),
        created_at: now,
    };
    let bucket = Bucket {
        tenant: id,
        name: BucketName::default_bucket(),
        policy: BucketPolicy {
            stages: crate::usecases::pipeline::default_stages(cx),
            ..BucketPolicy::default()
        },
        created_at: now,
        updated_at: now,
    };
    cx.store().create_tenant(&tenant, &bucket, effects).await?;
    // A second write: should it fail, the tenant exists unlimited and the error says so; a
    // superadmin sets its quota (`PUT /v1/admin/quotas`).
    super::quotas::apply_default(cx, &tenant.id).await?;
    Ok(tenant)
}

/// Makes sure the `default` tenant exists (first start of a fresh data directory).
pub async fn ensure_default(cx: &(impl HasStore + HasSettings + HasClock + HasLookups + HasScanner)) -> Result<bool> {
    let id = TenantId::default_tenant();
    if cx.store().get_tenant(&id).await?.is_some() {
        return Ok(false);
    }
    match create_unchecked(cx, id).await {
        Ok(_) => Ok(true),
        // Another process started at the same moment and won the race.
        Err(Error::Conflict { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads a tenant; used to refuse tokens for tenants that do not exist.
pub async fn exists(cx: &impl HasStore, id: &TenantId) -> Result<bool> {
    match cx.store().get_tenant(id).await {
        Ok(t) => Ok(t.is_some()),
        Err(StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
