//! Every machine code an error can carry, with its HTTP status and what it means, defined
//! once: the HTTP layer, the OpenAPI document and `docs/errors.md` all read this table.
//! The status is a bare number so that core stays free of HTTP crates.

/// Declares [`ErrorCode`] from one table: variant, code string, HTTP status, meaning.
macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $status:literal, $meaning:literal),)+) => {
        /// A stable, documented machine code for an error (`file-too-large`, `not-found`, ...).
        /// Clients match on its string; `docs/errors.md` lists every one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order of the table (grouped by status).
            pub const ALL: &[ErrorCode] = &[$(Self::$variant,)+];

            /// The string clients see in the error body's `code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The HTTP status the code is answered with.
            pub const fn status(self) -> u16 {
                match self {
                    $(Self::$variant => $status,)+
                }
            }

            /// One line for people: when the code is answered.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $meaning,)+
                }
            }
        }
    };
}

error_codes! {
    // 400: the request cannot be taken as it is.
    InvalidJson => ("invalid-json", 400, "The body is not valid JSON."),
    InvalidBody => ("invalid-body", 400, "The JSON body has the wrong shape (a missing or unknown field, a wrong type), or parts of the body that cannot go together."),
    InvalidQuery => ("invalid-query", 400, "A query parameter is missing, unknown or out of range."),
    InvalidPathParameter => ("invalid-path-parameter", 400, "A parameter in the URL path (an id, a name) does not parse."),
    InvalidForm => ("invalid-form", 400, "The body is not the multipart or urlencoded form the route expects."),
    InvalidPath => ("invalid-path", 400, "A file path or file name is empty, too long, or holds a forbidden segment or character."),
    InvalidName => ("invalid-name", 400, "A tenant, bucket, API key or trigger name does not follow the naming rules."),
    InvalidContentType => ("invalid-content-type", 400, "A content type does not parse as `type/subtype`."),
    InvalidChecksum => ("invalid-checksum", 400, "A SHA-256 checksum is neither 64 hex characters nor 32 bytes in base64."),
    InvalidEtag => ("invalid-etag", 400, "An ETag (of the upload or of a part) does not parse."),
    InvalidMetadata => ("invalid-metadata", 400, "The metadata is not a JSON object of strings within the size limits."),
    InvalidExternalId => ("invalid-external-id", 400, "The `external_id` is not 1 to 255 characters without control characters."),
    InvalidPolicy => ("invalid-policy", 400, "A bucket policy has a value out of range (size, retention, content types, stages)."),
    InvalidRole => ("invalid-role", 400, "A role is unknown (known: `reader`, `writer`, `admin`, `superadmin`, `exchange`), or an API key was asked for without one."),
    InvalidSort => ("invalid-sort", 400, "A listing's `sort` is not one of the known orders."),
    InvalidCursor => ("invalid-cursor", 400, "A cursor was not one this server handed out."),
    InvalidStatus => ("invalid-status", 400, "A status filter names no known status."),
    InvalidParts => ("invalid-parts", 400, "The part numbers or the parts of a multipart upload are not acceptable."),
    InvalidBase64 => ("invalid-base64", 400, "An image sent to `POST /v1/images` is not valid base64."),
    InvalidImage => ("invalid-image", 400, "An image sent to `POST /v1/images` is empty."),
    InvalidUrl => ("invalid-url", 400, "A webhook or trigger URL is not an acceptable `http(s)://` URL."),
    InvalidEventPattern => ("invalid-event-pattern", 400, "A webhook's event patterns are not event types (`file.ready`), prefixes (`alert.*`) or `*`, or there are none or too many."),
    InvalidSecret => ("invalid-secret", 400, "A webhook secret is not `whsec_` followed by the base64 of 24 to 64 bytes."),
    InvalidEmail => ("invalid-email", 400, "An email address is not `local@domain`."),
    InvalidQuota => ("invalid-quota", 400, "A quota limit is past what the database holds (`i64::MAX`)."),
    TooManyItems => ("too-many-items", 400, "A batch call holds no items or more than it may."),
    StageUnavailable => ("stage-unavailable", 400, "A bucket asks for a processing stage this deployment cannot run (`scan` without a scanner)."),
    InvalidEncryption => ("invalid-encryption", 400, "The `encryption` of an upload is not a known one."),
    DecryptNotEnabled => ("decrypt-not-enabled", 400, "An encrypted upload was sent to a bucket whose policy does not decrypt."),
    UnknownRequest => ("unknown-request", 400, "The `request_id` of an upload names no file request of this tenant."),
    InvalidParameters => ("invalid-parameters", 400, "A file request's parameters are not a JSON object, or too large."),
    InvalidNote => ("invalid-note", 400, "A file request's note is too long or holds control characters."),
    InvalidDueAt => ("invalid-due-at", 400, "A file request's `due_at` is in the past."),
    InvalidPermission => ("invalid-permission", 400, "A share's permission is not `view` or `download`."),
    InvalidExpiry => ("invalid-expiry", 400, "A share's `expires_in` is outside the allowed range."),
    InvalidPassword => ("invalid-password", 400, "A share password is empty or too long."),
    InvalidMaxDownloads => ("invalid-max-downloads", 400, "A share's `max_downloads` is zero or too large (null means no limit)."),
    InvalidMethod => ("invalid-method", 400, "A trigger's configured method is not `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (configuration only: the server does not start)."),
    InvalidMode => ("invalid-mode", 400, "A trigger's configured mode is not `sync` or `async` (configuration only: the server does not start)."),
    InvalidHeader => ("invalid-header", 400, "A trigger's configured header is not a valid HTTP header or is one filegate sets (configuration only: the server does not start)."),
    ArchiveEmpty => ("archive-empty", 400, "A zip bundle was asked for without any file."),
    SizeMismatch => ("size-mismatch", 400, "The bytes that arrived are not the declared size."),
    EtagMismatch => ("etag-mismatch", 400, "The stored object's ETag is not the one the client sent."),
    ChecksumMismatch => ("checksum-mismatch", 400, "The bytes that arrived do not have the declared SHA-256."),
    PartMismatch => ("part-mismatch", 400, "The parts listed to complete a multipart upload are not the ones stored."),
    ContentTypeMismatch => ("content-type-mismatch", 400, "An image's bytes are not of the content type it was sent as."),
    BodyInvalid => ("body-invalid", 400, "An upload body broke off or was malformed."),
    InvalidTusHeader => ("invalid-tus-header", 400, "A tus header (`Upload-Offset`, `Upload-Length`, `Upload-Defer-Length`, `Upload-Concat`) does not parse, is missing, is not allowed with the others, or declares a length the upload cannot take."),
    BadRequest => ("bad-request", 400, "The HTTP layer refused the request before a route saw it (sent with the status it chose)."),
    // 401: who is asking is not known.
    Unauthenticated => ("unauthenticated", 401, "No credentials were sent: send `Authorization: Bearer <token or API key>`."),
    InvalidToken => ("invalid-token", 401, "The token does not verify (signature, issuer, audience, claims)."),
    TokenExpired => ("token-expired", 401, "The token has expired."),
    InvalidCredentials => ("invalid-credentials", 401, "The API key is not valid (unknown, revoked or malformed)."),
    InvalidGrant => ("invalid-grant", 401, "The identity provider refused a web sign-in's code (expired, used already, or its PKCE verifier does not match)."),
    // 403: known, but not allowed.
    Forbidden => ("forbidden", 403, "The principal's roles do not allow this."),
    SignatureInvalid => ("signature-invalid", 403, "A signed URL's signature is missing or does not match the request."),
    SignatureExpired => ("signature-expired", 403, "A signed URL has expired."),
    ShareExpired => ("share-expired", 403, "The share link has expired."),
    ShareRevoked => ("share-revoked", 403, "The share link was revoked."),
    ShareExhausted => ("share-exhausted", 403, "The share link has been downloaded as often as it allows."),
    ShareViewOnly => ("share-view-only", 403, "The share lets you view the file, not download it."),
    SharePasswordRequired => ("share-password-required", 403, "The share is protected by a password and none was sent."),
    SharePasswordInvalid => ("share-password-invalid", 403, "The share's password is not right."),
    TusFinalUpload => ("final-upload", 403, "A tus `PATCH` to a final upload (`Upload-Concat: final;…`): its bytes are those of its partial uploads."),
    // 404, 405, 408.
    NotFound => ("not-found", 404, "The thing does not exist for this tenant (also for another tenant's ids, and unknown routes)."),
    MethodNotAllowed => ("method-not-allowed", 405, "The route does not accept that method."),
    BodyTimeout => ("body-timeout", 408, "An upload body to a signed URL sent nothing for `http.body_idle_timeout_secs`; nothing was stored."),
    Timeout => ("timeout", 408, "The HTTP layer gave up waiting for the request."),
    // 409: the request conflicts with the current state.
    WrongStatus => ("invalid-status", 409, "The file is not in a status that allows this (completing one that is no longer pending, restoring one that is not deleted, ...)."),
    StatusChanged => ("status-changed", 409, "The file changed meanwhile; read it again and retry."),
    FileNotReady => ("file-not-ready", 409, "The file's bytes cannot be served or bundled before it is ready."),
    UploadMissing => ("upload-missing", 409, "No bytes (or no parts) have arrived for this upload yet."),
    UploadAlreadyStored => ("upload-already-stored", 409, "A signed single upload's bytes are already stored; they are kept."),
    NotMultipart => ("not-multipart", 409, "A part was asked for on an upload that is not multipart."),
    TenantExists => ("tenant-exists", 409, "A tenant with this id exists."),
    BucketExists => ("bucket-exists", 409, "A bucket with this name exists."),
    TooManyWebhooks => ("too-many-webhooks", 409, "The tenant has as many webhooks as it may."),
    RequestNotPending => ("request-not-pending", 409, "The file request is no longer pending."),
    Conflict => ("conflict", 409, "The request conflicts with the current state of the thing."),
    OffsetMismatch => ("offset-mismatch", 409, "A tus `PATCH`'s `Upload-Offset` is not the upload's stored offset (`HEAD` answers it)."),
    NotPartialUpload => ("not-a-partial-upload", 409, "A final tus upload names an upload that is not a partial one (`Upload-Concat: partial`)."),
    PartialUploadUnfinished => ("partial-upload-unfinished", 409, "A final tus upload names a partial upload whose bytes have not all arrived (`HEAD` answers its offset)."),
    // 412: a precondition of the protocol.
    TusVersionUnsupported => ("tus-version-unsupported", 412, "A tus request's `Tus-Resumable` is missing or not `1.0.0` (the answer's `Tus-Version` lists what is spoken)."),
    // 413, 415, 416.
    FileTooLarge => ("file-too-large", 413, "A file is larger than the bucket or the route allows."),
    BodyTooLarge => ("body-too-large", 413, "The request body is larger than the route accepts."),
    ArchiveTooLarge => ("archive-too-large", 413, "A zip bundle would hold more than `archives.max_files` files or `archives.max_bytes` bytes."),
    QuotaExceeded => ("quota-exceeded", 413, "The tenant's storage quota does not allow this; the message names the limit (`max_bytes` or `max_files`), the usage and the maximum."),
    UploadLengthExceeded => ("upload-length-exceeded", 413, "A tus `PATCH` would store more bytes than the upload's `Upload-Length`; nothing of it was kept."),
    UnsupportedContentType => ("unsupported-content-type", 415, "The file's content type is not on the bucket's (or the image route's) allow-list."),
    UnsupportedMediaType => ("unsupported-media-type", 415, "The request body's `Content-Type` is not the one the route reads."),
    RangeNotSatisfiable => ("range-not-satisfiable", 416, "The `Range` lies outside the file."),
    RangeUnsupported => ("range-unsupported", 416, "The `Range` asks for more than one range."),
    // 423: someone else is at it.
    UploadLocked => ("upload-locked", 423, "Another request is appending to this tus upload; retry after the `Retry-After` header's seconds."),
    // 429: slow down.
    RateLimited => ("rate-limited", 429, "Too many requests; retry after the `Retry-After` header's seconds."),
    ShareLocked => ("share-locked", 429, "Too many wrong share passwords; retry after the `Retry-After` header's seconds."),
    // 460: tus's own status.
    TusChecksumMismatch => ("checksum-mismatch", 460, "A tus `PATCH` body does not have its `Upload-Checksum`; nothing of it was kept, the offset is unchanged."),
    // 5xx: not the client's fault.
    Internal => ("internal", 500, "A bug or an unexpected failure; quote the request id when reporting it."),
    TriggerFailed => ("trigger-failed", 502, "A sync trigger's target could not be reached."),
    Unavailable => ("unavailable", 503, "A dependency is down, or the server is at `http.max_connections`; retry after the `Retry-After` header's seconds."),
    TriggerTimeout => ("trigger-timeout", 504, "A sync trigger's target did not answer within its timeout."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `docs/errors.md`, generated from the table above (a test keeps the file equal to it).
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Error codes\n\n\
         <!-- Generated from `ErrorCode` in crates/filegate-core/src/error/code.rs; do not edit.\n     \
         Regenerate with: UPDATE_DOCS=1 cargo test -p filegate-server --lib generated_docs -->\n\n\
         Every non-2xx answer is\n\
         `{\"error\": {\"code\": \"file-too-large\", \"status\": 413, \"message\": \"…\", \"request_id\": \"…\"}}`;\n\
         `code` is stable, `message` is for people, `request_id` matches the `X-Request-Id` header\n\
         (taken from the request when it carries a sane one). Internal detail is only logged.\n\n\
         | code | status | meaning |\n|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.status(),
            code.meaning()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_kebab_case_and_each_code_has_one_status() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{s:?} is not kebab-case"
            );
            assert!((400..600).contains(&code.status()), "{s}: {}", code.status());
            assert!(
                seen.insert((s, code.status())),
                "{s} is listed twice with status {}",
                code.status()
            );
            assert!(!code.meaning().contains('|'), "{s}: a `|` would break the table");
        }
    }

    #[test]
    fn the_table_is_grouped_by_status() {
        let statuses: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.status()).collect();
        assert!(statuses.is_sorted(), "{statuses:?}");
    }
}
