//! The writes beside a file's that take `Effects` (tenants, buckets, API keys, quotas, and
//! effects alone) write them only with their change: a refused change (`NotFound`,
//! `Conflict`) leaves no record behind, a written one has its record.

use filegate_core::StoreError;
use filegate_core::domain::{ApiKey, ApiKeyId, AuditQuery, Quota, Role, Tenant, TenantId};
use filegate_core::ports::Effects;

use super::audit::{Audit, record};
use super::{Store, bucket, now, tenant, tid};

/// The actions of the tenant's records, oldest first.
async fn actions(audit: &Audit, tenant: &TenantId) -> Vec<String> {
    let query = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    let mut records = audit.list(tenant, &query).await.unwrap();
    records.reverse();
    records.into_iter().map(|r| r.action).collect()
}

pub async fn effects_are_written_only_with_their_change(store: Store, audit: Audit) {
    let a = tenant(&store, "a").await;
    let audited = |action: &str| Effects::NONE.audited(record(&a, "alice", action, None));
    let conflict = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Conflict(_)));
    let not_found = |r: Result<(), StoreError>| matches!(r, Err(StoreError::NotFound));

    let existing = Tenant {
        id: a.clone(),
        created_at: now(),
    };
    let again = store
        .create_tenant(&existing, &bucket(&a, "other"), &audited("tenant.created"))
        .await;
    assert!(conflict(again));
    assert!(conflict(
        store
            .create_bucket(&bucket(&a, "default"), &audited("bucket.created"))
            .await
    ));
    assert!(not_found(
        store
            .update_bucket(&bucket(&a, "missing"), &audited("bucket.updated"))
            .await
    ));
    assert!(not_found(
        store
            .revoke_api_key(&a, ApiKeyId::new(), now(), &audited("api_key.revoked"))
            .await
    ));
    let nobody = tid("nobody");
    let quota = Quota {
        max_bytes: Some(1),
        max_files: None,
    };
    assert!(not_found(
        store
            .set_tenant_quota(&nobody, &quota, now(), &audited("quota.changed"))
            .await
    ));
    assert!(actions(&audit, &a).await.is_empty(), "no record of a refused change");

    store
        .create_bucket(&bucket(&a, "site"), &audited("bucket.created"))
        .await
        .unwrap();
    let key = ApiKey {
        id: ApiKeyId::new(),
        tenant: a.clone(),
        name: "ci".into(),
        roles: vec![Role::Reader],
        secret_hash: [7; 32],
        created_at: now(),
        revoked_at: None,
    };
    store.create_api_key(&key, &audited("api_key.created")).await.unwrap();
    store
        .revoke_api_key(&a, key.id, now(), &audited("api_key.revoked"))
        .await
        .unwrap();
    store
        .set_tenant_quota(&a, &quota, now(), &audited("quota.changed"))
        .await
        .unwrap();
    store.commit_effects(&audited("trigger.fired")).await.unwrap();
    assert_eq!(
        actions(&audit, &a).await,
        [
            "bucket.created",
            "api_key.created",
            "api_key.revoked",
            "quota.changed",
            "trigger.fired"
        ],
        "each written change with its record"
    );
    assert_eq!(store.tenant_quota(&a).await.unwrap(), quota);
}
