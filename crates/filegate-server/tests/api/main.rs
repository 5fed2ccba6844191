//! API tests: the server in-process on port 0, driven through `filegate-client`.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod content;
mod engines;
mod files;
mod in_flight;
mod media;
mod ops;
mod processing;
mod scanning;
mod support;
mod uploads;
