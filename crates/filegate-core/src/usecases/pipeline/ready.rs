//! What a file reaching `ready` sets off, committed with the transition itself so that it
//! happens exactly once even when the processing job runs twice.

use crate::domain::{FileEvent, FileRecord, FileStatus};
use crate::ports::Job;

/// The jobs and events that ride with the file's transition out of `processing`:
/// - the replaced bytes (the ciphertext `decrypt` turned into plaintext) are removed;
/// - an old exchange passphrase opened the file: `alert.old_passphrase` (data: the version);
/// - the file answers a file request: the request is fulfilled.
pub(crate) fn follow_up(ready: &FileRecord, previous_blob_key: &str) -> (Vec<Job>, Vec<FileEvent>) {
    let mut work = Vec::new();
    let mut events = Vec::new();
    if ready.blob_key != previous_blob_key {
        work.push(Job::RemoveBlob {
            tenant: ready.tenant.clone(),
            file_id: ready.id,
            blob_key: previous_blob_key.to_owned(),
            multipart_upload_id: None,
            appending: false,
            // Thumbnails are made after decrypt, from the plaintext: none of the ciphertext.
            thumbnail_sizes: Vec::new(),
        });
    }
    if let Some(d) = ready.processing.decryption.filter(|d| d.old_passphrase) {
        events.push(FileEvent::about(
            "alert.old_passphrase",
            ready,
            serde_json::json!({ "version": d.passphrase_version }),
        ));
    }
    // Only a `ready` file answers a request (a quarantined one does not).
    if let Some(request_id) = ready.request_id.filter(|_| ready.status == FileStatus::Ready) {
        work.push(Job::FulfilRequest {
            tenant: ready.tenant.clone(),
            request_id,
            file_id: ready.id,
        });
    }
    (work, events)
}
