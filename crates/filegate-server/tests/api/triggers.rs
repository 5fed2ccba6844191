//! Triggers: named calls to configured targets, against test HTTP servers on 127.0.0.1 —
//! sync answers relayed, async calls queued and retried, and no way for a request to send
//! a call anywhere else (a redirect to another host is not followed).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use filegate_api::{AuditFilter, FireTrigger, TriggerResult};
use filegate_client::Client;
use filegate_server::config::Redacted;
use filegate_server::trigger_config::TriggerConfig;
use filegate_server::{Config, Gateway};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::support::{api_error, err, json_of};

/// One request a target received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
}

/// A test HTTP server standing in for a trigger's target; it records every request.
#[derive(Clone, Default)]
struct Target {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// `/flaky` answers 503 this many times before 200.
    failures_left: Arc<AtomicUsize>,
    /// Where `/redirect` sends the caller.
    redirect_to: Arc<Mutex<String>>,
}

impl Target {
    async fn start() -> (SocketAddr, Self) {
        let target = Self::default();
        let app = Router::new()
            .route("/echo", post(echo))
            .route("/text", post(text))
            .route("/flaky", post(flaky))
            .route("/redirect", any(redirect))
            .route("/hang", post(hang))
            .with_state(target.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind target");
        let address = listener.local_addr().expect("target address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (address, target)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    fn record(&self, path: &str, headers: HeaderMap, body: &[u8]) {
        let body = serde_json::from_slice(body).unwrap_or(Value::Null);
        self.seen.lock().expect("seen").push(Seen {
            path: path.to_owned(),
            headers,
            body,
        });
    }
}

async fn echo(State(t): State<Target>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    t.record("/echo", headers, &body);
    let received: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (StatusCode::CREATED, axum::Json(json!({"received": received}))).into_response()
}

async fn text(State(t): State<Target>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    t.record("/text", headers, &body);
    (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
}

async fn flaky(State(t): State<Target>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    t.record("/flaky", headers, &body);
    let failing = t
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    } else {
        axum::Json(json!({"ok": true})).into_response()
    }
}

async fn redirect(State(t): State<Target>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    t.record("/redirect", headers, &body);
    let to = t.redirect_to.lock().expect("redirect").clone();
    (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response()
}

/// Never answers: the trigger's timeout must end the call.
async fn hang(State(t): State<Target>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    t.record("/hang", headers, &body);
    std::future::pending::<()>().await;
    StatusCode::OK.into_response()
}

fn trigger(url: String) -> TriggerConfig {
    TriggerConfig {
        url,
        ..TriggerConfig::default()
    }
}

async fn fire(client: &Client, name: &str, body: Value) -> filegate_client::Result<TriggerResult> {
    client
        .send_json(
            client
                .request(Method::POST, &["v1", "triggers", name])
                .expect("route")
                .json(&body),
        )
        .await
}

fn data(value: Value) -> Value {
    serde_json::to_value(FireTrigger { data: value }).expect("body")
}

#[tokio::test]
async fn a_sync_trigger_relays_the_targets_answer_and_sends_only_what_is_configured() {
    let (target, seen) = Target::start().await;
    let app = TestApp::spawn_with(|c| {
        let mut echo = trigger(format!("http://{target}/echo"));
        echo.headers = BTreeMap::from([("X-Api-Key".to_owned(), Redacted("k-123".into()))]);
        c.triggers.insert("echo".into(), echo);
        c.triggers
            .insert("text".into(), trigger(format!("http://{target}/text")));
    })
    .await;
    let writer = app.client_as("default", "writer");

    let answer = writer
        .send_json::<TriggerResult>(
            writer
                .request(Method::POST, &["v1", "triggers", "echo"])
                .unwrap()
                .header("x-forwarded-host", "evil.example")
                .header("x-api-key", "from-the-caller")
                .json(&data(json!({"eventId": "123"}))),
        )
        .await
        .expect("fired");
    assert!(answer.success);
    assert_eq!(answer.status, Some(201));
    let result = answer.result.expect("the target's JSON");
    let sent = &result["received"];
    assert_eq!(sent["trigger"], "echo");
    assert_eq!(sent["data"], json!({"eventId": "123"}));
    assert_eq!(sent["tenant"], "default");
    assert_eq!(sent["subject"], "tester");
    assert!(sent["id"].is_string());

    let calls = seen.seen();
    assert_eq!(calls.len(), 1);
    let headers = &calls[0].headers;
    assert_eq!(headers["x-api-key"], "k-123", "the configured header, not the caller's");
    assert_eq!(headers.get_all("x-api-key").iter().count(), 1);
    assert!(
        headers.get("x-forwarded-host").is_none(),
        "request headers are not forwarded"
    );
    assert!(
        headers.get("authorization").is_none(),
        "the caller's credentials stay with filegate"
    );
    assert_eq!(headers["content-type"], "application/json");

    let refused = fire(&writer, "text", data(json!(null))).await.expect("fired");
    assert_eq!(
        refused,
        TriggerResult {
            success: false,
            status: Some(500),
            result: Some(json!("boom")),
            id: None,
        },
        "a 5xx is relayed as success false, the text as the result"
    );

    let trail = app
        .client
        .audit(&AuditFilter {
            action: Some("trigger.fired".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[1].details["trigger"], "echo");
    assert_eq!(trail[1].details["status"], 201);
}

#[tokio::test]
async fn an_async_trigger_is_queued_then_retried_until_the_target_takes_it() {
    let (target, seen) = Target::start().await;
    seen.failures_left.store(2, Ordering::SeqCst);
    let app = TestApp::spawn_with(|c| {
        let mut flaky = trigger(format!("http://{target}/flaky"));
        flaky.mode = "async".into();
        c.triggers.insert("flaky".into(), flaky);
        c.workers.backoff_base_secs = 0;
    })
    .await;
    let writer = app.client_as("default", "writer");

    let resp = writer
        .request(Method::POST, &["v1", "triggers", "flaky"])
        .unwrap()
        .json(&data(json!({"n": 1})))
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 202);
    assert_eq!(body["success"], true);
    let id = body["id"].as_str().expect("the call's id").to_owned();
    assert!(seen.seen().is_empty(), "nothing is called before a worker runs");

    app.run_jobs().await;
    let calls = seen.seen();
    assert_eq!(calls.len(), 3, "two 503s, then taken");
    for call in &calls {
        assert_eq!(call.body["id"], id.as_str(), "the same id on every attempt");
        assert_eq!(call.body["data"], json!({"n": 1}));
    }
}

#[tokio::test]
async fn an_async_call_is_given_up_after_its_attempts_and_audited() {
    let (target, seen) = Target::start().await;
    seen.failures_left.store(usize::MAX, Ordering::SeqCst);
    let app = TestApp::spawn_with(|c| {
        let mut flaky = trigger(format!("http://{target}/flaky"));
        flaky.mode = "async".into();
        flaky.max_attempts = 2;
        c.triggers.insert("flaky".into(), flaky);
        c.workers.backoff_base_secs = 0;
    })
    .await;
    let fired = fire(&app.client, "flaky", data(json!({}))).await.expect("queued");
    app.run_jobs().await;
    assert_eq!(seen.seen().len(), 2, "max_attempts calls, no more");
    let trail = app
        .client
        .audit(&AuditFilter {
            action: Some("trigger.failed".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].details["call_id"], fired.id.unwrap().as_str());
    assert!(trail[0].details["reason"].as_str().unwrap().contains("503"));
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_in_either_mode() {
    let (target, seen) = Target::start().await;
    let (other, elsewhere) = Target::start().await;
    *seen.redirect_to.lock().unwrap() = format!("http://{other}/echo");
    let app = TestApp::spawn_with(|c| {
        c.triggers
            .insert("bounce".into(), trigger(format!("http://{target}/redirect")));
        let mut later = trigger(format!("http://{target}/redirect"));
        later.mode = "async".into();
        later.max_attempts = 2;
        c.triggers.insert("bounce-later".into(), later);
        c.workers.backoff_base_secs = 0;
    })
    .await;

    let answer = fire(&app.client, "bounce", data(json!({}))).await.expect("fired");
    assert!(!answer.success);
    assert_eq!(answer.status, Some(307), "the redirect itself is the answer");

    fire(&app.client, "bounce-later", data(json!({})))
        .await
        .expect("queued");
    app.run_jobs().await;

    assert_eq!(seen.seen().len(), 3, "one sync call, two async attempts");
    assert!(elsewhere.seen().is_empty(), "the other host saw nothing");
}

#[tokio::test]
async fn nothing_in_a_request_can_name_another_target() {
    let (target, seen) = Target::start().await;
    let (other, elsewhere) = Target::start().await;
    let app = TestApp::spawn_with(|c| {
        c.triggers
            .insert("echo".into(), trigger(format!("http://{target}/echo")));
    })
    .await;
    let admin = &app.client;
    let other_url = format!("http://{other}/echo");

    assert_eq!(
        api_error(fire(admin, "nope", data(json!({}))).await),
        err(404, "not-found")
    );
    assert_eq!(
        api_error(fire(admin, &other_url, data(json!({}))).await),
        err(404, "not-found"),
        "a URL is not a name"
    );
    for body in [
        json!({"data": {}, "url": other_url}),
        json!({"data": {}, "target": other_url}),
        json!({"data": {}, "headers": {"host": other.to_string()}}),
    ] {
        assert_eq!(api_error(fire(admin, "echo", body).await), err(400, "invalid-body"));
    }
    let mut url = admin.url(&["v1", "triggers", "echo"]).unwrap();
    url.query_pairs_mut().append_pair("url", &other_url);
    let resp = admin
        .http()
        .post(url)
        .bearer_auth(app.token("default", "admin"))
        .header("host", other.to_string())
        .json(&data(json!({})))
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!((status, body["success"].as_bool()), (200, Some(true)));

    assert!(elsewhere.seen().is_empty(), "the other host saw nothing");
    let calls = seen.seen();
    assert_eq!(
        calls.len(),
        1,
        "only the well-formed call went out, to the configured target"
    );
    assert_eq!(calls[0].path, "/echo");
}

#[tokio::test]
async fn each_trigger_has_its_own_role_or_is_public() {
    let (target, seen) = Target::start().await;
    let app = TestApp::spawn_with(|c| {
        let mut admin_only = trigger(format!("http://{target}/echo"));
        admin_only.role = Some("admin".into());
        c.triggers.insert("waveprep".into(), admin_only);
        let mut public = trigger(format!("http://{target}/echo"));
        public.public = true;
        c.triggers.insert("ccpa".into(), public);
    })
    .await;
    let writer = app.client_as("default", "writer");
    assert_eq!(
        api_error(fire(&writer, "waveprep", data(json!({}))).await),
        err(403, "forbidden")
    );
    assert_eq!(
        api_error(fire(&app.anonymous, "waveprep", data(json!({}))).await),
        err(401, "unauthenticated")
    );
    assert_eq!(
        api_error(fire(&app.anonymous, "unknown", data(json!({}))).await),
        err(401, "unauthenticated"),
        "anonymous callers do not learn which names exist"
    );
    assert!(fire(&app.client, "waveprep", data(json!({}))).await.unwrap().success);

    let public = fire(&app.anonymous, "ccpa", data(json!({"email": "a@b.c"})))
        .await
        .unwrap();
    assert!(public.success);
    let sent = &public.result.unwrap()["received"];
    assert_eq!(
        (sent["tenant"].clone(), sent["subject"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(
        api_error(fire(&app.anonymous.with_token("garbage"), "ccpa", data(json!({}))).await).0,
        401,
        "credentials, when sent, must be valid"
    );
    assert_eq!(seen.seen().len(), 2);
}

#[tokio::test]
async fn a_target_that_does_not_answer_in_time_is_a_504() {
    let (target, seen) = Target::start().await;
    let dead = crate::engines::dead_port();
    let app = TestApp::spawn_with(|c| {
        let mut hang = trigger(format!("http://{target}/hang"));
        hang.timeout_secs = 1;
        c.triggers.insert("hang".into(), hang);
        c.triggers
            .insert("dead".into(), trigger(format!("http://127.0.0.1:{dead}/")));
    })
    .await;
    assert_eq!(
        api_error(fire(&app.client, "hang", data(json!({}))).await),
        err(504, "trigger-timeout")
    );
    assert_eq!(seen.seen().len(), 1);
    assert_eq!(
        api_error(fire(&app.client, "dead", data(json!({}))).await),
        err(502, "trigger-failed")
    );
}

#[tokio::test]
async fn a_trigger_that_does_not_parse_stops_the_start() {
    for (name, config) in [
        ("bad-url", trigger("not a url".into())),
        (
            "bad-method",
            TriggerConfig {
                method: "BREW".into(),
                ..trigger("http://127.0.0.1:1/".into())
            },
        ),
        ("Bad Name", trigger("http://127.0.0.1:1/".into())),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        c.triggers.insert(name.into(), config);
        let error = Gateway::open(c).await.err().expect("refused").to_string();
        assert!(error.contains(&format!("triggers.{name}")), "{error}");
    }
}
