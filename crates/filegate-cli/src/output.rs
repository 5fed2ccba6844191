//! What a command prints: results on stdout (text for people, or one JSON document per
//! result with `--json`), notes and errors on stderr, one line each.

use std::io::{IsTerminal as _, Write as _};

use serde::Serialize;
use serde_json::json;

use crate::exit::{Exit, Failure};

#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
    /// Progress bars only where a person watches (stderr is a terminal) and no script
    /// reads JSON.
    bars: bool,
}

impl Output {
    pub fn new(json: bool) -> Output {
        Output {
            json,
            bars: !json && std::io::stderr().is_terminal(),
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    pub fn shows_bars(&self) -> bool {
        self.bars
    }

    /// A result for scripts: one compact JSON document on a line of its own.
    pub fn json<T: Serialize>(&self, value: &T) -> Result<(), Failure> {
        let text = serde_json::to_string(value)
            .map_err(|e| Failure::new(Exit::Failure, format!("cannot encode the output: {e}")))?;
        println_stdout(&text);
        Ok(())
    }

    /// A line of a result for people (ignored with `--json`: the JSON carries it).
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.json {
            println_stdout(text.as_ref());
        }
    }

    /// A remark for people on stderr (never mixed into results).
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.json {
            eprintln!("{}", text.as_ref());
        }
    }

    /// Shows a failure: one line on stderr (a JSON object with `--json`).
    pub fn fail(&self, failure: &Failure) {
        if self.json {
            let value = json!({"error": {
                "code": failure.code,
                "message": failure.message,
                "status": failure.status,
                "request_id": failure.request_id,
                "exit_code": failure.exit as u8,
            }});
            eprintln!("{value}");
        } else {
            eprintln!("error: {}", describe(failure));
        }
    }
}

/// `message (code, HTTP status, request id)`: what a person needs, and what to quote
/// to an operator.
pub fn describe(failure: &Failure) -> String {
    let mut extra = Vec::new();
    if let Some(code) = &failure.code {
        extra.push(code.clone());
    }
    if let Some(status) = failure.status {
        extra.push(format!("HTTP {status}"));
    }
    if let Some(id) = &failure.request_id {
        extra.push(format!("request {id}"));
    }
    let message = failure.message.replace(['\n', '\r'], " ");
    if extra.is_empty() {
        message
    } else {
        format!("{message} [{}]", extra.join(", "))
    }
}

/// `println!` that does not panic when stdout is closed (`filegate ls | head -1`).
fn println_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}

/// `1.5 MiB`: sizes for people.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_one_line_with_the_servers_code() {
        let failure = Failure {
            exit: Exit::NotFound,
            message: "file not\nfound".into(),
            code: Some("not-found".into()),
            status: Some(404),
            request_id: Some("01J".into()),
        };
        assert_eq!(describe(&failure), "file not found [not-found, HTTP 404, request 01J]");
        assert_eq!(describe(&Failure::new(Exit::Config, "no profile")), "no profile");
    }

    #[test]
    fn sizes_are_short() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(50 * 1024 * 1024), "50.0 MiB");
    }
}
