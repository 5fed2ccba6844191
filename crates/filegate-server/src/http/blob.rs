//! The signed URLs of the local-directory store, served by filegate itself: `PUT` (single
//! upload or one multipart part), `GET`/`HEAD` (download) on `/blob/{key}`, and the
//! browser form `POST /blob-form`. No bearer token: the signature is the permission.
//! Expiry is checked when the request starts, so an upload that started in time finishes.
//! A single upload is stored once: the first to finish is kept, a later one (even one that
//! started while the file was still pending) is refused with `upload-already-stored`. Every
//! upload body must keep moving (`http.body_idle_timeout_secs`, see `idle_body`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest as _, Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::TryStreamExt as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use filegate_blobs::LocalBlobStore;
use filegate_blobs::signing::{Grant, GrantKind};
use filegate_core::domain::{ByteRange, ContentType, ETag};
use filegate_core::ports::{BlobStore, ByteStream};
use filegate_core::usecases::uploads;
use filegate_core::{Error, ErrorCode, Result, StoreError};

use super::body::{Served, bytes_response, not_modified, unsatisfiable_range_header};
use super::error::ApiError;
use super::extract::MultipartForm;
use super::{idle_body, pipe};
use crate::state::AppState;

/// Form fields before `file` are small.
const MAX_FORM_FIELD: usize = 8 * 1024;

fn local(state: &AppState) -> Result<&Arc<LocalBlobStore>> {
    state.local_blobs.as_ref().ok_or(Error::not_found("object"))
}

fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

fn etag_response(status: StatusCode, etag: &ETag) -> Response {
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag.quoted()) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// `PUT /blob/{key}`: a single signed upload or one part of a multipart upload.
pub async fn put(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    match put_inner(&state, &key, query.as_deref().unwrap_or(""), request).await {
        Ok(r) => r,
        Err(e) => ApiError(e).into_response(),
    }
}

async fn put_inner(state: &AppState, key: &str, query: &str, request: Request) -> Result<Response> {
    let store = local(state)?;
    let grant = store.signer().verify("PUT", key, query, Utc::now())?;
    let (parts, body) = request.into_parts();
    let idle = state.body_idle_timeout;
    let (body, stalled) = idle_body::limit(body, idle);
    match grant.kind {
        GrantKind::Put(pinned) => {
            check_content_type(&parts.headers, &pinned.content_type)?;
            uploads::accepts_single_upload(&state.services, &grant.key).await?;
            let meta = store
                .put_once(&grant.key, body_stream(body), pinned.size)
                .await
                .map_err(|e| stalled.explain(idle, stored_once(e)))?;
            Ok(etag_response(StatusCode::OK, &meta.etag))
        }
        GrantKind::Part { upload_id, part } => {
            let limit = uploads::part_limit(&state.services, &grant.key).await?;
            let etag = store
                .put_part(&grant.key, &upload_id, part, body_stream(body), limit)
                .await
                .map_err(|e| stalled.explain(idle, e.into()))?;
            Ok(etag_response(StatusCode::OK, &etag))
        }
        GrantKind::Get(_) => Err(Error::Forbidden {
            code: ErrorCode::SignatureInvalid,
            message: "this URL is for downloads".into(),
        }),
    }
}

/// A single upload's bytes are stored once: a second body for the same URL (a retry after
/// a success, or a copy held open while the first finished) is refused and changes nothing.
fn stored_once(e: StoreError) -> Error {
    match e {
        StoreError::Conflict(_) => Error::conflict(
            ErrorCode::UploadAlreadyStored,
            "bytes for this upload are already stored and are kept as they are; complete the upload, \
             or abort it and create a new one",
        ),
        other => other.into(),
    }
}

/// The signature pins the content type: the request must send the same one.
fn check_content_type(headers: &HeaderMap, pinned: &ContentType) -> Result<()> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(ContentType::parse);
    match sent {
        Some(Ok(ct)) if ct.essence() == pinned.essence() => Ok(()),
        _ => Err(Error::Forbidden {
            code: ErrorCode::SignatureInvalid,
            message: format!("this URL only accepts Content-Type: {pinned}"),
        }),
    }
}

