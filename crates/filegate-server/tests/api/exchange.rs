//! Exchange passphrases and the `decrypt` stage (the hospital exchange): files encrypted by the `age`
//! crate in passphrase mode, as a hospital's exchange client writes them, arrive as
//! plaintext; an old passphrase still works but is alerted once; anything else fails with
//! `cannot-decrypt`.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use age::secrecy::SecretString;
use bytes::Bytes;
use filegate_client::api::{AuditFilter, CreateBucket, CreateUpload, FileView};
use filegate_client::{Client, UploadSource};
use filegate_core::domain::{FileEvent, FileId, TenantId};
use filegate_core::ports::{EventSink, Job, NewJob};
use filegate_core::usecases::Services;
use filegate_core::usecases::pipeline::Worker;
use futures::TryStreamExt as _;
use sha2::{Digest as _, Sha256};

use crate::common::TestApp;
use crate::support::{MIB, api_error, content_of, err, files_under, pattern, sha256_hex};

/// Low enough for fast tests; the stage accepts anything up to its maximum.
const TEST_WORK_FACTOR: u8 = 10;

/// `plaintext` encrypted to `passphrase` by the `age` crate, as `age -p` does.
pub fn age_encrypt(passphrase: &str, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = age_writer(passphrase, TEST_WORK_FACTOR, &mut out);
    writer.write_all(plaintext).expect("encrypt");
    writer.finish().expect("finish");
    out
}

fn age_writer<W: std::io::Write>(passphrase: &str, work_factor: u8, out: W) -> age::stream::StreamWriter<W> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(work_factor);
    age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .expect("one passphrase recipient")
        .wrap_output(out)
        .expect("age header")
}

/// Every event the worker delivers, kept for the test to count.
#[derive(Default)]
pub struct Recorded(Mutex<Vec<FileEvent>>);

#[async_trait::async_trait]
impl EventSink for Recorded {
    async fn publish(&self, event: &FileEvent) -> Result<(), filegate_core::StoreError> {
        self.0.lock().expect("events").push(event.clone());
        Ok(())
    }
}

impl Recorded {
    pub fn of_kind(&self, kind: &str) -> Vec<FileEvent> {
        self.0
            .lock()
            .expect("events")
            .iter()
            .filter(|e| e.kind == kind)
            .cloned()
            .collect()
    }
}

/// A worker over the app's engines whose events land in the returned recorder.
pub fn recording_worker(app: &TestApp) -> (Worker, Arc<Recorded>) {
    let recorded = Arc::new(Recorded::default());
    let services = Services {
        events: recorded.clone(),
        ..app.services.clone()
    };
    (
        Worker::new(
            services,
            filegate_server::config::WorkersConfig::default().worker_settings(),
        ),
        recorded,
    )
}

/// A bucket that decrypts: `verify`, `decrypt`, `hash`.
pub async fn exchange_bucket(admin: &Client) {
    admin
        .create_bucket(&CreateBucket {
            name: "exchange".into(),
            stages: Some(vec!["verify".into(), "decrypt".into(), "hash".into()]),
            ..CreateBucket::default()
        })
        .await
        .expect("exchange bucket");
}

pub fn encrypted_upload(path: &str) -> CreateUpload {
    CreateUpload {
        bucket: "exchange".into(),
        path: path.into(),
        content_type: Some("text/csv".into()),
        encryption: Some("age".into()),
        ..CreateUpload::default()
    }
}

pub async fn upload_encrypted(client: &Client, path: &str, ciphertext: Vec<u8>) -> FileView {
    let file = client
        .upload(encrypted_upload(path), UploadSource::Bytes(Bytes::from(ciphertext)))
        .await
        .expect("upload");
    assert_eq!(file.status, "uploaded");
    assert_eq!(file.encryption.as_deref(), Some("age"));
    file
}

/// The object keys the local store holds for `file_id` (the ciphertext is `<id>`, the
/// plaintext `<id>.plain`).
fn objects_of(app: &TestApp, file_id: &str) -> Vec<String> {
    files_under(app, "objects")
        .into_iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .filter(|n| n.starts_with(file_id) && !n.contains('~'))
        .collect()
}

