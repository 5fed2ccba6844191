//! filegate's server: configuration, authentication, the HTTP API (axum), telemetry and
//! the wiring of engines and workers. `serve(config, listener, shutdown)` is the entry
//! point; the `filegate` binary only parses its arguments and calls it.

pub mod app;
pub mod auth;
pub mod config;
pub mod connections;
pub mod engines;
pub mod http;
pub mod reindex;
pub mod secret;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod trigger_config;

#[cfg(test)]
mod generated_docs;

pub use app::{Gateway, serve, work};
pub use config::Config;
pub use reindex::reindex;
