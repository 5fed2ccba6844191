//! The whole gateway with `[auth]` pointing at the test's identity provider: `GET /v1/files`
//! and uploads with provider tokens, the 401s, the 503 and the local credentials beside them.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use filegate_server::auth::AuthConfig;

use crate::common::TestApp;
use crate::idp::*;

async fn gateway(auth: AuthConfig) -> TestApp {
    TestApp::spawn_with(move |c| c.auth = auth).await
}

/// `GET /v1/files` with a bearer token: status, body and headers.
async fn list_files(app: &TestApp, token: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = app
        .anonymous
        .http()
        .get(format!("{}/v1/files", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, headers)
}

fn paths(body: &Value) -> Vec<String> {
    let mut paths: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    paths
}

#[track_caller]
fn assert_error(answer: &(u16, Value, reqwest::header::HeaderMap), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
}

#[tokio::test]
async fn provider_tokens_reach_the_api_scoped_to_their_tenant() {
    let ec = EcKey::generate("ec-1");
    let rsa = RsaKey::generate("rsa-1");
    let idp = Idp::start(vec![ec.jwk(), rsa.jwk()]).await;
    let app = gateway(idp.auth_config()).await;
    let acme = app.tenant("acme").await;
    app.ready_file(&acme, "default", "acme/plan.txt", b"acme's").await;
    app.ready_file(&app.client, "default", "default/notes.txt", b"default's")
        .await;

    let (status, body, _) = list_files(&app, &ec.sign(&claims("acme", &["reader"]))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(paths(&body), vec!["acme/plan.txt"]);

    let (status, body, _) = list_files(&app, &rsa.sign(&claims("default", &["reader"]))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(paths(&body), vec!["default/notes.txt"]);

    // The provider's roles decide what the principal may do: a reader cannot upload, a
    // writer can, and the file lands in the token's tenant.
    let reader = app.anonymous.with_token(ec.sign(&claims("acme", &["reader"])));
    let refused = reader
        .upload_bytes("default", "r.txt", "text/plain", bytes::Bytes::from_static(b"r"))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused:?}");
    let writer = app.anonymous.with_token(rsa.sign(&claims("acme", &["writer"])));
    let file = writer
        .upload_bytes("default", "w.txt", "text/plain", bytes::Bytes::from_static(b"w"))
        .await
        .unwrap();
    assert_eq!(file.tenant, "acme");

    // A tenant that does not exist grants nothing, whoever signed the token.
    let ghost = list_files(&app, &ec.sign(&claims("ghost", &["admin"]))).await;
    assert_error(&ghost, 401, "invalid-token");

    assert_eq!(idp.fetches(), 1, "one fetch served every request");
}

#[tokio::test]
async fn the_gateway_refuses_bad_provider_tokens_with_401() {
    let ec = EcKey::generate("ec-1");
    let rsa = RsaKey::generate("rsa-1");
    let idp = Idp::start(vec![ec.jwk(), rsa.jwk()]).await;
    let app = gateway(idp.auth_config()).await;
    let good = claims("default", &["admin"]);

    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let key_confusion = jsonwebtoken::encode(&hs_header, &good, &EncodingKey::from_secret(&rsa.public_pkcs1)).unwrap();
    let cases = [
        (
            "wrong issuer",
            ec.sign(&with(good.clone(), "iss", json!("https://evil.example"))),
            "invalid-token",
        ),
        (
            "wrong audience",
            rsa.sign(&with(good.clone(), "aud", json!("other-app"))),
            "invalid-token",
        ),
        (
            "expired",
            ec.sign(&with(good.clone(), "exp", json!(now() - 600))),
            "token-expired",
        ),
        (
            "alg none",
            unsigned(&json!({"alg": "none", "kid": "ec-1"}), &good),
            "invalid-token",
        ),
        ("HS256 with the RSA public key", key_confusion, "invalid-token"),
        (
            "a key not in the set",
            EcKey::generate("ec-1").sign(&good),
            "invalid-token",
        ),
    ];
    for (what, token, code) in cases {
        let answer = list_files(&app, &token).await;
        assert_eq!(answer.0, 401, "{what}: {}", answer.1);
        assert_eq!(answer.1["error"]["code"], code, "{what}: {}", answer.1);
        assert_eq!(answer.2.get("www-authenticate").unwrap(), "Bearer", "{what}");
    }
}

#[tokio::test]
async fn a_rotated_key_works_after_one_refetch_and_garbage_kids_do_not_hammer_the_provider() {
    let old = EcKey::generate("k1");
    let idp = Idp::start(vec![old.jwk()]).await;
    let app = gateway(idp.auth_config()).await;
    assert_eq!(
        list_files(&app, &old.sign(&claims("default", &["reader"]))).await.0,
        200
    );
    assert_eq!(idp.fetches(), 1);

    let new = RsaKey::generate("k2");
    idp.publish(vec![old.jwk(), new.jwk()]);
    assert_eq!(
        list_files(&app, &new.sign(&claims("default", &["reader"]))).await.0,
        200
    );
    assert_eq!(idp.fetches(), 2);

    for i in 0..25 {
        let token = old.sign_as(&format!("made-up-{i}"), &claims("default", &["admin"]));
        assert_error(&list_files(&app, &token).await, 401, "invalid-token");
    }
    assert_eq!(idp.fetches(), 2, "no refetch within the interval");
    assert_eq!(
        list_files(&app, &old.sign(&claims("default", &["reader"]))).await.0,
        200
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_503_with_retry_after_and_local_tokens_still_work() {
    let ec = EcKey::generate("ec-1");
    let config = AuthConfig {
        jwks_url: Some(unreachable_url().await),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
        ..AuthConfig::default()
    };
    let app = gateway(config).await;

    let answer = list_files(&app, &ec.sign(&claims("default", &["reader"]))).await;
    assert_error(&answer, 503, "unavailable");
    let retry_after: u64 = answer.2["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");

    // `filegate token` tokens (HS256, the data directory's key) and API keys do not need it.
    let files = app
        .client
        .list_files(&filegate_client::ListFiles::default())
        .await
        .unwrap();
    assert!(files.items.is_empty());
    let key = app
        .client
        .create_api_key(&filegate_api::CreateApiKey {
            name: "ci".into(),
            roles: vec!["reader".into()],
        })
        .await
        .unwrap();
    assert_eq!(list_files(&app, &key.key).await.0, 200);
}

#[tokio::test]
async fn without_auth_config_provider_tokens_are_refused_and_filegate_tokens_work() {
    let ec = EcKey::generate("ec-1");
    let idp = Idp::start(vec![ec.jwk()]).await;
    let app = TestApp::spawn().await;
    assert_error(
        &list_files(&app, &ec.sign(&claims("default", &["admin"]))).await,
        401,
        "invalid-token",
    );
    assert_eq!(idp.fetches(), 0, "nothing configured, nothing fetched");
    assert_eq!(list_files(&app, &app.token("default", "reader")).await.0, 200);
}
