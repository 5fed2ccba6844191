//! The OpenAPI document's frame: info, security, and the routes registered outside
//! `utoipa_axum` (the signed-URL routes).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "filegate", description = "A self-hosted file gateway: signed uploads, verification, processing, signed downloads."),
    paths(signed_put, signed_get, signed_form, public_get),
    components(schemas(filegate_api::ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "uploads"), (name = "files"), (name = "admin"), (name = "audit"), (name = "webhooks"), (name = "exchange"), (name = "requests"), (name = "operations"), (name = "signed", description = "URLs signed by filegate for the local store"), (name = "shares", description = "share links: managed with a token, opened by whoever holds the link"), (name = "public", description = "unsigned URLs of public buckets"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// A signed single upload (`expires`, `size`, `type`, `sig`) or part upload (`expires`,
/// `upload_id`, `part`, `sig`). Answers 200 with an `ETag`.
#[utoipa::path(put, path = "/blob/{key}", tag = "signed", security(), params(("key" = String, Path)),
    responses((status = 200, description = "stored; ETag header"), (status = 403, body = filegate_api::ErrorBody),
              (status = 413, body = filegate_api::ErrorBody)))]
#[allow(dead_code)]
fn signed_put() {}

/// A signed download (`expires`, `disposition`, `filename`, `type`, `sig`); Range supported.
#[utoipa::path(get, path = "/blob/{key}", tag = "signed", security(), params(("key" = String, Path)),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
              (status = 403, body = filegate_api::ErrorBody)))]
#[allow(dead_code)]
fn signed_get() {}

/// A signed browser form upload: the fields of the create-upload answer, then `file`.
#[utoipa::path(post, path = "/blob-form", tag = "signed", security(),
    request_body(content_type = "multipart/form-data"),
    responses((status = 204, description = "stored; ETag header"), (status = 403, body = filegate_api::ErrorBody)))]
#[allow(dead_code)]
fn signed_form() {}

/// A file of a public bucket: the newest `ready` file at the path, inline, with
/// `Cache-Control: public, max-age=…` and its `ETag`; `If-None-Match` and one `Range`
/// honoured. Private buckets, unknown paths and files not ready: 404 alike.
#[utoipa::path(get, path = "/p/{tenant}/{bucket}/{path}", tag = "public", security(),
    params(("tenant" = String, Path), ("bucket" = String, Path), ("path" = String, Path, description = "the file's path; may contain `/`")),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
              (status = 304, description = "not modified"), (status = 404, body = filegate_api::ErrorBody),
              (status = 416, body = filegate_api::ErrorBody)))]
#[allow(dead_code)]
fn public_get() {}
