//! Zip bundles: files chosen by id or by a query are zipped by a job; the signed URL serves
//! a zip whose entries are the files, byte for byte; bundles are audited and expire.

use std::collections::BTreeMap;

use async_zip::base::read1::seek::ZipArchiveReader;
use filegate_api::{ArchiveQueryBody, ArchiveView, AuditFilter, CreateArchive, FileView, PatchFile};
use filegate_client::Client;
use futures::AsyncReadExt as _;
use futures::io::Cursor;
use reqwest::Method;

use crate::common::TestApp;
use crate::support::{api_error, err, pattern};

async fn request_archive(client: &Client, body: &CreateArchive) -> filegate_client::Result<ArchiveView> {
    client
        .send_json(
            client
                .request(Method::POST, &["v1", "archives"])
                .expect("route")
                .json(body),
        )
        .await
}

async fn get_archive(client: &Client, id: &str) -> filegate_client::Result<ArchiveView> {
    client
        .send_json(client.request(Method::GET, &["v1", "archives", id]).expect("route"))
        .await
}

fn by_ids(files: &[&FileView]) -> CreateArchive {
    CreateArchive {
        file_ids: Some(files.iter().map(|f| f.id.clone()).collect()),
        query: None,
    }
}

fn by_query(bucket: Option<&str>, prefix: Option<&str>, metadata: &[(&str, &str)]) -> CreateArchive {
    CreateArchive {
        file_ids: None,
        query: Some(ArchiveQueryBody {
            bucket: bucket.map(str::to_owned),
            prefix: prefix.map(str::to_owned),
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }),
    }
}

/// The zip behind a ready archive's signed URL, fetched without credentials.
async fn download(archive: &ArchiveView) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let url = archive.url.as_deref().expect("a ready archive has a URL");
    let resp = reqwest::get(url).await.expect("signed URL reachable");
    assert_eq!(resp.status(), 200, "{url}");
    let headers = resp.headers().clone();
    (headers, resp.bytes().await.expect("zip body").to_vec())
}

/// Every entry of `zip`: its name and bytes (CRC and size checked by the reader).
async fn entries(zip: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let mut reader = ZipArchiveReader::open(Cursor::new(zip)).await.expect("a valid zip");
    let names: Vec<String> = reader
        .cdrs()
        .iter()
        .map(|c| c.insecure_file_name.as_str().expect("utf-8 name").to_owned())
        .collect();
    let mut out = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let mut entry = reader.file(i).await.expect("entry");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).await.expect("the CRC and size match");
        out.push((name, bytes));
    }
    out
}

/// A ready file with the metadata `patient`.
async fn tagged(app: &TestApp, bucket: &str, path: &str, bytes: &[u8], patient: &str) -> FileView {
    let file = app.ready_file(&app.client, bucket, path, bytes).await;
    let patch = PatchFile {
        path: None,
        metadata: Some(BTreeMap::from([("patient".to_owned(), patient.to_owned())])),
    };
    app.client.patch_file(&file.id, &patch).await.expect("tagged")
}

/// Runs the jobs, then reads the archive: it must be ready.
async fn ready(app: &TestApp, client: &Client, id: &str) -> ArchiveView {
    app.run_jobs().await;
    let archive = get_archive(client, id).await.expect("get archive");
    assert_eq!(archive.status, "ready", "{archive:?}");
    archive
}

#[tokio::test]
async fn files_chosen_by_id_come_back_in_the_zip_byte_for_byte() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let big = pattern(3 * 1024 * 1024 + 17, 1);
    let a = app
        .ready_file(admin, "default", "ward/a.csv", b"patient,unit\n1,icu\n")
        .await;
    let b = app.ready_file(admin, "default", "scans/b.bin", &big).await;
    let empty = app.ready_file(admin, "default", "empty.txt", b"").await;

    let created = request_archive(admin, &by_ids(&[&b, &a, &empty, &a]))
        .await
        .expect("archive requested");
    assert_eq!(created.status, "pending");
    assert_eq!(created.file_count, 3, "repeated ids count once");
    assert_eq!(created.url, None);

    let archive = ready(&app, admin, &created.id).await;
    assert_eq!(archive.file_count, 3);
    assert!(archive.url_expires_at.unwrap() <= archive.expires_at);
    let (headers, zip) = download(&archive).await;
    assert_eq!(archive.size, Some(zip.len() as u64));
    assert_eq!(headers["content-type"], "application/zip");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("archive-{}.zip", archive.id))
    );
    assert_eq!(
        entries(zip).await,
        [
            ("scans/b.bin".to_owned(), big),
            ("ward/a.csv".to_owned(), b"patient,unit\n1,icu\n".to_vec()),
            ("empty.txt".to_owned(), Vec::new()),
        ],
        "the files, in the order asked, named by their paths"
    );
}

