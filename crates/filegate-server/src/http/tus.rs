//! `/v1/tus/`: tus 1.0.0 (docs/tus.md). The tus headers become domain types here; the use
//! cases (`usecases::tus`) do the rest. Errors are filegate's JSON errors, with the status
//! tus gives them (403 `PATCH` to a final upload, 409 offset, 412 version, 423 locked, 460
//! checksum).

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{head, post};
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use url::form_urlencoded;

use filegate_core::domain::{
    ChecksumAlgorithm, Concat, FileId, FileRecord, MAX_FILE_SIZE, Principal, TusMetadata, UploadChecksum,
    parse_tus_number, parse_upload_length,
};
use filegate_core::ports::ByteStream;
use filegate_core::usecases::tus::{self, NewTusUpload, Patch, TusStatus};
use filegate_core::{Error, ErrorCode, Result};

use super::error::{ApiError, ApiResult};
use super::extract::Path;
use super::idle_body;
use crate::auth::{Authenticated, signed_tus_caller};
use crate::state::AppState;

const VERSION: &str = "1.0.0";
const EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,concatenation";
/// The content type of every body that carries upload bytes.
const OFFSET_STREAM: &str = "application/offset+octet-stream";

/// The headers a browser on another origin may read from tus answers (see `http::cors`).
pub const EXPOSED: [&str; 11] = [
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "tus-checksum-algorithm",
    "upload-offset",
    "upload-length",
    "upload-defer-length",
    "upload-metadata",
    "upload-expires",
    "upload-concat",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tus", post(create))
        .route("/v1/tus/", post(create))
        .route("/v1/tus/{id}", head(status).patch(patch).delete(terminate))
        .layer(axum::middleware::map_response(resumable))
        .layer(DefaultBodyLimit::disable())
}

/// Every tus answer says which version it speaks.
async fn resumable(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(VERSION));
    if response.status() == StatusCode::PRECONDITION_FAILED {
        response
            .headers_mut()
            .insert("tus-version", HeaderValue::from_static(VERSION));
    }
    response
}

/// `OPTIONS` on `/v1/tus…`: what this server speaks. Public (browsers ask before they send
/// credentials), and outside the CORS layer, which answers every `OPTIONS` itself: its
/// answer gains these headers, and one that is no CORS preflight becomes tus's `204`.
pub async fn advertise(request: Request, next: Next) -> Response {
    let tus = request.method() == Method::OPTIONS && request.uri().path().starts_with("/v1/tus");
    let preflight = request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = next.run(request).await;
    if tus {
        if !preflight {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        let headers = response.headers_mut();
        headers.insert("tus-resumable", HeaderValue::from_static(VERSION));
        headers.insert("tus-version", HeaderValue::from_static(VERSION));
        headers.insert("tus-extension", HeaderValue::from_static(EXTENSIONS));
        headers.insert("tus-max-size", HeaderValue::from(MAX_FILE_SIZE));
        headers.insert(
            "tus-checksum-algorithm",
            HeaderValue::from_static(ChecksumAlgorithm::ADVERTISED),
        );
    }
    response
}

/// A header as text; one that is not is refused.
fn text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::invalid(ErrorCode::InvalidTusHeader, format!("{name} is not text")))
        })
        .transpose()
}

fn check_version(headers: &HeaderMap) -> Result<()> {
    match text(headers, "tus-resumable")? {
        Some(VERSION) => Ok(()),
        _ => Err(Error::invalid(
            ErrorCode::TusVersionUnsupported,
            format!("send Tus-Resumable: {VERSION}"),
        )),
    }
}

