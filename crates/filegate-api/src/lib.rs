//! The JSON shapes of filegate's HTTP API v1 (docs/http-reference.md). The server parses requests into
//! domain types at its edge and renders domain records into these; the client sends and
//! receives them. Field names are `snake_case`, times RFC 3339 UTC, sizes bytes.

mod account;
mod admin;
mod archives;
mod audit;
mod errors;
mod exchange;
mod files;
mod ops;
mod quotas;
mod requests;
mod search;
mod shares;
mod triggers;
mod uploads;
mod webhooks;

pub use account::*;
pub use admin::*;
pub use archives::*;
pub use audit::*;
pub use errors::*;
pub use exchange::*;
pub use files::*;
pub use ops::*;
pub use quotas::*;
pub use requests::*;
pub use search::*;
pub use shares::*;
pub use triggers::*;
pub use uploads::*;
pub use webhooks::*;
