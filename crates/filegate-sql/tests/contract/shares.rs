//! Share links and files by path: round trips, lookups by token hash, the atomic access
//! count against the download limit, the password attempt counter, the newest ready file.

use filegate_core::ports::Effects;
use std::sync::Arc;
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{
    EmailAddress, FileEvent, FileRecord, FileStatus, ObjectPath, PasswordHash, Share, ShareId, SharePermission,
    ShareToken, TenantId,
};
use filegate_core::ports::{FilesByPath, Job, NewJob, ShareStore};

use super::{Queue, Store, bname, bucket, new_file, now, secs, tenant};

/// Like [`super::scenarios`], for the scenarios that also take the engine's `ShareStore` and
/// `FilesByPath`.
macro_rules! share_scenarios {
    ($run:ident) => {
        $run!(
            shares_round_trip_and_are_found_by_their_token_hash_only,
            share_accesses_are_counted_only_while_the_share_opens,
            concurrent_downloads_never_pass_the_limit,
            password_attempts_are_counted_with_compare_and_set,
            the_newest_ready_file_at_a_path_is_found,
            folders_are_the_next_segments_of_live_paths,
        );
    };
}
pub(crate) use share_scenarios;

pub type Shares = Arc<dyn ShareStore>;
pub type Paths = Arc<dyn FilesByPath>;

const LEASE: Duration = Duration::from_secs(60);

async fn shared_file(store: &Store, tenant: &TenantId, path: &str) -> FileRecord {
    let mut f = new_file(tenant, path);
    f.status = FileStatus::Ready;
    store.insert_file(&f, &Effects::NONE).await.expect("insert file")
}

fn share(tenant: &TenantId, file: &FileRecord, max_downloads: Option<u32>) -> Share {
    let at = now();
    Share {
        id: ShareId::new(),
        tenant: tenant.clone(),
        file_id: file.id,
        token_hash: ShareToken::generate().hash(),
        permission: SharePermission::Download,
        created_by: "alice".into(),
        created_at: at,
        expires_at: at + secs(3600),
        recipient_email: None,
        password: None,
        max_downloads,
        download_count: 0,
        access_count: 0,
        last_accessed_at: None,
        revoked_at: None,
        password_failures: 0,
        locked_until: None,
    }
}

fn event_job(file: &FileRecord) -> NewJob {
    NewJob::now(Job::PublishEvent {
        event: FileEvent::about("share.accessed", file, serde_json::json!({})),
    })
}