/// Whether the request carries upload bytes: only as `application/offset+octet-stream`.
fn carries_bytes(headers: &HeaderMap, required: bool) -> Result<bool> {
    let content_type = text(headers, header::CONTENT_TYPE.as_str())?;
    let essence = content_type.map(|ct| ct.split(';').next().unwrap_or_default().trim());
    match essence {
        Some(ct) if ct.eq_ignore_ascii_case(OFFSET_STREAM) => Ok(true),
        None if !required => Ok(false),
        _ if !required && content_length(headers)? == Some(0) => Ok(false),
        _ => Err(Error::invalid(
            ErrorCode::UnsupportedMediaType,
            format!("upload bytes are sent as Content-Type: {OFFSET_STREAM}"),
        )),
    }
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>> {
    text(headers, header::CONTENT_LENGTH.as_str())?
        .map(|v| parse_tus_number("Content-Length", v))
        .transpose()
}

/// The `PATCH` headers (or those of a creation that carries bytes, at offset 0).
fn patch_of(headers: &HeaderMap, offset: u64) -> Result<Patch> {
    Ok(Patch {
        offset,
        length: text(headers, "upload-length")?
            .map(|v| parse_tus_number("Upload-Length", v))
            .transpose()?,
        content_length: content_length(headers)?,
        checksum: text(headers, "upload-checksum")?
            .map(UploadChecksum::parse)
            .transpose()?,
    })
}

/// Appends `body` in a task of its own: a client that goes away mid-body may take this
/// request's future with it, but the append still ends on its own terms (what arrived is
/// kept, the lease given back) instead of being cut off between two of its writes.
async fn append(state: &AppState, principal: &Principal, id: FileId, patch: Patch, body: Body) -> Result<TusStatus> {
    let idle = state.body_idle_timeout;
    let (body, stalled) = idle_body::limit(body, idle);
    let body: ByteStream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    let (services, principal) = (state.services.clone(), principal.clone());
    tokio::spawn(async move { tus::append(&services, &principal, id, patch, body).await })
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("a tus append task failed: {e}")))?
        .map_err(|e| match stalled.happened() {
            // Unlike a signed upload's, what arrived before the stall counts (unless a checksum
            // could not be checked: the error then says so).
            true if e.code() == ErrorCode::BodyInvalid => Error::invalid(
                ErrorCode::BodyTimeout,
                format!(
                    "no bytes of the body arrived for {} s; HEAD tells what was kept",
                    idle.as_secs_f64()
                ),
            ),
            _ => e,
        })
}

/// RFC 7231's date, as `Upload-Expires` carries it.
fn http_date(at: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The headers that tell where an upload stands.
fn progress(status: &TusStatus) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(offset) = status.offset {
        headers.insert("upload-offset", HeaderValue::from(offset));
    }
    if let Some(expires) = status.expires_at {
        headers.insert("upload-expires", http_date(expires));
    }
    headers
}

fn location(id: FileId) -> HeaderValue {
    HeaderValue::from_str(&format!("/v1/tus/{id}")).unwrap_or_else(|_| HeaderValue::from_static("/v1/tus/"))
}

/// `POST`: creates the upload (`creation`, `creation-defer-length`, a partial one for
/// `concatenation`), and appends the body when it carries bytes (`creation-with-upload`).
/// A final upload (`Upload-Concat: final;…`) is [`create_final`].
async fn create(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    check_version(&headers)?;
    let concat = text(&headers, "upload-concat")?.map(Concat::parse).transpose()?;
    let partial = match concat {
        Some(Concat::Final(parts)) => return create_final(&state, &principal, &headers, parts).await,
        Some(Concat::Partial) => true,
        None => false,
    };
    let length = parse_upload_length(text(&headers, "upload-length")?, text(&headers, "upload-defer-length")?)?;
    let raw = text(&headers, "upload-metadata")?.unwrap_or_default();
    let meta = match partial {
        true => TusMetadata::parse_partial(raw)?,
        false => TusMetadata::parse(raw)?,
    };
    let with_bytes = carries_bytes(&headers, false)?;
    let patch = if with_bytes {
        Some(Patch {
            length: None,
            ..patch_of(&headers, 0)?
        })
    } else {
        None
    };
    let file = tus::create(&state.services, &principal, NewTusUpload { meta, length, partial }).await?;
    let mut status = TusStatus::of(&file);
    if let Some(patch) = patch {
        // The upload exists whatever its first bytes met: the client asks where it stands.
        match append(&state, &principal, file.id, patch, body).await {
            Ok(appended) => status = appended,
            Err(e) => tracing::info!(error = %e, "the bytes sent with a tus creation were not all kept"),
        }
        status = tus::status(&state.services, &principal, file.id)
            .await
            .unwrap_or(status);
    } else if length == Some(0) {
        status = tus::append(&state.services, &principal, file.id, Patch::default(), empty()).await?;
    }
    let mut answer = progress(&status);
    answer.insert(header::LOCATION, location(file.id));
    Ok((StatusCode::CREATED, answer).into_response())
}

