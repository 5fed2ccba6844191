//! A file's change and its audit records commit in one transaction: when the trail refuses
//! a record, the change it describes is not written either (nor its jobs), and the caller
//! hears an error; once the trail takes records again, the same change commits with its
//! record. So a record can never be lost after its change committed.
//!
//! Each engine's test binary makes its own trail refuse records (a trigger that aborts every
//! insert into `audit_log`) through its `AuditTrail`; it covers every write that
//! takes records, on each of the engine's paths (SQLite's one-trip insert, its group commit
//! of whole-row updates and narrow transitions, alone and in a batch).

use filegate_sql::testing::AuditTrail;

use filegate_core::StoreError;
use filegate_core::domain::{
    AuditQuery, AuditRecord, ContentType, FileId, FileRecord, FileStatus, ObjectPath, Processing, ProcessingOutcome,
    TenantId, Verdict,
};
use filegate_core::ports::{Effects, Job, NewJob};
use futures::future::join_all;

use super::audit::{Audit, record};
use super::{Queue, Store, new_file, secs, tenant};

/// The actions of `file`'s records, oldest first.
async fn actions(audit: &Audit, tenant: &TenantId, file: FileId) -> Vec<String> {
    let query = AuditQuery {
        file_id: Some(file),
        limit: 100,
        ..AuditQuery::default()
    };
    let mut records = audit.list(tenant, &query).await.unwrap();
    records.reverse();
    records.into_iter().map(|r| r.action).collect()
}

fn process(f: &FileRecord) -> NewJob {
    NewJob::now(Job::ProcessFile {
        tenant: f.tenant.clone(),
        file_id: f.id,
    })
}

/// `job` and a record of `action` about `f`.
fn audited(f: &FileRecord, action: &str, job: Option<NewJob>) -> Effects {
    Effects::jobs(job.into_iter().collect::<Vec<_>>()).audited(record(&f.tenant, "alice", action, Some(f.id)))
}

/// Refused by the trail: an error that is neither `NotFound` nor `Conflict` (which would
/// tell the caller something about the file that is not so).
fn refused(r: &Result<FileRecord, StoreError>) -> bool {
    matches!(r, Err(StoreError::Other(_) | StoreError::Unavailable(_)))
}