#[tokio::test]
async fn files_chosen_by_bucket_prefix_and_metadata_are_zipped_by_path() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    app.bucket(admin, "scans").await;
    let two = tagged(&app, "scans", "2026/b.pdf", b"second", "123").await;
    let one = tagged(&app, "scans", "2026/a.pdf", b"first", "123").await;
    tagged(&app, "scans", "2026/c.pdf", b"other", "456").await;
    tagged(&app, "scans", "2025/d.pdf", b"older", "123").await;
    tagged(&app, "default", "2026/e.pdf", b"elsewhere", "123").await;
    // Same path in another bucket: both go in, one renamed.
    tagged(&app, "default", "2026/a.pdf", b"twin", "789").await;

    let created = request_archive(admin, &by_query(Some("scans"), Some("2026/"), &[("patient", "123")]))
        .await
        .expect("archive requested");
    assert_eq!(created.file_count, 2);
    let ids: Vec<&str> = created.files.iter().map(|f| f.file_id.as_str()).collect();
    assert_eq!(ids, [one.id.as_str(), two.id.as_str()]);
    let archive = ready(&app, admin, &created.id).await;
    let (_, zip) = download(&archive).await;
    assert_eq!(
        entries(zip).await,
        [
            ("2026/a.pdf".to_owned(), b"first".to_vec()),
            ("2026/b.pdf".to_owned(), b"second".to_vec()),
        ]
    );

    let twins = request_archive(admin, &by_query(None, Some("2026/a"), &[]))
        .await
        .expect("twins");
    let archive = ready(&app, admin, &twins.id).await;
    let (_, zip) = download(&archive).await;
    let mut got = entries(zip).await;
    got.sort();
    assert_eq!(
        got,
        [
            ("2026/a (2).pdf".to_owned(), b"twin".to_vec()),
            ("2026/a.pdf".to_owned(), b"first".to_vec()),
        ],
        "same path twice: the later file is numbered"
    );
}

#[tokio::test]
async fn every_bundle_is_audited_with_its_list_of_files() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let a = app.ready_file(admin, "default", "a.txt", b"a").await;
    let b = app.ready_file(admin, "default", "b.txt", b"bb").await;
    let created = request_archive(admin, &by_ids(&[&a, &b])).await.unwrap();
    let archive = ready(&app, admin, &created.id).await;

    let trail = admin
        .audit(&AuditFilter {
            action: Some("archive.*".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["archive.download_url_issued", "archive.ready", "archive.requested"],
        "newest first"
    );
    let trace = &trail[1];
    assert_eq!(trace.actor, "system:archiver");
    assert_eq!(trace.details["archive_id"], archive.id.as_str());
    assert_eq!(trace.details["size"], archive.size.unwrap());
    let files: Vec<(&str, &str)> = trace.details["files"]
        .as_array()
        .expect("the list of files")
        .iter()
        .map(|f| (f["file_id"].as_str().unwrap(), f["path"].as_str().unwrap()))
        .collect();
    assert_eq!(files, [(a.id.as_str(), "a.txt"), (b.id.as_str(), "b.txt")]);
    assert_eq!(trail[2].actor, "tester");
    assert_eq!(trail[0].details["archive_id"], archive.id.as_str());
}

#[tokio::test]
async fn only_ready_files_of_the_callers_tenant_can_be_bundled() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let other = app.tenant("other").await;
    let mine = app.ready_file(admin, "default", "mine.txt", b"mine").await;
    let theirs = app.ready_file(&other, "default", "theirs.txt", b"theirs").await;
    let pending = admin
        .upload_bytes("default", "pending.txt", "text/plain", bytes::Bytes::from_static(b"p"))
        .await
        .expect("uploaded, not yet processed");

    assert_eq!(
        api_error(request_archive(admin, &by_ids(&[&mine, &theirs])).await),
        err(404, "not-found"),
        "another tenant's id is unknown here"
    );
    assert_eq!(
        api_error(request_archive(admin, &by_ids(&[&mine, &pending])).await),
        err(409, "file-not-ready")
    );
    let bogus = CreateArchive {
        file_ids: Some(vec!["not-a-uuid".into()]),
        query: None,
    };
    assert_eq!(api_error(request_archive(admin, &bogus).await), err(404, "not-found"));
    assert_eq!(
        api_error(request_archive(admin, &by_ids(&[])).await),
        err(400, "archive-empty")
    );
    assert_eq!(
        api_error(request_archive(admin, &by_query(None, None, &[("nobody", "x")])).await),
        err(400, "archive-empty"),
        "a query matching nothing"
    );
    assert_eq!(
        api_error(request_archive(admin, &by_query(None, None, &[])).await),
        err(400, "invalid-query"),
        "a query without criteria would zip the whole tenant"
    );
    let both = CreateArchive {
        file_ids: Some(vec![mine.id.clone()]),
        query: Some(ArchiveQueryBody::default()),
    };
    assert_eq!(api_error(request_archive(admin, &both).await), err(400, "invalid-body"));
    assert_eq!(
        api_error(request_archive(&app.anonymous, &by_ids(&[&mine])).await),
        err(401, "unauthenticated")
    );

    // An archive is the tenant's: another tenant's admin cannot see it.
    let created = request_archive(admin, &by_ids(&[&mine])).await.unwrap();
    assert_eq!(api_error(get_archive(&other, &created.id).await), err(404, "not-found"));
    assert_eq!(api_error(get_archive(admin, "nope").await), err(404, "not-found"));
}

