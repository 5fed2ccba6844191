//! The OpenAPI document's frame: info, security, and the routes registered outside
//! `utoipa_axum` (the signed-URL routes); and `finish`, which makes the generated document
//! a valid one that code generators accept.

use http::StatusCode;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use filegate_core::ErrorCode;

#[derive(OpenApi)]
#[openapi(
    info(title = "filegate", description = "A self-hosted file gateway: signed uploads, verification, processing, signed downloads."),
    paths(signed_put, signed_get, signed_form, public_get),
    components(schemas(filegate_api::ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "account", description = "who the caller is, what it may do, which buckets there are"), (name = "uploads"), (name = "files"), (name = "search", description = "full text over names, folders and metadata; completions"), (name = "admin"), (name = "audit"), (name = "webhooks"), (name = "exchange"), (name = "requests"), (name = "operations"), (name = "signed", description = "URLs signed by filegate for the local store"), (name = "shares", description = "share links: managed with a token, opened by whoever holds the link"), (name = "public", description = "unsigned URLs of public buckets"))
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

/// Completes what the handlers' annotations leave out, so that the document validates
/// (`openapi-spec-validator`, in the API tests) and generated clients get usable names:
/// - every operation gets a unique `operationId` from its path and handler name
///   (`files_shares_list` for `GET /v1/files/{id}/shares`), where utoipa uses the bare
///   function name (`list`, eleven times over);
/// - every response gets the `description` OpenAPI requires, from its status code;
/// - every operation documents the `default` answer: the JSON error body, which any route
///   may answer beyond its own codes (401 without a token, 400 from a malformed query,
///   415, 429 from the rate limits, 503 with `Retry-After` when a dependency is down).
///   Routes that answer people with HTML pages (share links) offer `text/html` too;
/// - the error body's `code` lists every code (`docs/errors.md`).
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    list_error_codes(&mut doc);
    for (path, item) in &mut doc.paths.paths {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            name_operation(path, operation);
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = response_description(status);
                }
            }
            let html = operation
                .responses
                .responses
                .values()
                .any(|r| matches!(r, RefOr::T(r) if r.content.contains_key("text/html")));
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| RefOr::T(error_response(html)));
        }
    }
    doc
}

/// Makes `ErrorDetail.code` an enum of every [`ErrorCode`] string, so that clients generated
/// from the document know them.
fn list_error_codes(doc: &mut utoipa::openapi::OpenApi) {
    let detail = doc.components.as_mut().and_then(|c| c.schemas.get_mut("ErrorDetail"));
    let Some(RefOr::T(Schema::Object(detail))) = detail else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(code))) = detail.properties.get_mut("code") {
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        // `invalid-status` is both a 400 and a 409: an enum lists it once.
        codes.sort_unstable();
        codes.dedup();
        code.enum_values = Some(codes.into_iter().map(serde_json::Value::from).collect());
    }
}

/// `{resource}_{handler}`: the path's literal segments after the version (parameters and
/// `v1` left out) joined by `_`, then the handler's name (utoipa's default id).
fn name_operation(path: &str, operation: &mut Operation) {
    let resource: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "v1" && !s.starts_with('{'))
        .map(|s| s.trim_end_matches(".json"))
        .collect();
    let handler = operation.operation_id.take().unwrap_or_default();
    let mut id = resource.join("_").replace('-', "_");
    if !handler.is_empty() && !id.ends_with(&handler) {
        if !id.is_empty() {
            id.push('_');
        }
        id.push_str(&handler);
    }
    operation.operation_id = Some(id);
}

fn error_response(html: bool) -> Response {
    let json = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let mut response = ResponseBuilder::new()
        .description("an error: the JSON error body, its `code` one of those in docs/errors.md")
        .content("application/json", json);
    if html {
        response = response.content("text/html", Content::new(None::<RefOr<Schema>>));
    }
    response.build()
}

fn response_description(status: &str) -> String {
    let text = match status.parse::<u16>().ok().and_then(|s| StatusCode::from_u16(s).ok()) {
        Some(StatusCode::BAD_REQUEST) => "the request is invalid; nothing was changed",
        Some(StatusCode::UNAUTHORIZED) => "no valid token or API key",
        Some(StatusCode::FORBIDDEN) => "the caller's role may not do this (or the signature is invalid)",
        Some(StatusCode::NOT_FOUND) => "not found, or not visible to the caller",
        Some(StatusCode::CONFLICT) => "conflicts with the current state",
        Some(StatusCode::PAYLOAD_TOO_LARGE) => "larger than allowed",
        Some(StatusCode::UNSUPPORTED_MEDIA_TYPE) => "a content type that is not accepted",
        Some(StatusCode::RANGE_NOT_SATISFIABLE) => "the range lies outside the file, or asks for several ranges",
        Some(StatusCode::UNPROCESSABLE_ENTITY) => "what arrived does not match what was declared",
        Some(StatusCode::TOO_MANY_REQUESTS) => "rate limited; retry after `Retry-After` seconds",
        Some(StatusCode::SERVICE_UNAVAILABLE) => "a dependency is unavailable; retry after `Retry-After` seconds",
        Some(code) => code.canonical_reason().unwrap_or("an answer"),
        None => "an answer",
    };
    text.to_owned()
}
