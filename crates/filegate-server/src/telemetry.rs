//! Logs: JSON lines (or pretty for people) with the request span's fields on every line.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogConfig;

/// Installs the global subscriber; `RUST_LOG` overrides the configured level. Logs go to
/// stderr so that commands like `filegate token` keep stdout for their answer.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let result = if config.format == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    };
    // A second init (tests start several servers in one process) keeps the first.
    let _ = result;
}
