//! API tests: the server in-process on port 0, driven through `filegate-client`.

#[path = "../common/mod.rs"]
mod common;

mod alerts;
mod audit;
mod content;
mod files;
mod in_flight;
mod ops;
mod processing;
mod receiver;
mod support;
mod uploads;
mod webhooks;