pub async fn a_change_commits_with_its_audit_records_or_not_at_all(
    store: Store,
    queue: Queue,
    audit: Audit,
    trail: AuditTrail,
) {
    let a = tenant(&store, "a").await;
    let first = new_file(&a, "ward/a.csv");
    let file = store
        .insert_file(&first, &audited(&first, "file.upload_created", None))
        .await
        .unwrap();
    assert_eq!(actions(&audit, &a, file.id).await, ["file.upload_created"]);

    trail.refuse(true).await;

    // An insert: no row, no job.
    let second = new_file(&a, "ward/b.csv");
    let r = store
        .insert_file(
            &second,
            &audited(&second, "file.upload_created", Some(process(&second))),
        )
        .await;
    assert!(refused(&r), "{r:?}");
    assert_eq!(store.get_file(&a, second.id).await.unwrap(), None);
    assert_eq!(queue.stats().await.unwrap().queued, 0, "no job without its change");

    // A whole-row update (a rename, with a job): the file stays as it was.
    let mut renamed = file.clone();
    renamed.path = ObjectPath::parse("ward/renamed.csv").unwrap();
    renamed.updated_at = file.updated_at + secs(1);
    let r = store
        .update_file(
            &renamed,
            &[FileStatus::Pending],
            &audited(&file, "file.updated", Some(process(&file))),
        )
        .await;
    assert!(refused(&r), "{r:?}");
    assert_eq!(store.get_file(&a, file.id).await.unwrap().as_ref(), Some(&file));
    assert_eq!(queue.stats().await.unwrap().queued, 0);

    // Updates committed together: those carrying a record fail, each alone; the others
    // commit.
    let mut files = Vec::new();
    for i in 0..8 {
        files.push(
            store
                .insert_file(&new_file(&a, &format!("batch/{i}.csv")), &Effects::NONE)
                .await
                .unwrap(),
        );
    }
    let nexts: Vec<FileRecord> = files
        .iter()
        .map(|f| FileRecord {
            status: FileStatus::Uploaded,
            updated_at: f.updated_at + secs(1),
            ..f.clone()
        })
        .collect();
    let effects: Vec<Effects> = files
        .iter()
        .enumerate()
        .map(|(i, f)| match i % 2 {
            0 => audited(f, "file.uploaded", Some(process(f))),
            _ => Effects::jobs([process(f)]),
        })
        .collect();
    let outcomes = join_all(
        nexts
            .iter()
            .zip(&effects)
            .map(|(next, effects)| store.update_file(next, &[FileStatus::Pending], effects)),
    )
    .await;
    for (i, (f, outcome)) in files.iter().zip(&outcomes).enumerate() {
        let stored = store.get_file(&a, f.id).await.unwrap().unwrap();
        if i % 2 == 0 {
            assert!(refused(outcome), "{i}: {outcome:?}");
            assert_eq!(&stored, f, "{i}: unchanged");
        } else {
            assert_eq!(outcome.as_ref().ok(), Some(&stored), "{i}");
            assert_eq!(stored.status, FileStatus::Uploaded);
        }
    }
    assert_eq!(
        queue.stats().await.unwrap().queued,
        4,
        "the jobs of the committed updates only"
    );

    // The pipeline's narrow transitions.
    let uploaded = outcomes[1].as_ref().unwrap().clone();
    let at = uploaded.updated_at + secs(1);
    let start = audited(&uploaded, "file.processing", None);
    let r = store.start_processing(&uploaded, at, &start).await;
    assert!(refused(&r), "{r:?}");
    assert_eq!(store.get_file(&a, uploaded.id).await.unwrap().as_ref(), Some(&uploaded));

    trail.refuse(false).await;

    let processing = store.start_processing(&uploaded, at, &start).await.unwrap();
    assert_eq!(processing.status, FileStatus::Processing);
    let outcome = ProcessingOutcome {
        verdict: Verdict::Quarantined {
            signature: "Eicar-Test-Signature".into(),
        },
        sha256: None,
        processing: Processing::default(),
        blob_key: processing.blob_key.clone(),
        size: processing.size,
        content_type: ContentType::octet_stream(),
        etag: None,
        at: at + secs(1),
    };
    // Recorded once per file, however often the job that quarantines it runs.
    let quarantine: AuditRecord = record(&a, "system:pipeline", "file.quarantined", Some(uploaded.id));
    let finish = Effects::NONE.audited(quarantine.clone());

    trail.refuse(true).await;
    let r = store.finish_processing(&processing, &outcome, &finish).await;
    assert!(refused(&r), "{r:?}");
    assert_eq!(
        store.get_file(&a, uploaded.id).await.unwrap().as_ref(),
        Some(&processing)
    );

    trail.refuse(false).await;

    let quarantined = store.finish_processing(&processing, &outcome, &finish).await.unwrap();
    assert_eq!(quarantined.status, FileStatus::Quarantined);
    // The same record again, with another change: appended once.
    let mut noted = quarantined.clone();
    noted.updated_at = quarantined.updated_at + secs(1);
    store
        .update_file(&noted, &[FileStatus::Quarantined], &finish)
        .await
        .unwrap();
    assert_eq!(
        actions(&audit, &a, uploaded.id).await,
        ["file.processing", "file.quarantined"],
        "every committed transition has its record, once"
    );

    // What was refused commits now, with its record and its job.
    let r = store
        .update_file(
            &renamed,
            &[FileStatus::Pending],
            &audited(&file, "file.updated", Some(process(&file))),
        )
        .await
        .unwrap();
    assert_eq!(r.path.as_str(), "ward/renamed.csv");
    assert_eq!(
        actions(&audit, &a, file.id).await,
        ["file.upload_created", "file.updated"]
    );
    store
        .insert_file(
            &second,
            &audited(&second, "file.upload_created", Some(process(&second))),
        )
        .await
        .unwrap();
    assert_eq!(actions(&audit, &a, second.id).await, ["file.upload_created"]);
    assert_eq!(queue.stats().await.unwrap().queued, 6);
    for f in files.iter().filter(|f| f.id != uploaded.id) {
        // The refused ones changed nothing, the others carried no record.
        assert!(actions(&audit, &a, f.id).await.is_empty(), "{}", f.path);
    }
}
