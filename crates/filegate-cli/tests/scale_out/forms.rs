//! A browser form on S3 stays valid after its file is `ready`: posting it again, with other
//! bytes, must change neither the bytes served nor their sha256 (S3 has no
//! create-once condition for a form, so a form posts beside the file's key and `complete`
//! adopts what it brought).

use std::collections::BTreeMap;
use std::time::Duration;

use filegate_client::Client;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

async fn post_form(http: &reqwest::Client, upload: &Value, bytes: Vec<u8>) -> reqwest::StatusCode {
    let fields: BTreeMap<String, String> = serde_json::from_value(upload["fields"].clone()).expect("a form's fields");
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name, value);
    }
    let file = reqwest::multipart::Part::bytes(bytes)
        .file_name("scan.txt")
        .mime_str("text/plain")
        .expect("a content type");
    http.post(upload["url"].as_str().expect("the form's URL"))
        .multipart(form.part("file", file))
        .send()
        .await
        .expect("S3 answers")
        .status()
}

pub async fn a_form_posted_again_after_ready_changes_nothing(gateway: &str, token: &str, client: &Client) {
    let gateway = gateway.trim_end_matches('/');
    let http = reqwest::Client::new();
    let first = b"the first scan, verified".repeat(40);
    let created: Value = http
        .post(format!("{gateway}/v1/uploads"))
        .bearer_auth(token)
        .json(
            &json!({"bucket": "default", "path": "forms/scan.txt", "size": first.len(),
                      "content_type": "text/plain", "form": true}),
        )
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("JSON");
    let id = created["file_id"].as_str().expect("a file id").to_owned();
    let upload = &created["upload"];
    assert!(post_form(&http, upload, first.clone()).await.is_success());
    let completed = http
        .post(format!("{gateway}/v1/uploads/{id}/complete"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("the gateway answers");
    assert!(completed.status().is_success(), "{}", completed.status());
    let ready = client
        .wait_for_status(&id, &["ready", "failed"], Duration::from_secs(60))
        .await
        .expect("the file settles");
    assert_eq!(ready.status, "ready", "{:?}", ready.status_reason);
    let sha = hex::encode(Sha256::digest(&first));
    assert_eq!(ready.sha256.as_deref(), Some(sha.as_str()));

    // The same form, still valid, with other bytes of the same size: S3 takes the post.
    let other = vec![b'X'; first.len()];
    assert!(post_form(&http, upload, other).await.is_success());

    let served = http
        .get(format!("{gateway}/v1/files/{id}/content"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the gateway answers");
    assert!(served.status().is_success(), "{}", served.status());
    let served = served.bytes().await.expect("the bytes");
    assert!(
        served.as_ref() == first.as_slice(),
        "a form posted again changed the served bytes"
    );
    let again = client
        .wait_for_status(&id, &["ready"], Duration::from_secs(5))
        .await
        .expect("still ready");
    assert_eq!(again.sha256.as_deref(), Some(sha.as_str()));
}
