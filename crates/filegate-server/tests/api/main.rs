//! API tests: the server in-process on port 0, driven through `filegate-client`.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod content;
mod exchange;
mod files;
mod in_flight;
mod ops;
mod processing;
mod requests;
mod support;
mod uploads;
