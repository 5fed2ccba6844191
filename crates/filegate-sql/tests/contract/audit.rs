//! The audit trail: append-only, idempotent by id, listed newest first per tenant with
//! filters and a cursor.

use std::sync::Arc;

use filegate_core::domain::{AuditAction, AuditQuery, AuditRecord, FileId, TenantId};
use filegate_core::ports::AuditLog;
use serde_json::json;

use super::{Store, now, secs, tenant};

pub type Audit = Arc<dyn AuditLog>;

pub(super) fn record(tenant: &TenantId, actor: &str, action: &str, file_id: Option<FileId>) -> AuditRecord {
    AuditRecord {
        id: uuid::Uuid::now_v7(),
        tenant: tenant.clone(),
        actor: actor.into(),
        action: action.into(),
        file_id,
        request_id: Some("req-1".into()),
        client_ip: Some("192.0.2.7".into()),
        user_agent: Some("curl/8".into()),
        at: now(),
        details: json!({"path": "a/b.txt", "n": 1}),
        seq: 0,
    }
}

fn query() -> AuditQuery {
    AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    }
}

pub async fn audit_records_round_trip_once_and_newest_first(store: Store, audit: Audit) {
    let a = tenant(&store, "a").await;
    let first = record(&a, "alice", "file.uploaded", Some(FileId::new()));
    audit.append(&first).await.unwrap();
    // Appending the same id again (a job that ran twice) changes nothing.
    audit.append(&first).await.unwrap();
    let second = record(&a, "bob", "file.downloaded", first.file_id);
    audit.append(&second).await.unwrap();

    let got = audit.list(&a, &query()).await.unwrap();
    assert_eq!(got.len(), 2, "the duplicate was not appended");
    assert_eq!(got[0].id, second.id, "newest first");
    assert!(got[0].seq > got[1].seq);
    assert_eq!(
        AuditRecord {
            seq: 0,
            ..got[1].clone()
        },
        first,
        "every field round-trips"
    );
}

/// What the batching audit log writes for appends that arrived together: every record, in
/// the order given, once; a record already in the log (a job that ran twice) is skipped
/// without failing the others.
pub async fn audit_records_appended_together_keep_their_order(store: Store, audit: Audit) {
    let a = tenant(&store, "a").await;
    let earlier = record(&a, "alice", "file.upload_created", Some(FileId::new()));
    audit.append(&earlier).await.unwrap();
    let batch: Vec<AuditRecord> = (0..300)
        .map(|i| record(&a, &format!("user-{i}"), "file.uploaded", Some(FileId::new())))
        .chain([earlier.clone()])
        .collect();
    audit.append_many(&batch).await.unwrap();
    audit.append_many(&[]).await.unwrap();

    let got = audit
        .list(
            &a,
            &AuditQuery {
                limit: 1000,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 301, "each record once");
    let oldest_first: Vec<String> = got.iter().rev().map(|r| r.actor.clone()).collect();
    let expected: Vec<String> = ["alice".to_owned()]
        .into_iter()
        .chain((0..300).map(|i| format!("user-{i}")))
        .collect();
    assert_eq!(oldest_first, expected, "seq follows the order given");
}

pub async fn audit_is_filtered_and_paged_within_the_tenant(store: Store, audit: Audit) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let file = FileId::new();
    for i in 0..5 {
        audit
            .append(&record(
                &a,
                if i % 2 == 0 { "alice" } else { "bob" },
                "file.downloaded",
                Some(file),
            ))
            .await
            .unwrap();
    }
    audit
        .append(&record(&a, "alice", "file_x.deleted", None))
        .await
        .unwrap();
    audit
        .append(&record(&a, "alice", "bucket.updated", None))
        .await
        .unwrap();
    audit
        .append(&record(&b, "alice", "file.downloaded", Some(file)))
        .await
        .unwrap();

    let all_a = audit.list(&a, &query()).await.unwrap();
    assert_eq!(all_a.len(), 7, "tenant b's record is not a's");
    assert!(audit.list(&b, &query()).await.unwrap().iter().all(|r| r.tenant == b));

    let by = |q: AuditQuery| {
        let audit = audit.clone();
        let a = a.clone();
        async move { audit.list(&a, &q).await.unwrap() }
    };
    assert_eq!(
        by(AuditQuery {
            file_id: Some(file),
            ..query()
        })
        .await
        .len(),
        5
    );
    assert_eq!(
        by(AuditQuery {
            actor: Some("bob".into()),
            ..query()
        })
        .await
        .len(),
        2
    );
    let family = by(AuditQuery {
        action: Some(AuditAction::parse("file.*").unwrap()),
        ..query()
    })
    .await;
    assert_eq!(family.len(), 5, "`_` in `file_x.` is not a wildcard");
    let exact = by(AuditQuery {
        action: Some(AuditAction::parse("bucket.updated").unwrap()),
        ..query()
    })
    .await;
    assert_eq!(exact.len(), 1);
    assert!(
        by(AuditQuery {
            since: Some(now() + secs(60)),
            ..query()
        })
        .await
        .is_empty()
    );

    // Pages of 3: limit + 1 rows tell whether more follow; the cursor is the last seq.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = by(AuditQuery {
            limit: 3,
            before_seq: before,
            ..query()
        })
        .await;
        let more = page.len() > 3;
        seen.extend(page.iter().take(3).map(|r| r.id));
        if !more {
            break;
        }
        before = page.get(2).map(|r| r.seq);
    }
    let expected: Vec<_> = all_a.iter().map(|r| r.id).collect();
    assert_eq!(seen, expected, "every record once, in order");
}
