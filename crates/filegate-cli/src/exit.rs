//! The exit codes (stable: scripts depend on them; docs/cli.md lists them) and
//! the one error type commands return, which knows its code.

use std::process::ExitCode;

use filegate_client::Error;

/// Why `filegate` exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything worked.
    Ok = 0,
    /// Anything not listed below: a local file that cannot be read, a server error (5xx),
    /// an answer the client cannot follow.
    Failure = 1,
    /// The command line is wrong (clap's usage errors exit with 2 as well).
    Usage = 2,
    /// The server refused the token: missing, invalid, expired (401), or not allowed (403).
    Auth = 3,
    /// No such file, request or route (404), or no file at that path.
    NotFound = 4,
    /// Processing did not end `ready`: `failed` or `quarantined`, or still going when
    /// `--wait` gave up; downloading a file that is not `ready`.
    NotReady = 5,
    /// The server cannot be reached (connection refused, DNS, timeout, a connection cut)
    /// or says it is unavailable (502, 503, 504).
    Unreachable = 6,
    /// No usable profile: no config file, an unknown `--profile`, a config file that
    /// cannot be read.
    Config = 7,
    /// The bytes are not the file's: the SHA-256 or size of a download differs from the
    /// server's, or a `ready` file's differs from what was uploaded.
    Integrity = 8,
    /// The server refused the request (another 4xx: invalid input, conflict, too large,
    /// rate limited...).
    Rejected = 9,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// A failed command: its exit code, a message for people, and the server's error when
/// there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// The server's stable code (`not-found`, `file-too-large`, ...).
    pub code: Option<String>,
    pub status: Option<u16>,
    pub request_id: Option<String>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
            code: None,
            status: None,
            request_id: None,
        }
    }

    /// The same failure, its message prefixed by what it was about (`reports/a.csv: ...`).
    pub fn about(mut self, subject: impl std::fmt::Display) -> Failure {
        self.message = format!("{subject}: {}", self.message);
        self
    }
}

/// The exit code of an HTTP error status.
fn exit_for_status(status: u16) -> Exit {
    match status {
        401 | 403 => Exit::Auth,
        404 => Exit::NotFound,
        502..=504 => Exit::Unreachable,
        400..=499 => Exit::Rejected,
        _ => Exit::Failure,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Api {
                status,
                code,
                message,
                request_id,
            } => Failure {
                exit: exit_for_status(status),
                message,
                code: Some(code),
                status: Some(status),
                request_id: (!request_id.is_empty()).then_some(request_id),
            },
            Error::Transport(e) => transport(&e),
            Error::Timeout { waited, last_status } => Failure::new(
                Exit::NotReady,
                format!(
                    "gave up waiting after {}s; the file is still {last_status}",
                    waited.as_secs()
                ),
            ),
            Error::NotReady { .. } => Failure::new(Exit::NotReady, e.to_string()),
            Error::Integrity(message) => Failure::new(Exit::Integrity, message),
            Error::Invalid(message) => Failure::new(Exit::Usage, message),
            Error::Io(e) => Failure::new(Exit::Failure, e.to_string()),
            Error::Protocol(message) => Failure::new(Exit::Failure, format!("unexpected answer: {message}")),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(Exit::Failure, e.to_string())
    }
}

/// A request that got no usable answer: where to, and the innermost cause (reqwest's
/// own message only says that sending failed).
fn transport(e: &reqwest::Error) -> Failure {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let mut target = e.url().cloned();
    if let Some(url) = target.as_mut() {
        // Signed URLs carry their signature in the query: never print it.
        url.set_query(None);
    }
    let target = target.map_or_else(|| "the server".to_owned(), |u| u.to_string());
    let exit = if e.is_builder() { Exit::Usage } else { Exit::Unreachable };
    let what = if e.is_connect() || e.is_timeout() {
        format!("cannot reach {target}")
    } else {
        format!("the connection to {target} failed")
    };
    Failure::new(exit, format!("{what}: {cause}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_stable_codes() {
        assert_eq!(exit_for_status(401), Exit::Auth);
        assert_eq!(exit_for_status(403), Exit::Auth);
        assert_eq!(exit_for_status(404), Exit::NotFound);
        assert_eq!(exit_for_status(409), Exit::Rejected);
        assert_eq!(exit_for_status(413), Exit::Rejected);
        assert_eq!(exit_for_status(503), Exit::Unreachable);
        assert_eq!(exit_for_status(500), Exit::Failure);
    }

    #[test]
    fn api_errors_keep_the_servers_code_and_request_id() {
        let f = Failure::from(Error::Api {
            status: 404,
            code: "not-found".into(),
            message: "file not found".into(),
            request_id: "01J".into(),
        });
        assert_eq!(f.exit, Exit::NotFound);
        assert_eq!(f.code.as_deref(), Some("not-found"));
        assert_eq!(f.request_id.as_deref(), Some("01J"));
        assert_eq!(f.clone().about("x.csv").message, "x.csv: file not found");
    }

    #[test]
    fn client_side_errors_have_their_own_codes() {
        assert_eq!(Failure::from(Error::Integrity("x".into())).exit, Exit::Integrity);
        assert_eq!(Failure::from(Error::Invalid("x".into())).exit, Exit::Usage);
        let not_ready = Error::NotReady {
            id: "f".into(),
            status: "failed".into(),
            reason: Some("cannot-decrypt".into()),
        };
        let f = Failure::from(not_ready);
        assert_eq!(f.exit, Exit::NotReady);
        assert!(f.message.contains("cannot-decrypt"), "{}", f.message);
        assert_eq!(Exit::Rejected as u8, 9);
    }
}
