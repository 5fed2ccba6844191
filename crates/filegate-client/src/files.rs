//! `/v1/files`: reading, listing, changing and deleting files.

use chrono::{DateTime, SecondsFormat, Utc};
use filegate_api::{BatchDeleted, ChangeList, DownloadView, FileList, FileView, PatchFile, StatusView};
use futures::{Stream, TryStreamExt, stream};
use reqwest::{Method, header};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{Client, ContentResponse, Error, Result};

/// The filters and paging of `GET /v1/files`; `None` fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFiles {
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    /// `/`: only the files directly in the folder `prefix` names, not in its subfolders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    pub status: Option<String>,
    pub content_type: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// `metadata.KEY=VALUE`: only the files whose metadata has every one of these pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<(String, String)>,
    /// Only the files with this external id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// `created_at`, `-created_at`, `name` or `size`.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Instead of `cursor`; the answer then carries `total`.
    pub offset: Option<u64>,
}

impl ListFiles {
    /// All files of a bucket (the first page).
    pub fn bucket(bucket: impl Into<String>) -> ListFiles {
        ListFiles {
            bucket: Some(bucket.into()),
            ..ListFiles::default()
        }
    }

    /// The query string's pairs, in a stable order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let pairs = [
            ("bucket", self.bucket.clone()),
            ("prefix", self.prefix.clone()),
            ("delimiter", self.delimiter.clone()),
            ("status", self.status.clone()),
            ("content_type", self.content_type.clone()),
            ("created_after", self.created_after.as_ref().map(time)),
            ("created_before", self.created_before.as_ref().map(time)),
            ("min_size", self.min_size.map(|v| v.to_string())),
            ("max_size", self.max_size.map(|v| v.to_string())),
            ("external_id", self.external_id.clone()),
            ("sort", self.sort.clone()),
            ("limit", self.limit.map(|v| v.to_string())),
            ("cursor", self.cursor.clone()),
            ("offset", self.offset.map(|v| v.to_string())),
        ];
        let metadata = self.metadata.iter().map(|(k, v)| (format!("metadata.{k}"), v.clone()));
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .chain(metadata)
            .collect()
    }
}

/// The conditional and partial parts of `GET /v1/files/{id}/content`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentRequest {
    /// A `Range` header value, e.g. `bytes=0-99`.
    pub range: Option<String>,
    /// An `If-None-Match` header value (a quoted etag, as `ContentResponse::etag` gives).
    pub if_none_match: Option<String>,
}

/// How a download URL asks browsers to treat the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Inline,
    Attachment,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Inline => "inline",
            Disposition::Attachment => "attachment",
        }
    }
}

/// Appends `pairs` to a URL's query string.
pub(crate) fn with_query<K: AsRef<str>, V: AsRef<str>>(mut url: Url, pairs: impl IntoIterator<Item = (K, V)>) -> Url {
    let mut pairs = pairs.into_iter().peekable();
    if pairs.peek().is_some() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    url
}

impl Client {
    /// `GET /v1/files/{id}`
    pub async fn get_file(&self, id: &str) -> Result<FileView> {
        self.send_json(self.request(Method::GET, &["v1", "files", id])?).await
    }

    /// `GET /v1/files/{id}/status`
    pub async fn file_status(&self, id: &str) -> Result<StatusView> {
        self.send_json(self.request(Method::GET, &["v1", "files", id, "status"])?)
            .await
    }

    /// `GET /v1/files/{id}/download`: a signed URL to fetch the bytes from.
    pub async fn download_url(&self, id: &str, disposition: Option<Disposition>) -> Result<DownloadView> {
        let url = self.url(&["v1", "files", id, "download"])?;
        let url = with_query(url, disposition.map(|d| ("disposition", d.as_str())));
        self.send_json(self.request_url(Method::GET, url)).await
    }

    /// `GET /v1/files/{id}/content`: the bytes, streamed (200, 206 or 304).
    pub async fn content(&self, id: &str, request: ContentRequest) -> Result<ContentResponse> {
        let mut rb = self.request(Method::GET, &["v1", "files", id, "content"])?;
        if let Some(range) = request.range {
            rb = rb.header(header::RANGE, range);
        }
        if let Some(etag) = request.if_none_match {
            rb = rb.header(header::IF_NONE_MATCH, etag);
        }
        ContentResponse::from_response(rb.send().await?).await
    }

    /// `GET /v1/files/{id}/thumbnail?size=`: a rendered thumbnail of a ready picture
    /// (`size` defaults to the server's, 256). 404 when there is none of that size.
    pub async fn thumbnail(&self, id: &str, size: Option<u32>) -> Result<ContentResponse> {
        let url = self.url(&["v1", "files", id, "thumbnail"])?;
        let size = size.map(|s| s.to_string());
        let url = with_query(url, size.as_deref().map(|s| ("size", s)));
        ContentResponse::from_response(self.request_url(Method::GET, url).send().await?).await
    }

