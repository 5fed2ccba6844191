//! Credentials: missing, malformed, forged, expired, unknown and revoked credentials are
//! 401 on every route, with the code that says which, and change nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use filegate_api::{CreateApiKey, CreateTenant};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::support::{Answer, Snapshot, call, call_json, send, upload_body};

/// Every `/v1` route, with a body a permitted caller could send, so only the credentials
/// decide. `{id}` is replaced by a real file id.
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    (
        "POST",
        "v1/uploads",
        Some(r#"{"bucket":"default","path":"x.txt","size":1}"#),
    ),
    (
        "POST",
        "v1/uploads/complete",
        Some(r#"{"uploads":[{"file_id":"{id}"}]}"#),
    ),
    ("POST", "v1/uploads/{id}/parts", Some(r#"{"numbers":[1]}"#)),
    ("POST", "v1/uploads/{id}/complete", Some("{}")),
    ("DELETE", "v1/uploads/{id}", None),
    ("GET", "v1/files", None),
    ("DELETE", "v1/files?ids={id}", None),
    ("GET", "v1/files/changes", None),
    ("GET", "v1/files/{id}", None),
    ("PATCH", "v1/files/{id}", Some(r#"{"path":"renamed.txt"}"#)),
    ("DELETE", "v1/files/{id}", None),
    ("GET", "v1/files/{id}/status", None),
    ("GET", "v1/files/{id}/download", None),
    ("GET", "v1/files/{id}/content", None),
    ("POST", "v1/files/{id}/restore", None),
    ("POST", "v1/files", None),
    (
        "POST",
        "v1/images",
        Some(r#"{"bucket":"default","data":"R0lGODlhAQABAAAAACw=","content_type":"image/gif"}"#),
    ),
    ("POST", "v1/admin/tenants", Some(r#"{"id":"intruder"}"#)),
    ("POST", "v1/admin/buckets", Some(r#"{"name":"intruder"}"#)),
    ("GET", "v1/admin/buckets", None),
    ("GET", "v1/admin/buckets/default", None),
    ("PATCH", "v1/admin/buckets/default", Some(r#"{"public":true}"#)),
    (
        "POST",
        "v1/admin/api-keys",
        Some(r#"{"name":"intruder","roles":["admin"]}"#),
    ),
    ("GET", "v1/admin/api-keys", None),
    ("DELETE", "v1/admin/api-keys/0190c6a2-7b1e-7000-8000-000000000000", None),
    ("POST", "v1/archives", Some(r#"{"file_ids":["{id}"]}"#)),
    ("GET", "v1/archives/0190c6a2-7b1e-7000-8000-000000000000", None),
    ("POST", "v1/triggers/anything", Some(r#"{"data":{}}"#)),
];

/// Sends every route with `authorization` (or none) and expects `status` and `code` each time.
async fn every_route_refuses(app: &TestApp, file_id: &str, authorization: Option<&str>, status: u16, code: &str) {
    let http = app.anonymous.http();
    for (method, route, body) in ROUTES {
        let url = format!("{}/{}", app.base_url, route.replace("{id}", file_id));
        let mut request = http.request(method.parse::<Method>().expect("method"), &url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.replace("{id}", file_id));
        }
        let answer = send(request).await;
        answer.assert_error(status, code);
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"), "{}", answer.what);
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The data directory's real JWT key, to forge tokens that differ from valid ones in one way.
fn jwt_key(app: &TestApp) -> [u8; 32] {
    filegate_server::secret::Secret::load(app.data_dir.path())
        .expect("the data dir's secret")
        .derive(filegate_server::app::JWT_KEY_PURPOSE)
}

fn sign(alg: Algorithm, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("encode a token")
}

fn superadmin_claims(exp: u64) -> Value {
    json!({"sub": "mallory", "tenant": "default", "roles": ["superadmin"], "exp": exp, "iat": now_secs()})
}

async fn list_with_bearer(app: &TestApp, token: &str) -> Answer {
    send(
        app.anonymous
            .http()
            .get(format!("{}/v1/files", app.base_url))
            .bearer_auth(token),
    )
    .await
}

#[tokio::test]
async fn every_route_refuses_requests_without_usable_credentials() {
    let app = TestApp::spawn().await;
    let file = app.ready_file(&app.client, "default", "kept.txt", b"hello").await;
    let before = Snapshot::take(&app, &app.client).await;

    every_route_refuses(&app, &file.id, None, 401, "unauthenticated").await;
    every_route_refuses(&app, &file.id, Some("Basic dXNlcjpwYXNz"), 401, "unauthenticated").await;
    every_route_refuses(&app, &file.id, Some("Bearer "), 401, "unauthenticated").await;
    every_route_refuses(&app, &file.id, Some("Bearer not-a-token"), 401, "invalid-token").await;

    before
        .assert_unchanged(&app, &app.client, "requests without credentials")
        .await;
    // Nobody slipped a tenant, a bucket or a key in either.
    assert_eq!(app.client.list_buckets().await.expect("buckets").items.len(), 1);
    assert!(app.client.list_api_keys().await.expect("keys").items.is_empty());
}

#[tokio::test]
async fn garbage_tokens_are_invalid() {
    let app = TestApp::spawn().await;
    let before = Snapshot::take(&app, &app.client).await;
    let huge = "x".repeat(16 * 1024);
    for token in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "....", huge.as_str()] {
        list_with_bearer(&app, token).await.assert_error(401, "invalid-token");
    }
    // A header that is not text at all.
    let raw = reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("opaque header value");
    let answer = send(
        app.anonymous
            .http()
            .get(format!("{}/v1/files", app.base_url))
            .header("authorization", raw),
    )
    .await;
    answer.assert_error(401, "unauthenticated");
    before.assert_unchanged(&app, &app.client, "garbage tokens").await;
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_invalid() {
    let app = TestApp::spawn().await;
    let mut other_key = [0u8; 32];
    rand::rng().fill_bytes(&mut other_key);
    let forged = sign(Algorithm::HS256, &superadmin_claims(now_secs() + 600), &other_key);
    list_with_bearer(&app, &forged).await.assert_error(401, "invalid-token");

    // The forged superadmin cannot create a tenant either.
    let answer = send(
        app.anonymous
            .http()
            .post(format!("{}/v1/admin/tenants", app.base_url))
            .bearer_auth(&forged)
            .json(&json!({"id": "forged"})),
    )
    .await;
    answer.assert_error(401, "invalid-token");
    let root = app.client_as("default", "superadmin");
    root.create_tenant(&CreateTenant { id: "forged".into() })
        .await
        .expect("the tenant did not exist yet");
}

#[tokio::test]
async fn unsigned_and_algorithm_swapped_tokens_are_invalid() {
    let app = TestApp::spawn().await;
    let key = jwt_key(&app);
    let claims = superadmin_claims(now_secs() + 600);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());

    // `alg: none` with no signature, and with a signature of the right key left on.
    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    list_with_bearer(&app, &format!("{none}.{body}."))
        .await
        .assert_error(401, "invalid-token");
    let valid = sign(Algorithm::HS256, &claims, &key);
    let signature = valid.rsplit('.').next().expect("a signature");
    list_with_bearer(&app, &format!("{none}.{body}.{signature}"))
        .await
        .assert_error(401, "invalid-token");

    // The right key, but another algorithm than HS256.
    list_with_bearer(&app, &sign(Algorithm::HS512, &claims, &key))
        .await
        .assert_error(401, "invalid-token");
    // The valid token with its signature removed, or its claims changed under the signature.
    let header = valid.split('.').next().expect("a header");
    list_with_bearer(&app, &format!("{header}.{body}."))
        .await
        .assert_error(401, "invalid-token");
    let other_tenant = URL_SAFE_NO_PAD.encode(
        json!({"sub": "mallory", "tenant": "other", "roles": ["superadmin"], "exp": now_secs() + 600}).to_string(),
    );
    list_with_bearer(&app, &format!("{header}.{other_tenant}.{signature}"))
        .await
        .assert_error(401, "invalid-token");

    // The same claims, signed properly, do work: the refusals above were about the token.
    let answer = list_with_bearer(&app, &valid).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
}

#[tokio::test]
async fn expired_and_incomplete_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let key = jwt_key(&app);
    let expired = sign(Algorithm::HS256, &superadmin_claims(now_secs() - 3600), &key);
    list_with_bearer(&app, &expired)
        .await
        .assert_error(401, "token-expired");

    let no_exp = json!({"sub": "mallory", "tenant": "default", "roles": ["admin"]});
    list_with_bearer(&app, &sign(Algorithm::HS256, &no_exp, &key))
        .await
        .assert_error(401, "invalid-token");
    let no_sub = json!({"tenant": "default", "roles": ["admin"], "exp": now_secs() + 600});
    list_with_bearer(&app, &sign(Algorithm::HS256, &no_sub, &key))
        .await
        .assert_error(401, "invalid-token");
    for tenant in ["../default", "", "DEFAULT", "default\u{0}"] {
        let claims = json!({"sub": "mallory", "tenant": tenant, "roles": ["admin"], "exp": now_secs() + 600});
        list_with_bearer(&app, &sign(Algorithm::HS256, &claims, &key))
            .await
            .assert_error(401, "invalid-token");
    }
    // A valid token with no role we know may do nothing.
    let roleless = json!({"sub": "mallory", "tenant": "default", "roles": ["root", "god"], "exp": now_secs() + 600});
    list_with_bearer(&app, &sign(Algorithm::HS256, &roleless, &key))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn tokens_for_tenants_that_do_not_exist_are_invalid() {
    let app = TestApp::spawn().await;
    let before = Snapshot::take(&app, &app.client).await;
    let ghost = app.client_as("ghost", "superadmin");
    let refused = [
        call(&ghost, Method::GET, "v1/files"),
        call(&ghost, Method::GET, "v1/admin/buckets"),
        call_json(&ghost, Method::POST, "v1/uploads", &upload_body()),
        call_json(&ghost, Method::POST, "v1/admin/tenants", &json!({"id": "ghost-two"})),
    ];
    for request in refused {
        send(request).await.assert_error(401, "invalid-token");
    }
    before
        .assert_unchanged(&app, &app.client, "a ghost tenant's token")
        .await;
    // Once the tenant exists, the same token is good.
    app.tenant("ghost").await;
    assert!(
        ghost
            .list_files(&Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn unknown_api_keys_are_invalid_credentials() {
    let app = TestApp::spawn().await;
    let long = format!("fgk_{}", "a".repeat(500));
    for key in [
        "fgk_",
        "fgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        long.as_str(),
        "fgk_../../etc",
    ] {
        list_with_bearer(&app, key)
            .await
            .assert_error(401, "invalid-credentials");
    }
    // Not even text: refused before any lookup.
    list_with_bearer(&app, "fgk_\u{e9}")
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn api_keys_are_shown_once_work_as_bearers_and_die_when_revoked() {
    let app = TestApp::spawn().await;
    let created = app
        .client
        .create_api_key(&CreateApiKey {
            name: "ci".into(),
            roles: vec!["writer".into()],
        })
        .await
        .expect("admin creates a key");
    assert!(created.key.starts_with("fgk_"), "{}", created.key);

    // Listed without its secret.
    let listed = send(call(&app.client, Method::GET, "v1/admin/api-keys")).await;
    let text = listed.ok_json().to_string();
    assert!(!text.contains(&created.key), "the list shows the secret: {text}");
    assert!(
        !text.contains(created.key.trim_start_matches("fgk_")),
        "the list shows the secret: {text}"
    );
    let keys = app.client.list_api_keys().await.expect("list");
    assert_eq!(keys.items.len(), 1);
    assert_eq!(
        (keys.items[0].id.as_str(), keys.items[0].revoked_at),
        (created.id.as_str(), None)
    );

    // The key works as a bearer, with its role: it uploads, it does not administer.
    let machine = app.anonymous.with_token(created.key.clone());
    let file = app.ready_file(&machine, "default", "from-ci.txt", b"built").await;
    assert_eq!(file.owner, format!("key:{}", created.id));
    send(call_json(
        &machine,
        Method::POST,
        "v1/admin/buckets",
        &json!({"name": "ci"}),
    ))
    .await
    .assert_error(403, "forbidden");

    app.client.revoke_api_key(&created.id).await.expect("revoke");
    let before = Snapshot::take(&app, &app.client).await;
    list_with_bearer(&app, &created.key)
        .await
        .assert_error(401, "invalid-credentials");
    send(call(&machine, Method::DELETE, &format!("v1/files/{}", file.id)))
        .await
        .assert_error(401, "invalid-credentials");
    send(call_json(&machine, Method::POST, "v1/uploads", &upload_body()))
        .await
        .assert_error(401, "invalid-credentials");
    before.assert_unchanged(&app, &app.client, "a revoked key").await;
    let keys = app.client.list_api_keys().await.expect("list");
    assert!(keys.items[0].revoked_at.is_some(), "{keys:?}");

    // Unknown ids, and keys that are not ids.
    send(call(
        &app.client,
        Method::DELETE,
        "v1/admin/api-keys/0190c6a2-7b1e-7000-8000-000000000000",
    ))
    .await
    .assert_error(404, "not-found");
    send(call(&app.client, Method::DELETE, "v1/admin/api-keys/..%2F.."))
        .await
        .assert_error(404, "not-found");
}

#[tokio::test]
async fn api_key_requests_are_checked() {
    let app = TestApp::spawn().await;
    let cases: &[(Value, &str)] = &[
        (json!({"name": "x", "roles": ["root"]}), "invalid-role"),
        (json!({"name": "x", "roles": []}), "invalid-role"),
        (json!({"name": "", "roles": ["reader"]}), "invalid-name"),
        (json!({"name": "a\nb", "roles": ["reader"]}), "invalid-name"),
        (json!({"name": "x".repeat(129), "roles": ["reader"]}), "invalid-name"),
        (json!({"name": "x", "roles": "reader"}), "invalid-body"),
        (
            json!({"name": "x", "roles": ["reader"], "tenant": "other"}),
            "invalid-body",
        ),
    ];
    for (body, code) in cases {
        send(call_json(&app.client, Method::POST, "v1/admin/api-keys", body))
            .await
            .assert_error(400, code);
    }
    assert!(app.client.list_api_keys().await.expect("list").items.is_empty());
}

/// Tokens filegate signs are checked for `nbf` and `iat` (60 s of clock skew
/// allowed) and for an `exp` further than 30 days ahead, as the JWKS path checks `nbf`.
#[tokio::test]
async fn tokens_not_valid_yet_or_living_too_long_are_invalid() {
    let app = TestApp::spawn().await;
    let key = jwt_key(&app);
    let now = now_secs();
    let base = |extra: Value| {
        let mut claims = json!({"sub": "mallory", "tenant": "default", "roles": ["admin"], "exp": now + 600});
        if let (Some(c), Value::Object(e)) = (claims.as_object_mut(), extra) {
            c.extend(e);
        }
        sign(Algorithm::HS256, &claims, &key)
    };
    let refused = [
        ("nbf an hour ahead", json!({"nbf": now + 3600, "iat": now})),
        ("iat an hour ahead", json!({"iat": now + 3600})),
        (
            "exp ten years ahead",
            json!({"exp": now + 10 * 365 * 86_400, "iat": now}),
        ),
        ("exp 31 days ahead", json!({"exp": now + 31 * 86_400, "iat": now})),
    ];
    for (what, extra) in refused {
        let answer = list_with_bearer(&app, &base(extra)).await;
        assert_eq!(
            answer.status,
            401,
            "{what}: {:?}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.assert_error(401, "invalid-token");
    }
    // Clocks differ a little between the machine that signs and the gateway.
    let accepted = [
        ("nbf 10 s ahead", json!({"nbf": now + 10, "iat": now})),
        ("iat 10 s ahead", json!({"iat": now + 10})),
        ("nbf past", json!({"nbf": now - 10, "iat": now - 10})),
        ("exp 29 days ahead", json!({"exp": now + 29 * 86_400, "iat": now})),
    ];
    for (what, extra) in accepted {
        let answer = list_with_bearer(&app, &base(extra)).await;
        assert_eq!(
            answer.status,
            200,
            "{what}: {:?}",
            String::from_utf8_lossy(&answer.body)
        );
    }
}

/// `filegate token --ttl` cannot mint a token the gateway would then refuse.
#[tokio::test]
async fn filegate_token_refuses_a_lifetime_the_gateway_would_refuse() {
    let app = TestApp::spawn().await;
    let day = std::time::Duration::from_secs(86_400);
    let issue = |ttl| filegate_server::tokens::issue(app.data_dir.path(), "default", "admin", "cli", ttl);
    let longest = issue(30 * day).expect("30 days is allowed");
    assert_eq!(list_with_bearer(&app, &longest).await.status, 200);
    let error = issue(31 * day).expect_err("31 days is refused at issue");
    assert!(error.to_string().contains("30 days"), "{error}");
}
