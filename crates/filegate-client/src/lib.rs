//! A typed Rust client for filegate's HTTP API v1 (docs/api.md, docs/http-reference.md).
//!
//! One [`Client`] holds one connection pool; it is cheap to clone, and a clone with a
//! different token ([`Client::with_token`]) shares the pool. Every route has one method,
//! taking and returning the wire types of [`filegate_api`]; non-2xx answers become
//! [`Error::Api`] with the server's stable `code`.
//!
//! For local files: [`Client::upload_path`] (single PUT or multipart with several parts in
//! flight, the sha256 of the bytes read checked on `complete`, age encryption while
//! streaming, a journal that lets an interrupted multipart upload resume, progress and a
//! bandwidth limit) and [`Client::download_file`] (through the signed URL, resumed with
//! `Range`, the sha256 checked before the file takes its name). The `filegate` CLI is
//! built on them.
//!
//! ```no_run
//! # async fn demo() -> filegate_client::Result<()> {
//! use bytes::Bytes;
//! use filegate_client::{Client, ContentRequest};
//! use std::time::Duration;
//!
//! let client = Client::new("http://127.0.0.1:8080")?.with_token("fg_live_...".to_owned());
//!
//! // Presigned upload (create → PUT or multipart parts → complete), in one call.
//! let file = client
//!     .upload_bytes("reports", "2026/11/ward-a.csv", "text/csv", Bytes::from_static(b"a,b\n1,2\n"))
//!     .await?;
//! // Wait for the pipeline, then read the bytes back.
//! let file = client.wait_for_status(&file.id, &["ready", "failed", "quarantined"], Duration::from_secs(30)).await?;
//! assert_eq!(file.status, "ready");
//! let body = client.content(&file.id, ContentRequest::default()).await?.bytes().await?;
//! assert_eq!(&body[..], b"a,b\n1,2\n");
//!
//! // Errors carry the server's code.
//! match client.get_file("no-such-id").await {
//!     Err(e) if e.is("not-found") => {}
//!     other => panic!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```

mod account;
mod admin;
mod audit;
mod download;
mod encrypt;
mod error;
mod exchange;
mod files;
mod ops;
mod parts;
mod quotas;
mod response;
mod resume;
mod search;
mod shares;
mod signed;
mod taps;
mod transfer;
mod upload_path;
mod uploads;
mod webhooks;

use std::{fmt, sync::Arc, time::Duration};

use reqwest::{IntoUrl, Method, RequestBuilder};
use serde::de::DeserializeOwned;
use url::Url;

pub use download::{DownloadOptions, DownloadReport};
pub use encrypt::{AgeEncryption, DEFAULT_WORK_FACTOR};
pub use error::{Error, Result, UNEXPECTED_RESPONSE};
pub use filegate_api as api;
pub use files::{ContentRequest, Disposition, ListFiles};
pub use reqwest::Body;
pub use response::{ByteStream, ContentResponse};
pub use resume::ResumeStore;
pub use search::Search;
pub use shares::SHARE_PASSWORD_HEADER;
pub use signed::Payload;
pub use taps::{Progress, RateLimit, Taps};
pub use transfer::{PART_PARALLELISM, UploadSource};
pub use upload_path::{DEFAULT_MULTIPART_THRESHOLD, UploadOptions, UploadReport};
pub use uploads::FormUpload;

/// The client. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<Arc<str>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Builds a [`Client`] with more than the defaults.
#[derive(Debug)]
pub struct ClientBuilder {
    base: Result<Url>,
    token: Option<String>,
    user_agent: String,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// The bearer token (a JWT or an API key).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// A limit on every whole request, body included (none by default: uploads and
    /// downloads of large files take as long as they take).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Use this `reqwest::Client` (and its pool and settings) instead of building one;
    /// the user agent and timeouts of this builder are then ignored.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    pub fn build(self) -> Result<Client> {
        let base = self.base?;
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut b = reqwest::Client::builder().user_agent(self.user_agent);
                if let Some(t) = self.connect_timeout {
                    b = b.connect_timeout(t);
                }
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                b.build()?
            }
        };
        Ok(Client {
            http,
            base,
            token: self.token.map(Arc::from),
        })
    }
}