/// `POST` with `Upload-Concat: final;…`: the partial uploads joined, then completed like
/// any upload. No length and no bytes of its own: they are the partials'. The join runs in
/// a task of its own, so a client that goes away does not cut it off half-way.
async fn create_final(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    parts: Vec<FileId>,
) -> ApiResult<Response> {
    if headers.contains_key("upload-length") || headers.contains_key("upload-defer-length") {
        return Err(Error::invalid(
            ErrorCode::InvalidTusHeader,
            "a final upload's length is the sum of its partial uploads': send no Upload-Length",
        )
        .into());
    }
    if carries_bytes(headers, false)? {
        return Err(Error::invalid(
            ErrorCode::InvalidTusHeader,
            "a final upload carries no bytes of its own",
        )
        .into());
    }
    let meta = TusMetadata::parse(text(headers, "upload-metadata")?.unwrap_or_default())?;
    let (services, principal) = (state.services.clone(), principal.clone());
    let file: FileRecord = tokio::spawn(async move { tus::create_final(&services, &principal, meta, parts).await })
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("a tus join task failed: {e}")))??;
    let mut answer = progress(&TusStatus::of(&file));
    answer.insert(header::LOCATION, location(file.id));
    Ok((StatusCode::CREATED, answer).into_response())
}

/// `Upload-Concat` as `HEAD` answers it: `partial`, or `final;` and the partials' URLs.
fn concat_header(concat: &Concat) -> Option<HeaderValue> {
    match concat {
        Concat::Partial => Some(HeaderValue::from_static("partial")),
        Concat::Final(parts) => {
            let urls: Vec<String> = parts.iter().map(|id| format!("/v1/tus/{id}")).collect();
            HeaderValue::from_str(&format!("final;{}", urls.join(" "))).ok()
        }
    }
}

fn empty() -> ByteStream {
    Box::pin(futures::stream::empty())
}

/// The caller and the upload of a `HEAD`, `PATCH` or `DELETE` on `/v1/tus/{id}`: the tus
/// version checked, the id parsed, and the caller authenticated by its bearer credential or,
/// without one, by the upload's signed URL (`?token=`, `auth::tus_urls`).
struct TusTarget {
    principal: Principal,
    id: FileId,
}

impl FromRequestParts<AppState> for TusTarget {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> std::result::Result<Self, Response> {
        let refuse = |e: Error| ApiError::from(e).into_response();
        check_version(&parts.headers).map_err(refuse)?;
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        // Any id that names no file of the caller's is the same `not-found`.
        let id = FileId::parse(&id).map_err(|_| refuse(Error::not_found("upload")))?;
        let token = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .find_map(|(name, value)| (name == "token").then(|| value.into_owned()));
        let principal = match token {
            Some(token) if !parts.headers.contains_key(header::AUTHORIZATION) => {
                signed_tus_caller(parts, state, id, &token)
                    .await
                    .map_err(IntoResponse::into_response)?
            }
            _ => {
                Authenticated::from_request_parts(parts, state)
                    .await
                    .map_err(IntoResponse::into_response)?
                    .0
            }
        };
        Ok(Self { principal, id })
    }
}

/// `HEAD`: the offset, the length, the metadata; never cached.
async fn status(State(state): State<AppState>, TusTarget { principal, id }: TusTarget) -> ApiResult<Response> {
    let status = tus::status(&state.services, &principal, id).await?;
    let mut answer = progress(&status);
    match status.length {
        Some(length) => answer.insert("upload-length", HeaderValue::from(length)),
        None => answer.insert("upload-defer-length", HeaderValue::from_static("1")),
    };
    if let Ok(metadata) = HeaderValue::from_str(&status.metadata)
        && !status.metadata.is_empty()
    {
        answer.insert("upload-metadata", metadata);
    }
    if let Some(concat) = status.concat.as_ref().and_then(concat_header) {
        answer.insert("upload-concat", concat);
    }
    answer.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::OK, answer).into_response())
}

/// `PATCH`: the body at `Upload-Offset`.
async fn patch(
    State(state): State<AppState>,
    TusTarget { principal, id }: TusTarget,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    carries_bytes(&headers, true)?;
    let offset = parse_tus_number(
        "Upload-Offset",
        text(&headers, "upload-offset")?
            .ok_or_else(|| Error::invalid(ErrorCode::InvalidTusHeader, "send Upload-Offset"))?,
    )?;
    let status = append(&state, &principal, id, patch_of(&headers, offset)?, body).await?;
    Ok((StatusCode::NO_CONTENT, progress(&status)).into_response())
}

/// `DELETE`: termination.
async fn terminate(State(state): State<AppState>, TusTarget { principal, id }: TusTarget) -> ApiResult<Response> {
    tus::terminate(&state.services, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// [`EXPOSED`] as header names, for the CORS layer.
pub fn exposed_headers() -> impl Iterator<Item = HeaderName> {
    EXPOSED.into_iter().map(HeaderName::from_static)
}
