//! filegate's core: the domain types, the ports each engine (SQLite/PostgreSQL, local
//! disk/S3, ...) implements, and above them one application layer, [`usecases`]: what a
//! caller can do and what a worker does with a file (its [`usecases::pipeline`]), both on
//! the same [`usecases::Services`]. No HTTP and no SQL here.

pub mod cache;
pub mod domain;
pub mod error;
pub mod ports;
pub mod usecases;

pub use error::{Error, ErrorCode, Result, StoreError};
