//! The OpenAPI document's frame: info, security, and the routes registered outside
//! `utoipa_axum` (the signed-URL routes).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "filegate", description = "A self-hosted file gateway: signed uploads, verification, processing, signed downloads."),
    paths(signed_put, signed_get, signed_form),
    components(schemas(filegate_api::ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "uploads"), (name = "files"), (name = "admin"), (name = "audit"), (name = "webhooks"), (name = "exchange"), (name = "requests"), (name = "operations"), (name = "signed", description = "URLs signed by filegate for the local store"))
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
