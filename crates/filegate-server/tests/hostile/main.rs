//! Hostile tests: bad input, bad credentials and other tenants' ids. Every refusal is
//! checked for its status, its stable code and the JSON error shape, and for having
//! changed nothing (the tenant's files, the stored objects, the job queue).

#[path = "../common/mod.rs"]
mod common;

mod active_content;
mod auth;
mod authorization;
mod bad_file_requests;
mod bad_input;
mod deleted_downloads;
mod roles;
mod signed_urls;
mod slow_clients;
mod stored_once;
mod support;
mod tenancy;
