//! The HTTP layer: one module per resource, thin handlers (parse → one use case → view),
//! and the middleware every request passes through.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderName, Method, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use filegate_core::{Error, ErrorCode};

use crate::config::HttpConfig;
use crate::state::AppState;

pub mod account;
pub mod admin;
pub mod archives;
pub mod audit;
pub mod blob;
pub mod body;
pub mod client_ip;
pub mod content;
pub mod error;
pub mod exchange;
pub mod extract;
pub mod files;
pub mod folders;
pub mod form_head;
pub mod idle_body;
pub mod images;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pipe;
pub mod proxied;
pub mod public;
pub mod rate_limit;
pub mod request_id;
pub mod requests;
pub mod search;
pub mod share_links;
pub mod share_page;
pub mod shares;
pub mod sign_in;
pub mod thumbnails;
pub mod triggers;
pub mod tus;
pub mod uploads;
pub mod views;
pub mod web;
pub mod webhooks;

/// The routes and the OpenAPI document generated from them.
pub fn routes(http: &HttpConfig, max_image_bytes: u64) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let image_limit = usize::try_from(max_image_bytes.saturating_mul(4) / 3 + 64 * 1024).unwrap_or(usize::MAX);
    let streamed = OpenApiRouter::new()
        .routes(routes!(proxied::upload))
        .layer(DefaultBodyLimit::disable());
    let images = OpenApiRouter::new()
        .routes(routes!(images::upload))
        .layer(DefaultBodyLimit::max(image_limit));
    let api = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(uploads::create))
        .routes(routes!(uploads::complete_batch))
        .routes(routes!(uploads::parts))
        .routes(routes!(uploads::complete))
        .routes(routes!(uploads::abort))
        .routes(routes!(account::me))
        .routes(routes!(account::buckets))
        .routes(routes!(folders::list))
        .routes(routes!(files::list, files::delete_many))
        .routes(routes!(files::changes))
        .routes(routes!(files::get, files::patch, files::delete))
        .routes(routes!(files::status))
        .routes(routes!(files::download))
        .routes(routes!(files::restore))
        .routes(routes!(search::search))
        .routes(routes!(search::suggest))
        .routes(routes!(content::content))
        .routes(routes!(thumbnails::thumbnail))
        .routes(routes!(admin::tenants::create))
        .routes(routes!(admin::buckets::create, admin::buckets::list))
        .routes(routes!(admin::buckets::get, admin::buckets::update))
        .routes(routes!(admin::api_keys::create, admin::api_keys::list))
        .routes(routes!(admin::api_keys::revoke))
        .routes(routes!(exchange::passphrase))
        .routes(routes!(exchange::rotate))
        .routes(routes!(exchange::history))
        .routes(routes!(requests::create, requests::list))
        .routes(routes!(requests::get, requests::cancel))
        .routes(routes!(audit::list))
        .routes(routes!(admin::alerts::get, admin::alerts::put))
        .routes(routes!(admin::quotas::get, admin::quotas::put))
        .routes(routes!(admin::quotas::usage))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(archives::create))
        .routes(routes!(archives::get))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::heartbeat))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::openapi))
        .routes(routes!(metrics::render))
        .routes(routes!(shares::create, shares::list))
        .routes(routes!(shares::revoke))
        .layer(DefaultBodyLimit::max(http.max_json_body))
        .merge(streamed)
        .merge(images)
        .merge(public_routes())
        .merge(triggers::routes().layer(DefaultBodyLimit::max(http.max_json_body)));
    let (router, doc) = api.split_for_parts();
    let doc = openapi::finish(doc);
    // The signed-URL routes take any key below /blob/, which OpenAPI paths cannot express;
    // they are documented through `openapi::ApiDoc`.
    let signed = Router::new()
        .route("/blob/{*key}", get(blob::get).head(blob::get).put(blob::put))
        .route("/blob-form", post(blob::form))
        .route_layer(axum::middleware::from_fn(rate_limit::signed_urls))
        .layer(DefaultBodyLimit::disable());
    (router.merge(signed).merge(tus::routes()), doc)
}

/// The routes anyone may call without credentials: share links (`/s/…`), public buckets
/// (`/p/…`) and the web app's sign-in (`/v1/auth/…`), each group under its per-client limit. Share links get the
/// strict `anonymous` class (their tokens and passwords must not be guessable by volume);
/// public files the `signed_urls` class, as a page full of images (or a CDN edge) asks for
/// many at once. `/p/…` takes any path below the bucket, which OpenAPI paths cannot
/// express; it is documented through `openapi::ApiDoc`.
pub fn public_routes() -> OpenApiRouter<AppState> {
    let shares = OpenApiRouter::new()
        .routes(routes!(share_links::page))
        .routes(routes!(share_links::download, share_links::download_form))
        .routes(routes!(share_links::view, share_links::view_form))
        .routes(routes!(share_links::qr_svg))
        .routes(routes!(share_links::qr_png))
        .route_layer(axum::middleware::from_fn(rate_limit::anonymous))
        // Only a password form is ever posted here.
        .layer(DefaultBodyLimit::max(16 * 1024));
    let public = OpenApiRouter::new()
        .route("/p/{tenant}/{bucket}/{*path}", get(public::content))
        .route_layer(axum::middleware::from_fn(rate_limit::signed_urls));
    // The web app's sign-in with the identity provider: before anyone is signed in.
    let sign_in = OpenApiRouter::new()
        .routes(routes!(sign_in::config))
        .routes(routes!(sign_in::token))
        .route_layer(axum::middleware::from_fn(rate_limit::anonymous))
        .layer(DefaultBodyLimit::max(16 * 1024));
    shares.merge(public).merge(sign_in)
}

/// The middleware stack, outermost first: request id (and the JSON safety net), metrics,
/// what `OPTIONS` tells tus clients, CORS, panic catching.
pub fn with_middleware(router: Router, http: &HttpConfig) -> Router {
    router
        .fallback(|| async { error::ApiError(Error::not_found("route")) })
        .method_not_allowed_fallback(|| async {
            error::error_response(
                ErrorCode::MethodNotAllowed,
                "this route does not accept that method".into(),
            )
        })
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| -> Response {
                tracing::error!("a handler panicked");
                error::ApiError(Error::Internal(anyhow::anyhow!("handler panicked"))).into_response()
            },
        ))
        .layer(cors(http))
        .layer(axum::middleware::from_fn(tus::advertise))
        .layer(axum::middleware::from_fn(metrics::middleware))
        .layer(axum::middleware::from_fn(request_id::middleware))
}

/// Browsers on other origins may call the API (tus included) and PUT to the signed URLs.
fn cors(http: &HttpConfig) -> CorsLayer {
    let origins = if http.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(http.cors_origins.iter().filter_map(|o| o.parse().ok()))
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(Any)
        .expose_headers(
            [
                header::ETAG,
                header::CONTENT_RANGE,
                header::CONTENT_DISPOSITION,
                header::CONTENT_LENGTH,
                header::LOCATION,
                HeaderName::from_static("x-request-id"),
            ]
            .into_iter()
            .chain(tus::exposed_headers())
            .collect::<Vec<_>>(),
        )
        .max_age(Duration::from_secs(3600))
}
