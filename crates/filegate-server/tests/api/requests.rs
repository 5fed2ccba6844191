//! File requests (the extracts asked of partners): created by admins, polled by
//! exchange clients, fulfilled when the file uploaded against one is `ready`, cancelled.

use bytes::Bytes;
use chrono::Utc;
use filegate_client::UploadSource;
use filegate_client::api::{CreateFileRequest, CreateUpload};

use crate::common::TestApp;
use crate::exchange::{age_encrypt, exchange_bucket, recording_worker};
use crate::support::{api_error, err};

fn extraction() -> CreateFileRequest {
    CreateFileRequest {
        parameters: serde_json::json!({
            "patients": ["123", "456"],
            "units": ["icu", "cardio"],
            "from": "2026-11-01T00:00:00Z",
            "to": "2026-11-30T00:00:00Z"
        }),
        due_at: Some(Utc::now() + chrono::Duration::days(2)),
        note: Some("missing data for the outbreak".into()),
    }
}

fn against(request_id: &str, path: &str) -> CreateUpload {
    CreateUpload {
        bucket: "default".into(),
        path: path.into(),
        content_type: Some("text/csv".into()),
        request_id: Some(request_id.into()),
        ..CreateUpload::default()
    }
}

#[tokio::test]
async fn a_request_is_fulfilled_once_when_its_file_is_ready() {
    let app = TestApp::spawn().await;
    let exchange = app.client_as("default", "exchange");
    let created = app.client.create_file_request(&extraction()).await.expect("create");
    assert_eq!(created.status, "pending");
    assert_eq!(created.parameters["units"], serde_json::json!(["icu", "cardio"]));
    assert_eq!(created.note, "missing data for the outbreak");

    // The exchange client learns what is wanted.
    let pending = exchange.list_file_requests(Some("pending")).await.expect("pending");
    assert_eq!(pending.items, vec![created.clone()]);

    let file = exchange
        .upload(
            against(&created.id, "extract.csv"),
            UploadSource::Bytes(Bytes::from_static(b"a,b\n1,2\n")),
        )
        .await
        .expect("upload");
    assert_eq!(file.request_id.as_deref(), Some(created.id.as_str()));
    // Uploaded is not ready: still pending.
    assert_eq!(
        exchange.get_file_request(&created.id).await.expect("get").status,
        "pending"
    );

    let (worker, events) = recording_worker(&app);
    worker.run_until_idle().await.expect("jobs");
    let fulfilled = exchange.get_file_request(&created.id).await.expect("get");
    assert_eq!(fulfilled.status, "fulfilled");
    assert_eq!(fulfilled.file_id.as_deref(), Some(file.id.as_str()));
    assert!(
        exchange
            .list_file_requests(Some("pending"))
            .await
            .expect("pending")
            .items
            .is_empty()
    );
    assert_eq!(
        exchange
            .list_file_requests(Some("fulfilled"))
            .await
            .expect("fulfilled")
            .items,
        vec![fulfilled.clone()]
    );
    let announced = events.of_kind("request.fulfilled");
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0].file_id.to_string(), file.id);
    assert_eq!(announced[0].data, serde_json::json!({ "request_id": created.id }));
    for (action, count) in [("request.created", 1), ("request.fulfilled", 1)] {
        let filter = filegate_client::api::AuditFilter {
            action: Some(action.into()),
            ..Default::default()
        };
        let items = app.client.audit(&filter).await.expect("audit").items;
        assert_eq!(items.len(), count, "{action}: {items:?}");
    }

    // A fulfilled request takes no more uploads and cannot be cancelled.
    let late = CreateUpload {
        size: 3,
        ..against(&created.id, "late.csv")
    };
    assert_eq!(
        api_error(exchange.create_upload(&late).await),
        err(409, "request-not-pending")
    );
    assert_eq!(
        api_error(app.client.cancel_file_request(&created.id).await),
        err(409, "request-not-pending")
    );
}

