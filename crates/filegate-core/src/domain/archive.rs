//! Zip bundles (a set of documents delivered as one download): a set of `ready` files, chosen by id or by a
//! query, zipped by a job into one object that a signed URL hands out until it expires.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ArchiveId, BucketName, FileId, Metadata, TenantId, parse_prefix};
use crate::error::{Error, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveStatus {
    /// Accepted; the job has not built the zip yet.
    Pending,
    /// The zip is stored; a signed URL can be handed out until `expires_at`.
    Ready,
    /// The zip could not be built (a file stopped being ready, its bytes are gone).
    Failed,
    /// Past `expires_at`: the zip is deleted (final).
    Expired,
}

impl ArchiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

impl FromStr for ArchiveStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "pending" => Ok(Self::Pending),
            "ready" => Ok(Self::Ready),
            "failed" => Ok(Self::Failed),
            "expired" => Ok(Self::Expired),
            _ => Err(Error::invalid(
                ErrorCode::InvalidStatus,
                format!("unknown archive status {s:?}; known: pending, ready, failed, expired"),
            )),
        }
    }
}

impl fmt::Display for ArchiveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which `ready` files of the tenant a query picks: every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveQuery {
    pub bucket: Option<BucketName>,
    /// Paths starting with this (`2026/11/`), literally.
    pub prefix: Option<String>,
    /// Each key must be present with exactly this value.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl ArchiveQuery {
    /// A query from outside: at least one criterion (an empty query would zip the whole
    /// tenant), a prefix that is a valid path start, metadata within the usual bounds.
    pub fn parse(
        bucket: Option<&str>,
        prefix: Option<&str>,
        metadata: BTreeMap<String, String>,
    ) -> Result<Self, Error> {
        let bucket = bucket.map(BucketName::parse).transpose()?;
        let prefix = prefix.filter(|p| !p.is_empty()).map(parse_prefix).transpose()?;
        let metadata = Metadata::parse(metadata)?.into_map();
        if bucket.is_none() && prefix.is_none() && metadata.is_empty() {
            return Err(Error::invalid(
                ErrorCode::InvalidQuery,
                "an archive query needs at least one of bucket, prefix, metadata",
            ));
        }
        Ok(Self {
            bucket,
            prefix,
            metadata,
        })
    }
}

/// What the caller asked to bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveSelection {
    /// These files, each of which must be a `ready` file of the tenant.
    Files(Vec<FileId>),
    /// The tenant's `ready` files matching the query, ordered by path.
    Query(ArchiveQuery),
}

/// One file in the zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    pub file_id: FileId,
    /// The file's path, as it was when the archive was requested.
    pub path: String,
    /// Its name inside the zip: the path made safe and unique (see [`entry_names`]).
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub id: ArchiveId,
    pub tenant: TenantId,
    pub status: ArchiveStatus,
    pub selection: ArchiveSelection,
    /// The files, fixed when the archive was requested, in zip order.
    pub entries: Vec<ArchiveEntry>,
    /// The size of the zip, once built.
    pub size: Option<u64>,
    /// Why it failed, for people.
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the zip is deleted (and before it is built, when a stuck request is given up).
    pub expires_at: DateTime<Utc>,
}

impl Archive {
    /// Where the zip is stored: derived from tenant and id, never from input. Not a file's
    /// blob key (`t/…`), so signed-URL checks meant for files leave it alone.
    pub fn blob_key(&self) -> String {
        archive_blob_key(&self.tenant, self.id)
    }

    /// The bytes of the files inside (not the zip's size).
    pub fn content_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The name a download is saved as.
    pub fn download_name(&self) -> String {
        format!("archive-{}.zip", self.id)
    }
}

pub fn archive_blob_key(tenant: &TenantId, id: ArchiveId) -> String {
    format!("archives/{tenant}/{id}.zip")
}

