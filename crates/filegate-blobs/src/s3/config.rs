//! Where the S3-compatible store is and how to sign for it: `s3://BUCKET?...` URLs.
//!
//! ```text
//! s3://BUCKET?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true&access_key=AK&secret_key=SK
//! ```
//!
//! | parameter | default |
//! |---|---|
//! | `endpoint` | `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then AWS: `https://s3.<region>.amazonaws.com` |
//! | `region` | `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1` |
//! | `path_style` | `true` with a custom endpoint (MinIO, Garage, Ceph, R2 and the like), `false` (virtual-host) on AWS |
//! | `access_key` | `AWS_ACCESS_KEY_ID` |
//! | `secret_key` | `AWS_SECRET_ACCESS_KEY` |
//!
//! Values are percent-decoded, and a `+` stays a `+` (secret keys often hold one). Unknown or
//! repeated parameters are refused, so a typo fails at start-up instead of being ignored.

use std::fmt;

use anyhow::{Context as _, bail, ensure};
use url::Url;

/// Where an S3-compatible bucket is and the credentials to use it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The service endpoint, without the bucket (`https://s3.eu-west-1.amazonaws.com`,
    /// `http://127.0.0.1:9000`).
    pub endpoint: Url,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// `https://endpoint/bucket/key` when true, `https://bucket.endpoint/key` otherwise.
    pub path_style: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"[redacted]")
            .field("path_style", &self.path_style)
            .finish()
    }
}

const PARAMS: [&str; 5] = ["endpoint", "region", "path_style", "access_key", "secret_key"];

impl S3Config {
    /// Parses an `s3://BUCKET?...` URL, taking what it leaves out from the environment
    /// (see the module docs).
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        Self::from_url_with_env(url, |name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`from_url`](Self::from_url) with the environment given as a lookup function.
    pub fn from_url_with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let parsed = Url::parse(url).map_err(|e| anyhow::anyhow!("invalid storage URL: {e}"))?;
        ensure!(
            parsed.scheme() == "s3",
            "an S3 storage URL starts with s3://, got {}://",
            parsed.scheme()
        );
        ensure!(
            parsed.username().is_empty() && parsed.password().is_none(),
            "put the S3 credentials in access_key= and secret_key=, not before the bucket"
        );
        let bucket = parsed.host_str().unwrap_or_default().to_owned();
        ensure!(
            !bucket.is_empty(),
            "the S3 storage URL names no bucket: s3://BUCKET?..."
        );
        ensure!(
            parsed.port().is_none() && matches!(parsed.path(), "" | "/"),
            "s3://{bucket}: the URL holds only the bucket; the server goes in endpoint="
        );
        ensure!(parsed.fragment().is_none(), "the S3 storage URL has a #fragment");

