//! Zip bundle records and the file selections they are made from (`ArchiveStore`).

use filegate_core::ports::Effects;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use filegate_core::StoreError;
use filegate_core::domain::{
    Archive, ArchiveEntry, ArchiveId, ArchiveQuery, ArchiveSelection, ArchiveStatus, FileId, FileRecord, FileStatus,
    Metadata, TenantId,
};
use filegate_core::ports::{ArchiveStore, Job, NewJob};

use super::{Queue, Store, bname, bucket, new_file, now, secs, tenant};

pub type Archives = Arc<dyn ArchiveStore>;

/// Calls `$run!(scenario, …)` with every archive scenario; each engine's test binary runs
/// all of them with its store as `Store`, `Queue` and `Archives`.
macro_rules! archive_scenarios {
    ($run:ident) => {
        $run!(
            archives_round_trip_commit_their_job_and_stay_in_their_tenant,
            archive_updates_are_compare_and_set_and_expired_ones_are_due,
            archive_selections_find_the_tenants_files_by_id_and_ready_ones_by_query,
        );
    };
}
pub(crate) use archive_scenarios;

const LEASE: Duration = Duration::from_secs(60);

fn archive(tenant: &TenantId, files: &[FileId]) -> Archive {
    let at = now();
    Archive {
        id: ArchiveId::new(),
        tenant: tenant.clone(),
        status: ArchiveStatus::Pending,
        selection: ArchiveSelection::Files(files.to_vec()),
        entries: files
            .iter()
            .enumerate()
            .map(|(i, id)| ArchiveEntry {
                file_id: *id,
                path: format!("p/{i}.txt"),
                name: format!("p/{i} (2).txt"),
                size: 10 * i as u64,
            })
            .collect(),
        size: None,
        error: None,
        created_by: "user-1".into(),
        created_at: at,
        updated_at: at,
        expires_at: at + secs(3600),
    }
}

