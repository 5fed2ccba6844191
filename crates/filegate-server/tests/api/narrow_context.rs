//! A use case runs against a context that provides only what its signature names
//! (`usecases::context`): here the SQLite store (as metadata store and audit trail) and a
//! clock the test moves — no blob store, queue, mailer or any other engine, and no
//! `Services`. Not through the server like the rest of this binary: the point is the
//! use case's signature.

use chrono::{Duration, Utc};
use filegate_core::domain::{
    AuditQuery, Bucket, BucketName, BucketPolicy, ContentType, FileId, FileRecord, Metadata, NewFile, ObjectPath,
    Principal, Role, Tenant, TenantId, UploadPlan,
};
use filegate_core::error::Error;
use filegate_core::ports::Effects;
use filegate_core::ports::{AuditLog, Clock, ManualClock, MetadataStore};
use filegate_core::usecases::context::{HasAudit, HasClock, HasStore};
use filegate_core::usecases::{audit, files};
use filegate_sql::SqliteStore;

/// The store and a clock: all that renaming a file touches.
struct StoreAndClock {
    store: SqliteStore,
    clock: ManualClock,
}

impl HasStore for StoreAndClock {
    fn store(&self) -> &dyn MetadataStore {
        &self.store
    }
}

impl HasAudit for StoreAndClock {
    fn audit(&self) -> &dyn AuditLog {
        &self.store
    }
}

impl HasClock for StoreAndClock {
    fn clock(&self) -> &dyn Clock {
        &self.clock
    }
}

fn principal(tenant: &TenantId, role: Role) -> Principal {
    Principal {
        subject: "tester".into(),
        tenant: tenant.clone(),
        roles: vec![role],
        origin: Default::default(),
    }
}

async fn tenant(store: &SqliteStore, id: &str) -> TenantId {
    let tenant = TenantId::parse(id).expect("tenant id");
    let now = Utc::now();
    let bucket = Bucket {
        tenant: tenant.clone(),
        name: BucketName::default_bucket(),
        policy: BucketPolicy::default(),
        created_at: now,
        updated_at: now,
    };
    let row = Tenant {
        id: tenant.clone(),
        created_at: now,
    };
    store
        .create_tenant(&row, &bucket, &Effects::NONE)
        .await
        .expect("create tenant");
    tenant
}

#[tokio::test]
async fn a_rename_runs_on_the_store_and_clock_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("filegate.db"))
        .await
        .expect("open sqlite");
    let acme = tenant(&store, "acme").await;
    let other = tenant(&store, "other").await;
    let now = Utc::now();
    let file = FileRecord::pending(NewFile {
        id: FileId::new(),
        tenant: acme.clone(),
        owner: "tester".into(),
        bucket: BucketName::default_bucket(),
        path: ObjectPath::parse("reports/draft.txt").expect("path"),
        size: 5,
        content_type: ContentType::parse("text/plain").expect("type"),
        declared_sha256: None,
        metadata: Metadata::default(),
        external_id: None,
        upload: UploadPlan::Put,
        upload_expires_at: now + Duration::hours(1),
        now,
        encryption: None,
        request_id: None,
    });
    let file = store.insert_file(&file, &Effects::NONE).await.expect("insert file");
    // A day later than the wall clock: the use case reads the context's clock, no other.
    let clock = ManualClock::starting_now();
    clock.advance(Duration::days(1));
    let at = clock.now();
    let cx = StoreAndClock { store, clock };

    let change = files::FileChange {
        path: Some(ObjectPath::parse("reports/final.txt").expect("path")),
        metadata: None,
    };
    let renamed = files::patch(&cx, &principal(&acme, Role::Writer), file.id, change)
        .await
        .expect("rename");
    assert_eq!(renamed.path.as_str(), "reports/final.txt");
    assert_eq!(renamed.updated_at, at);

    let read = files::get(&cx, &principal(&acme, Role::Reader), file.id)
        .await
        .expect("get");
    assert_eq!(read.path.as_str(), "reports/final.txt");
    let elsewhere = files::get(&cx, &principal(&other, Role::Admin), file.id).await;
    assert!(matches!(elsewhere, Err(Error::NotFound { .. })), "{elsewhere:?}");

    let query = AuditQuery {
        limit: 10,
        ..Default::default()
    };
    let (trail, _) = audit::list(&cx, &principal(&acme, Role::Admin), query)
        .await
        .expect("audit trail");
    let record = trail
        .iter()
        .find(|r| r.action == "file.updated")
        .expect("rename audited");
    assert_eq!((record.file_id, record.at), (Some(file.id), at));
}
