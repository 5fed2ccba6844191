//! The authorization matrix: every route of the served OpenAPI document (built from the
//! router itself, so a new route shows up here by itself) × every role and an anonymous
//! caller × an object of the caller's tenant or another's × a file the caller created or
//! another subject's. What each role may do is written once, in [`ACCESS`]; a route missing
//! from it fails the test by name.
//!
//! "Allowed" means the answer is not a refusal of the caller: no 401, 403 or 404 (nor a
//! 405 or 5xx). A 409 or a 400 of validation is allowed: the minimal body may not make sense
//! for the object's state, and that is not this test's business.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::support::{Answer, WithQuery, call, call_json, send};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Reader,
    Writer,
    Admin,
    Superadmin,
    Exchange,
    Anonymous,
}

use Caller::{Admin, Anonymous, Exchange, Reader, Superadmin, Writer};

const CALLERS: [Caller; 6] = [Reader, Writer, Admin, Superadmin, Exchange, Anonymous];

impl Caller {
    fn role(self) -> Option<&'static str> {
        Some(match self {
            Reader => "reader",
            Writer => "writer",
            Admin => "admin",
            Superadmin => "superadmin",
            Exchange => "exchange",
            Anonymous => return None,
        })
    }

    /// Each caller is its own subject, so "its own file" is a file it created.
    fn subject(self) -> String {
        format!("matrix-{}", self.role().unwrap_or("anonymous"))
    }
}

const READERS: &[Caller] = &[Reader, Writer, Admin, Superadmin];
const WRITERS: &[Caller] = &[Writer, Admin, Superadmin];
const ADMINS: &[Caller] = &[Admin, Superadmin];
const SUPERADMINS: &[Caller] = &[Superadmin];
/// The passphrase and the file requests: partners' machines and the tenant's admins.
const EXCHANGERS: &[Caller] = &[Exchange, Admin, Superadmin];
/// Who may create an upload.
const UPLOADERS: &[Caller] = &[Writer, Admin, Superadmin, Exchange];
/// Every signed-in caller.
const SIGNED_IN: &[Caller] = &[Reader, Writer, Admin, Superadmin, Exchange];
/// A partner's machine, on the files it uploaded.
const PARTNER: &[Caller] = &[Exchange];

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone, without credentials.
    Public,
    /// These roles, on every object of their tenant; the others 403.
    Roles(&'static [Caller]),
    /// `tenant_wide` on every file of the tenant, `own` only on the files they created (any
    /// other file answers 404, as if it did not exist); the others 403.
    Files {
        tenant_wide: &'static [Caller],
        own: &'static [Caller],
    },
    /// Not behind a bearer token (a signature, a share token, a public bucket, a trigger's
    /// own access rule): tested where named.
    Elsewhere(&'static str),
}

/// What a route's path parameter names; objects of the other tenant answer 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Nothing,
    File,
    Share,
    Request,
    Webhook,
    ApiKey,
    Archive,
    Bucket,
}