pub async fn archives_round_trip_commit_their_job_and_stay_in_their_tenant(
    store: Store,
    queue: Queue,
    archives: Archives,
) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let mut made = archive(&a, &[FileId::new(), FileId::new()]);
    made.selection = ArchiveSelection::Query(ArchiveQuery {
        bucket: Some(bname("default")),
        prefix: Some("p/".into()),
        metadata: BTreeMap::from([("patient".to_owned(), "123".to_owned())]),
    });
    let job = NewJob::now(Job::BuildArchive {
        tenant: a.clone(),
        archive_id: made.id,
    });
    archives
        .create_archive(&made, &Effects::jobs([job.clone()]))
        .await
        .unwrap();

    assert_eq!(archives.get_archive(&a, made.id).await.unwrap(), Some(made.clone()));
    assert_eq!(
        archives.get_archive(&b, made.id).await.unwrap(),
        None,
        "another tenant's id is unknown"
    );
    assert_eq!(archives.get_archive(&a, ArchiveId::new()).await.unwrap(), None);

    let claimed = queue
        .claim("w", LEASE)
        .await
        .unwrap()
        .expect("the build job committed with it");
    assert_eq!(claimed.job, job.job);

    assert!(matches!(
        archives.create_archive(&made, &Effects::NONE).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn archive_updates_are_compare_and_set_and_expired_ones_are_due(
    store: Store,
    _queue: Queue,
    archives: Archives,
) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let pending = archive(&a, &[FileId::new()]);
    archives.create_archive(&pending, &Effects::NONE).await.unwrap();

    let ready = Archive {
        status: ArchiveStatus::Ready,
        size: Some(5_000_000_000),
        updated_at: pending.updated_at + secs(1),
        expires_at: pending.expires_at + secs(60),
        ..pending.clone()
    };
    let stored = archives
        .update_archive(&ready, &[ArchiveStatus::Pending], &Effects::NONE)
        .await
        .unwrap();
    assert_eq!(stored, ready, "a size past 4 GiB is kept exactly");
    assert_eq!(archives.get_archive(&a, pending.id).await.unwrap(), Some(ready.clone()));

    // Only from the expected status, only in its own tenant.
    assert!(matches!(
        archives
            .update_archive(&ready, &[ArchiveStatus::Pending], &Effects::NONE)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let elsewhere = Archive {
        tenant: b.clone(),
        ..ready.clone()
    };
    assert!(matches!(
        archives
            .update_archive(&elsewhere, &[ArchiveStatus::Ready], &Effects::NONE)
            .await,
        Err(StoreError::NotFound)
    ));

    let failed = archive(&a, &[FileId::new()]);
    archives.create_archive(&failed, &Effects::NONE).await.unwrap();
    let failed = archives
        .update_archive(
            &Archive {
                status: ArchiveStatus::Failed,
                error: Some("file x is no longer ready".into()),
                ..failed
            },
            &[ArchiveStatus::Pending],
            &Effects::NONE,
        )
        .await
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("file x is no longer ready"));

    // Due: past its expiry and not expired yet, across tenants, oldest expiry first.
    assert!(archives.archives_due(now(), 10).await.unwrap().is_empty());
    let later = ready.expires_at + secs(1);
    let due: Vec<ArchiveId> = archives
        .archives_due(later, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(due, vec![failed.id, ready.id]);
    assert_eq!(archives.archives_due(later, 1).await.unwrap().len(), 1);

    let expired = Archive {
        status: ArchiveStatus::Expired,
        ..ready
    };
    archives
        .update_archive(&expired, &[ArchiveStatus::Ready], &Effects::NONE)
        .await
        .unwrap();
    let due: Vec<ArchiveId> = archives
        .archives_due(later, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(due, vec![failed.id], "an expired archive is never due again");
}

async fn file(
    store: &Store,
    tenant: &TenantId,
    bucket: &str,
    path: &str,
    status: FileStatus,
    meta: &[(&str, &str)],
) -> FileRecord {
    let mut f = new_file(tenant, path);
    f.bucket = bname(bucket);
    f.status = status;
    f.metadata = Metadata::parse(meta.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()).unwrap();
    store.insert_file(&f, &Effects::NONE).await.expect("insert file")
}

pub async fn archive_selections_find_the_tenants_files_by_id_and_ready_ones_by_query(
    store: Store,
    _queue: Queue,
    archives: Archives,
) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    store.create_bucket(&bucket(&a, "scans"), &Effects::NONE).await.unwrap();
    let ready = FileStatus::Ready;
    let p123 = [("patient", "123")];
    let x2 = file(
        &store,
        &a,
        "scans",
        "x/2.pdf",
        ready,
        &[("patient", "123"), ("ward.unit", "icu")],
    )
    .await;
    let x1 = file(&store, &a, "scans", "x/1.pdf", ready, &p123).await;
    let other_patient = file(&store, &a, "scans", "x/3.pdf", ready, &[("patient", "1234")]).await;
    let pending = file(&store, &a, "scans", "x/4.pdf", FileStatus::Pending, &p123).await;
    let deleted = file(&store, &a, "scans", "x/5.pdf", FileStatus::Deleted, &p123).await;
    let in_default = file(&store, &a, "default", "x/6.pdf", ready, &p123).await;
    let outside_prefix = file(&store, &a, "scans", "y/7.pdf", ready, &p123).await;
    let percent = file(&store, &a, "scans", "x%/8.pdf", ready, &p123).await;
    let theirs = file(&store, &b, "default", "x/1.pdf", ready, &p123).await;

    // By id: the tenant's files in any status; another tenant's ids are simply absent.
    let mut found: Vec<FileId> = archives
        .files_by_id(&a, &[x1.id, pending.id, theirs.id, FileId::new()])
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    found.sort();
    let mut expected = vec![x1.id, pending.id];
    expected.sort();
    assert_eq!(found, expected);
    assert!(archives.files_by_id(&a, &[]).await.unwrap().is_empty());
    let full = archives.files_by_id(&a, &[x1.id]).await.unwrap();
    assert_eq!(full, vec![x1.clone()], "whole records");

    let query = |bucket: Option<&str>, prefix: Option<&str>, meta: &[(&str, &str)]| ArchiveQuery {
        bucket: bucket.map(bname),
        prefix: prefix.map(str::to_owned),
        metadata: meta.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    };
    let ids = |files: Vec<FileRecord>| files.into_iter().map(|f| f.id).collect::<Vec<_>>();

    // Ready files only, ordered by path, matching every criterion exactly.
    let q = query(Some("scans"), Some("x/"), &p123);
    assert_eq!(
        ids(archives.files_matching(&a, &q, 100).await.unwrap()),
        vec![x1.id, x2.id]
    );
    assert_eq!(
        ids(archives.files_matching(&a, &q, 1).await.unwrap()),
        vec![x1.id],
        "at most the limit"
    );
    let q = query(None, None, &p123);
    assert_eq!(
        ids(archives.files_matching(&a, &q, 100).await.unwrap()),
        vec![percent.id, x1.id, x2.id, in_default.id, outside_prefix.id],
        "across buckets, in byte order of the path ('%' sorts before '/')"
    );
    let q = query(Some("scans"), None, &[("patient", "123"), ("ward.unit", "icu")]);
    assert_eq!(
        ids(archives.files_matching(&a, &q, 100).await.unwrap()),
        vec![x2.id],
        "every key must match"
    );
    let q = query(Some("scans"), Some("x%"), &[]);
    assert_eq!(
        ids(archives.files_matching(&a, &q, 100).await.unwrap()),
        vec![percent.id],
        "the prefix is literal"
    );
    let q = query(None, None, &[("patient", "1234")]);
    assert_eq!(
        ids(archives.files_matching(&a, &q, 100).await.unwrap()),
        vec![other_patient.id]
    );
    let q = query(None, None, &[("patient", "12")]);
    assert!(
        archives.files_matching(&a, &q, 100).await.unwrap().is_empty(),
        "values match exactly"
    );
    let q = query(Some("scans"), None, &[]);
    let all = ids(archives.files_matching(&a, &q, 100).await.unwrap());
    assert!(
        !all.contains(&pending.id) && !all.contains(&deleted.id),
        "ready files only"
    );

    // Never another tenant's.
    let q = query(Some("default"), None, &p123);
    assert_eq!(
        ids(archives.files_matching(&b, &q, 100).await.unwrap()),
        vec![theirs.id]
    );
}
