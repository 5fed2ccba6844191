//! `/v1/uploads` (presigned uploads), `POST /v1/files` (a form through the server) and
//! `POST /v1/images`.

use std::collections::BTreeMap;

use filegate_api::{
    CompleteUpload, CompleteUploads, CompletedUploads, CreateUpload, FileView, ImageUpload, PartUrls, PartsRequest,
    UploadCreated,
};
use reqwest::{Method, multipart::Form};

use crate::{Client, Error, Payload, Result, signed::file_part};

/// The fields of `POST /v1/files` (multipart/form-data); the file goes last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormUpload {
    pub bucket: String,
    /// The full path of the new file...
    pub path: Option<String>,
    /// ...or a folder for it, named by `file_name`.
    pub prefix: Option<String>,
    /// Sent as JSON text in the `metadata` field.
    pub metadata: Option<BTreeMap<String, String>>,
    /// The file part's filename.
    pub file_name: String,
    /// The file part's content type.
    pub content_type: String,
}

impl FormUpload {
    /// An upload to `path`, named after its last segment.
    pub fn new(bucket: impl Into<String>, path: impl Into<String>, content_type: impl Into<String>) -> FormUpload {
        let path = path.into();
        let file_name = path.rsplit('/').next().unwrap_or_default().to_owned();
        FormUpload {
            bucket: bucket.into(),
            path: Some(path),
            prefix: None,
            metadata: None,
            file_name,
            content_type: content_type.into(),
        }
    }

    /// The text fields, in the order they are sent.
    pub(crate) fn text_fields(&self) -> Result<Vec<(&'static str, String)>> {
        let mut fields = vec![("bucket", self.bucket.clone())];
        if let Some(path) = &self.path {
            fields.push(("path", path.clone()));
        }
        if let Some(prefix) = &self.prefix {
            fields.push(("prefix", prefix.clone()));
        }
        if let Some(metadata) = &self.metadata {
            let json = serde_json::to_string(metadata).map_err(|e| Error::Invalid(format!("metadata: {e}")))?;
            fields.push(("metadata", json));
        }
        Ok(fields)
    }
}

impl Client {
    /// `POST /v1/uploads`: a pending file and how to send its bytes.
    pub async fn create_upload(&self, request: &CreateUpload) -> Result<UploadCreated> {
        self.send_json(self.request(Method::POST, &["v1", "uploads"])?.json(request))
            .await
    }

    /// `POST /v1/uploads/{file_id}/parts`: signed URLs for more parts of a multipart upload.
    pub async fn upload_parts(&self, file_id: &str, numbers: &[u32]) -> Result<PartUrls> {
        let body = PartsRequest {
            numbers: numbers.to_vec(),
        };
        let rb = self.request(Method::POST, &["v1", "uploads", file_id, "parts"])?;
        self.send_json(rb.json(&body)).await
    }

    /// `POST /v1/uploads/{file_id}/complete`: the file, `uploaded` (or later).
    pub async fn complete_upload(&self, file_id: &str, request: &CompleteUpload) -> Result<FileView> {
        let rb = self.request(Method::POST, &["v1", "uploads", file_id, "complete"])?;
        self.send_json(rb.json(request)).await
    }

    /// `POST /v1/uploads/complete`: completes several uploads; one result per item.
    pub async fn complete_uploads(&self, request: &CompleteUploads) -> Result<CompletedUploads> {
        let rb = self.request(Method::POST, &["v1", "uploads", "complete"])?;
        self.send_json(rb.json(request)).await
    }

    /// `DELETE /v1/uploads/{file_id}`: aborts; the file comes back `expired`.
    pub async fn abort_upload(&self, file_id: &str) -> Result<FileView> {
        self.send_json(self.request(Method::DELETE, &["v1", "uploads", file_id])?)
            .await
    }

    /// `POST /v1/files`: sends the bytes through the server as a form, streaming them.
    pub async fn upload_form(&self, upload: &FormUpload, body: impl Into<Payload>) -> Result<FileView> {
        let mut form = Form::new();
        for (name, value) in upload.text_fields()? {
            form = form.text(name, value);
        }
        let form = form.part("file", file_part(body.into(), &upload.file_name, &upload.content_type)?);
        self.send_json(self.request(Method::POST, &["v1", "files"])?.multipart(form))
            .await
    }

    /// `POST /v1/images`: an image sent as base64 (or a `data:` URL) in JSON.
    pub async fn upload_image(&self, request: &ImageUpload) -> Result<FileView> {
        self.send_json(self.request(Method::POST, &["v1", "images"])?.json(request))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_come_in_order_with_metadata_as_json() {
        let mut upload = FormUpload::new("reports", "2026/11/ward-a.csv", "text/csv");
        assert_eq!(upload.file_name, "ward-a.csv");
        upload.metadata = Some(BTreeMap::from([("patient".to_owned(), "123".to_owned())]));
        let fields = upload.text_fields().unwrap();
        assert_eq!(
            fields,
            vec![
                ("bucket", "reports".to_owned()),
                ("path", "2026/11/ward-a.csv".to_owned()),
                ("metadata", r#"{"patient":"123"}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn a_prefix_upload_sends_no_path() {
        let upload = FormUpload {
            bucket: "scans".into(),
            prefix: Some("inbox/".into()),
            file_name: "x.png".into(),
            content_type: "image/png".into(),
            ..FormUpload::default()
        };
        let names: Vec<_> = upload.text_fields().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["bucket", "prefix"]);
    }
}
