//! Exchange passphrase versions and file requests.

use filegate_core::ports::Effects;
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{
    FileEvent, FileRequest, PassphraseVersion, RequestId, RequestParameters, RequestStatus, TenantId,
};
use filegate_core::ports::{Job, NewJob};

use super::{Exchange, Queue, Store, new_file, now, secs, tenant};

const LEASE: Duration = Duration::from_secs(60);

fn version(tenant: &TenantId, n: u32, at_offset: i64) -> PassphraseVersion {
    PassphraseVersion {
        tenant: tenant.clone(),
        version: n,
        sealed: vec![1, 2, 3, n as u8, 0xff],
        created_at: now() + secs(at_offset),
        created_by: format!("admin-{n}"),
        retired_at: None,
    }
}

pub async fn passphrase_versions_are_added_in_order_and_retire_the_previous(
    store: Store,
    _queue: Queue,
    exchange: Exchange,
) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    assert!(exchange.passphrases(&a).await.unwrap().is_empty());

    let v1 = version(&a, 1, 0);
    exchange.add_passphrase(&v1, &Effects::NONE).await.unwrap();
    assert_eq!(exchange.passphrases(&a).await.unwrap(), vec![v1.clone()]);

    // A second writer adding the same version loses: the rotation races are detected.
    let same = version(&a, 1, 1);
    assert!(matches!(
        exchange.add_passphrase(&same, &Effects::NONE).await,
        Err(StoreError::Conflict(_))
    ));

    let v2 = version(&a, 2, 10);
    exchange.add_passphrase(&v2, &Effects::NONE).await.unwrap();
    let listed = exchange.passphrases(&a).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], v2, "newest first, the new one current");
    assert_eq!(listed[1].version, 1);
    assert_eq!(listed[1].sealed, v1.sealed);
    assert_eq!(listed[1].retired_at, Some(v2.created_at), "retired when v2 was made");

    // Another tenant has its own numbering and never sees a's.
    assert!(exchange.passphrases(&b).await.unwrap().is_empty());
    let b1 = version(&b, 1, 0);
    exchange.add_passphrase(&b1, &Effects::NONE).await.unwrap();
    assert_eq!(exchange.passphrases(&b).await.unwrap(), vec![b1]);
    assert_eq!(exchange.passphrases(&a).await.unwrap().len(), 2);
}

fn request(tenant: &TenantId, n: i64) -> FileRequest {
    let at = now() + secs(n);
    FileRequest {
        id: RequestId::new(),
        tenant: tenant.clone(),
        parameters: RequestParameters::parse(serde_json::json!({"units": ["icu"], "n": n})).unwrap(),
        note: format!("request {n}"),
        status: RequestStatus::Pending,
        due_at: Some(at + secs(86_400)),
        file_id: None,
        created_by: "admin".into(),
        created_at: at,
        updated_at: at,
    }
}

pub async fn file_requests_are_listed_by_status_and_closed_once_with_their_jobs(
    store: Store,
    queue: Queue,
    exchange: Exchange,
) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let r1 = request(&a, 0);
    let r2 = request(&a, 1);
    let r3 = request(&a, 2);
    for r in [&r1, &r2, &r3] {
        exchange.create_request(r, &Effects::NONE).await.unwrap();
    }
    assert_eq!(exchange.get_request(&a, r1.id).await.unwrap(), Some(r1.clone()));
    assert_eq!(exchange.get_request(&b, r1.id).await.unwrap(), None, "tenant-scoped");
    assert!(exchange.list_requests(&b, None, 10).await.unwrap().is_empty());
    let all = exchange.list_requests(&a, None, 10).await.unwrap();
    assert_eq!(all, vec![r1.clone(), r2.clone(), r3.clone()], "oldest first");
    assert_eq!(exchange.list_requests(&a, None, 2).await.unwrap().len(), 2);

    // Fulfilling commits the event job with it.
    let file = store
        .insert_file(&new_file(&a, "extract.csv"), &Effects::NONE)
        .await
        .unwrap();
    let event = FileEvent::about("request.fulfilled", &file, serde_json::json!({"request_id": r1.id}));
    let job = NewJob::now(Job::PublishEvent { event });
    let at = now() + secs(5);
    let fulfilled = exchange
        .close_request(
            &a,
            r1.id,
            RequestStatus::Fulfilled,
            Some(file.id),
            at,
            &Effects::jobs([job.clone()]),
        )
        .await
        .unwrap();
    assert_eq!(fulfilled.status, RequestStatus::Fulfilled);
    assert_eq!(fulfilled.file_id, Some(file.id));
    assert_eq!(fulfilled.updated_at, at);
    assert_eq!(exchange.get_request(&a, r1.id).await.unwrap(), Some(fulfilled));
    let claimed = queue.claim("w", LEASE).await.unwrap().expect("the event job");
    assert_eq!(claimed.job, job.job);
    queue.complete(claimed.id, "w").await.unwrap();

    // Closing again, or from another tenant, changes nothing and enqueues nothing.
    let again = exchange
        .close_request(
            &a,
            r1.id,
            RequestStatus::Cancelled,
            None,
            now(),
            &Effects::jobs([job.clone()]),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let other = exchange
        .close_request(&b, r2.id, RequestStatus::Cancelled, None, now(), &Effects::NONE)
        .await;
    assert!(matches!(other, Err(StoreError::NotFound)), "{other:?}");
    let missing = exchange
        .close_request(
            &a,
            RequestId::new(),
            RequestStatus::Cancelled,
            None,
            now(),
            &Effects::NONE,
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(queue.claim("w", LEASE).await.unwrap(), None);

    let cancelled = exchange
        .close_request(&a, r2.id, RequestStatus::Cancelled, None, now(), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!((cancelled.status, cancelled.file_id), (RequestStatus::Cancelled, None));

    let ids = |rs: Vec<FileRequest>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let listed = |s| exchange.list_requests(&a, Some(s), 10);
    assert_eq!(ids(listed(RequestStatus::Pending).await.unwrap()), vec![r3.id]);
    assert_eq!(ids(listed(RequestStatus::Fulfilled).await.unwrap()), vec![r1.id]);
    assert_eq!(ids(listed(RequestStatus::Cancelled).await.unwrap()), vec![r2.id]);
}
