//! Browser form uploads (`POST` Object) with a SigV4-signed POST policy.
//!
//! rusty-s3 has no POST policy, so it is written here, by AWS's description
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>):
//! the policy is a JSON document, its base64 is the string to sign, and the signature is
//! the hex HMAC-SHA256 of it under the usual SigV4 signing key
//! (`AWS4<secret>` → date → region → `s3` → `aws4_request`).
//!
//! The policy pins everything the form may do: the bucket, the exact key (a staging key
//! beside the file's, which `complete` adopts: see `form_upload`), the content
//! type, the exact size (`content-length-range` with min = max) and the expiry. The
//! signature covers the policy, so a client can change none of them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use filegate_core::StoreError;
use filegate_core::ports::{SignedRequest, UploadConstraints};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::json;
use sha2::Sha256;

use super::S3BlobStore;
use super::presign::{MAX_VALIDITY, check_key};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The SigV4 signing key for S3 on `yyyymmdd` in `region`.
fn signing_key(secret: &str, yyyymmdd: &str, region: &str) -> [u8; 32] {
    let date = hmac(format!("AWS4{secret}").as_bytes(), yyyymmdd.as_bytes());
    let region = hmac(&date, region.as_bytes());
    let service = hmac(&region, b"s3");
    hmac(&service, b"aws4_request")
}

/// The `x-amz-signature` of a base64 policy.
pub fn sign_policy(policy_base64: &str, secret: &str, yyyymmdd: &str, region: &str) -> String {
    hex::encode(hmac(&signing_key(secret, yyyymmdd, region), policy_base64.as_bytes()))
}

/// What a form upload is allowed to do.
pub struct PostPolicy<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub constraints: &'a UploadConstraints,
    pub expires_at: DateTime<Utc>,
}

impl PostPolicy<'_> {
    /// The form fields (everything but `file`), signed at `now` with these credentials.
    pub fn fields(
        &self,
        access_key: &str,
        secret_key: &str,
        region: &str,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        let yyyymmdd = now.format("%Y%m%d").to_string();
        let date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let credential = format!("{access_key}/{yyyymmdd}/{region}/s3/aws4_request");
        let content_type = self.constraints.content_type.to_string();
        let size = self.constraints.size;
        let policy = json!({
            "expiration": self.expires_at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
            "conditions": [
                {"bucket": self.bucket},
                ["eq", "$key", self.key],
                ["eq", "$Content-Type", content_type],
                ["content-length-range", size, size],
                {"x-amz-algorithm": ALGORITHM},
                {"x-amz-credential": credential},
                {"x-amz-date": date},
            ],
        });
        let policy = STANDARD.encode(policy.to_string());
        let signature = sign_policy(&policy, secret_key, &yyyymmdd, region);
        BTreeMap::from([
            ("key".to_owned(), self.key.to_owned()),
            ("Content-Type".to_owned(), content_type),
            ("policy".to_owned(), policy),
            ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
            ("x-amz-credential".to_owned(), credential),
            ("x-amz-date".to_owned(), date),
            ("x-amz-signature".to_owned(), signature),
        ])
    }
}

impl S3BlobStore {
    pub(super) fn presign_post_at(
        &self,
        key: &str,
        c: &UploadConstraints,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<SignedRequest, StoreError> {
        check_key(key)?;
        if expires_at - now > chrono::Duration::from_std(MAX_VALIDITY).unwrap_or(chrono::TimeDelta::MAX) {
            return Err(StoreError::Input("S3 upload forms last at most 7 days".into()));
        }
        // Not the file's key: a form can post again while valid (see `form_upload`).
        let staging = super::form_upload::staging_key(key);
        let policy = PostPolicy {
            bucket: self.bucket.name(),
            key: &staging,
            constraints: c,
            expires_at,
        };
        Ok(SignedRequest {
            method: "POST".into(),
            url: self.bucket.base_url().to_string(),
            headers: BTreeMap::new(),
            fields: policy.fields(
                self.credentials.key(),
                self.credentials.secret(),
                self.bucket.region(),
                now,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use filegate_core::domain::ContentType;

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// AWS's worked example: "Example: Browser-Based Upload using HTTP POST (Using AWS
    /// Signature Version 4)", <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html>.
    #[test]
    fn signs_the_aws_documentation_example() {
        let policy = concat!(
            "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1",
            "Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8i",
            "XSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDov",
            "L3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0",
            "YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUx",
            "MjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFy",
            "dHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZP",
            "RE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGht",
            "IjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9",
        );
        assert_eq!(
            sign_policy(policy, SECRET, "20151229", "us-east-1"),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
    }

    #[test]
    fn the_policy_pins_bucket_key_type_size_and_expiry() {
        let c = UploadConstraints {
            size: 18233,
            content_type: ContentType::parse("text/csv").unwrap(),
            sha256: None,
        };
        let policy = PostPolicy {
            bucket: "media",
            key: "t/default/x",
            constraints: &c,
            expires_at: Utc.with_ymd_and_hms(2026, 11, 3, 12, 15, 0).unwrap(),
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 3, 12, 0, 0).unwrap();
        let fields = policy.fields("AKIAEXAMPLE", SECRET, "eu-west-1", now);
        let credential = "AKIAEXAMPLE/20261103/eu-west-1/s3/aws4_request";
        assert_eq!(fields["key"], "t/default/x");
        assert_eq!(fields["Content-Type"], "text/csv");
        assert_eq!(fields["x-amz-algorithm"], ALGORITHM);
        assert_eq!(fields["x-amz-credential"], credential);
        assert_eq!(fields["x-amz-date"], "20261103T120000Z");
        assert_eq!(
            fields["x-amz-signature"],
            sign_policy(&fields["policy"], SECRET, "20261103", "eu-west-1")
        );
        let decoded: serde_json::Value = serde_json::from_slice(&STANDARD.decode(&fields["policy"]).unwrap()).unwrap();
        assert_eq!(
            decoded,
            json!({
                "expiration": "2026-11-03T12:15:00.000Z",
                "conditions": [
                    {"bucket": "media"},
                    ["eq", "$key", "t/default/x"],
                    ["eq", "$Content-Type", "text/csv"],
                    ["content-length-range", 18233, 18233],
                    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                    {"x-amz-credential": credential},
                    {"x-amz-date": "20261103T120000Z"},
                ],
            })
        );
        // Another key, type or size is another policy, hence another signature.
        let other = PostPolicy {
            key: "t/default/y",
            ..policy
        };
        assert_ne!(
            other.fields("AKIAEXAMPLE", SECRET, "eu-west-1", now)["x-amz-signature"],
            fields["x-amz-signature"]
        );
    }
}
