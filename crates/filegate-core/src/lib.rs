//! filegate's core: domain types, use cases and the processing pipeline, written once above
//! the port traits that each engine (SQLite/PostgreSQL, local disk/S3, ...) implements.
//! No HTTP and no SQL here.

pub mod cache;
pub mod domain;
pub mod error;
pub mod pipeline;
pub mod ports;
pub mod usecases;

pub use error::{Error, ErrorCode, Result, StoreError};
