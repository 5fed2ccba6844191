//! `POST /v1/files`: a multipart form streamed through the gateway into storage (for
//! clients that cannot use a signed URL).
//! Fields `bucket`, `path` (or `prefix`), optional `metadata` (JSON), `content_type`,
//! `external_id`, then `file` last, streamed into the blob store.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::extract::multipart::Field;
use http::StatusCode;

use filegate_api::FileView;
use filegate_core::domain::{BucketName, ContentType, Metadata, ObjectPath, parse_prefix};
use filegate_core::usecases::proxied::{self, ProxiedUpload};
use filegate_core::usecases::uploads::parse_external_id;
use filegate_core::{Error, ErrorCode, Result};

use super::error::ApiResult;
use super::extract::{Json, MultipartForm};
use super::pipe;
use super::views;
use crate::auth::Authenticated;
use crate::state::AppState;

/// Text fields are small; a larger one is a client bug or an attack.
const MAX_FIELD_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Fields {
    bucket: Option<String>,
    path: Option<String>,
    prefix: Option<String>,
    metadata: Option<String>,
    content_type: Option<String>,
    external_id: Option<String>,
}

fn bad_form(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidForm, message)
}

async fn small_text(field: &mut Field<'_>) -> Result<String> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| bad_form(e.body_text()))? {
        if out.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(bad_form(format!(
                "a text field may hold at most {MAX_FIELD_BYTES} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).map_err(|_| bad_form("text fields must be UTF-8"))
}

fn upload_request(fields: Fields, file_name: Option<&str>, part_type: Option<&str>) -> Result<ProxiedUpload> {
    let bucket = BucketName::parse(
        fields
            .bucket
            .as_deref()
            .ok_or_else(|| bad_form("send `bucket` before `file`"))?,
    )?;
    let path = match (fields.path, fields.prefix) {
        (Some(path), _) => ObjectPath::parse(&path)?,
        (None, prefix) => {
            let name = file_name.ok_or_else(|| bad_form("send `path`, or a file part with a filename"))?;
            ObjectPath::join(&parse_prefix(prefix.as_deref().unwrap_or(""))?, name)?
        }
    };
    let content_type = match fields.content_type.as_deref().or(part_type) {
        Some(ct) => ContentType::parse(ct)?,
        None => ContentType::octet_stream(),
    };
    let metadata = match fields.metadata {
        Some(json) => {
            let map: BTreeMap<String, String> = serde_json::from_str(&json)
                .map_err(|_| Error::invalid(ErrorCode::InvalidMetadata, "metadata must be a JSON object of strings"))?;
            Metadata::parse(map)?
        }
        None => Metadata::default(),
    };
    let external_id = fields.external_id.as_deref().map(parse_external_id).transpose()?;
    Ok(ProxiedUpload {
        bucket,
        path,
        content_type,
        metadata,
        external_id,
    })
}

/// Uploads a file through the gateway.
#[utoipa::path(post, path = "/v1/files", tag = "files",
    request_body(content_type = "multipart/form-data", description = "bucket, path or prefix, metadata (JSON), then file"),
    responses((status = 201, body = FileView), (status = 400, body = filegate_api::ErrorBody),
              (status = 413, body = filegate_api::ErrorBody), (status = 415, body = filegate_api::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    mut form: MultipartForm,
) -> ApiResult<(StatusCode, Json<FileView>)> {
    let mut fields = Fields::default();
    loop {
        let mut field = form
            .next_field()
            .await
            .map_err(|e| bad_form(e.body_text()))?
            .ok_or_else(|| bad_form("the form has no `file` field"))?;
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "bucket" | "bucketName" => &mut fields.bucket,
            "path" => &mut fields.path,
            "prefix" => &mut fields.prefix,
            "metadata" => &mut fields.metadata,
            "content_type" => &mut fields.content_type,
            "external_id" => &mut fields.external_id,
            "file" => {
                let file_name = field.file_name().map(str::to_owned);
                let part_type = field.content_type().map(str::to_owned);
                let request = upload_request(fields, file_name.as_deref(), part_type.as_deref())?;
                let file = pipe::field_into(&mut field, |body| {
                    proxied::upload(&state.services, &principal, request, body)
                })
                .await?;
                return Ok((StatusCode::CREATED, Json(views::file(file))));
            }
            other => return Err(bad_form(format!("unknown form field {other:?}")).into()),
        };
        *slot = Some(small_text(&mut field).await?);
    }
}
