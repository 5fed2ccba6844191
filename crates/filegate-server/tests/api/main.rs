//! API tests: the server in-process on port 0, driven through `filegate-client`.

#[path = "../common/mod.rs"]
mod common;
// The S3 server of the blob store's own tests (s3s-fs, which checks signatures).
#[path = "../../../filegate-blobs/tests/s3s_fs/mod.rs"]
#[allow(dead_code)]
mod s3s_fs;

mod alerts;
mod archives;
mod audit;
mod audited_changes;
mod bucket_limits;
mod content;
mod dedup;
mod download_counts;
mod engines;
mod exchange;
mod fair_pipeline;
mod files;
mod folders;
mod in_flight;
mod lifecycle;
mod listing;
mod listing_by_metadata;
mod media;
mod multipart_uploads;
mod narrow_context;
mod ops;
mod processing;
mod proxied_uploads;
mod public;
mod quotas;
mod rate_limits;
mod reads_once;
mod receiver;
mod requests;
mod scale_out;
mod scanning;
mod sealing;
mod search;
mod share_notices;
mod shares;
mod support;
mod triggers;
mod tus;
mod tus_clients;
mod tus_concat;
mod tus_js;
mod tus_signed;
mod uploads;
mod web;
mod webhooks;
