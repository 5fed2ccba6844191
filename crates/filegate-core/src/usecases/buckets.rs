//! Buckets: a tenant admin creates them and changes their policy.

use std::sync::Arc;

use super::audit::{self, Actor};
use super::context::{HasClock, HasLookups, HasScanner, HasStore};
use crate::domain::{Bucket, BucketName, BucketPolicy, Permission, Principal};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::Effects;
use crate::usecases::pipeline;

/// A policy change: every field optional, absent ones keep their value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyChange {
    pub public: Option<bool>,
    pub max_file_size: Option<u64>,
    pub allowed_content_types: Option<Vec<String>>,
    pub retention_days: Option<u32>,
    pub stages: Option<Vec<String>>,
    pub dedup: Option<crate::domain::DedupScope>,
    pub inline_active: Option<bool>,
}

impl PolicyChange {
    fn apply(self, mut policy: BucketPolicy) -> BucketPolicy {
        if let Some(v) = self.public {
            policy.public = v;
        }
        if let Some(v) = self.max_file_size {
            policy.max_file_size = v;
        }
        if let Some(v) = self.allowed_content_types {
            policy.allowed_content_types = v;
        }
        if let Some(v) = self.retention_days {
            policy.retention_days = v;
        }
        if let Some(v) = self.stages {
            policy.stages = v;
        }
        if let Some(v) = self.dedup {
            policy.dedup = v;
        }
        if let Some(v) = self.inline_active {
            policy.inline_active = v;
        }
        policy
    }
}

fn check(cx: &impl HasScanner, policy: &BucketPolicy) -> Result<()> {
    policy.validate()?;
    pipeline::check_stages(&policy.stages, cx)
}

#[tracing::instrument(skip(cx, principal, change), fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn create(
    cx: &(impl HasStore + HasClock + HasScanner),
    principal: &Principal,
    name: BucketName,
    change: PolicyChange,
) -> Result<Bucket> {
    principal.require(Permission::Administer)?;
    let policy = change.apply(BucketPolicy {
        stages: pipeline::default_stages(cx),
        ..BucketPolicy::default()
    });
    check(cx, &policy)?;
    let now = cx.clock().now();
    let bucket = Bucket {
        tenant: principal.tenant.clone(),
        name,
        policy,
        created_at: now,
        updated_at: now,
    };
    let effects = audited_policy(cx, principal, "bucket.created", &bucket);
    cx.store().create_bucket(&bucket, &effects).await.map_err(|e| match e {
        StoreError::Conflict(_) => Error::conflict(ErrorCode::BucketExists, "a bucket with this name exists"),
        other => other.into(),
    })?;
    Ok(bucket)
}

#[tracing::instrument(skip(cx, principal, change), fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn update(
    cx: &(impl HasStore + HasClock + HasLookups + HasScanner),
    principal: &Principal,
    name: &BucketName,
    change: PolicyChange,
) -> Result<Bucket> {
    principal.require(Permission::Administer)?;
    let mut bucket = stored(cx, principal, name).await?;
    bucket.policy = change.apply(bucket.policy);
    check(cx, &bucket.policy)?;
    bucket.updated_at = cx.clock().now();
    let effects = audited_policy(cx, principal, "bucket.updated", &bucket);
    let updated = cx.store().update_bucket(&bucket, &effects).await;
    cx.lookups().forget_bucket(&bucket.tenant, &bucket.name).await;
    updated.map_err(|e| match e {
        StoreError::NotFound => Error::not_found("bucket"),
        other => other.into(),
    })?;
    Ok(bucket)
}

/// The record of `action` on the bucket, with its policy, to commit with the change.
fn audited_policy(cx: &impl HasClock, principal: &Principal, action: &str, bucket: &Bucket) -> Effects {
    let details = serde_json::json!({"bucket": bucket.name.as_str(), "policy": bucket.policy});
    Effects::NONE.audited(audit::entry(cx, &Actor::of(principal), action, None, details))
}

pub async fn get(cx: &impl HasStore, principal: &Principal, name: &BucketName) -> Result<Bucket> {
    principal.require(Permission::Administer)?;
    stored(cx, principal, name).await
}

pub async fn list(cx: &impl HasStore, principal: &Principal) -> Result<Vec<Bucket>> {
    principal.require(Permission::Administer)?;
    Ok(cx.store().list_buckets(&principal.tenant).await?)
}

/// The tenant's buckets for anyone who reads or uploads files: which buckets there are to
/// browse or upload to (a client shows their names, and checks sizes and types before it
/// sends). Their full policy stays with the admins ([`list`]).
pub async fn visible(cx: &impl HasStore, principal: &Principal) -> Result<Vec<Bucket>> {
    if !principal.may(Permission::Read) {
        principal.require(Permission::Upload)?;
    }
    Ok(cx.store().list_buckets(&principal.tenant).await?)
}

/// The principal's tenant's bucket, or `NotFound` — another tenant's bucket never shows.
/// Read from the store: for read-modify-write.
async fn stored(cx: &impl HasStore, principal: &Principal, name: &BucketName) -> Result<Bucket> {
    cx.store()
        .get_bucket(&principal.tenant, name)
        .await?
        .ok_or(Error::not_found("bucket"))
}

/// [`stored`], as recently read (`ports::Lookups`): for the paths that apply a bucket's
/// policy on every request.
pub(crate) async fn get_for(
    cx: &(impl HasStore + HasLookups),
    principal: &Principal,
    name: &BucketName,
) -> Result<Arc<Bucket>> {
    cx.lookups()
        .bucket(cx.store(), &principal.tenant, name)
        .await?
        .ok_or(Error::not_found("bucket"))
}
