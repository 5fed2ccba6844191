//! Extractors whose rejections are our JSON errors (axum's own answer in plain text).

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use filegate_core::ErrorCode;

use super::error::{error_response, error_response_as};
use super::form_head;

/// `axum::Json`, with malformed, wrongly typed, unknown-field and oversize bodies answered
/// as API errors.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(BadRequest))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(BadRequest))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(BadRequest))]
pub struct Path<T>(pub T);

/// A query string with `metadata.KEY=VALUE` parameters, KEY any metadata key: those are
/// taken apart (`metadata`, in their order, KEY without the `metadata.`), and the others
/// deserialize into `T` as [`Query`] would (unknown ones refused, if `T` says so).
pub struct MetadataQuery<T> {
    pub params: T,
    pub metadata: Vec<(String, String)>,
}

/// What precedes a metadata key in a query parameter's name.
const METADATA_PARAM: &str = "metadata.";

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for MetadataQuery<T> {
    type Rejection = BadRequest;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let invalid = |e: serde_urlencoded::de::Error| {
            BadRequest(error_response(
                ErrorCode::InvalidQuery,
                format!("Failed to deserialize query string: {e}"),
            ))
        };
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()).map_err(invalid)?;
        let (metadata, others): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| k.starts_with(METADATA_PARAM));
        let metadata = metadata
            .into_iter()
            .map(|(k, v)| (k[METADATA_PARAM.len()..].to_owned(), v))
            .collect();
        // The others back into a query string (they came out of one, so they go back in)
        // for `T`'s own rules: types, defaults, unknown names.
        let others = serde_urlencoded::to_string(&others).unwrap_or_default();
        let params = serde_urlencoded::from_str(&others).map_err(invalid)?;
        Ok(Self { params, metadata })
    }
}

/// A request axum could not even parse.
pub struct BadRequest(Response);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        self.0
    }
}

impl From<JsonRejection> for BadRequest {
    fn from(r: JsonRejection) -> Self {
        let code = match &r {
            JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
            JsonRejection::JsonSyntaxError(_) => ErrorCode::InvalidJson,
            JsonRejection::JsonDataError(_) => ErrorCode::InvalidBody,
            // Whatever else axum refuses (a body that broke off) keeps axum's status.
            _ => return Self(error_response_as(r.status(), ErrorCode::InvalidBody, r.body_text())),
        };
        Self(error_response(code, r.body_text()))
    }
}

impl From<QueryRejection> for BadRequest {
    fn from(r: QueryRejection) -> Self {
        Self(error_response(ErrorCode::InvalidQuery, r.body_text()))
    }
}

impl From<PathRejection> for BadRequest {
    fn from(r: PathRejection) -> Self {
        Self(error_response(ErrorCode::InvalidPathParameter, r.body_text()))
    }
}

/// `axum::extract::Multipart` for forms whose last field is `file`: a body that is not a
/// multipart form is answered as `invalid-form` like every other form error, and what comes
/// before `file` may be at most [`form_head::MAX_FORM_HEAD`] bytes (the parser buffers it).
pub struct MultipartForm {
    form: axum::extract::Multipart,
    head: form_head::Head,
}

impl<S: Send + Sync> FromRequest<S> for MultipartForm {
    type Rejection = BadRequest;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let (body, head) = form_head::limit(body.into_data_stream(), form_head::MAX_FORM_HEAD);
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from_stream(body));
        let form = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|r| BadRequest(error_response_as(r.status(), ErrorCode::InvalidForm, r.body_text())))?;
        Ok(Self { form, head })
    }
}

impl MultipartForm {
    /// The next field; reaching `file` lifts the head limit for its bytes.
    pub async fn next_field(&mut self) -> Result<Option<Field<'_>>, FormError> {
        match self.form.next_field().await {
            Ok(Some(field)) => {
                if field.name() == Some("file") {
                    self.head.lift();
                }
                Ok(Some(field))
            }
            Ok(None) => Ok(None),
            Err(_) if self.head.exceeded() => Err(FormError::HeadTooLarge),
            Err(e) => Err(FormError::Parse(e)),
        }
    }
}

pub enum FormError {
    HeadTooLarge,
    Parse(MultipartError),
}