/// Checks that a base URL can have paths appended, and drops its query and fragment.
fn parse_base(base: impl IntoUrl) -> Result<Url> {
    let mut url = base.into_url().map_err(|e| Error::Invalid(format!("base URL: {e}")))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Invalid(format!("base URL {url} is not an http(s) URL")));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`; a path
    /// prefix such as `https://example.org/filegate/` is kept), without a token.
    pub fn new(base_url: impl IntoUrl) -> Result<Client> {
        Client::builder(base_url).build()
    }

    pub fn builder(base_url: impl IntoUrl) -> ClientBuilder {
        ClientBuilder {
            base: parse_base(base_url),
            token: None,
            user_agent: concat!("filegate-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Some(Duration::from_secs(10)),
            timeout: None,
            http: None,
        }
    }

    /// This client (sharing its pool) sending `Authorization: Bearer <token>`.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client {
            token: Some(Arc::from(token.into())),
            ..self.clone()
        }
    }

    /// This client (sharing its pool) sending no `Authorization` header.
    pub fn without_token(&self) -> Client {
        Client {
            token: None,
            ..self.clone()
        }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The inner `reqwest::Client`, for requests this crate has no method for.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL of a route: `segments` are appended to the base URL, each one
    /// percent-encoded, so an id can never change the route. Empty, `.` and `..`
    /// segments (which URLs cannot carry as such) are refused.
    pub fn url(&self, segments: &[&str]) -> Result<Url> {
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            return Err(Error::Invalid(format!("{bad:?} cannot be a path segment")));
        }
        let mut url = self.base.clone();
        // `parse_base` made sure the base can take path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        Ok(url)
    }

    /// A request to a route of this server, with the bearer token when there is one.
    /// With [`Client::send_json`] this is the escape hatch for requests the typed
    /// methods cannot express (malformed bodies in tests, say).
    pub fn request(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder> {
        Ok(self.request_url(method, self.url(segments)?))
    }

    pub(crate) fn request_url(&self, method: Method, url: Url) -> RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.token {
            Some(token) => rb.bearer_auth(&**token),
            None => rb,
        }
    }

    /// Sends a request and decodes a 2xx JSON answer (any other status is an error).
    pub async fn send_json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        response::json(request.send().await?).await
    }

    /// Sends a request and checks its answer is 2xx, ignoring the body.
    pub async fn send_empty(&self, request: RequestBuilder) -> Result<()> {
        response::success(request.send().await?).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls_append_encoded_segments_to_the_base() {
        let c = Client::new("http://127.0.0.1:8080").unwrap();
        let url = |c: &Client, segments: &[&str]| c.url(segments).unwrap().to_string();
        assert_eq!(url(&c, &["v1", "files", "abc"]), "http://127.0.0.1:8080/v1/files/abc");
        let c = Client::new("https://example.org/filegate/?x=1#f").unwrap();
        assert_eq!(url(&c, &["healthz"]), "https://example.org/filegate/healthz");
        let c = Client::new("https://example.org/filegate").unwrap();
        assert_eq!(
            url(&c, &["v1", "files", "a/../b?c#d"]),
            "https://example.org/filegate/v1/files/a%2F..%2Fb%3Fc%23d"
        );
        for bad in ["", ".", ".."] {
            assert!(
                matches!(c.url(&["v1", "files", bad]), Err(Error::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_base_urls_are_refused() {
        assert!(matches!(Client::new("not a url"), Err(Error::Invalid(_))));
        assert!(matches!(Client::new("mailto:x@example.org"), Err(Error::Invalid(_))));
        assert!(matches!(Client::new("ftp://example.org/"), Err(Error::Invalid(_))));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let c = Client::new("http://localhost/").unwrap().with_token("secret-token");
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(format!("{:?}", c.without_token()).contains("None"));
    }
}
