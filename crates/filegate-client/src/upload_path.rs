//! [`Client::upload_path`]: a local file up to filegate the way a command-line user
//! expects it — a single PUT or a multipart upload with several parts in flight, the
//! SHA-256 computed from the bytes read and checked by the server on `complete`, progress
//! and a bandwidth limit, optional age encryption while streaming, and multipart uploads
//! that resume after an interruption without sending the stored parts again.

use std::{collections::HashMap, path::Path};

use filegate_api::{CompleteUpload, CompletedPart, CreateUpload, FileView, UploadInstructions};

use crate::{
    Client, Error, PART_PARALLELISM, Result, UploadSource,
    encrypt::{AgeEncryption, Encrypting},
    parts::{PartBodies, PartJournal},
    resume::{Resumable, ResumeStore, UploadJournal, file_identity},
    taps::{SharedSha256, Taps, sha256_of_file},
    transfer::{Sending, plan_parts},
};

/// Files larger than this go up in parts (the server's default threshold).
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 100 * 1024 * 1024;

/// How [`Client::upload_path`] sends a file.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Parts in flight at once (plain multipart uploads; encrypted ones go in order).
    pub parallel: usize,
    /// Larger files (the bytes sent, ciphertext when encrypting) use multipart.
    pub multipart_threshold: u64,
    /// Encrypt with age while sending (the upload is created with `"encryption": "age"`).
    pub encryption: Option<AgeEncryption>,
    /// Keep journals of multipart uploads here, so that an interrupted one resumes.
    pub resume: Option<ResumeStore>,
    /// Progress and bandwidth limit.
    pub taps: Taps,
}

impl Default for UploadOptions {
    fn default() -> UploadOptions {
        UploadOptions {
            parallel: PART_PARALLELISM,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            encryption: None,
            resume: None,
            taps: Taps::default(),
        }
    }
}

/// What [`Client::upload_path`] did.
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// The file as `complete` left it (`uploaded`, or later).
    pub file: FileView,
    /// The SHA-256 (hex) of the local file's bytes (the plaintext when encrypted): once the
    /// file is `ready`, the server's `sha256` must equal it.
    pub sha256: String,
    /// The local file's size.
    pub size: u64,
    /// The bytes the upload declared (more than `size` when encrypted).
    pub sent_size: u64,
    pub multipart: bool,
    pub encrypted: bool,
    /// The server already held these bytes (bucket dedup): nothing was sent.
    pub deduplicated: bool,
    /// Parts sent by this call, and parts an earlier, interrupted call had stored.
    pub parts_sent: u32,
    pub parts_resumed: u32,
}

/// A sent upload, before `complete`.
struct Sent {
    complete: CompleteUpload,
    sha256: String,
    parts_sent: u32,
}

