//! File requests (the extracts asked of a partner in the hospital exchange): an admin records what a partner
//! must upload — free-form parameters such as patients, units and a time window — the
//! partner's machine polls the pending ones and uploads against one; the request is
//! fulfilled when that file becomes `ready`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FileId, RequestId, TenantId};
use crate::error::{Error, ErrorCode};

/// The largest `parameters` document, serialized: a request describes an extraction, it
/// does not carry data.
pub const MAX_REQUEST_PARAMETERS_BYTES: usize = 64 * 1024;
pub const MAX_REQUEST_NOTE_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for an upload.
    Pending,
    /// A file uploaded against it became `ready`.
    Fulfilled,
    /// Withdrawn by an admin.
    Cancelled,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
        }
    }
}

impl FromStr for RequestStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "pending" => Ok(Self::Pending),
            "fulfilled" => Ok(Self::Fulfilled),
            "cancelled" => Ok(Self::Cancelled),
            _ => Err(Error::invalid(
                ErrorCode::InvalidStatus,
                format!("unknown request status {s:?}; known: pending, fulfilled, cancelled"),
            )),
        }
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Free-form request parameters: a JSON object of bounded size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestParameters(serde_json::Value);

impl RequestParameters {
    pub fn parse(value: serde_json::Value) -> Result<Self, Error> {
        if !value.is_object() {
            return Err(Error::invalid(
                ErrorCode::InvalidParameters,
                "parameters must be a JSON object (e.g. {\"patients\": [...], \"units\": [...], \"from\": ..., \"to\": ...})",
            ));
        }
        if value.to_string().len() > MAX_REQUEST_PARAMETERS_BYTES {
            return Err(Error::invalid(
                ErrorCode::InvalidParameters,
                format!("parameters must serialize to at most {MAX_REQUEST_PARAMETERS_BYTES} bytes"),
            ));
        }
        Ok(Self(value))
    }

    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }

    pub fn into_json(self) -> serde_json::Value {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRequest {
    pub id: RequestId,
    pub tenant: TenantId,
    pub parameters: RequestParameters,
    pub note: String,
    pub status: RequestStatus,
    pub due_at: Option<DateTime<Utc>>,
    /// The file that fulfilled it.
    pub file_id: Option<FileId>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The last status change.
    pub updated_at: DateTime<Utc>,
}

/// Checks an admin's note: bounded, no control characters but newlines and tabs.
pub fn parse_request_note(s: &str) -> Result<String, Error> {
    if s.chars().count() > MAX_REQUEST_NOTE_CHARS || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(
            ErrorCode::InvalidNote,
            format!("note is at most {MAX_REQUEST_NOTE_CHARS} characters, without control characters"),
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bounded_objects() {
        assert!(RequestParameters::parse(serde_json::json!({"units": ["icu"]})).is_ok());
        assert!(RequestParameters::parse(serde_json::json!([1, 2])).is_err());
        assert!(RequestParameters::parse(serde_json::json!("x")).is_err());
        let big = "x".repeat(MAX_REQUEST_PARAMETERS_BYTES);
        assert!(RequestParameters::parse(serde_json::json!({ "a": big })).is_err());
    }

    #[test]
    fn statuses_parse_back() {
        for s in [
            RequestStatus::Pending,
            RequestStatus::Fulfilled,
            RequestStatus::Cancelled,
        ] {
            assert_eq!(s.as_str().parse::<RequestStatus>().unwrap(), s);
        }
        assert!("open".parse::<RequestStatus>().is_err());
    }

    #[test]
    fn notes_refuse_control_characters() {
        assert!(parse_request_note("line 1\nline 2").is_ok());
        assert!(parse_request_note("bell\u{7}").is_err());
        assert!(parse_request_note(&"a".repeat(MAX_REQUEST_NOTE_CHARS + 1)).is_err());
    }
}
