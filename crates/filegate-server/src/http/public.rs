//! `GET /p/{tenant}/{bucket}/{path}`: the stable, unsigned URL of a file in a public bucket,
//! for browsers and CDNs: long `Cache-Control: public`, the file's `ETag` (a new upload to
//! the path changes it), `If-None-Match` → 304, one `Range`. Everything that is not a ready
//! file of a public bucket is 404, whichever part is missing: the URL space reveals nothing.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use filegate_core::Error;
use filegate_core::domain::{BucketName, ObjectPath, TenantId};
use filegate_core::ports::Disposition;
use filegate_core::usecases::{disposition, files::Content, public};

use super::content::{header_str, respond};
use super::error::ApiError;
use super::extract::Path;
use crate::state::AppState;

/// A public file's bytes, shown inline.
pub async fn content(
    State(state): State<AppState>,
    Path((tenant, bucket, path)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        // Malformed parts name nothing that could exist.
        let hidden = |_| Error::not_found("file");
        let tenant = TenantId::parse(&tenant).map_err(hidden)?;
        let bucket = BucketName::parse(&bucket).map_err(hidden)?;
        let path = ObjectPath::parse(&path).map_err(hidden)?;
        public::content(
            &state.services,
            &tenant,
            &bucket,
            &path,
            header_str(&headers, header::IF_NONE_MATCH),
            header_str(&headers, header::RANGE),
        )
        .await
    }
    .await;
    let content = match answer {
        Ok(content) => content,
        Err(e) => return ApiError(e).into_response(),
    };
    // Inline, but HTML, SVG and script as attachments unless the bucket shows them.
    let shown = match &content {
        Content::Bytes { file, .. } => disposition::for_file(&state.services, file, Disposition::Inline).await,
        _ => Ok(Disposition::Inline),
    };
    let shown = match shown {
        Ok(shown) => shown,
        Err(e) => return ApiError(e).into_response(),
    };
    let mut response = respond(content, shown, "public");
    if matches!(
        response.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        let max_age = state.services.settings.public_max_age.as_secs();
        let headers = response.headers_mut();
        if let Ok(cache) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
            headers.insert(header::CACHE_CONTROL, cache);
        }
    }
    response
}
