//! `/v1/uploads`: create (signed PUT, form POST, multipart), more part URLs, complete
//! (one or a batch), abort.

use axum::extract::State;
use http::StatusCode;

use filegate_api::{
    CompleteItem, CompleteResult, CompleteUpload, CompleteUploads, CompletedPart, CompletedUploads, CreateUpload,
    FileView, ItemError, PartUrl, PartUrls, PartsRequest, UploadCreated, UploadInstructions,
};
use filegate_core::domain::{
    BucketName, ContentType, ETag, Encryption, FileId, Metadata, ObjectPath, RequestId, Sha256Hex,
};
use filegate_core::usecases::uploads::{self, Completion, Instructions, NewUpload, Transfer};
use filegate_core::{Error, ErrorCode, Result};

use super::error::{ApiResult, classify};
use super::extract::{Json, JsonOrEmpty, Path};
use super::views;
use crate::auth::Authenticated;
use crate::state::AppState;

fn parse_new_upload(req: CreateUpload) -> Result<NewUpload> {
    let tus = match req.protocol.as_deref() {
        None => false,
        Some("tus") => true,
        Some(other) => {
            return Err(Error::invalid(
                ErrorCode::InvalidBody,
                format!("protocol {other:?} is not known; the one there is: \"tus\""),
            ));
        }
    };
    let transfer = match (req.form.unwrap_or(false), req.multipart) {
        (false, None | Some(false)) if tus => Transfer::Tus,
        _ if tus => {
            return Err(Error::invalid(
                ErrorCode::InvalidBody,
                "protocol \"tus\" cannot be combined with form or multipart",
            ));
        }
        (true, Some(true)) => {
            return Err(Error::invalid(
                ErrorCode::InvalidBody,
                "form and multipart cannot be combined",
            ));
        }
        (true, _) => Transfer::Form,
        (false, Some(true)) => Transfer::Multipart,
        (false, Some(false)) => Transfer::Put,
        (false, None) => Transfer::Auto,
    };
    Ok(NewUpload {
        bucket: BucketName::parse(&req.bucket)?,
        path: ObjectPath::parse(&req.path)?,
        size: req.size,
        content_type: match req.content_type.as_deref() {
            Some(ct) => ContentType::parse(ct)?,
            None => ContentType::octet_stream(),
        },
        sha256: req.sha256.as_deref().map(Sha256Hex::parse).transpose()?,
        metadata: Metadata::parse(req.metadata.unwrap_or_default())?,
        external_id: req.external_id.as_deref().map(uploads::parse_external_id).transpose()?,
        transfer,
        encryption: req.encryption.as_deref().map(Encryption::parse).transpose()?,
        request_id: req
            .request_id
            .as_deref()
            .map(|id| {
                RequestId::parse(id).map_err(|_| {
                    Error::invalid(
                        ErrorCode::UnknownRequest,
                        "request_id names no file request of this tenant",
                    )
                })
            })
            .transpose()?,
    })
}

fn part_views(parts: Vec<(u32, String)>) -> Vec<PartUrl> {
    parts.into_iter().map(|(number, url)| PartUrl { number, url }).collect()
}