    /// `GET /v1/files?…`: one page.
    pub async fn list_files(&self, query: &ListFiles) -> Result<FileList> {
        let url = with_query(self.url(&["v1", "files"])?, query.query_pairs());
        self.send_json(self.request_url(Method::GET, url)).await
    }

    /// Every file matching `query`, page after page (following `next_cursor`).
    pub fn list_all_files(&self, query: ListFiles) -> impl Stream<Item = Result<FileView>> + '_ {
        let first = Some(ListFiles { offset: None, ..query });
        stream::try_unfold(first, move |next| async move {
            let Some(query) = next else {
                return Ok::<_, Error>(None);
            };
            let page = self.list_files(&query).await?;
            let next = page.next_cursor.map(|cursor| ListFiles {
                cursor: Some(cursor),
                ..query
            });
            Ok(Some((stream::iter(page.items.into_iter().map(Ok)), next)))
        })
        .try_flatten()
    }

    /// `GET /v1/files/changes?since=&limit=`: files changed since a cursor (deletions
    /// included); pass `next_cursor` as `since` next time.
    pub async fn changes(&self, since: Option<&str>, limit: Option<u32>) -> Result<ChangeList> {
        let limit = limit.map(|l| l.to_string());
        let pairs = [("since", since), ("limit", limit.as_deref())];
        let url = with_query(
            self.url(&["v1", "files", "changes"])?,
            pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))),
        );
        self.send_json(self.request_url(Method::GET, url)).await
    }

    /// `PATCH /v1/files/{id}`: move it and/or replace its metadata.
    pub async fn patch_file(&self, id: &str, patch: &PatchFile) -> Result<FileView> {
        self.send_json(self.request(Method::PATCH, &["v1", "files", id])?.json(patch))
            .await
    }

    /// `DELETE /v1/files/{id}`: the file, now `deleted` (restorable for a while).
    pub async fn delete_file(&self, id: &str) -> Result<FileView> {
        self.send_json(self.request(Method::DELETE, &["v1", "files", id])?)
            .await
    }

    /// `POST /v1/files/{id}/restore`
    pub async fn restore_file(&self, id: &str) -> Result<FileView> {
        self.send_json(self.request(Method::POST, &["v1", "files", id, "restore"])?)
            .await
    }

    /// `DELETE /v1/files?ids=a,b,c` (at most 1000 ids).
    pub async fn delete_files<S: AsRef<str>>(&self, ids: &[S]) -> Result<BatchDeleted> {
        let ids = ids.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",");
        let url = with_query(self.url(&["v1", "files"])?, [("ids", ids)]);
        self.send_json(self.request_url(Method::DELETE, url)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_empty_query_has_no_pairs_and_no_question_mark() {
        assert!(ListFiles::default().query_pairs().is_empty());
        let url = Url::parse("http://h/v1/files").unwrap();
        let none: [(&str, &str); 0] = [];
        assert_eq!(with_query(url, none).as_str(), "http://h/v1/files");
    }

    #[test]
    fn set_fields_become_encoded_pairs() {
        let q = ListFiles {
            prefix: Some("2026/11 ward&a".into()),
            created_after: Some(Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()),
            min_size: Some(10),
            sort: Some("-created_at".into()),
            limit: Some(50),
            offset: Some(100),
            ..ListFiles::bucket("reports")
        };
        let pairs = q.query_pairs();
        assert_eq!(pairs[0], ("bucket".to_owned(), "reports".to_owned()));
        assert!(pairs.contains(&("created_after".to_owned(), "2026-11-01T08:00:00Z".to_owned())));
        assert_eq!(pairs.len(), 7);
        let url = with_query(Url::parse("http://h/v1/files").unwrap(), pairs);
        assert_eq!(
            url.query(),
            Some(
                "bucket=reports&prefix=2026%2F11+ward%26a&created_after=2026-11-01T08%3A00%3A00Z\
                 &min_size=10&sort=-created_at&limit=50&offset=100"
            )
        );
        let back: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(back[1], ("prefix".into(), "2026/11 ward&a".into()));
    }

    #[test]
    fn metadata_pairs_and_the_external_id_are_filters_too() {
        let q = ListFiles {
            metadata: vec![("subject".into(), "9434765919".into()), ("ward".into(), "a&b".into())],
            external_id: Some("MRN 1".into()),
            ..ListFiles::default()
        };
        let url = with_query(Url::parse("http://h/v1/files").unwrap(), q.query_pairs());
        assert_eq!(
            url.query(),
            Some("external_id=MRN+1&metadata.subject=9434765919&metadata.ward=a%26b")
        );
    }

    #[test]
    fn dispositions_are_the_wire_words() {
        assert_eq!(Disposition::Inline.as_str(), "inline");
        assert_eq!(Disposition::Attachment.as_str(), "attachment");
    }
}
