//! Presigned requests of the local directory: each verifies, and pins the method, key, size
//! and content type it promised; a tampered or expired one is refused with its own code.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use filegate_blobs::GrantKind;
use filegate_core::StoreError;
use filegate_core::domain::ContentType;
use filegate_core::ports::{BlobStore as _, Disposition, DownloadOptions, UploadConstraints};
use url::Url;

use super::multipart::new_upload;
use super::{KEY, fixture};

/// What the HTTP layer hands the signer: the key after `/blob/` and the raw query.
fn split(url: &str) -> (String, String) {
    let url = Url::parse(url).unwrap();
    let key = url.path().strip_prefix("/blob/").unwrap().to_owned();
    (key, url.query().unwrap_or_default().to_owned())
}

fn forbidden_code(e: filegate_core::Error) -> &'static str {
    match e {
        filegate_core::Error::Forbidden { code, .. } => code.as_str(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn presigned_requests_verify_and_pin_what_they_promise() {
    let f = fixture();
    let now = Utc::now();
    let soon = now + Duration::minutes(15);
    let c = UploadConstraints {
        size: 18233,
        content_type: ContentType::parse("text/csv").unwrap(),
        sha256: None,
    };

    let put = f.store.presign_put(KEY, &c, soon).unwrap();
    assert_eq!(put.method, "PUT");
    assert_eq!(put.headers.get("content-type").map(String::as_str), Some("text/csv"));
    let (key, query) = split(&put.url);
    let grant = f.store.signer().verify("PUT", &key, &query, now).unwrap();
    assert_eq!((grant.key.as_str(), &grant.kind), (KEY, &GrantKind::Put(c.clone())));
    assert_eq!(
        forbidden_code(f.store.signer().verify("GET", &key, &query, now).unwrap_err()),
        "signature-invalid"
    );
    let tampered = query.replace("size=18233", "size=99999999");
    assert_eq!(
        forbidden_code(f.store.signer().verify("PUT", &key, &tampered, now).unwrap_err()),
        "signature-invalid"
    );

    let post = f.store.presign_post(KEY, &c, soon).unwrap();
    assert_eq!(
        (post.method.as_str(), post.url.as_str()),
        ("POST", "http://127.0.0.1:8080/blob-form")
    );
    let grant = f.store.signer().verify_form(&post.fields, now).unwrap();
    assert_eq!(grant.kind, GrantKind::Put(c.clone()));
    let mut fields: BTreeMap<String, String> = post.fields.clone();
    fields.insert("key".into(), "t/default/another".into());
    assert_eq!(
        forbidden_code(f.store.signer().verify_form(&fields, now).unwrap_err()),
        "signature-invalid"
    );

    let o = DownloadOptions {
        disposition: Disposition::Attachment,
        filename: "ward a; 2026.csv".into(),
        content_type: ContentType::parse("text/csv").unwrap(),
    };
    let (key, query) = split(&f.store.presign_get(KEY, &o, soon).unwrap());
    assert_eq!(
        f.store.signer().verify("GET", &key, &query, now).unwrap().kind,
        GrantKind::Get(o.clone())
    );

    let id = new_upload(&f.store).await;
    let (key, query) = split(&f.store.presign_part(KEY, &id, 3, soon).unwrap());
    let grant = f.store.signer().verify("PUT", &key, &query, now).unwrap();
    assert_eq!(
        grant.kind,
        GrantKind::Part {
            upload_id: id.clone(),
            part: 3
        }
    );

    // An authentic URL whose time has passed is expired, not invalid.
    let (key, query) = split(&f.store.presign_get(KEY, &o, now - Duration::seconds(5)).unwrap());
    assert_eq!(
        forbidden_code(f.store.signer().verify("GET", &key, &query, now).unwrap_err()),
        "signature-expired"
    );

    assert!(matches!(
        f.store.presign_put("../x", &c, soon),
        Err(StoreError::Input(_))
    ));
    assert!(matches!(
        f.store.presign_part(KEY, "../x", 1, soon),
        Err(StoreError::Input(_))
    ));
}
