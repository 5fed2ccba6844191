//! Tenants, buckets and API keys.

use filegate_core::StoreError;
use filegate_core::domain::{ApiKey, ApiKeyId, BucketPolicy, DedupScope, Role, Tenant};
use filegate_core::ports::Effects;

use super::{Queue, Store, bname, bucket, now, secs, tenant, tid};

pub async fn tenant_and_first_bucket_are_created_together(store: Store, _queue: Queue) {
    let acme = tid("acme");
    let t = Tenant {
        id: acme.clone(),
        created_at: now(),
    };
    let first = bucket(&acme, "inbox");
    store.create_tenant(&t, &first, &Effects::NONE).await.unwrap();
    assert_eq!(store.get_tenant(&acme).await.unwrap(), Some(t.clone()));
    assert_eq!(store.list_buckets(&acme).await.unwrap(), vec![first.clone()]);

    // A second create is a conflict, and its bucket is not left behind.
    let again = store.create_tenant(&t, &bucket(&acme, "other"), &Effects::NONE).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.get_bucket(&acme, &bname("other")).await.unwrap(), None);

    // A first bucket that names another tenant is refused, and creates no tenant.
    let stray = Tenant {
        id: tid("stray"),
        created_at: now(),
    };
    assert!(
        store
            .create_tenant(&stray, &bucket(&acme, "x"), &Effects::NONE)
            .await
            .is_err()
    );
    assert_eq!(store.get_tenant(&stray.id).await.unwrap(), None);
    assert_eq!(store.get_bucket(&acme, &bname("x")).await.unwrap(), None);

    assert_eq!(store.get_tenant(&tid("nobody")).await.unwrap(), None);
    // The refused tenant is not listed either; the listing is by id.
    let before = store.list_tenants().await.unwrap();
    assert_eq!(before.iter().filter(|t| t.id == acme).count(), 1);
    assert!(before.iter().all(|t| t.id != stray.id));
    assert!(before.windows(2).all(|w| w[0].id < w[1].id));
}

pub async fn buckets_are_created_updated_and_listed_per_tenant(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let zeta = bucket(&a, "zeta");
    let alpha = bucket(&a, "alpha");
    store.create_bucket(&zeta, &Effects::NONE).await.unwrap();
    store.create_bucket(&alpha, &Effects::NONE).await.unwrap();
    let dup = store.create_bucket(&bucket(&a, "zeta"), &Effects::NONE).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    // The same name in another tenant is another bucket.
    store.create_bucket(&bucket(&b, "zeta"), &Effects::NONE).await.unwrap();

    let names: Vec<String> = store
        .list_buckets(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name.to_string())
        .collect();
    assert_eq!(names, ["alpha", "default", "zeta"]);
    assert_eq!(
        store.get_bucket(&a, &bname("alpha")).await.unwrap(),
        Some(alpha.clone())
    );
    assert_eq!(store.get_bucket(&b, &bname("alpha")).await.unwrap(), None);

    let mut changed = alpha.clone();
    changed.policy = BucketPolicy {
        public: true,
        max_file_size: 1234,
        allowed_content_types: vec!["image/*".into()],
        retention_days: 7,
        stages: vec!["verify".into(), "scan".into()],
        dedup: DedupScope::Tenant,
        inline_active: true,
    };
    changed.updated_at = now() + secs(5);
    store.update_bucket(&changed, &Effects::NONE).await.unwrap();
    let stored = store.get_bucket(&a, &bname("alpha")).await.unwrap().unwrap();
    assert_eq!(stored.policy, changed.policy);
    assert_eq!(stored.updated_at, changed.updated_at);
    assert_eq!(stored.created_at, alpha.created_at);

    // Updating a bucket that does not exist in that tenant is NotFound, and touches nothing.
    let missing = store.update_bucket(&bucket(&a, "missing"), &Effects::NONE).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let mut foreign = changed.clone();
    foreign.tenant = b.clone();
    foreign.name = bname("alpha");
    assert!(matches!(
        store.update_bucket(&foreign, &Effects::NONE).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get_bucket(&b, &bname("zeta")).await.unwrap().unwrap().policy,
        BucketPolicy::default()
    );
}

fn key(tenant: &filegate_core::domain::TenantId, name: &str, hash_byte: u8, roles: Vec<Role>) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(),
        tenant: tenant.clone(),
        name: name.into(),
        roles,
        secret_hash: [hash_byte; 32],
        created_at: now(),
        revoked_at: None,
    }
}

pub async fn api_keys_are_found_by_hash_and_revoked_within_their_tenant(store: Store, _queue: Queue) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let first = key(&a, "ci", 1, vec![Role::Writer]);
    let mut second = key(&a, "ops", 2, vec![Role::Admin, Role::Reader]);
    second.created_at = first.created_at + secs(1);
    let other = key(&b, "theirs", 3, vec![Role::Exchange]);
    for k in [&second, &first, &other] {
        store.create_api_key(k, &Effects::NONE).await.unwrap();
    }
    let same_secret = key(&b, "copy", 1, vec![Role::Reader]);
    assert!(matches!(
        store.create_api_key(&same_secret, &Effects::NONE).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(store.find_api_key(&[2; 32]).await.unwrap(), Some(second.clone()));
    assert_eq!(store.find_api_key(&[9; 32]).await.unwrap(), None);
    assert_eq!(
        store.list_api_keys(&a).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(store.list_api_keys(&b).await.unwrap(), vec![other.clone()]);

    // Another tenant cannot revoke it; an unknown id is NotFound.
    let at = now();
    assert!(matches!(
        store.revoke_api_key(&b, first.id, at, &Effects::NONE).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.revoke_api_key(&a, ApiKeyId::new(), at, &Effects::NONE).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.find_api_key(&[1; 32]).await.unwrap().unwrap().revoked_at, None);

    store.revoke_api_key(&a, first.id, at, &Effects::NONE).await.unwrap();
    // Idempotent: revoking again succeeds and keeps the first time.
    store
        .revoke_api_key(&a, first.id, at + secs(60), &Effects::NONE)
        .await
        .unwrap();
    let revoked = store.find_api_key(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(store.find_api_key(&[2; 32]).await.unwrap().unwrap().revoked_at, None);
}
