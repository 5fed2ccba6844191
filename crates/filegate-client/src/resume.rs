//! What an interrupted multipart upload needs to go on without sending again the parts
//! already stored: one journal file per (server, local file, destination), kept in a
//! directory of the caller's choosing (the CLI keeps it beside its config).
//!
//! The journal's first line is the upload (JSON); every stored part appends one line
//! `{"number", "etag"}`. Appending is cheap at any part count, and a process killed in
//! the middle of a line leaves a torn last line that loading ignores (that part is sent
//! again). The journal belongs to one local file as it was: another size or mtime means
//! another file, and the old journal is dropped.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The upload a journal belongs to (its first line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadJournal {
    pub server: String,
    pub source: PathBuf,
    pub size: u64,
    pub modified_ns: u64,
    pub bucket: String,
    pub path: String,
    pub file_id: String,
    pub part_size: u64,
    pub part_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartLine {
    number: u32,
    etag: String,
}

/// A journal read back: the upload and the etags of its stored parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resumable {
    pub upload: UploadJournal,
    pub parts: BTreeMap<u32, String>,
}

/// The directory of upload journals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeStore {
    dir: PathBuf,
}

/// The identity of a local file as it is now: its size and modification time.
pub(crate) async fn file_identity(path: &Path) -> io::Result<(u64, u64)> {
    let meta = tokio::fs::metadata(path).await?;
    let modified_ns = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Ok((meta.len(), modified_ns))
}

impl ResumeStore {
    /// Journals go to `dir` (created when the first one is written, mode 0700).
    pub fn new(dir: impl Into<PathBuf>) -> ResumeStore {
        ResumeStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal of uploading `source` to `bucket`/`path` on `server`.
    pub(crate) fn journal_path(&self, server: &str, source: &Path, bucket: &str, path: &str) -> PathBuf {
        let mut key = Sha256::new();
        for part in [
            server.as_bytes(),
            source.as_os_str().as_encoded_bytes(),
            bucket.as_bytes(),
            path.as_bytes(),
        ] {
            key.update((part.len() as u64).to_le_bytes());
            key.update(part);
        }
        let key = hex::encode(key.finalize());
        self.dir.join(format!("{}.upload", &key[..32]))
    }

    /// The journal at `journal`, if there is a readable one.
    pub(crate) async fn load(&self, journal: &Path) -> io::Result<Option<Resumable>> {
        let text = match tokio::fs::read_to_string(journal).await {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(parse_journal(&text))
    }

    /// Starts a journal (replacing any old one).
    pub(crate) async fn start(&self, journal: &Path, upload: &UploadJournal) -> io::Result<()> {
        create_private_dir(&self.dir).await?;
        let mut line = serde_json::to_vec(upload).map_err(io::Error::other)?;
        line.push(b'\n');
        let tmp = journal.with_extension("tmp");
        write_private(&tmp, &line).await?;
        tokio::fs::rename(&tmp, journal).await
    }

    /// Records one stored part.
    pub(crate) async fn record_part(&self, journal: &Path, number: u32, etag: &str) -> io::Result<()> {
        let mut line = serde_json::to_vec(&PartLine {
            number,
            etag: etag.to_owned(),
        })
        .map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = tokio::fs::OpenOptions::new().append(true).open(journal).await?;
        file.write_all(&line).await?;
        file.flush().await
    }

    /// Forgets an upload (done, or no longer resumable).
    pub(crate) async fn remove(&self, journal: &Path) -> io::Result<()> {
        match tokio::fs::remove_file(journal).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn parse_journal(text: &str) -> Option<Resumable> {
    let mut lines = text.lines();
    let upload: UploadJournal = serde_json::from_str(lines.next()?).ok()?;
    let parts = lines
        .filter_map(|line| serde_json::from_str::<PartLine>(line).ok())
        .filter(|p| (1..=upload.part_count).contains(&p.number))
        .map(|p| (p.number, p.etag))
        .collect();
    Some(Resumable { upload, parts })
}

async fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await
}

/// Writes a new file readable by its owner only (journals name local paths).
async fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload() -> UploadJournal {
        UploadJournal {
            server: "http://127.0.0.1:8080/".into(),
            source: "/data/x.bin".into(),
            size: 30,
            modified_ns: 7,
            bucket: "default".into(),
            path: "in/x.bin".into(),
            file_id: "f1".into(),
            part_size: 10,
            part_count: 3,
        }
    }

    #[tokio::test]
    async fn parts_are_appended_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResumeStore::new(dir.path().join("uploads"));
        let journal = store.journal_path("s", Path::new("/data/x.bin"), "default", "in/x.bin");
        assert!(store.load(&journal).await.unwrap().is_none());
        store.start(&journal, &upload()).await.unwrap();
        store.record_part(&journal, 2, "e2").await.unwrap();
        store.record_part(&journal, 1, "e1").await.unwrap();
        let back = store.load(&journal).await.unwrap().unwrap();
        assert_eq!(back.upload, upload());
        assert_eq!(back.parts, BTreeMap::from([(1, "e1".into()), (2, "e2".into())]));
        store.remove(&journal).await.unwrap();
        store.remove(&journal).await.unwrap();
        assert!(store.load(&journal).await.unwrap().is_none());
    }

    #[test]
    fn a_torn_last_line_and_foreign_part_numbers_are_ignored() {
        let head = serde_json::to_string(&upload()).unwrap();
        let text = format!("{head}\n{{\"number\":1,\"etag\":\"a\"}}\n{{\"number\":9,\"etag\":\"z\"}}\n{{\"numb");
        let back = parse_journal(&text).unwrap();
        assert_eq!(back.parts, BTreeMap::from([(1, "a".into())]));
        assert!(parse_journal("not json\n").is_none());
        assert!(parse_journal("").is_none());
    }

    #[test]
    fn each_destination_has_its_own_journal() {
        let store = ResumeStore::new("/s");
        let a = store.journal_path("srv", Path::new("/x"), "b", "p");
        assert_eq!(a, store.journal_path("srv", Path::new("/x"), "b", "p"));
        assert_ne!(a, store.journal_path("srv", Path::new("/x"), "b", "q"));
        assert_ne!(a, store.journal_path("srv", Path::new("/x"), "bp", ""));
        assert_ne!(a, store.journal_path("other", Path::new("/x"), "b", "p"));
    }
}