        let mut given: [Option<String>; 5] = Default::default();
        for pair in parsed.query().unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(i) = PARAMS.iter().position(|p| *p == name) else {
                bail!(
                    "unknown S3 storage URL parameter {name:?} (known: {})",
                    PARAMS.join(", ")
                );
            };
            ensure!(given[i].is_none(), "the S3 storage URL repeats {name}=");
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .with_context(|| format!("{name}= is not UTF-8 once percent-decoded"))?;
            given[i] = Some(value.into_owned());
        }
        let [endpoint, region, path_style, access_key, secret_key] = given;

        let region = region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        ensure!(
            !region.is_empty() && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "invalid S3 region {region:?}"
        );
        let custom = endpoint
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let (endpoint, custom) = match custom {
            Some(e) => (e, true),
            None => (format!("https://s3.{region}.amazonaws.com"), false),
        };
        let endpoint = Url::parse(&endpoint).with_context(|| format!("invalid S3 endpoint {endpoint:?}"))?;
        ensure!(
            matches!(endpoint.scheme(), "http" | "https") && endpoint.host_str().is_some(),
            "the S3 endpoint must be an http(s) URL with a host, got {endpoint}"
        );
        ensure!(
            endpoint.query().is_none() && endpoint.username().is_empty() && endpoint.password().is_none(),
            "the S3 endpoint must not carry a query or credentials: {endpoint}"
        );
        let path_style = match path_style.as_deref() {
            None => custom,
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => bail!("path_style= is true or false, got {other:?}"),
        };
        let missing = |what: &str, param: &str, var: &str| {
            format!("no S3 {what}: set {param}= in the storage URL or {var} in the environment")
        };
        let access_key = access_key
            .or_else(|| env("AWS_ACCESS_KEY_ID"))
            .with_context(|| missing("access key", "access_key", "AWS_ACCESS_KEY_ID"))?;
        let secret_key = secret_key
            .or_else(|| env("AWS_SECRET_ACCESS_KEY"))
            .with_context(|| missing("secret key", "secret_key", "AWS_SECRET_ACCESS_KEY"))?;

        let config = Self {
            endpoint,
            bucket,
            region,
            access_key,
            secret_key,
            path_style,
        };
        config.bucket()?;
        Ok(config)
    }

    /// The bucket as rusty-s3 addresses it; fails when the endpoint and style cannot name it
    /// (virtual-host style with an IP address, or a bucket name that is no host label).
    pub(crate) fn bucket(&self) -> anyhow::Result<rusty_s3::Bucket> {
        let style = if self.path_style {
            rusty_s3::UrlStyle::Path
        } else {
            rusty_s3::UrlStyle::VirtualHost
        };
        rusty_s3::Bucket::new(
            self.endpoint.clone(),
            style,
            self.bucket.clone(),
            self.region.clone(),
        )
        .map_err(|e| {
            let hint = if self.path_style {
                ""
            } else {
                " (virtual-host style puts the bucket in the host name; use path_style=true for an IP address or a bucket name with dots or capitals)"
            };
            anyhow::anyhow!(
                "cannot address bucket {:?} at {}: {e:?}{hint}",
                self.bucket,
                self.endpoint
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(url: &str, env: &[(&str, &str)]) -> anyhow::Result<S3Config> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        S3Config::from_url_with_env(url, |k| env.get(k).cloned())
    }

    #[test]
    fn a_full_url_needs_no_environment() {
        let c = parse(
            "s3://media?endpoint=http://127.0.0.1:9000&region=eu-central-1&path_style=true&access_key=AK&secret_key=a%2Fb+c%3D",
            &[("AWS_ACCESS_KEY_ID", "ignored"), ("AWS_REGION", "ignored")],
        )
        .unwrap();
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:9000/");
        assert_eq!((c.bucket.as_str(), c.region.as_str()), ("media", "eu-central-1"));
        assert_eq!((c.access_key.as_str(), c.secret_key.as_str()), ("AK", "a/b+c="));
        assert!(c.path_style);
        assert_eq!(
            c.bucket().unwrap().object_url("t/x").as_str(),
            "http://127.0.0.1:9000/media/t/x"
        );
    }

    #[test]
    fn the_environment_fills_the_gaps_and_aws_is_the_default() {
        let c = parse(
            "s3://media",
            &[
                ("AWS_ACCESS_KEY_ID", "AK"),
                ("AWS_SECRET_ACCESS_KEY", "SK"),
                ("AWS_REGION", "eu-west-3"),
            ],
        )
        .unwrap();
        assert_eq!(c.endpoint.as_str(), "https://s3.eu-west-3.amazonaws.com/");
        assert!(!c.path_style, "AWS is addressed virtual-host style");
        assert_eq!((c.access_key.as_str(), c.secret_key.as_str()), ("AK", "SK"));
        assert_eq!(
            c.bucket().unwrap().object_url("t/x").as_str(),
            "https://media.s3.eu-west-3.amazonaws.com/t/x"
        );

        let c = parse(
            "s3://media/",
            &[("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")],
        )
        .unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.endpoint.as_str(), "https://s3.us-east-1.amazonaws.com/");

        let c = parse(
            "s3://media?access_key=AK&secret_key=SK",
            &[
                ("AWS_ENDPOINT_URL", "https://garage.example.net"),
                ("AWS_DEFAULT_REGION", "garage"),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.endpoint.as_str(), c.region.as_str()),
            ("https://garage.example.net/", "garage")
        );
        assert!(c.path_style, "a custom endpoint defaults to path style");
    }

    #[test]
    fn virtual_host_urls_put_the_bucket_in_the_host() {
        let c = parse(
            "s3://media?endpoint=https://minio.example.net:9000/base&path_style=false&access_key=AK&secret_key=SK",
            &[],
        )
        .unwrap();
        let bucket = c.bucket().unwrap();
        assert_eq!(bucket.base_url().as_str(), "https://media.minio.example.net:9000/base/");
        assert_eq!(
            bucket.object_url("t/default/x.y").as_str(),
            "https://media.minio.example.net:9000/base/t/default/x.y"
        );
        // An IP address cannot carry the bucket.
        let err = parse(
            "s3://media?endpoint=http://127.0.0.1:9000&path_style=false&access_key=AK&secret_key=SK",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("path_style=true"), "{err}");
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")];
        for (url, expected) in [
            ("file:///tmp", "s3://"),
            ("s3://", "no bucket"),
            ("s3://b/prefix", "only the bucket"),
            ("s3://b?regoin=x", "unknown S3 storage URL parameter"),
            ("s3://b?region=a&region=b", "repeats region"),
            ("s3://b?path_style=yes", "path_style"),
            ("s3://b?endpoint=ftp://x", "http(s)"),
            ("s3://b?endpoint=http://x?y=1", "query"),
            ("s3://b?region=a/b", "invalid S3 region"),
            ("s3://ak:sk@b", "access_key="),
        ] {
            let err = parse(url, &keys).unwrap_err().to_string();
            assert!(err.contains(expected), "{url}: {err}");
        }
        let err = parse("s3://b?access_key=AK", &[]).unwrap_err().to_string();
        assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
        let err = parse("s3://b", &[("AWS_SECRET_ACCESS_KEY", "SK")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = parse("s3://b?access_key=AK&secret_key=very-secret", &[]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("AK"), "{shown}");
    }
}
