//! The web app (`[web] enabled`): `/` and every `/app/…` URL answer with the one HTML shell
//! (the app reads its view from the URL, so reload, back and bookmarks work), and
//! `/assets/{version}/…` with the embedded CSS and JavaScript modules. The version is a hash
//! of all assets, so what is served under it never changes: `Cache-Control: immutable` for a
//! year; the shell itself is `no-cache` (revalidated by its `ETag`, the same version).
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles and everything
//! else from this origin only, no inline script or style, no frames. The only other origins
//! allowed are where the API's own URLs point: `public_url` (signed URLs, share links and
//! their QR codes) and the S3 store's endpoint (signed uploads go straight there).
//! Unknown `/assets/…` paths and everything outside these routes stay JSON 404s.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use filegate_core::Error;
use filegate_web::Asset;

use super::error::ApiError;
use crate::config::Config;
use crate::state::AppState;

/// How long browsers keep an asset: a year, and never revalidate it.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The headers every answer of the web app carries.
#[derive(Debug, Clone)]
struct Headers {
    csp: HeaderValue,
}

/// The routes of the web app.
pub fn routes(config: &Config) -> anyhow::Result<Router<AppState>> {
    let csp = HeaderValue::from_str(&content_security_policy(config)?)?;
    let headers = Arc::new(Headers { csp });
    let shell = {
        let headers = headers.clone();
        move |request: HeaderMap| {
            let headers = headers.clone();
            async move { serve_shell(&headers, &request) }
        }
    };
    let assets = {
        let headers = headers.clone();
        move |Path((version, path)): Path<(String, String)>, request: HeaderMap| {
            let headers = headers.clone();
            async move { serve_asset(&headers, &version, &path, &request) }
        }
    };
    Ok(Router::new()
        .route("/", get(shell.clone()))
        .route("/app", get(shell.clone()))
        .route("/app/", get(shell.clone()))
        .route("/app/{*view}", get(shell))
        .route("/assets/{version}/{*path}", get(assets)))
}

/// `default-src 'self'` and nothing inline; `extra` origins for what the API hands out.
pub fn content_security_policy(config: &Config) -> anyhow::Result<String> {
    let mut extra = Vec::new();
    if config.public_url.is_some() {
        extra.push(origin(&config.public_url()?));
    }
    if let Some(storage) = config.storage.as_deref().filter(|s| s.starts_with("s3://")) {
        let s3 = filegate_blobs::S3Config::from_url(storage)?;
        let mut endpoint = s3.endpoint.clone();
        if !s3.path_style {
            let host = endpoint.host_str().unwrap_or_default().to_owned();
            endpoint
                .set_host(Some(&format!("{}.{host}", s3.bucket)))
                .map_err(|e| anyhow::anyhow!("storage endpoint: {e}"))?;
        }
        extra.push(origin(&endpoint));
    }
    extra.sort();
    extra.dedup();
    let extra: String = extra.iter().map(|o| format!(" {o}")).collect();
    Ok(format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:{extra}; \
         connect-src 'self'{extra}; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    ))
}

fn origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

fn serve_shell(headers: &Headers, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", filegate_web::VERSION);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body(filegate_web::index(), request)
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    protect(h, headers);
    response
}

fn serve_asset(headers: &Headers, version: &str, path: &str, request: &HeaderMap) -> Response {
    let asset = (version == filegate_web::VERSION)
        .then(|| filegate_web::asset(path))
        .flatten()
        .filter(|a| a.path != "index.html");
    let Some(asset) = asset else {
        // An old version's asset after an upgrade: the shell the browser has is stale too,
        // and a reload fetches the new one.
        return ApiError(Error::not_found("asset")).into_response();
    };
    let mut response = body(asset, request);
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    protect(h, headers);
    response
}

/// The asset's bytes, gzipped when the client takes gzip.
fn body(asset: &'static Asset, request: &HeaderMap) -> Response {
    let gzip = asset.gzip.filter(|_| accepts_gzip(request));
    let mut response = match gzip {
        Some(bytes) => bytes.into_response(),
        None => asset.body.into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if asset.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                matches!(
                    p.trim().replace(' ', "").as_str(),
                    "q=0" | "q=0.0" | "q=0.00" | "q=0.000"
                )
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn protect(h: &mut HeaderMap, headers: &Headers) {
    h.insert(header::CONTENT_SECURITY_POLICY, headers.csp.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        accepts_gzip(&h)
    }

    #[test]
    fn gzip_only_when_the_client_takes_it() {
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(!accepts("br"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_policy_names_only_this_origin_and_the_stores() {
        let plain = content_security_policy(&Config::default()).unwrap();
        assert!(plain.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"));
        assert!(!plain.contains("unsafe"));
        assert!(plain.contains("connect-src 'self'; "));

        let config = Config {
            public_url: Some("https://files.example.org/gateway".into()),
            storage: Some(
                "s3://docs?endpoint=http://127.0.0.1:9000&region=x&path_style=true&access_key=a&secret_key=b".into(),
            ),
            ..Config::default()
        };
        let csp = content_security_policy(&config).unwrap();
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:9000 https://files.example.org;"),
            "{csp}"
        );
        assert!(
            csp.contains("img-src 'self' blob: http://127.0.0.1:9000 https://files.example.org;"),
            "{csp}"
        );

        let virtual_host = Config {
            storage: Some("s3://docs?region=eu-west-1&access_key=a&secret_key=b".into()),
            ..Config::default()
        };
        let csp = content_security_policy(&virtual_host).unwrap();
        assert!(
            csp.contains("connect-src 'self' https://docs.s3.eu-west-1.amazonaws.com;"),
            "{csp}"
        );
    }
}