#[tokio::test]
async fn archives_are_capped_in_files_and_bytes() {
    let app = TestApp::spawn_with(|c| {
        c.archives.max_files = 2;
        c.archives.max_bytes = 10;
    })
    .await;
    let admin = &app.client;
    let a = app.ready_file(admin, "default", "x/a", b"1234").await;
    let b = app.ready_file(admin, "default", "x/b", b"5678").await;
    let c = app.ready_file(admin, "default", "x/c", b"9").await;
    let big = app.ready_file(admin, "default", "y/big", b"0123456789ab").await;
    assert_eq!(
        api_error(request_archive(admin, &by_ids(&[&a, &b, &c])).await),
        err(413, "archive-too-large")
    );
    assert_eq!(
        api_error(request_archive(admin, &by_query(None, Some("x/"), &[])).await),
        err(413, "archive-too-large")
    );
    assert_eq!(
        api_error(request_archive(admin, &by_ids(&[&big])).await),
        err(413, "archive-too-large")
    );
    assert_eq!(request_archive(admin, &by_ids(&[&a, &b])).await.unwrap().file_count, 2);
}

#[tokio::test]
async fn a_file_deleted_before_the_build_fails_the_archive() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let a = app.ready_file(admin, "default", "a.txt", b"a").await;
    let b = app.ready_file(admin, "default", "b.txt", b"b").await;
    let created = request_archive(admin, &by_ids(&[&a, &b])).await.unwrap();
    admin.delete_file(&b.id).await.unwrap();
    app.run_jobs().await;
    let archive = get_archive(admin, &created.id).await.unwrap();
    assert_eq!(archive.status, "failed");
    assert!(archive.error.as_deref().unwrap().contains(&b.id), "{archive:?}");
    assert_eq!(archive.url, None);
    assert!(
        !crate::support::files_under(&app, "objects")
            .iter()
            .any(|p| p.to_string_lossy().contains(&created.id)),
        "nothing stored"
    );
}