pub async fn shares_round_trip_and_are_found_by_their_token_hash_only(
    store: Store,
    queue: Queue,
    shares: Shares,
    _paths: Paths,
) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let file = shared_file(&store, &a, "docs/report.pdf").await;
    let token = ShareToken::generate();
    let full = Share {
        token_hash: token.hash(),
        permission: SharePermission::View,
        recipient_email: Some(EmailAddress::parse("bob@example.org").unwrap()),
        password: Some(PasswordHash::from_stored(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        )),
        ..share(&a, &file, Some(3))
    };
    let email = NewJob::now(Job::SendShareEmail {
        tenant: a.clone(),
        share_id: full.id,
        sealed_token: "c2VhbGVk".into(),
    });
    shares
        .create_share(&full, &Effects::jobs([email.clone()]))
        .await
        .unwrap();
    let claimed = queue
        .claim("w", LEASE)
        .await
        .unwrap()
        .expect("the email job committed with the share");
    assert_eq!(claimed.job, email.job);

    assert_eq!(shares.get_share(&a, full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(shares.find_share(&token.hash()).await.unwrap(), Some(full.clone()));
    assert_eq!(shares.find_share(&ShareToken::generate().hash()).await.unwrap(), None);
    assert_eq!(
        shares.get_share(&b, full.id).await.unwrap(),
        None,
        "another tenant's id"
    );

    // A second share of the same token is refused; a newer one lists first.
    let same_token = Share {
        id: ShareId::new(),
        ..full.clone()
    };
    assert!(matches!(
        shares.create_share(&same_token, &Effects::NONE).await,
        Err(StoreError::Conflict(_))
    ));
    let newer = Share {
        created_at: full.created_at + secs(1),
        ..share(&a, &file, None)
    };
    shares.create_share(&newer, &Effects::NONE).await.unwrap();
    let listed = shares.list_shares(&a, file.id).await.unwrap();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), [newer.id, full.id]);
    assert!(shares.list_shares(&b, file.id).await.unwrap().is_empty());

    // Revoking keeps the first time; another tenant cannot.
    let at = now();
    let revoked = shares.revoke_share(&a, full.id, at, &Effects::NONE).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let again = shares
        .revoke_share(&a, full.id, at + secs(60), &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(at));
    assert!(matches!(
        shares.revoke_share(&b, newer.id, at, &Effects::NONE).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(shares.get_share(&a, newer.id).await.unwrap().unwrap().revoked_at, None);
}

pub async fn share_accesses_are_counted_only_while_the_share_opens(
    store: Store,
    queue: Queue,
    shares: Shares,
    _paths: Paths,
) {
    let a = tenant(&store, "a").await;
    let file = shared_file(&store, &a, "x.bin").await;
    let s = share(&a, &file, Some(2));
    shares.create_share(&s, &Effects::NONE).await.unwrap();
    let at = now();

    let page = shares
        .record_share_access(&a, s.id, at, false, &Effects::jobs([event_job(&file)]))
        .await
        .unwrap()
        .expect("counted");
    assert_eq!((page.access_count, page.download_count), (1, 0));
    assert_eq!(page.last_accessed_at, Some(at));
    assert!(
        queue.claim("w", LEASE).await.unwrap().is_some(),
        "its event committed with it"
    );

    let later = at + secs(5);
    let first = shares
        .record_share_access(&a, s.id, later, true, &Effects::NONE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.access_count, first.download_count), (2, 1));
    assert_eq!(first.last_accessed_at, Some(later));
    shares
        .record_share_access(&a, s.id, later, true, &Effects::NONE)
        .await
        .unwrap()
        .unwrap();

    // Out of downloads: pages are refused too, and a refused access enqueues nothing.
    for download in [true, false] {
        let refused = shares
            .record_share_access(&a, s.id, later, download, &Effects::jobs([event_job(&file)]))
            .await
            .unwrap();
        assert_eq!(refused, None);
    }
    assert!(queue.claim("w", LEASE).await.unwrap().is_none());
    let stored = shares.get_share(&a, s.id).await.unwrap().unwrap();
    assert_eq!((stored.access_count, stored.download_count), (3, 2));

    // Expired at its `expires_at`; revoked from its revocation on.
    let unlimited = share(&a, &file, None);
    shares.create_share(&unlimited, &Effects::NONE).await.unwrap();
    assert!(
        shares
            .record_share_access(&a, unlimited.id, unlimited.expires_at, true, &Effects::NONE)
            .await
            .unwrap()
            .is_none()
    );
    let before = unlimited.expires_at - secs(1);
    assert!(
        shares
            .record_share_access(&a, unlimited.id, before, true, &Effects::NONE)
            .await
            .unwrap()
            .is_some()
    );
    shares
        .revoke_share(&a, unlimited.id, before, &Effects::NONE)
        .await
        .unwrap();
    assert!(
        shares
            .record_share_access(&a, unlimited.id, before, false, &Effects::NONE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        shares
            .record_share_access(&a, ShareId::new(), before, false, &Effects::NONE)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn concurrent_downloads_never_pass_the_limit(store: Store, _queue: Queue, shares: Shares, _paths: Paths) {
    let a = tenant(&store, "a").await;
    let file = shared_file(&store, &a, "hot.bin").await;
    let s = share(&a, &file, Some(3));
    shares.create_share(&s, &Effects::NONE).await.unwrap();
    let at = now();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (shares, a, id) = (shares.clone(), a.clone(), s.id);
            tokio::spawn(async move { shares.record_share_access(&a, id, at, true, &Effects::NONE).await })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().is_some() {
            granted += 1;
        }
    }
    assert_eq!(granted, 3, "exactly the limit, however the requests race");
    let stored = shares.get_share(&a, s.id).await.unwrap().unwrap();
    assert_eq!(stored.download_count, 3);
    assert_eq!(stored.downloads_left(), Some(0));
}

pub async fn password_attempts_are_counted_with_compare_and_set(
    store: Store,
    _queue: Queue,
    shares: Shares,
    _paths: Paths,
) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let file = shared_file(&store, &a, "secret.pdf").await;
    let s = share(&a, &file, None);
    shares.create_share(&s, &Effects::NONE).await.unwrap();

    assert!(shares.count_password_attempt(&a, s.id, 0, None).await.unwrap());
    assert!(
        !shares.count_password_attempt(&a, s.id, 0, None).await.unwrap(),
        "a second attempt that saw the same count loses"
    );
    assert!(
        !shares.count_password_attempt(&b, s.id, 1, None).await.unwrap(),
        "another tenant's"
    );
    let until = now() + secs(60);
    assert!(shares.count_password_attempt(&a, s.id, 1, Some(until)).await.unwrap());
    let stored = shares.get_share(&a, s.id).await.unwrap().unwrap();
    assert_eq!((stored.password_failures, stored.locked_until), (2, Some(until)));

    shares.clear_password_failures(&a, s.id).await.unwrap();
    let stored = shares.get_share(&a, s.id).await.unwrap().unwrap();
    assert_eq!((stored.password_failures, stored.locked_until), (0, None));
}

pub async fn the_newest_ready_file_at_a_path_is_found(store: Store, _queue: Queue, _shares: Shares, paths: Paths) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    store.create_bucket(&bucket(&a, "site"), &Effects::NONE).await.unwrap();
    let path = ObjectPath::parse("img/logo.png").unwrap();
    let site = bname("site");
    assert_eq!(paths.ready_file_at(&a, &site, &path).await.unwrap(), None);

    let at = |offset: i64, status: FileStatus, tenant: &TenantId, bucket: &str, p: &str| {
        let mut f = new_file(tenant, p);
        f.bucket = bname(bucket);
        f.status = status;
        f.created_at = now() + secs(offset);
        f
    };
    let old = store
        .insert_file(&at(-20, FileStatus::Ready, &a, "site", "img/logo.png"), &Effects::NONE)
        .await
        .unwrap();
    let current = store
        .insert_file(&at(-10, FileStatus::Ready, &a, "site", "img/logo.png"), &Effects::NONE)
        .await
        .unwrap();
    // Newer, but not (yet, or ever) servable; elsewhere; or another path that shares a prefix.
    for (status, bucket, p) in [
        (FileStatus::Processing, "site", "img/logo.png"),
        (FileStatus::Quarantined, "site", "img/logo.png"),
        (FileStatus::Deleted, "site", "img/logo.png"),
        (FileStatus::Ready, "default", "img/logo.png"),
        (FileStatus::Ready, "site", "img/logo.png.bak"),
    ] {
        store
            .insert_file(&at(0, status, &a, bucket, p), &Effects::NONE)
            .await
            .unwrap();
    }
    store.create_bucket(&bucket(&b, "site"), &Effects::NONE).await.unwrap();
    store
        .insert_file(&at(5, FileStatus::Ready, &b, "site", "img/logo.png"), &Effects::NONE)
        .await
        .unwrap();

    let found = paths
        .ready_file_at(&a, &site, &path)
        .await
        .unwrap()
        .expect("a ready file");
    assert_eq!(found.id, current.id);
    assert_ne!(found.id, old.id);
    assert_eq!(
        paths
            .ready_file_at(&a, &site, &ObjectPath::parse("img").unwrap())
            .await
            .unwrap(),
        None
    );
}