#[tokio::test]
async fn a_file_encrypted_with_the_current_passphrase_is_stored_as_its_plaintext() {
    let app = TestApp::spawn().await;
    exchange_bucket(&app.client).await;
    let exchange = app.client_as("default", "exchange");
    let current = exchange.exchange_passphrase().await.expect("passphrase");
    assert_eq!(current.version, 1, "the first read creates version 1");
    assert!(current.passphrase.len() >= 30, "a strong generated passphrase");
    assert_eq!(
        exchange.exchange_passphrase().await.expect("again").passphrase,
        current.passphrase,
        "stable until rotated"
    );

    let plaintext = b"patient,unit,date\n123,icu,2026-11-30\n".repeat(1000);
    let ciphertext = age_encrypt(&current.passphrase, &plaintext);
    let file = upload_encrypted(&exchange, "ward-a.csv", ciphertext.clone()).await;
    assert_eq!(file.size, ciphertext.len() as u64, "until processed, the ciphertext");

    app.run_jobs().await;
    let file = exchange.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.size, plaintext.len() as u64);
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&plaintext).as_str()));
    assert_eq!(file.content_type, "text/csv");
    let decryption = file.processing.decryption.expect("decryption recorded");
    assert_eq!((decryption.passphrase_version, decryption.old_passphrase), (1, false));
    assert!(
        content_of(&app.client, &file.id).await == plaintext,
        "the plaintext comes back"
    );
    assert_eq!(
        objects_of(&app, &file.id),
        vec![format!("{}.plain", file.id)],
        "the ciphertext is removed from storage"
    );
}

#[tokio::test]
async fn an_old_passphrase_still_works_with_exactly_one_alert_even_when_the_job_runs_twice() {
    let app = TestApp::spawn().await;
    exchange_bucket(&app.client).await;
    let exchange = app.client_as("default", "exchange");
    let old = exchange.exchange_passphrase().await.expect("v1");
    let rotated = app.client.rotate_exchange_passphrase().await.expect("rotate");
    assert_eq!(rotated.version, 2);
    let new = exchange.exchange_passphrase().await.expect("v2");
    assert_eq!(new.version, 2);
    assert_ne!(new.passphrase, old.passphrase);

    let plaintext = pattern(200_000, 3);
    let file = upload_encrypted(&exchange, "late.bin", age_encrypt(&old.passphrase, &plaintext)).await;
    // The processing job twice, as after a worker that died after finishing it.
    let tenant = TenantId::default_tenant();
    let file_id = FileId::parse(&file.id).expect("file id");
    app.services
        .queue
        .enqueue(&NewJob::now(Job::ProcessFile { tenant, file_id }))
        .await
        .expect("enqueue again");

    let (worker, events) = recording_worker(&app);
    worker.run_until_idle().await.expect("jobs");
    let file = exchange.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&plaintext).as_str()));
    let decryption = file.processing.decryption.expect("decryption recorded");
    assert_eq!((decryption.passphrase_version, decryption.old_passphrase), (1, true));

    let alerts = events.of_kind("alert.old_passphrase");
    assert_eq!(alerts.len(), 1, "one alert per file: {alerts:?}");
    assert_eq!(alerts[0].file_id, file_id);
    assert_eq!(alerts[0].data, serde_json::json!({"version": 1}));
    assert_eq!(events.of_kind("file.ready").len(), 1);
    assert!(content_of(&app.client, &file.id).await == plaintext);
    let audited = audit_of(&app, "exchange.old_passphrase_used").await;
    assert_eq!(audited.len(), 1, "one audit record per file: {audited:?}");
    assert_eq!(audited[0].file_id.as_deref(), Some(file.id.as_str()));
    assert_eq!(audited[0].details["version"], 1);
    assert_eq!(audited[0].details["principal"], "tester");

    // The current passphrase raises no alert.
    let fresh = upload_encrypted(&exchange, "fresh.bin", age_encrypt(&new.passphrase, b"fresh")).await;
    worker.run_until_idle().await.expect("jobs");
    let fresh = exchange.get_file(&fresh.id).await.expect("get");
    assert_eq!(fresh.status, "ready");
    assert_eq!(fresh.processing.decryption.map(|d| d.old_passphrase), Some(false));
    assert_eq!(events.of_kind("alert.old_passphrase").len(), 1);
    assert_eq!(audit_of(&app, "exchange.old_passphrase_used").await.len(), 1);
    // Every read of the passphrase and the rotation are on the trail.
    assert_eq!(audit_of(&app, "exchange.passphrase_read").await.len(), 2);
    assert_eq!(audit_of(&app, "exchange.passphrase_rotated").await.len(), 1);
}