impl Client {
    /// Uploads the file at `path` as `request` describes (bucket, path, content type,
    /// metadata, request id...; its `size`, `multipart`, `sha256` and `encryption` are
    /// set here), then completes it. See the module documentation.
    ///
    /// A plain multipart upload with `options.resume` set is not aborted when sending
    /// fails: calling again with the same file, destination and options sends only the
    /// parts that are missing. Any other failed upload is aborted (best effort).
    pub async fn upload_path(
        &self,
        request: CreateUpload,
        path: &Path,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        let (size, modified_ns) = file_identity(path).await?;
        if let Some(encryption) = &options.encryption {
            return self.upload_encrypted(request, path, size, encryption, options).await;
        }
        let multipart = size > options.multipart_threshold;
        let request = CreateUpload {
            size,
            multipart: Some(multipart),
            sha256: None,
            encryption: None,
            ..request
        };
        let source = std::path::absolute(path)?;
        let resumable = match (&options.resume, multipart) {
            (Some(store), true) => {
                let journal = store.journal_path(self.base.as_str(), &source, &request.bucket, &request.path);
                if let Some(found) = store.load(&journal).await? {
                    let same_file = found.upload.size == size && found.upload.modified_ns == modified_ns;
                    if !same_file {
                        // The local file changed since: its stored parts are of no use.
                        let _ = self.abort_upload(&found.upload.file_id).await;
                    } else if let Some(report) = self.resume(found, &source, &journal, store, options).await? {
                        return Ok(report);
                    }
                    store.remove(&journal).await?;
                }
                Some((store, journal))
            }
            _ => None,
        };

        let created = self.create_upload(&request).await?;
        let report = |file, sha256, parts_sent| UploadReport {
            file,
            sha256,
            size,
            sent_size: size,
            multipart,
            encrypted: false,
            deduplicated: false,
            parts_sent,
            parts_resumed: 0,
        };
        let Some(upload) = created.upload else {
            let file = self.get_file(&created.file_id).await?;
            return Ok(UploadReport {
                deduplicated: true,
                ..report(file, sha256_of_file(path).await?, 0)
            });
        };
        if let Some(progress) = &options.taps.progress {
            progress.total(size);
        }
        let journal = match (&resumable, &upload) {
            (
                Some((store, journal)),
                UploadInstructions::Multipart {
                    part_size, part_count, ..
                },
            ) => {
                let header = UploadJournal {
                    server: self.base.to_string(),
                    source: source.clone(),
                    size,
                    modified_ns,
                    bucket: request.bucket.clone(),
                    path: request.path.clone(),
                    file_id: created.file_id.clone(),
                    part_size: *part_size,
                    part_count: *part_count,
                };
                store.start(journal, &header).await?;
                Some(PartJournal { store, path: journal })
            }
            _ => None,
        };
        let sent = self
            .send_file(&request, &created.file_id, upload, &source, options, journal)
            .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(e) => {
                if journal.is_none() {
                    let _ = self.abort_upload(&created.file_id).await;
                }
                return Err(e);
            }
        };
        let file = self.complete_upload(&created.file_id, &sent.complete).await?;
        if let Some(journal) = journal {
            journal.store.remove(journal.path).await?;
        }
        Ok(report(file, sent.sha256, sent.parts_sent))
    }

    /// Sends a plain file as instructed, hashing what it reads.
    async fn send_file(
        &self,
        request: &CreateUpload,
        file_id: &str,
        upload: UploadInstructions,
        source: &Path,
        options: &UploadOptions,
        journal: Option<PartJournal<'_>>,
    ) -> Result<Sent> {
        let src = UploadSource::File(source.to_owned());
        let sha = SharedSha256::default();
        let taps = options.taps.with_sha256(sha.clone());
        let sending = Sending {
            taps: &taps,
            parallel: options.parallel,
            journal,
        };
        let (mut complete, sha256, parts_sent) = match upload {
            UploadInstructions::Multipart { part_count, .. } => {
                // Parts go out of order; the hash reads the file front to back beside them.
                let (complete, sha256) =
                    tokio::try_join!(self.send_upload(request, file_id, upload, &src, sending), async {
                        sha256_of_file(source).await.map_err(Error::Io)
                    },)?;
                (complete, sha256, part_count)
            }
            single => {
                let complete = self.send_upload(request, file_id, single, &src, sending).await?;
                (complete, sha.hex(), 0)
            }
        };
        complete.sha256 = Some(sha256.clone());
        Ok(Sent {
            complete,
            sha256,
            parts_sent,
        })
    }

    /// Goes on with a journaled multipart upload. `None` when it cannot be resumed (the
    /// server no longer has it pending), so a fresh upload should start.
    async fn resume(
        &self,
        found: Resumable,
        source: &Path,
        journal: &Path,
        store: &ResumeStore,
        options: &UploadOptions,
    ) -> Result<Option<UploadReport>> {
        let Resumable { upload, parts: stored } = found;
        let file = match self.get_file(&upload.file_id).await {
            Ok(file) => file,
            Err(e) if e.is("not-found") => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut report = UploadReport {
            file,
            sha256: String::new(),
            size: upload.size,
            sent_size: upload.size,
            multipart: true,
            encrypted: false,
            deduplicated: false,
            parts_sent: 0,
            parts_resumed: stored.len() as u32,
        };
        match report.file.status.as_str() {
            "pending" => {}
            // An earlier run completed it and stopped before forgetting the journal.
            "uploaded" | "processing" | "ready" | "failed" | "quarantined" => {
                store.remove(journal).await?;
                report.sha256 = sha256_of_file(source).await?;
                report.parts_resumed = upload.part_count;
                return Ok(Some(report));
            }
            _ => return Ok(None),
        }
        let plan = plan_parts(upload.size, upload.part_size, upload.part_count)?;
        let missing: Vec<_> = plan.into_iter().filter(|p| !stored.contains_key(&p.number)).collect();
        if let Some(progress) = &options.taps.progress {
            progress.total(upload.size);
            progress.advance(upload.size - missing.iter().map(|p| p.len).sum::<u64>());
        }
        let src = UploadSource::File(source.to_owned());
        let bodies = PartBodies::Source(&src, options.taps.without_sha256());
        let journal = PartJournal { store, path: journal };
        let (sent, sha256) = tokio::try_join!(
            self.send_parts(
                &upload.file_id,
                &missing,
                HashMap::new(),
                &bodies,
                options.parallel,
                Some(journal)
            ),
            async { sha256_of_file(source).await.map_err(Error::Io) },
        )?;
        let mut parts: Vec<CompletedPart> = stored
            .into_iter()
            .map(|(number, etag)| CompletedPart { number, etag })
            .chain(sent)
            .collect();
        parts.sort_by_key(|p| p.number);
        let complete = CompleteUpload {
            size: Some(upload.size),
            sha256: Some(sha256.clone()),
            etag: None,
            parts,
        };
        report.file = match self.complete_upload(&upload.file_id, &complete).await {
            Ok(file) => file,
            // The server no longer takes these parts (the upload expired, a part is
            // missing): the next run starts over rather than failing the same way.
            Err(e)
                if e.status()
                    .is_some_and(|s| (400..500).contains(&s) && !matches!(s, 401 | 403 | 429)) =>
            {
                store.remove(journal.path).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        store.remove(journal.path).await?;
        report.sha256 = sha256;
        report.parts_sent = missing.len() as u32;
        Ok(Some(report))
    }

    /// Encrypts while sending; never resumable (see `encrypt`).
    async fn upload_encrypted(
        &self,
        request: CreateUpload,
        path: &Path,
        size: u64,
        encryption: &AgeEncryption,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        let cipher = Encrypting::start(path, size, encryption).await?;
        let multipart = cipher.size > options.multipart_threshold;
        let request = CreateUpload {
            size: cipher.size,
            multipart: Some(multipart),
            sha256: None,
            encryption: Some("age".to_owned()),
            ..request
        };
        let created = self.create_upload(&request).await?;
        let Some(upload) = created.upload else {
            return Err(Error::Protocol(
                "the server answered an encrypted upload without upload instructions".into(),
            ));
        };
        if let Some(progress) = &options.taps.progress {
            progress.total(cipher.size);
        }
        let taps = options.taps.without_sha256();
        let mut complete = CompleteUpload {
            size: Some(cipher.size),
            ..CompleteUpload::default()
        };
        let mut parts_sent = 0;
        let sent = match upload {
            UploadInstructions::Put { url, headers } => {
                let body = cipher.next_part(cipher.size, taps);
                self.put_signed(&url, &headers, body).await.map(|etag| {
                    complete.etag = Some(etag);
                })
            }
            UploadInstructions::Multipart {
                part_size,
                part_count,
                parts,
                ..
            } => {
                let plan = plan_parts(cipher.size, part_size, part_count)?;
                let urls = parts.into_iter().map(|p| (p.number, p.url)).collect();
                let bodies = PartBodies::Cipher(&cipher, taps);
                parts_sent = part_count;
                self.send_parts(&created.file_id, &plan, urls, &bodies, 1, None)
                    .await
                    .map(|parts| complete.parts = parts)
            }
            UploadInstructions::Post { .. } => Err(Error::Protocol(
                "the server answered an encrypted upload with a form upload".into(),
            )),
            UploadInstructions::Tus { .. } => Err(Error::Protocol(
                "the server answered a tus upload, which this client does not ask for".into(),
            )),
        };
        let sent_size = cipher.size;
        let digests = match (sent, cipher.finish().await) {
            (Ok(()), Ok(digests)) => digests,
            (sent, finished) => {
                let _ = self.abort_upload(&created.file_id).await;
                return Err(encryption_failure(sent.err(), finished.err()));
            }
        };
        complete.sha256 = Some(digests.ciphertext);
        let file = self.complete_upload(&created.file_id, &complete).await?;
        Ok(UploadReport {
            file,
            sha256: digests.plaintext,
            size,
            sent_size,
            multipart,
            encrypted: true,
            deduplicated: false,
            parts_sent,
            parts_resumed: 0,
        })
    }
}

/// The error to show for a failed encrypted upload: the encryption's own error (an
/// unreadable file, say), unless it only saw the upload stop reading.
fn encryption_failure(sent: Option<Error>, encryption: Option<Error>) -> Error {
    match (sent, encryption) {
        (_, Some(Error::Io(e))) if e.kind() != std::io::ErrorKind::BrokenPipe => Error::Io(e),
        (Some(e), _) | (None, Some(e)) => e,
        (None, None) => Error::Protocol("the encrypted upload failed without an error".into()),
    }
}