impl FormError {
    /// What to tell the client (as `MultipartError::body_text`).
    pub fn body_text(&self) -> String {
        match self {
            Self::HeadTooLarge => form_head::HeadTooLarge(form_head::MAX_FORM_HEAD).to_string(),
            Self::Parse(e) => e.body_text(),
        }
    }
}

/// A JSON body that may also be absent (an empty body is the type's default), for calls
/// like `complete` where every field is optional.
pub struct JsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for JsonOrEmpty<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Default,
{
    type Rejection = BadRequest;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|r| {
            let code = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorCode::BodyTooLarge
            } else {
                ErrorCode::InvalidBody
            };
            BadRequest(error_response_as(r.status(), code, r.body_text()))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes).map(Self).map_err(|e| {
            // The same codes as `Json`: unparsable is `invalid-json`, the wrong shape `invalid-body`.
            let code = if e.is_data() {
                ErrorCode::InvalidBody
            } else {
                ErrorCode::InvalidJson
            };
            BadRequest(error_response(code, e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::extract::FromRequest as _;
    use bytes::Bytes;

    use super::*;

    /// A form body: `prefix`, then 64 KiB chunks of `a` up to 64 MiB (never a boundary),
    /// counting what the server pulls.
    fn endless_form(prefix: &'static [u8], pulled: Arc<AtomicU64>) -> axum::extract::Request {
        let chunks =
            std::iter::once(Bytes::from_static(prefix)).chain((0..1024).map(|_| Bytes::from(vec![b'a'; 64 * 1024])));
        let body = futures::stream::iter(chunks.map(move |c| {
            pulled.fetch_add(c.len() as u64, Ordering::SeqCst);
            Ok::<_, std::io::Error>(c)
        }));
        http::Request::builder()
            .method("POST")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(axum::body::Body::from_stream(body))
            .unwrap()
    }

    /// The parser buffers what comes before a boundary and a part's headers; a body that
    /// never ends them is cut off at the head limit, not read (and held) whole.
    #[tokio::test]
    async fn a_form_without_a_boundary_or_the_end_of_its_headers_is_cut_off() {
        for prefix in [
            &b""[..],
            b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\nX-Pad: ",
        ] {
            let pulled = Arc::new(AtomicU64::new(0));
            let mut form = MultipartForm::from_request(endless_form(prefix, pulled.clone()), &())
                .await
                .ok()
                .unwrap();
            let Err(err) = form.next_field().await else {
                panic!("a form without a boundary was read")
            };
            assert!(
                err.body_text().contains("before its `file` field"),
                "{}",
                err.body_text()
            );
            let pulled = pulled.load(Ordering::SeqCst);
            assert!(pulled <= form_head::MAX_FORM_HEAD + 256 * 1024, "pulled {pulled} bytes");
        }
    }

    #[tokio::test]
    async fn the_file_field_streams_past_the_head_limit() {
        // Past the head limit, under axum's default body limit (no `DefaultBodyLimit` layer here).
        let file = vec![b'f'; 3 * form_head::MAX_FORM_HEAD as usize / 2];
        // Six small fields first, as the proxied upload sends them.
        let mut body = Vec::new();
        for name in ["bucket", "path", "metadata", "content_type", "external_id", "key"] {
            body.extend_from_slice(
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\nk\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n");
        body.extend_from_slice(&file);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let req = http::Request::builder()
            .method("POST")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(axum::body::Body::from_stream(futures::stream::iter(
                // All ready at once, as from a fast client: the file's bytes are not head.
                body.chunks(64 * 1024)
                    .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                    .collect::<Vec<_>>(),
            )))
            .unwrap();
        let mut form = MultipartForm::from_request(req, &()).await.ok().unwrap();
        for _ in 0..6 {
            let mut small = form.next_field().await.ok().flatten().unwrap();
            assert_eq!(small.chunk().await.unwrap().unwrap(), "k");
        }
        let mut field = form.next_field().await.ok().flatten().unwrap();
        assert_eq!(field.name(), Some("file"));
        let mut received = Vec::new();
        while let Some(chunk) = field.chunk().await.unwrap() {
            received.extend_from_slice(&chunk);
        }
        assert_eq!(received, file);
    }
}
