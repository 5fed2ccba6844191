//! `/s/{token}…`: what a share link serves to whoever holds it, without other credentials —
//! the page (HTML for people, JSON for `Accept: application/json`), the bytes shown inline
//! (`/view`) or as an attachment (`/download`), and the link as a QR code. A password, when
//! the share has one, comes in the `X-Share-Password` header or the `password` field of a
//! form POST (never in the URL, which ends up in logs).
//!
//! Every answer says `Referrer-Policy: no-referrer` (the token is in the URL), `no-store` and
//! `noindex`. Bytes carry `Content-Security-Policy: sandbox` (as on every route with stored
//! bytes), and HTML, SVG or script come as an attachment even on `/view` unless the bucket
//! shows them inline: a shared HTML or SVG file cannot run script in filegate's origin.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::response::{Html, IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use filegate_api::SharedFileView;
use filegate_core::domain::{Origin, SharePermission, ShareToken};
use filegate_core::ports::Disposition;
use filegate_core::usecases::disposition;
use filegate_core::usecases::files::Content;
use filegate_core::usecases::shares::{self, Access, Shared};
use filegate_core::{Error, ErrorCode};

use super::content::{header_str, respond};
use super::error::{ApiError, classify};
use super::extract::Path;
use super::request_id::MeantForPeople;
use super::share_page;
use crate::state::AppState;

/// The header a program sends a share's password in.
pub const PASSWORD_HEADER: &str = "x-share-password";

/// Where the request came from, for the audit trail (no principal: the token is the key).
pub struct Visitor(pub Origin);

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self(crate::auth::origin(parts, state)))
    }
}

fn accepts(headers: &HeaderMap, what: &str) -> bool {
    header_str(headers, header::ACCEPT).is_some_and(|a| a.contains(what))
}

/// The page answers JSON only to a client that asks for it (and not for HTML too).
fn wants_json(headers: &HeaderMap) -> bool {
    accepts(headers, "application/json") && !accepts(headers, "text/html")
}

fn protect(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// An error as JSON, or as a page for a person (`retry`: offer the password form again).
fn refuse(error: Error, html: bool, retry: Option<&str>) -> Response {
    let (_, code, message) = classify(&error);
    let mut response = ApiError(error).into_response();
    if html {
        let retry =
            retry.filter(|_| matches!(code, ErrorCode::SharePasswordInvalid | ErrorCode::SharePasswordRequired));
        *response.body_mut() = Body::from(share_page::refusal(code, &message, retry));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(share_page::PAGE_CSP),
        );
        response.extensions_mut().insert(MeantForPeople);
    }
    protect(&mut response);
    response
}

fn shared_view(shared: &Shared, url: &str) -> SharedFileView {
    let Shared { share, file } = shared;
    SharedFileView {
        name: file.name().to_owned(),
        size: file.size,
        content_type: file.content_type.to_string(),
        permission: share.permission.as_str().to_owned(),
        expires_at: share.expires_at,
        password_required: share.password.is_some(),
        downloads_left: share.downloads_left(),
        shared_by: share.created_by.clone(),
        view_url: format!("{url}/view"),
        download_url: (share.permission == SharePermission::Download).then(|| format!("{url}/download")),
    }
}

/// The share's page: name, size, expiry and the buttons (or JSON with `Accept: application/json`).
#[utoipa::path(get, path = "/s/{token}", tag = "shares", security(), params(("token" = String, Path)),
    responses((status = 200, description = "the page, or JSON for a client that accepts only JSON",
                content((SharedFileView = "application/json"), (String = "text/html"))),
              (status = 403, description = "`share-expired`, `share-revoked` or `share-exhausted`",
                content((filegate_api::ErrorBody = "application/json"), (String = "text/html"))),
              (status = 404, content((filegate_api::ErrorBody = "application/json"), (String = "text/html"))),
              (status = 409, content((filegate_api::ErrorBody = "application/json"), (String = "text/html")))))]
pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Visitor(origin): Visitor,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers);
    let opened = async {
        let parsed = ShareToken::parse(&token)?;
        let shared = shares::open_page(&state.services, &parsed, &origin).await?;
        Ok::<_, Error>((shared, shares::link(&state.services, &parsed)))
    }
    .await;
    let mut response = match opened {
        Ok((shared, url)) if json => axum::Json(shared_view(&shared, &url)).into_response(),
        Ok((shared, _)) => {
            let mut r = Html(share_page::page(&shared, &token)).into_response();
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(share_page::PAGE_CSP),
            );
            r
        }
        Err(e) => return refuse(e, !json, None),
    };
    protect(&mut response);
    response
}

/// The password of a form POST (`application/x-www-form-urlencoded`).
fn form_password(body: Result<Bytes, BytesRejection>) -> Result<Option<String>, Error> {
    let body = body.map_err(|r| Error::invalid(ErrorCode::InvalidForm, r.body_text()))?;
    Ok(url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.into_owned()))
}