/// The minimal body (or query) each route is called with.
#[derive(Debug, Clone, Copy)]
enum Body {
    Empty,
    Json(&'static str),
    /// A new upload at a path of its own.
    NewUpload,
    /// `{"uploads": [a pending upload of the caller]}`.
    CompleteOwnUpload,
    /// `?ids=` a pending upload of the caller.
    DeleteOwnUpload,
    /// A proxied upload as multipart/form-data.
    Form,
    Image,
    /// A bundle of the tenant's ready file.
    Archive,
    NewTenant,
    NewBucket,
}

struct Route {
    method: &'static str,
    path: &'static str,
    access: Access,
    target: Target,
    body: Body,
}

const fn route(method: &'static str, path: &'static str, access: Access, target: Target, body: Body) -> Route {
    Route {
        method,
        path,
        access,
        target,
        body,
    }
}

use Access::{Elsewhere, Files, Public, Roles};
use Body::Json as J;
use Target::Nothing as N;

const SEE_FILES: Access = Files {
    tenant_wide: READERS,
    own: PARTNER,
};
const FINISH_UPLOADS: Access = Files {
    tenant_wide: WRITERS,
    own: PARTNER,
};

/// What each role may do: the roles of docs/features.md (`reader` < `writer` < `admin` <
/// `superadmin`; `exchange` apart: the passphrase, the requests, its own uploads and their
/// status), route by route.
#[rustfmt::skip]
const ACCESS: &[Route] = &[
    route("post", "/v1/uploads", Roles(UPLOADERS), N, Body::NewUpload),
    route("post", "/v1/uploads/complete", Roles(UPLOADERS), N, Body::CompleteOwnUpload),
    route("post", "/v1/uploads/{file_id}/parts", FINISH_UPLOADS, Target::File, J(r#"{"numbers": [1]}"#)),
    route("post", "/v1/uploads/{file_id}/complete", FINISH_UPLOADS, Target::File, J("{}")),
    route("delete", "/v1/uploads/{file_id}", FINISH_UPLOADS, Target::File, Body::Empty),
    // Who the caller is, and the buckets to browse or upload to.
    route("get", "/v1/me", Roles(SIGNED_IN), N, Body::Empty),
    route("get", "/v1/buckets", Roles(SIGNED_IN), N, Body::Empty),
    // A partner's machine lists only its own files (see the test below), and the folders
    // only its own files are in.
    route("get", "/v1/folders", SEE_FILES, N, Body::Empty),
    route("get", "/v1/files", SEE_FILES, N, Body::Empty),
    route("post", "/v1/files", Roles(WRITERS), N, Body::Form),
    route("delete", "/v1/files", Roles(WRITERS), N, Body::DeleteOwnUpload),
    route("get", "/v1/files/changes", Roles(READERS), N, Body::Empty),
    // Search too: a partner's machine finds only its own files.
    route("get", "/v1/search", SEE_FILES, N, Body::Empty),
    route("get", "/v1/search/suggest", SEE_FILES, N, Body::Empty),
    route("get", "/v1/files/{id}", SEE_FILES, Target::File, Body::Empty),
    route("patch", "/v1/files/{id}", Roles(WRITERS), Target::File, J(r#"{"metadata": {"k": "v"}}"#)),
    route("delete", "/v1/files/{id}", Roles(WRITERS), Target::File, Body::Empty),
    route("get", "/v1/files/{id}/status", SEE_FILES, Target::File, Body::Empty),
    route("get", "/v1/files/{id}/download", Roles(READERS), Target::File, Body::Empty),
    route("post", "/v1/files/{id}/restore", Roles(WRITERS), Target::File, Body::Empty),
    route("get", "/v1/files/{id}/content", Roles(READERS), Target::File, Body::Empty),
    route("get", "/v1/files/{id}/thumbnail", Roles(READERS), Target::File, Body::Empty),
    route("post", "/v1/files/{id}/shares", Roles(WRITERS), Target::File, J("{}")),
    route("get", "/v1/files/{id}/shares", Roles(READERS), Target::File, Body::Empty),
    route("delete", "/v1/shares/{id}", Roles(WRITERS), Target::Share, Body::Empty),
    route("post", "/v1/images", Roles(WRITERS), N, Body::Image),
    route("post", "/v1/archives", Roles(READERS), N, Body::Archive),
    route("get", "/v1/archives/{id}", Roles(READERS), Target::Archive, Body::Empty),
    route("post", "/v1/admin/tenants", Roles(SUPERADMINS), N, Body::NewTenant),
    route("post", "/v1/admin/buckets", Roles(ADMINS), N, Body::NewBucket),
    route("get", "/v1/admin/buckets", Roles(ADMINS), N, Body::Empty),
    route("get", "/v1/admin/buckets/{name}", Roles(ADMINS), Target::Bucket, Body::Empty),
    route("patch", "/v1/admin/buckets/{name}", Roles(ADMINS), Target::Bucket, J(r#"{"public": false}"#)),
    route("post", "/v1/admin/api-keys", Roles(ADMINS), N, J(r#"{"name": "m", "roles": ["reader"]}"#)),
    route("get", "/v1/admin/api-keys", Roles(ADMINS), N, Body::Empty),
    route("delete", "/v1/admin/api-keys/{id}", Roles(ADMINS), Target::ApiKey, Body::Empty),
    route("get", "/v1/admin/alerts", Roles(ADMINS), N, Body::Empty),
    route("put", "/v1/admin/alerts", Roles(ADMINS), N, J(r#"{"emails": ["ops@example.org"]}"#)),
    route("get", "/v1/admin/quotas", Roles(ADMINS), N, Body::Empty),
    route("put", "/v1/admin/quotas", Roles(SUPERADMINS), N, J(r#"{"max_bytes": null, "max_files": null}"#)),
    route("get", "/v1/admin/usage", Roles(ADMINS), N, Body::Empty),
    route("get", "/v1/audit", Roles(ADMINS), N, Body::Empty),
    route("get", "/v1/exchange/passphrase", Roles(EXCHANGERS), N, Body::Empty),
    route("post", "/v1/admin/exchange/rotate", Roles(ADMINS), N, Body::Empty),
    route("get", "/v1/admin/exchange/passphrases", Roles(ADMINS), N, Body::Empty),
    route("post", "/v1/requests", Roles(ADMINS), N, J(r#"{"parameters": {"ward": "icu"}}"#)),
    route("get", "/v1/requests", Roles(EXCHANGERS), N, Body::Empty),
    route("get", "/v1/requests/{id}", Roles(EXCHANGERS), Target::Request, Body::Empty),
    route("delete", "/v1/requests/{id}", Roles(ADMINS), Target::Request, Body::Empty),
    route("post", "/v1/webhooks", Roles(ADMINS), N, J(r#"{"url": "https://hooks.example.org/m", "events": ["file.ready"]}"#)),
    route("get", "/v1/webhooks", Roles(ADMINS), N, Body::Empty),
    route("get", "/v1/webhooks/{id}", Roles(ADMINS), Target::Webhook, Body::Empty),
    route("delete", "/v1/webhooks/{id}", Roles(ADMINS), Target::Webhook, Body::Empty),
    route("get", "/v1/webhooks/{id}/deliveries", Roles(ADMINS), Target::Webhook, Body::Empty),
    route("get", "/healthz", Public, N, Body::Empty),
    route("get", "/v1/auth/config", Public, N, Body::Empty),
    route("get", "/heartbeat", Public, N, Body::Empty),
    route("get", "/readyz", Public, N, Body::Empty),
    route("get", "/openapi.json", Public, N, Body::Empty),
    route("get", "/metrics", Public, N, Body::Empty),
    route("post", "/v1/triggers/{name}", Elsewhere("tests/api/triggers.rs"), N, Body::Empty),
    // The code exchange of the web sign-in: only with an identity provider (404 without).
    route("post", "/v1/auth/token", Elsewhere("tests/web/oidc.rs"), N, Body::Empty),
    route("get", "/blob/{key}", Elsewhere("tests/hostile/signed_urls.rs"), N, Body::Empty),
    route("put", "/blob/{key}", Elsewhere("tests/hostile/signed_urls.rs"), N, Body::Empty),
    route("post", "/blob-form", Elsewhere("tests/hostile/signed_urls.rs"), N, Body::Empty),
    route("get", "/p/{tenant}/{bucket}/{path}", Elsewhere("tests/api/public.rs"), N, Body::Empty),
    route("get", "/s/{token}", Elsewhere("tests/api/shares.rs"), N, Body::Empty),
    route("get", "/s/{token}/download", Elsewhere("tests/api/shares.rs"), N, Body::Empty),
    route("post", "/s/{token}/download", Elsewhere("tests/api/shares.rs"), N, Body::Empty),
    route("get", "/s/{token}/view", Elsewhere("tests/api/shares.rs"), N, Body::Empty),
    route("post", "/s/{token}/view", Elsewhere("tests/api/shares.rs"), N, Body::Empty),
    route("get", "/s/{token}/qr.svg", Elsewhere("tests/api/shares.rs"), N, Body::Empty),
    route("get", "/s/{token}/qr.png", Elsewhere("tests/api/shares.rs"), N, Body::Empty),
];

/// Whose object a path parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// The caller's tenant; for files, one the caller created.
    Own,
    /// The caller's tenant, created by another subject.
    OtherOwner,
    /// Another tenant's.
    OtherTenant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Forbidden,
    Hidden,
    Unauthenticated,
}

impl Route {
    fn expect(&self, caller: Caller, whose: Whose) -> Expect {
        let (tenant_wide, own): (&[Caller], &[Caller]) = match self.access {
            Public => return Expect::Allowed,
            Elsewhere(_) => unreachable!("not called"),
            Roles(roles) => (roles, &[]),
            Files { tenant_wide, own } => (tenant_wide, own),
        };
        if caller == Anonymous {
            return Expect::Unauthenticated;
        }
        let reach_all = tenant_wide.contains(&caller);
        if !reach_all && !own.contains(&caller) {
            return Expect::Forbidden;
        }
        match whose {
            Whose::OtherTenant => Expect::Hidden,
            Whose::OtherOwner if !reach_all => Expect::Hidden,
            _ => Expect::Allowed,
        }
    }

    fn variants(&self) -> &'static [Whose] {
        match self.target {
            Target::Nothing => &[Whose::Own],
            Target::File => &[Whose::Own, Whose::OtherOwner, Whose::OtherTenant],
            _ => &[Whose::Own, Whose::OtherTenant],
        }
    }
}

/// The objects the matrix points at, made once (and made again for each call that changes
/// or removes one, so no call sees another's leftovers).
struct World {
    app: TestApp,
    /// An admin of the tenant `other`.
    other: filegate_client::Client,
    /// A ready file per tenant, for bundles.
    ready: String,
    other_ready: String,
    shared: Shared,
    counter: AtomicU32,
}

/// Objects only read: one each.
struct Shared {
    own_files: Vec<(Caller, String)>,
    other_owner_file: String,
    other_tenant_file: String,
    share: String,
    other_share: String,
    request: String,
    other_request: String,
    webhook: String,
    other_webhook: String,
    api_key: String,
    other_api_key: String,
    archive: String,
    other_archive: String,
}

impl World {
    fn client(&self, tenant: &str, role: &str, subject: &str) -> filegate_client::Client {
        self.app.anonymous.with_token(self.app.token_for(tenant, role, subject))
    }

    fn caller(&self, caller: Caller) -> filegate_client::Client {
        match caller.role() {
            Some(role) => self.client("default", role, &caller.subject()),
            None => self.app.anonymous.clone(),
        }
    }

    fn admin(&self, whose: Whose) -> &filegate_client::Client {
        if whose == Whose::OtherTenant {
            &self.other
        } else {
            &self.app.client
        }
    }

    fn unique(&self, what: &str) -> String {
        format!("{what}-{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// A pending upload created by `subject` (as a writer: readers cannot upload, but a
    /// file's owner is its creator's subject whatever the role).
    async fn pending(&self, tenant: &str, subject: &str) -> String {
        let client = self.client(tenant, "writer", subject);
        let body = json!({"bucket": "default", "path": format!("matrix/{}.txt", self.unique("f")),
                          "size": 3, "content_type": "text/plain"});
        let created = send(call_json(&client, Method::POST, "v1/uploads", &body))
            .await
            .ok_json();
        created["file_id"].as_str().expect("file id").to_owned()
    }

    async fn file(&self, caller: Caller, whose: Whose) -> String {
        match whose {
            Whose::Own => self.pending("default", &caller.subject()).await,
            Whose::OtherOwner => self.pending("default", "someone-else").await,
            Whose::OtherTenant => self.pending("other", "someone-else").await,
        }
    }

    async fn create(&self, admin: &filegate_client::Client, path: &str, body: Value) -> String {
        let created = send(call_json(admin, Method::POST, path, &body)).await.ok_json();
        created["id"].as_str().expect("an id").to_owned()
    }

    async fn share(&self, whose: Whose) -> String {
        let tenant = if whose == Whose::OtherTenant {
            "other"
        } else {
            "default"
        };
        let file = self.pending(tenant, "someone-else").await;
        self.create(self.admin(whose), &format!("v1/files/{file}/shares"), json!({}))
            .await
    }

    async fn request(&self, whose: Whose) -> String {
        self.create(self.admin(whose), "v1/requests", json!({"parameters": {}}))
            .await
    }

    async fn webhook(&self, whose: Whose) -> String {
        let body = json!({"url": "https://hooks.example.org/w", "events": ["file.ready"]});
        self.create(self.admin(whose), "v1/webhooks", body).await
    }

    async fn api_key(&self, whose: Whose) -> String {
        let body = json!({"name": "k", "roles": ["reader"]});
        self.create(self.admin(whose), "v1/admin/api-keys", body).await
    }

    /// The path parameter's value: a fresh object for a call that may change it.
    async fn target(&self, route: &Route, caller: Caller, whose: Whose) -> Option<String> {
        let fresh = route.method != "get";
        let other = whose == Whose::OtherTenant;
        let s = &self.shared;
        let pick = |own: &String, theirs: &String| Some(if other { theirs.clone() } else { own.clone() });
        match route.target {
            Target::Nothing => None,
            Target::File if fresh => Some(self.file(caller, whose).await),
            Target::File => Some(match whose {
                Whose::Own => s
                    .own_files
                    .iter()
                    .find(|(c, _)| *c == caller)
                    .map(|(_, id)| id.clone())
                    .expect("an own file per caller"),
                Whose::OtherOwner => s.other_owner_file.clone(),
                Whose::OtherTenant => s.other_tenant_file.clone(),
            }),
            Target::Share if fresh => Some(self.share(whose).await),
            Target::Share => pick(&s.share, &s.other_share),
            Target::Request if fresh => Some(self.request(whose).await),
            Target::Request => pick(&s.request, &s.other_request),
            Target::Webhook if fresh => Some(self.webhook(whose).await),
            Target::Webhook => pick(&s.webhook, &s.other_webhook),
            Target::ApiKey => {
                if fresh {
                    Some(self.api_key(whose).await)
                } else {
                    pick(&s.api_key, &s.other_api_key)
                }
            }
            Target::Archive => pick(&s.archive, &s.other_archive),
            // `elsewhere` exists only in the other tenant.
            Target::Bucket => Some(if other { "elsewhere" } else { "default" }.to_owned()),
        }
    }

    async fn call(&self, route: &Route, caller: Caller, whose: Whose) -> Answer {
        let client = self.caller(caller);
        let mut path = route.path.to_owned();
        if let Some(id) = self.target(route, caller, whose).await {
            let (start, end) = (path.find('{').expect("a parameter"), path.find('}').expect("closed"));
            path.replace_range(start..=end, &id);
        }
        let method = Method::from_bytes(route.method.to_ascii_uppercase().as_bytes()).expect("a method");
        let request = call(&client, method, &path);
        let request = match route.body {
            Body::Empty => request,
            Body::Json(body) => request.json(&serde_json::from_str::<Value>(body).expect("JSON")),
            Body::NewUpload => request.json(&json!({"bucket": "default",
                "path": format!("matrix/{}.txt", self.unique("u")), "size": 3, "content_type": "text/plain"})),
            Body::CompleteOwnUpload => {
                let id = self.pending("default", &caller.subject()).await;
                request.json(&json!({"uploads": [{"file_id": id}]}))
            }
            Body::DeleteOwnUpload => {
                let id = self.pending("default", &caller.subject()).await;
                request.with_query(&[("ids", id)])
            }
            Body::Form => {
                let form = reqwest::multipart::Form::new()
                    .text("bucket", "default")
                    .text("path", format!("matrix/{}.txt", self.unique("p")))
                    .part("file", reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("p.txt"));
                request.multipart(form)
            }
            Body::Image => request.json(&json!({"bucket": "default", "content_type": "image/png",
                "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="})),
            Body::Archive => request.json(&json!({"file_ids": [self.ready]})),
            Body::NewTenant => request.json(&json!({"id": self.unique("tenant")})),
            Body::NewBucket => request.json(&json!({"name": self.unique("bucket")})),
        };
        send(request).await
    }
}

async fn world() -> World {
    let app = TestApp::spawn_with(|config| config.rate_limit.requests = 0).await;
    let other = app.tenant("other").await;
    app.bucket(&other, "elsewhere").await;
    let ready = app.ready_file(&app.client, "default", "ready.txt", b"ready").await.id;
    let other_ready = app.ready_file(&other, "default", "ready.txt", b"theirs").await.id;
    let mut world = World {
        other,
        ready,
        other_ready,
        shared: Shared {
            own_files: Vec::new(),
            other_owner_file: String::new(),
            other_tenant_file: String::new(),
            share: String::new(),
            other_share: String::new(),
            request: String::new(),
            other_request: String::new(),
            webhook: String::new(),
            other_webhook: String::new(),
            api_key: String::new(),
            other_api_key: String::new(),
            archive: String::new(),
            other_archive: String::new(),
        },
        counter: AtomicU32::new(0),
        app,
    };
    let (own, other_tenant) = (Whose::Own, Whose::OtherTenant);
    let mut own_files = Vec::new();
    for caller in CALLERS {
        own_files.push((caller, world.file(caller, own).await));
    }
    let archive = json!({"file_ids": [world.ready]});
    let other_archive = json!({"file_ids": [world.other_ready]});
    world.shared = Shared {
        own_files,
        other_owner_file: world.file(Reader, Whose::OtherOwner).await,
        other_tenant_file: world.file(Reader, other_tenant).await,
        share: world.share(own).await,
        other_share: world.share(other_tenant).await,
        request: world.request(own).await,
        other_request: world.request(other_tenant).await,
        webhook: world.webhook(own).await,
        other_webhook: world.webhook(other_tenant).await,
        api_key: world.api_key(own).await,
        other_api_key: world.api_key(other_tenant).await,
        archive: world.create(&world.app.client, "v1/archives", archive).await,
        other_archive: world.create(&world.other, "v1/archives", other_archive).await,
    };
    world
}

/// Every (method, path) of the served OpenAPI document.
async fn served_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc = app.anonymous.openapi().await.expect("openapi.json");
    let paths = doc["paths"].as_object().expect("paths");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

fn refusal(answer: &Answer) -> bool {
    matches!(answer.status, 401 | 403 | 404 | 405) || answer.status >= 500
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_readme_says() {
    let world = world().await;
    let served = served_routes(&world.app).await;
    let unlisted: Vec<_> = served
        .iter()
        .filter(|(m, p)| !ACCESS.iter().any(|r| r.method == m && r.path == p))
        .collect();
    assert!(unlisted.is_empty(), "routes without a row in ACCESS: {unlisted:?}");
    let stale: Vec<_> = ACCESS
        .iter()
        .filter(|r| !served.contains(&(r.method.to_owned(), r.path.to_owned())))
        .map(|r| (r.method, r.path))
        .collect();
    assert!(stale.is_empty(), "rows of ACCESS the server does not serve: {stale:?}");

    for route in ACCESS {
        if let Elsewhere(test) = route.access {
            let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(test);
            assert!(
                file.is_file(),
                "{} {} is tested in {test}, which does not exist",
                route.method,
                route.path
            );
        }
    }

    let cases: Vec<(&Route, Caller, Whose)> = ACCESS
        .iter()
        .filter(|r| !matches!(r.access, Elsewhere(_)))
        .flat_map(|r| {
            CALLERS
                .iter()
                .flat_map(move |c| r.variants().iter().map(move |w| (r, *c, *w)))
        })
        .collect();
    let failures: Vec<String> = futures::stream::iter(cases)
        .map(|(route, caller, whose)| {
            let world = &world;
            async move {
                let expected = route.expect(caller, whose);
                let answer = world.call(route, caller, whose).await;
                let ok = match expected {
                    Expect::Allowed => !refusal(&answer),
                    Expect::Forbidden => (answer.status, answer.error_code()) == (403, Some("forbidden".into())),
                    Expect::Hidden => (answer.status, answer.error_code()) == (404, Some("not-found".into())),
                    Expect::Unauthenticated => answer.status == 401,
                };
                (!ok).then(|| {
                    format!(
                        "{} {} as {caller:?} on {whose:?}: expected {expected:?}, got {} {}",
                        route.method,
                        route.path,
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                            .chars()
                            .take(240)
                            .collect::<String>()
                    )
                })
            }
        })
        .buffer_unordered(8)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of the matrix's answers are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A partner's machine does the whole hospital-exchange round (upload, complete, poll) and lists
/// exactly its own files; the tenant's other files stay out of its sight and reach.
#[tokio::test]
async fn a_partner_sees_only_its_own_uploads() {
    let app = TestApp::spawn().await;
    let theirs = app
        .ready_file(&app.client, "default", "ward/theirs.csv", b"secret")
        .await;
    let partner = app
        .anonymous
        .with_token(app.token_for("default", "exchange", "hospital-b"));
    let mine = partner
        .upload_bytes(
            "default",
            "ward/mine.csv",
            "text/csv",
            bytes::Bytes::from_static(b"a,b\n"),
        )
        .await
        .expect("a partner uploads");
    app.run_jobs().await;
    assert_eq!(partner.file_status(&mine.id).await.expect("its status").status, "ready");

    let listed = send(call(&partner, Method::GET, "v1/files")).await.ok_json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, [mine.id.as_str()], "a partner lists only what it uploaded");
    let with_offset = send(call(&partner, Method::GET, "v1/files").with_query(&[("offset", "0")]))
        .await
        .ok_json();
    assert_eq!(with_offset["total"], 1, "the total counts only its own files too");

    let id = &theirs.id;
    for path in [format!("v1/files/{id}"), format!("v1/files/{id}/status")] {
        send(call(&partner, Method::GET, &path))
            .await
            .assert_error(404, "not-found");
    }
    for path in [
        format!("v1/files/{id}/content"),
        format!("v1/files/{id}/download"),
        format!("v1/files/{id}/shares"),
        "v1/files/changes".to_owned(),
    ] {
        send(call(&partner, Method::GET, &path))
            .await
            .assert_error(403, "forbidden");
    }
    send(call(&partner, Method::DELETE, &format!("v1/files/{id}")))
        .await
        .assert_error(403, "forbidden");
    send(call_json(
        &partner,
        Method::POST,
        &format!("v1/files/{id}/shares"),
        &json!({}),
    ))
    .await
    .assert_error(403, "forbidden");
    assert_eq!(app.client.get_file(id).await.expect("still there").status, "ready");
}
