//! Signing in to the web app with an identity provider: OpenID Connect authorization code with
//! PKCE. The provider is a small real HTTP server in this test (discovery, authorize, token,
//! JWKS; a real ES256 key): `authorize` sends the browser straight back with a code bound to
//! the challenge, `token` gives a signed token only for the verifier whose S256 hash is that
//! challenge, and only once. First the exchange through the API (refusals included), then a
//! person in Chromium.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::idp::{EcKey, SigningKey, now};
use crate::{Browser, run_story};

const CLIENT_ID: &str = "filegate-web";
const AUDIENCE: &str = "filegate";

/// What `authorize` promised a code to: its challenge and where it was sent.
#[derive(Clone)]
struct Grant {
    challenge: String,
    redirect_uri: String,
}

#[derive(Clone)]
struct Provider {
    issuer: String,
    key: Arc<EcKey>,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
}

struct Running {
    issuer: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_provider() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("address"));
    let provider = Provider {
        issuer: issuer.clone(),
        key: Arc::new(EcKey::generate("web-test")),
        codes: Arc::default(),
    };
    let router = Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(discovery))
        .route("/jwks", axum::routing::get(jwks))
        .route("/authorize", axum::routing::get(authorize))
        .route("/token", axum::routing::post(token))
        .with_state(provider);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Running { issuer, task }
}

async fn discovery(State(p): State<Provider>) -> Json<Value> {
    Json(json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/authorize", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "jwks_uri": format!("{}/jwks", p.issuer),
    }))
}

async fn jwks(State(p): State<Provider>) -> Json<Value> {
    Json(json!({ "keys": [p.key.jwk()] }))
}

/// Signs the person in at once (a provider's login page would ask first) and sends the
/// browser back with a code, as long as the request is one this client may make.
async fn authorize(State(p): State<Provider>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let acceptable = get("response_type") == "code"
        && get("client_id") == CLIENT_ID
        && get("code_challenge_method") == "S256"
        && get("code_challenge").len() == 43
        && get("scope").split(' ').any(|s| s == "openid")
        && get("redirect_uri").ends_with("/app/auth/callback")
        && !get("state").is_empty();
    if !acceptable {
        return (http::StatusCode::BAD_REQUEST, format!("refused: {q:?}")).into_response();
    }
    let code = format!("code-{}", p.codes.lock().expect("lock").len() + 1);
    p.codes.lock().expect("lock").insert(
        code.clone(),
        Grant {
            challenge: get("code_challenge"),
            redirect_uri: get("redirect_uri"),
        },
    );
    let back = format!("{}?code={code}&state={}", get("redirect_uri"), get("state"));
    Redirect::to(&back).into_response()
}

/// A token for a code used once, with the verifier whose S256 hash is its challenge.
async fn token(State(p): State<Provider>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let grant = p.codes.lock().expect("lock").remove(&get("code"));
    let hashed = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        get("code_verifier").as_bytes(),
    ));
    let good = grant.is_some_and(|g| {
        g.challenge == hashed
            && g.redirect_uri == get("redirect_uri")
            && get("client_id") == CLIENT_ID
            && get("grant_type") == "authorization_code"
    });
    if !good {
        return (http::StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    }
    let claims = json!({
        "iss": p.issuer, "aud": AUDIENCE, "sub": "dr-ada", "tenant": "default",
        "roles": ["writer"], "iat": now(), "exp": now() + 600,
    });
    Json(json!({"access_token": p.key.sign(&claims), "token_type": "Bearer", "expires_in": 600})).into_response()
}

/// Asks the provider for a code the way the page does (the redirect not followed) with the
/// challenge of `verifier`.
async fn code_for(provider: &Running, app: &TestApp, verifier: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let callback = format!("{}/app/auth/callback", app.base_url);
    let authorize = url::Url::parse_with_params(
        &format!("{}/authorize", provider.issuer),
        [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", callback.as_str()),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .expect("a URL");
    let answer = client.get(authorize).send().await.expect("authorize");
    let location = answer.headers()["location"].to_str().expect("location").to_owned();
    let url = url::Url::parse(&location).expect("a URL");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .expect("a code")
        .1
        .into_owned()
}

async fn exchange(app: &TestApp, body: Value) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/auth/token", app.base_url))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_signs_in_with_the_identity_provider() {
    let provider = start_provider().await;
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_with(move |c| {
        c.auth.jwks_url = Some(format!("{issuer}/jwks"));
        c.auth.issuer = Some(issuer.clone());
        c.auth.audience = Some(AUDIENCE.into());
        c.auth.client_id = Some(CLIENT_ID.into());
        c.auth.provider_name = "Hospital Login".into();
    })
    .await;

    // What the page is told, before anyone is signed in.
    let config: Value = reqwest::get(format!("{}/v1/auth/config", app.base_url))
        .await
        .expect("config")
        .json()
        .await
        .expect("JSON");
    assert_eq!(config["oidc"]["name"], "Hospital Login");
    assert_eq!(config["oidc"]["client_id"], CLIENT_ID);
    assert_eq!(
        config["oidc"]["authorization_endpoint"],
        format!("{}/authorize", provider.issuer)
    );

    // The exchange: a wrong verifier is refused (and spends the code), the right one gives a
    // token this server accepts; malformed requests change nothing.
    let callback = format!("{}/app/auth/callback", app.base_url);
    let verifier = "v".repeat(43);
    let code = code_for(&provider, &app, &verifier).await;
    let wrong = json!({"code": code, "code_verifier": "w".repeat(43), "redirect_uri": callback});
    let (status, body) = exchange(&app, wrong).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid-grant")),
        "{body}"
    );
    let again = json!({"code": code, "code_verifier": verifier, "redirect_uri": callback});
    assert_eq!(exchange(&app, again).await.0, 401, "a code is good once");
    let code = code_for(&provider, &app, &verifier).await;
    for bad in [
        json!({"code": code, "code_verifier": "short", "redirect_uri": callback}),
        json!({"code": code, "code_verifier": verifier, "redirect_uri": format!("{}/elsewhere", app.base_url)}),
        json!({"code": "", "code_verifier": verifier, "redirect_uri": callback}),
        json!({"code": code, "code_verifier": verifier}),
    ] {
        assert_eq!(exchange(&app, bad.clone()).await.0, 400, "{bad}");
    }
    let (status, body) = exchange(
        &app,
        json!({"code": code, "code_verifier": verifier, "redirect_uri": callback}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let me: Value = reqwest::Client::new()
        .get(format!("{}/v1/me", app.base_url))
        .bearer_auth(body["token"].as_str().expect("a token"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        (me["subject"].as_str(), me["tenant"].as_str()),
        (Some("dr-ada"), Some("default"))
    );

    // A person in the browser: the button, the provider, and back signed in.
    let Some(browser) = Browser::from_env() else {
        return;
    };
    let result = run_story(&browser, "oidc", &[("WEB_BASE_URL", app.base_url.clone())]).await;
    assert_eq!(result["signed_in_as"], "default · writer", "{result}");
}