fn header_password(headers: &HeaderMap) -> Option<String> {
    headers
        .get(PASSWORD_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn serve_bytes(
    state: &AppState,
    method: &Method,
    token: &str,
    access: Access,
    password: Result<Option<String>, Error>,
    origin: &Origin,
    headers: &HeaderMap,
) -> Response {
    let html = accepts(headers, "text/html");
    // The refusal page is `…/s/{token}/{access}`: its form posts to the same address.
    let retry = Some(access.as_str());
    let opened = async {
        let parsed = ShareToken::parse(token)?;
        let password = password?;
        let range = header_str(headers, header::RANGE);
        let probe = method == Method::HEAD;
        shares::open_bytes(
            &state.services,
            &parsed,
            access,
            password.as_deref(),
            range,
            origin,
            probe,
        )
        .await
    }
    .await;
    let content = match opened {
        Ok((_, content)) => content,
        Err(e) => return refuse(e, html, retry),
    };
    let asked = match access {
        Access::Download => Disposition::Attachment,
        Access::View | Access::Page => Disposition::Inline,
    };
    let shown = match &content {
        Content::Bytes { file, .. } => disposition::for_file(&state.services, file, asked).await,
        _ => Ok(asked),
    };
    let shown = match shown {
        Ok(shown) => shown,
        Err(e) => return refuse(e, html, retry),
    };
    let mut response = respond(content, shown, "private, no-store");
    protect(&mut response);
    response
}

/// The bytes as an attachment (`download` shares); `Range` honoured. Each request that
/// serves bytes counts as one download.
#[utoipa::path(get, path = "/s/{token}/download", tag = "shares", security(),
    params(("token" = String, Path), ("x-share-password" = Option<String>, Header, description = "the share's password, when it has one")),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
              (status = 403, description = "`share-expired`, `share-revoked`, `share-exhausted`, `share-view-only`, `share-password-required`, `share-password-invalid`", body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody), (status = 429, description = "`share-locked`", body = filegate_api::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    method: Method,
    Path(token): Path<String>,
    Visitor(origin): Visitor,
    headers: HeaderMap,
) -> Response {
    let password = Ok(header_password(&headers));
    serve_bytes(&state, &method, &token, Access::Download, password, &origin, &headers).await
}

/// The page's password form, posted: the bytes as an attachment.
#[utoipa::path(post, path = "/s/{token}/download", tag = "shares", security(), params(("token" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`password=…`"),
    responses((status = 200, description = "the bytes"), (status = 403, body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody), (status = 429, body = filegate_api::ErrorBody)))]
pub async fn download_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Visitor(origin): Visitor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let password = form_password(body);
    serve_bytes(
        &state,
        &Method::POST,
        &token,
        Access::Download,
        password,
        &origin,
        &headers,
    )
    .await
}

/// The bytes shown in the browser (any share); counted like a download.
#[utoipa::path(get, path = "/s/{token}/view", tag = "shares", security(),
    params(("token" = String, Path), ("x-share-password" = Option<String>, Header, description = "the share's password, when it has one")),
    responses((status = 200, description = "the bytes, inline"), (status = 403, body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody), (status = 429, body = filegate_api::ErrorBody)))]
pub async fn view(
    State(state): State<AppState>,
    method: Method,
    Path(token): Path<String>,
    Visitor(origin): Visitor,
    headers: HeaderMap,
) -> Response {
    let password = Ok(header_password(&headers));
    serve_bytes(&state, &method, &token, Access::View, password, &origin, &headers).await
}

/// The page's password form, posted: the bytes shown in the browser.
#[utoipa::path(post, path = "/s/{token}/view", tag = "shares", security(), params(("token" = String, Path)),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`password=…`"),
    responses((status = 200, description = "the bytes, inline"), (status = 403, body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody), (status = 429, body = filegate_api::ErrorBody)))]
pub async fn view_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Visitor(origin): Visitor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let password = form_password(body);
    serve_bytes(&state, &Method::POST, &token, Access::View, password, &origin, &headers).await
}

/// The link as a QR code, for a share that opens. Not an access: nothing is counted.
async fn qr(state: &AppState, token: &str, png: bool) -> Response {
    let drawn = async {
        let parsed = ShareToken::parse(token)?;
        shares::resolve(&state.services, &parsed).await?;
        let link = shares::link(&state.services, &parsed);
        let drawn = if png {
            filegate_media::qr::qr_png(&link).map(|png| ("image/png", png))
        } else {
            filegate_media::qr::qr_svg(&link).map(|svg| ("image/svg+xml", svg.into_bytes()))
        };
        drawn.map_err(|e| Error::Internal(anyhow::anyhow!("QR code: {e}")))
    }
    .await;
    let mut response = match drawn {
        Ok((content_type, bytes)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            bytes,
        )
            .into_response(),
        Err(e) => return refuse(e, false, None),
    };
    protect(&mut response);
    response
}

/// The link as a QR code, SVG.
#[utoipa::path(get, path = "/s/{token}/qr.svg", tag = "shares", security(), params(("token" = String, Path)),
    responses((status = 200, description = "image/svg+xml"), (status = 403, body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody)))]
pub async fn qr_svg(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    qr(&state, &token, false).await
}

/// The link as a QR code, PNG.
#[utoipa::path(get, path = "/s/{token}/qr.png", tag = "shares", security(), params(("token" = String, Path)),
    responses((status = 200, description = "image/png"), (status = 403, body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody)))]
pub async fn qr_png(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    qr(&state, &token, true).await
}