#[tokio::test]
async fn an_encrypted_upload_fulfils_its_request_and_a_failed_one_does_not() {
    let app = TestApp::spawn().await;
    exchange_bucket(&app.client).await;
    let exchange = app.client_as("default", "exchange");
    let passphrase = exchange.exchange_passphrase().await.expect("passphrase").passphrase;
    let wanted = app.client.create_file_request(&extraction()).await.expect("create");

    // Bytes that do not decrypt: the file fails, the request stays pending.
    let bad = CreateUpload {
        request_id: Some(wanted.id.clone()),
        ..crate::exchange::encrypted_upload("bad.csv")
    };
    let failed = exchange
        .upload(bad, UploadSource::Bytes(Bytes::from_static(b"not age")))
        .await
        .expect("upload");
    app.run_jobs().await;
    assert_eq!(exchange.file_status(&failed.id).await.expect("status").status, "failed");
    assert_eq!(
        exchange.get_file_request(&wanted.id).await.expect("get").status,
        "pending"
    );

    let good = CreateUpload {
        request_id: Some(wanted.id.clone()),
        ..crate::exchange::encrypted_upload("good.csv")
    };
    let file = exchange
        .upload(
            good,
            UploadSource::Bytes(Bytes::from(age_encrypt(&passphrase, b"a,b\n"))),
        )
        .await
        .expect("upload");
    app.run_jobs().await;
    let request = exchange.get_file_request(&wanted.id).await.expect("get");
    assert_eq!(
        (request.status.as_str(), request.file_id.as_deref()),
        ("fulfilled", Some(file.id.as_str()))
    );
}

#[tokio::test]
async fn admins_cancel_pending_requests_and_bad_request_ids_are_refused() {
    let app = TestApp::spawn().await;
    let exchange = app.client_as("default", "exchange");
    let created = app.client.create_file_request(&extraction()).await.expect("create");
    let cancelled = app.client.cancel_file_request(&created.id).await.expect("cancel");
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(
        api_error(app.client.cancel_file_request(&created.id).await),
        err(409, "request-not-pending")
    );
    assert!(
        exchange
            .list_file_requests(Some("pending"))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert_eq!(exchange.list_file_requests(None).await.expect("all").items.len(), 1);

    let upload = |id: &str| CreateUpload {
        size: 3,
        ..against(id, "x.csv")
    };
    assert_eq!(
        api_error(exchange.create_upload(&upload(&created.id)).await),
        err(409, "request-not-pending")
    );
    assert_eq!(
        api_error(exchange.create_upload(&upload(&uuid::Uuid::now_v7().to_string())).await),
        err(400, "unknown-request")
    );
    assert_eq!(
        api_error(exchange.create_upload(&upload("not-a-uuid")).await),
        err(400, "unknown-request")
    );
    assert_eq!(
        api_error(exchange.cancel_file_request(&uuid::Uuid::now_v7().to_string()).await),
        err(403, "forbidden")
    );
    assert_eq!(
        api_error(app.client.cancel_file_request(&uuid::Uuid::now_v7().to_string()).await),
        err(404, "not-found")
    );
    assert_eq!(
        api_error(exchange.list_file_requests(Some("open")).await),
        err(400, "invalid-status")
    );
}

#[tokio::test]
async fn requests_are_admin_made_exchange_read_and_tenant_scoped() {
    let app = TestApp::spawn().await;
    let exchange = app.client_as("default", "exchange");
    let reader = app.client_as("default", "reader");
    let writer = app.client_as("default", "writer");
    assert_eq!(
        api_error(exchange.create_file_request(&extraction()).await),
        err(403, "forbidden")
    );
    assert_eq!(
        api_error(writer.create_file_request(&extraction()).await),
        err(403, "forbidden")
    );
    assert_eq!(api_error(reader.list_file_requests(None).await), err(403, "forbidden"));

    let not_an_object = CreateFileRequest {
        parameters: serde_json::json!(["icu"]),
        ..extraction()
    };
    assert_eq!(
        api_error(app.client.create_file_request(&not_an_object).await),
        err(400, "invalid-parameters")
    );
    let overdue = CreateFileRequest {
        due_at: Some(Utc::now() - chrono::Duration::days(1)),
        ..extraction()
    };
    assert_eq!(
        api_error(app.client.create_file_request(&overdue).await),
        err(400, "invalid-due-at")
    );

    let ours = app.client.create_file_request(&extraction()).await.expect("create");
    let other = app.tenant("hospital-b").await;
    assert_eq!(api_error(other.get_file_request(&ours.id).await), err(404, "not-found"));
    assert_eq!(
        api_error(other.cancel_file_request(&ours.id).await),
        err(404, "not-found")
    );
    assert!(other.list_file_requests(None).await.expect("theirs").items.is_empty());
    let theirs = app.client_as("hospital-b", "writer");
    let upload = CreateUpload {
        size: 3,
        ..against(&ours.id, "x.csv")
    };
    assert_eq!(
        api_error(theirs.create_upload(&upload).await),
        err(400, "unknown-request")
    );
    assert_eq!(
        app.client.get_file_request(&ours.id).await.expect("still ours").status,
        "pending"
    );
}