/// Creates a pending file and answers how to send its bytes.
#[utoipa::path(post, path = "/v1/uploads", tag = "uploads", request_body = CreateUpload,
    responses((status = 201, body = UploadCreated), (status = 400, body = filegate_api::ErrorBody),
              (status = 413, body = filegate_api::ErrorBody), (status = 415, body = filegate_api::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(req): Json<CreateUpload>,
) -> ApiResult<(StatusCode, Json<UploadCreated>)> {
    let created = uploads::create(&state.services, &principal, parse_new_upload(req)?).await?;
    let file = &created.file;
    let upload = match created.instructions {
        Instructions::Tus => Some(UploadInstructions::Tus {
            url: state
                .tus_urls
                .url(&file.tenant, &file.owner, file.id, created.expires_at)
                .map_err(Error::Internal)?,
        }),
        Instructions::Single(signed) if signed.method == "POST" => Some(UploadInstructions::Post {
            url: signed.url,
            fields: signed.fields,
        }),
        Instructions::Single(signed) => Some(UploadInstructions::Put {
            url: signed.url,
            headers: signed.headers,
        }),
        Instructions::Multipart {
            upload_id,
            part_size,
            part_count,
            parts,
        } => Some(UploadInstructions::Multipart {
            upload_id,
            part_size,
            part_count,
            parts: part_views(parts),
        }),
        Instructions::Deduplicated => None,
    };
    let body = UploadCreated {
        file_id: created.file.id.to_string(),
        status: created.file.status.to_string(),
        expires_at: created.expires_at,
        deduplicated: upload.is_none(),
        upload,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// More signed part URLs for a multipart upload.
#[utoipa::path(post, path = "/v1/uploads/{file_id}/parts", tag = "uploads", request_body = PartsRequest,
    params(("file_id" = String, Path)), responses((status = 200, body = PartUrls), (status = 404, body = filegate_api::ErrorBody)))]
pub async fn parts(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(file_id): Path<String>,
    Json(req): Json<PartsRequest>,
) -> ApiResult<Json<PartUrls>> {
    let id = FileId::parse(&file_id)?;
    let parts = uploads::part_urls_for(&state.services, &principal, id, req.numbers).await?;
    Ok(Json(PartUrls {
        parts: part_views(parts),
    }))
}

fn parse_completion(
    size: Option<u64>,
    sha256: Option<String>,
    etag: Option<String>,
    parts: Vec<CompletedPart>,
) -> Result<Completion> {
    Ok(Completion {
        size,
        sha256: sha256.as_deref().map(Sha256Hex::parse).transpose()?,
        etag: etag.as_deref().map(ETag::parse).transpose()?,
        parts: parts
            .into_iter()
            .map(|p| Ok((p.number, ETag::parse(&p.etag)?)))
            .collect::<Result<_>>()?,
    })
}

/// Verifies the bytes and moves the file to `uploaded`; processing starts.
#[utoipa::path(post, path = "/v1/uploads/{file_id}/complete", tag = "uploads", request_body = CompleteUpload,
    params(("file_id" = String, Path)),
    responses((status = 200, body = FileView), (status = 400, body = filegate_api::ErrorBody),
              (status = 404, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(file_id): Path<String>,
    JsonOrEmpty(req): JsonOrEmpty<CompleteUpload>,
) -> ApiResult<Json<FileView>> {
    let id = FileId::parse(&file_id)?;
    let done = parse_completion(req.size, req.sha256, req.etag, req.parts)?;
    let file = uploads::complete(&state.services, &principal, id, done).await?;
    Ok(Json(views::file(file)))
}

/// Completes several uploads; each item answers on its own.
#[utoipa::path(post, path = "/v1/uploads/complete", tag = "uploads", request_body = CompleteUploads,
    responses((status = 200, body = CompletedUploads), (status = 400, body = filegate_api::ErrorBody)))]
pub async fn complete_batch(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Json(req): Json<CompleteUploads>,
) -> ApiResult<Json<CompletedUploads>> {
    let max = state.services.settings.max_batch;
    if req.uploads.is_empty() || req.uploads.len() > max {
        return Err(Error::invalid(ErrorCode::TooManyItems, format!("a batch holds 1 to {max} items")).into());
    }
    let mut results = Vec::with_capacity(req.uploads.len());
    let mut items = Vec::new();
    for CompleteItem {
        file_id,
        size,
        sha256,
        etag,
        parts,
    } in req.uploads
    {
        match FileId::parse(&file_id).and_then(|id| Ok((id, parse_completion(size, sha256, etag, parts)?))) {
            Ok(item) => items.push(item),
            Err(e) => results.push(item_error(file_id, &e)),
        }
    }
    if !items.is_empty() {
        for (id, outcome) in uploads::complete_batch(&state.services, &principal, items).await? {
            results.push(match outcome {
                Ok(file) => CompleteResult {
                    file_id: id.to_string(),
                    file: Some(views::file(file)),
                    error: None,
                },
                Err(e) => item_error(id.to_string(), &e),
            });
        }
    }
    let confirmed = results.iter().filter(|r| r.file.is_some()).count();
    Ok(Json(CompletedUploads { confirmed, results }))
}

fn item_error(file_id: String, e: &Error) -> CompleteResult {
    let (status, code, message) = classify(e);
    if let Error::Internal(err) = e {
        tracing::error!(error = format!("{err:#}"), %file_id, "batch item failed");
    }
    CompleteResult {
        file_id,
        file: None,
        error: Some(ItemError {
            code: code.as_str().to_owned(),
            status: status.as_u16(),
            message,
        }),
    }
}

/// Aborts a pending upload and frees its parts; the file ends `expired`.
#[utoipa::path(delete, path = "/v1/uploads/{file_id}", tag = "uploads", params(("file_id" = String, Path)),
    responses((status = 200, body = FileView), (status = 404, body = filegate_api::ErrorBody), (status = 409, body = filegate_api::ErrorBody)))]
pub async fn abort(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(file_id): Path<String>,
) -> ApiResult<Json<FileView>> {
    let id = FileId::parse(&file_id)?;
    Ok(Json(views::file(
        uploads::abort(&state.services, &principal, id).await?,
    )))
}