/// The names of `paths` inside a zip, in order: relative (no leading `/` or Windows drive
/// `C:`), without `.`, `..` or empty segments, backslashes or control characters (the paths were parsed as
/// `ObjectPath`s already; this is the zip's own guard against "zip slip"), and unique
/// ignoring case — two files with the same path in different buckets, `A.txt` beside `a.txt`
/// (one file on a case-insensitive disk), or a file named like another's folder get
/// ` (2)`, ` (3)`, … before the extension.
pub fn entry_names<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let safe: Vec<String> = paths.into_iter().map(safe_entry_name).collect();
    // Every folder some entry lives in: no file may take such a name.
    let folders: HashSet<String> = safe
        .iter()
        .flat_map(|name| {
            name.match_indices('/')
                .map(|(i, _)| name[..i].to_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut taken: HashSet<String> = HashSet::new();
    // The next number to try per name, so ten thousand copies of one name stay linear.
    let mut next: HashMap<String, u64> = HashMap::new();
    safe.into_iter()
        .map(|name| {
            let key = name.to_lowercase();
            let mut candidate = name.clone();
            let n = next.entry(key).or_insert(2);
            while folders.contains(&candidate.to_lowercase()) || taken.contains(&candidate.to_lowercase()) {
                candidate = numbered(&name, *n);
                *n += 1;
            }
            taken.insert(candidate.to_lowercase());
            candidate
        })
        .collect()
}

fn safe_entry_name(path: &str) -> String {
    let mut segments: Vec<String> = path
        .split(['/', '\\'])
        .filter(|s| !matches!(*s, "" | "." | ".."))
        .map(|s| s.chars().map(|c| if c.is_control() { '_' } else { c }).collect())
        .collect();
    // `C:` first is a Windows drive (`C:/x` absolute, `C:x` on the drive's current folder).
    if let Some(first) = segments.first_mut()
        && let [letter, b':', ..] = first.as_bytes()
        && letter.is_ascii_alphabetic()
    {
        first.replace_range(1..2, "_");
    }
    if segments.is_empty() {
        "file".to_owned()
    } else {
        segments.join("/")
    }
}

/// `dir/name (n).ext`: the number goes before the last extension of the last segment.
fn numbered(name: &str, n: u64) -> String {
    let (dir, file) = match name.rfind('/') {
        Some(i) => name.split_at(i + 1),
        None => ("", name),
    };
    match file.rfind('.').filter(|&i| i > 0) {
        Some(i) => format!("{dir}{} ({n}){}", &file[..i], &file[i..]),
        None => format!("{dir}{file} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_relative_and_free_of_dot_segments() {
        let names = entry_names(["/etc/passwd", "a/../../b.txt", "./c", "d\\..\\e", "x\u{1}y", "..", ""]);
        assert_eq!(names, ["etc/passwd", "a/b.txt", "c", "d/e", "x_y", "file", "file (2)"]);
        for name in &names {
            assert!(!name.starts_with('/'));
            assert!(name.split('/').all(|s| s != ".." && s != "." && !s.is_empty()));
        }
    }

    /// Found by the `zip_entry_names` fuzz target: `C:/x` is absolute on Windows, `C:x`
    /// relative to the drive's current folder; extractors that join names to their
    /// destination (.NET's `Path.Combine`) write there.
    #[test]
    fn entry_names_never_start_with_a_windows_drive() {
        let names = entry_names(["C:/Windows/evil.dll", "c:evil.txt", "/d:/x", "a/C:/b", "CD:x", "1:x"]);
        assert_eq!(
            names,
            ["C_/Windows/evil.dll", "c_evil.txt", "d_/x", "a/C:/b", "CD:x", "1:x"]
        );
    }

    #[test]
    fn duplicates_are_numbered_before_the_extension() {
        let names = entry_names([
            "r/report.pdf",
            "r/report.pdf",
            "R/Report.PDF",
            "r/report.pdf",
            "notes",
            "notes",
        ]);
        assert_eq!(
            names,
            [
                "r/report.pdf",
                "r/report (2).pdf",
                "R/Report (3).PDF",
                "r/report (4).pdf",
                "notes",
                "notes (2)"
            ]
        );
    }

    #[test]
    fn a_file_never_takes_the_name_of_a_folder() {
        let names = entry_names(["a", "a/b.txt", ".hidden"]);
        assert_eq!(names, ["a (2)", "a/b.txt", ".hidden"]);
    }

    #[test]
    fn a_query_needs_a_criterion_and_valid_parts() {
        assert!(ArchiveQuery::parse(None, None, BTreeMap::new()).is_err());
        assert!(ArchiveQuery::parse(Some("Bad Bucket"), None, BTreeMap::new()).is_err());
        assert!(ArchiveQuery::parse(None, Some("../x"), BTreeMap::new()).is_err());
        let bad_key = BTreeMap::from([("a b".to_owned(), "1".to_owned())]);
        assert!(ArchiveQuery::parse(None, None, bad_key).is_err());
        let q = ArchiveQuery::parse(
            Some("scans"),
            Some("2026/"),
            BTreeMap::from([("patient".to_owned(), "123".to_owned())]),
        )
        .unwrap();
        assert_eq!(q.prefix.as_deref(), Some("2026/"));
        assert_eq!(
            ArchiveQuery::parse(None, Some(""), BTreeMap::from([("k".into(), "v".into())]))
                .unwrap()
                .prefix,
            None
        );
    }

    #[test]
    fn statuses_parse_back() {
        for s in [
            ArchiveStatus::Pending,
            ArchiveStatus::Ready,
            ArchiveStatus::Failed,
            ArchiveStatus::Expired,
        ] {
            assert_eq!(s.as_str().parse::<ArchiveStatus>().unwrap(), s);
        }
    }
}