/// `GET`/`HEAD /blob/{key}`: a signed download, with Range and If-None-Match.
pub async fn get(
    State(state): State<AppState>,
    method: Method,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match get_inner(&state, &method, &key, query.as_deref().unwrap_or(""), &headers).await {
        Ok(r) => r,
        Err(e) => ApiError(e).into_response(),
    }
}

async fn get_inner(state: &AppState, method: &Method, key: &str, query: &str, headers: &HeaderMap) -> Result<Response> {
    let store = local(state)?;
    let Grant { key, kind, .. } = store.signer().verify(method.as_str(), key, query, Utc::now())?;
    let GrantKind::Get(options) = kind else {
        return Err(Error::Forbidden {
            code: ErrorCode::SignatureInvalid,
            message: "this URL is for uploads".into(),
        });
    };
    filegate_core::usecases::files::check_blob_servable(&state.services, &key).await?;
    let meta = store.head(&key).await?.ok_or(Error::not_found("object"))?;
    let header_str = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(inm) = header_str(header::IF_NONE_MATCH)
        && inm
            .split(',')
            .any(|c| c.trim() == "*" || c.trim().trim_start_matches("W/").trim_matches('"') == meta.etag.as_str())
    {
        return Ok(not_modified(Some(&meta.etag)));
    }
    let range = match header_str(header::RANGE)
        .map(|r| ByteRange::parse(r, meta.size))
        .transpose()
    {
        Ok(r) => r.flatten(),
        Err(e) => {
            let mut response = ApiError(e).into_response();
            unsatisfiable_range_header(&mut response, meta.size);
            return Ok(response);
        }
    };
    let body: ByteStream = if method == Method::HEAD {
        Box::pin(futures::stream::empty())
    } else {
        store.get(&key, range).await?
    };
    let served = Served {
        size: meta.size,
        range,
        etag: Some(&meta.etag),
        content_type: &options.content_type,
        filename: &options.filename,
        disposition: options.disposition,
        cache: "private, max-age=3600",
    };
    Ok(bytes_response(&served, body))
}

/// `POST /blob-form`: a browser form upload; the signed fields first, the file last.
pub async fn form(State(state): State<AppState>, request: Request) -> Response {
    // The whole form must keep moving, the fields before the file included.
    let idle = state.body_idle_timeout;
    let (parts, body) = request.into_parts();
    let (body, stalled) = idle_body::limit(body, idle);
    let form = match MultipartForm::from_request(Request::from_parts(parts, body), &state).await {
        Ok(form) => form,
        Err(rejection) => return rejection.into_response(),
    };
    match form_inner(&state, form).await {
        Ok(r) => r,
        Err(e) => ApiError(stalled.explain(idle, e)).into_response(),
    }
}

async fn form_inner(state: &AppState, mut form: MultipartForm) -> Result<Response> {
    let store = local(state)?;
    let bad = |m: String| Error::invalid(ErrorCode::InvalidForm, m);
    let mut fields = BTreeMap::new();
    loop {
        let Some(mut field) = form.next_field().await.map_err(|e| bad(e.body_text()))? else {
            return Err(bad("the form has no `file` field".into()));
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let grant = store.signer().verify_form(&fields, Utc::now())?;
            let GrantKind::Put(pinned) = grant.kind else {
                return Err(Error::Forbidden {
                    code: ErrorCode::SignatureInvalid,
                    message: "not an upload form".into(),
                });
            };
            uploads::accepts_single_upload(&state.services, &grant.key).await?;
            let stored = pipe::field_into(&mut field, |body| store.put_once(&grant.key, body, pinned.size)).await;
            return Ok(etag_response(
                StatusCode::NO_CONTENT,
                &stored.map_err(stored_once)?.etag,
            ));
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.body_text()))? {
            if value.len() + chunk.len() > MAX_FORM_FIELD {
                return Err(bad(format!("field {name:?} is too long")));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| bad(format!("field {name:?} is not UTF-8")))?;
        if fields.insert(name, value).is_some() || fields.len() > 32 {
            return Err(bad("repeated or too many form fields".into()));
        }
    }
}