async fn audit_of(app: &TestApp, action: &str) -> Vec<filegate_client::api::AuditEntry> {
    app.client
        .audit(&AuditFilter {
            action: Some(action.into()),
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
        .items
}

async fn assert_cannot_decrypt(app: &TestApp, client: &Client, path: &str, bytes: Vec<u8>) -> String {
    let file = upload_encrypted(client, path, bytes).await;
    app.run_jobs().await;
    let status = client.file_status(&file.id).await.expect("status");
    assert_eq!(status.status, "failed", "{path}: {status:?}");
    let reason = status.status_reason.expect("a reason");
    assert!(reason.starts_with("cannot-decrypt"), "{path}: {reason}");
    reason
}

#[tokio::test]
async fn garbage_a_wrong_passphrase_or_a_key_file_fail_with_cannot_decrypt() {
    let app = TestApp::spawn().await;
    exchange_bucket(&app.client).await;
    let exchange = app.client_as("default", "exchange");
    let current = exchange.exchange_passphrase().await.expect("passphrase");

    assert_cannot_decrypt(&app, &exchange, "garbage.bin", pattern(5000, 9)).await;
    let wrong = assert_cannot_decrypt(&app, &exchange, "wrong.bin", age_encrypt("not the passphrase", b"x")).await;
    assert!(wrong.contains("passphrase"), "{wrong}");

    // Encrypted to an X25519 key rather than the passphrase.
    let key = age::x25519::Identity::generate();
    let recipient = key.to_public();
    let mut to_key = Vec::new();
    let mut w = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .expect("recipient")
        .wrap_output(&mut to_key)
        .expect("header");
    w.write_all(b"for a key").expect("write");
    w.finish().expect("finish");
    assert_cannot_decrypt(&app, &exchange, "key.bin", to_key).await;

    // A truncated file: the header opens, the payload does not authenticate.
    let mut truncated = age_encrypt(&current.passphrase, &pattern(200_000, 4));
    truncated.truncate(truncated.len() - 1000);
    let damaged = assert_cannot_decrypt(&app, &exchange, "truncated.bin", truncated).await;
    assert!(
        damaged.contains("damaged") || damaged.contains("truncated"),
        "{damaged}"
    );
}

#[tokio::test]
async fn a_header_demanding_excessive_scrypt_work_is_refused_without_doing_it() {
    let app = TestApp::spawn().await;
    exchange_bucket(&app.client).await;
    let exchange = app.client_as("default", "exchange");
    let current = exchange.exchange_passphrase().await.expect("passphrase");
    // The stanza line is `-> scrypt <salt> 10`: claim 2^40 instead (the header MAC no longer
    // matches, but the work factor is checked before anything is derived).
    let honest = age_encrypt(&current.passphrase, b"x");
    let text = String::from_utf8_lossy(&honest).into_owned();
    let line_end = text.find(" 10\n").expect("work factor in the stanza");
    let mut crafted = honest[..line_end].to_vec();
    crafted.extend_from_slice(b" 40\n");
    crafted.extend_from_slice(&honest[line_end + 4..]);
    let reason = assert_cannot_decrypt(&app, &exchange, "crafted.bin", crafted).await;
    assert!(reason.contains("work factor"), "{reason}");
}

#[tokio::test]
async fn a_large_file_decrypts_as_a_stream() {
    let app = TestApp::spawn().await;
    exchange_bucket(&app.client).await;
    let exchange = app.client_as("default", "exchange");
    let current = exchange.exchange_passphrase().await.expect("passphrase");

    // 50 MiB encrypted straight to disk, a MiB at a time.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.age");
    let mut hasher = Sha256::new();
    let size = 50 * MIB;
    {
        let out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut writer = age_writer(&current.passphrase, TEST_WORK_FACTOR, out);
        for i in 0..50 {
            let chunk = pattern(MIB, i);
            hasher.update(&chunk);
            writer.write_all(&chunk).expect("encrypt");
        }
        writer.finish().expect("finish").flush().expect("flush");
    }
    let expected = hex::encode(hasher.finalize());

    let file = exchange
        .upload(encrypted_upload("big.bin"), UploadSource::File(path))
        .await
        .expect("upload");
    app.run_jobs().await;
    let file = exchange.get_file(&file.id).await.expect("get");
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.size, size as u64);
    assert_eq!(file.sha256.as_deref(), Some(expected.as_str()));

    // The partner's machine reads no bytes back; the tenant's admin does.
    let mut body = app
        .client
        .content(&file.id, filegate_client::ContentRequest::default())
        .await
        .expect("content")
        .into_stream();
    let mut downloaded = Sha256::new();
    let mut received = 0usize;
    while let Some(chunk) = body.try_next().await.expect("body") {
        received += chunk.len();
        downloaded.update(&chunk);
    }
    assert_eq!(received, size);
    assert_eq!(hex::encode(downloaded.finalize()), expected);
}

#[tokio::test]
async fn an_encrypted_upload_needs_a_bucket_that_decrypts_and_a_known_scheme() {
    let app = TestApp::spawn().await;
    exchange_bucket(&app.client).await;
    let exchange = app.client_as("default", "exchange");
    let in_default = CreateUpload {
        bucket: "default".into(),
        size: 10,
        ..encrypted_upload("x.csv")
    };
    assert_eq!(
        api_error(exchange.create_upload(&in_default).await),
        err(400, "decrypt-not-enabled")
    );
    let unknown = CreateUpload {
        size: 10,
        encryption: Some("gpg".into()),
        ..encrypted_upload("x.csv")
    };
    assert_eq!(
        api_error(exchange.create_upload(&unknown).await),
        err(400, "invalid-encryption")
    );
    // A plain upload in a bucket that decrypts passes through untouched.
    let file = app
        .ready_file(&exchange, "exchange", "plain.txt", b"not encrypted")
        .await;
    assert_eq!(file.processing.decryption, None);
    assert!(content_of(&app.client, &file.id).await == b"not encrypted"[..]);
}

#[tokio::test]
async fn only_exchange_clients_and_admins_read_the_passphrase_and_only_admins_rotate() {
    let app = TestApp::spawn().await;
    let reader = app.client_as("default", "reader");
    let writer = app.client_as("default", "writer");
    let exchange = app.client_as("default", "exchange");
    assert_eq!(api_error(reader.exchange_passphrase().await), err(403, "forbidden"));
    assert_eq!(api_error(writer.exchange_passphrase().await), err(403, "forbidden"));
    assert_eq!(api_error(app.anonymous.exchange_passphrase().await).0, 401);
    let v1 = exchange.exchange_passphrase().await.expect("exchange reads");
    assert_eq!(
        app.client.exchange_passphrase().await.expect("admin reads").passphrase,
        v1.passphrase
    );

    assert_eq!(
        api_error(exchange.rotate_exchange_passphrase().await),
        err(403, "forbidden")
    );
    assert_eq!(
        api_error(writer.rotate_exchange_passphrase().await),
        err(403, "forbidden")
    );
    assert_eq!(
        api_error(exchange.exchange_passphrase_history().await),
        err(403, "forbidden")
    );
    app.client.rotate_exchange_passphrase().await.expect("admin rotates");

    // The history shows every version and who made it, never a secret.
    let history = app.client.exchange_passphrase_history().await.expect("history");
    let versions: Vec<u32> = history.items.iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![2, 1]);
    assert_eq!(history.items[0].retired_at, None);
    assert!(history.items[1].retired_at.is_some());
    assert_eq!(history.items[0].created_by, "tester");
    assert_eq!(history.items[1].created_by, "system");
    let raw = serde_json::to_string(&history).expect("json");
    assert!(!raw.contains(&v1.passphrase), "{raw}");

    // Another tenant has its own passphrase, and never sees this one.
    let other = app.tenant("hospital-b").await;
    let other_exchange = app.client_as("hospital-b", "exchange");
    let theirs = other_exchange.exchange_passphrase().await.expect("their passphrase");
    assert_eq!(theirs.version, 1);
    assert_ne!(theirs.passphrase, v1.passphrase);
    let ours = exchange.exchange_passphrase().await.expect("ours");
    assert_ne!(theirs.passphrase, ours.passphrase);
    assert_eq!(
        other
            .exchange_passphrase_history()
            .await
            .expect("their history")
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn passphrases_are_not_stored_in_clear() {
    let app = TestApp::spawn().await;
    let exchange = app.client_as("default", "exchange");
    let v1 = exchange.exchange_passphrase().await.expect("passphrase");
    let db = std::fs::read(app.data_dir.path().join("filegate.db")).unwrap_or_default();
    let wal = std::fs::read(app.data_dir.path().join("filegate.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes
                .windows(v1.passphrase.len())
                .any(|w| w == v1.passphrase.as_bytes()),
            "the passphrase is in the database in clear"
        );
    }
}