#[tokio::test]
async fn expired_archives_are_deleted_and_their_url_stops_working() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let a = app.ready_file(admin, "default", "a.txt", b"a").await;
    let created = request_archive(admin, &by_ids(&[&a])).await.unwrap();
    let archive = ready(&app, admin, &created.id).await;
    let url = archive.url.clone().unwrap();
    let stored = |app: &TestApp| {
        crate::support::files_under(app, "objects")
            .iter()
            .any(|p| p.to_string_lossy().contains(&created.id))
    };
    assert!(stored(&app));

    // The sweeper, run at a time past the expiry.
    let later = archive.expires_at + chrono::Duration::seconds(1);
    filegate_core::usecases::pipeline::sweep(&app.services, later, 100)
        .await
        .unwrap();
    let expired = get_archive(admin, &created.id).await.unwrap();
    assert_eq!(expired.status, "expired");
    assert_eq!(expired.url, None);
    assert!(!stored(&app), "the zip is deleted");
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 404, "the old URL finds nothing");
    // Sweeping again changes nothing.
    assert_eq!(
        filegate_core::usecases::pipeline::sweep(&app.services, later, 100)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn archives_work_the_same_on_postgresql() {
    let Some(database) = crate::engines::postgres_database().await else {
        return;
    };
    let url = database.url.clone();
    let app = TestApp::spawn_with(|c| c.database = Some(url)).await;
    let admin = &app.client;
    let a = tagged(&app, "default", "ward/a.csv", b"patient,unit\n1,icu\n", "123").await;
    let b = tagged(&app, "default", "ward/b.csv", b"2,er\n", "123").await;
    tagged(&app, "default", "ward/c.csv", b"3,icu\n", "456").await;

    let created = request_archive(admin, &by_query(Some("default"), Some("ward/"), &[("patient", "123")]))
        .await
        .expect("archive requested");
    let archive = ready(&app, admin, &created.id).await;
    let (_, zip) = download(&archive).await;
    assert_eq!(
        entries(zip).await,
        [
            ("ward/a.csv".to_owned(), b"patient,unit\n1,icu\n".to_vec()),
            ("ward/b.csv".to_owned(), b"2,er\n".to_vec()),
        ]
    );
    let by_id = request_archive(admin, &by_ids(&[&b, &a])).await.unwrap();
    assert_eq!(ready(&app, admin, &by_id.id).await.file_count, 2);
    drop(app);
    database.drop_database().await;
}

/// A zip bundle takes room in the tenant's byte quota while it is stored: one that would
/// not fit is refused like a file (413 `quota-exceeded`); a stored one counts in the usage
/// and leaves less room for files, and gives it back when it expires.
#[tokio::test]
async fn bundles_count_against_the_byte_quota_while_stored() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let set_quota = |max_bytes: u64| {
        let root = app.client_as("default", "superadmin");
        async move {
            root.set_quota(&filegate_api::SetQuota {
                tenant: Some("acme".into()),
                max_bytes: Some(max_bytes),
                max_files: None,
            })
            .await
            .expect("set quota")
        }
    };
    let upload_of = |size: u64| filegate_api::CreateUpload {
        bucket: "default".into(),
        path: "later.bin".into(),
        size,
        content_type: Some("application/octet-stream".into()),
        ..filegate_api::CreateUpload::default()
    };
    let file = app.ready_file(&acme, "default", "a.bin", &pattern(1000, 1)).await;

    set_quota(1500).await;
    assert_eq!(
        api_error(request_archive(&acme, &by_ids(&[&file])).await),
        err(413, "quota-exceeded"),
        "1000 bytes kept and a bundle of 1000 more do not fit in 1500"
    );

    set_quota(10_000).await;
    let created = request_archive(&acme, &by_ids(&[&file])).await.expect("fits");
    let archive = ready(&app, &acme, &created.id).await;
    let zip_size = archive.size.expect("a ready bundle has its size");
    assert!(zip_size > 1000, "{zip_size}");
    assert_eq!(acme.usage(None).await.expect("usage").bytes, 1000 + zip_size);
    let room = 10_000 - 1000 - zip_size;
    assert_eq!(
        api_error(acme.create_upload(&upload_of(room + 1)).await),
        err(413, "quota-exceeded"),
        "the stored bundle takes room from files"
    );

    let later = archive.expires_at + chrono::Duration::seconds(1);
    filegate_core::usecases::pipeline::sweep(&app.services, later, 100)
        .await
        .unwrap();
    assert_eq!(acme.usage(None).await.expect("usage").bytes, 1000);
    acme.create_upload(&upload_of(room + 1))
        .await
        .expect("the expired bundle gave its room back");
}

/// The build checks again with the zip's real size: a bundle that no longer fits (an
/// upload took the room since it was asked for) fails, saying why, and its zip is not kept.
#[tokio::test]
async fn a_bundle_that_no_longer_fits_when_built_fails_and_is_not_kept() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let file = app.ready_file(&acme, "default", "a.bin", &pattern(1000, 2)).await;
    app.client_as("default", "superadmin")
        .set_quota(&filegate_api::SetQuota {
            tenant: Some("acme".into()),
            max_bytes: Some(2500),
            max_files: None,
        })
        .await
        .expect("set quota");
    let created = request_archive(&acme, &by_ids(&[&file])).await.expect("2000 of 2500");
    acme.create_upload(&filegate_api::CreateUpload {
        bucket: "default".into(),
        path: "meanwhile.bin".into(),
        size: 500,
        content_type: Some("application/octet-stream".into()),
        ..filegate_api::CreateUpload::default()
    })
    .await
    .expect("500 more bytes reserved before the build");

    app.run_jobs().await;
    let failed = get_archive(&acme, &created.id).await.expect("get archive");
    assert_eq!(failed.status, "failed", "{failed:?}");
    let why = failed.error.clone().unwrap_or_default();
    assert!(why.contains("max_bytes"), "{why}");
    assert!(
        !crate::support::files_under(&app, "objects")
            .iter()
            .any(|p| p.to_string_lossy().contains(&created.id)),
        "the zip is not kept"
    );
    assert_eq!(acme.usage(None).await.expect("usage").bytes, 1500);
}
