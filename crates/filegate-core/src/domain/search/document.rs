//! What the index holds of a file: the text words are searched in, the values filters and
//! facets read, and the keys suggestions complete, taken from the file as the database
//! has it. Engines store it as they like; this is the one description of what is indexed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::is_searchable;
use crate::domain::{FileId, FileRecord, FileStatus, TenantId, words};

#[derive(Debug, Clone, PartialEq)]
pub struct SearchDocument {
    pub id: FileId,
    pub tenant: TenantId,
    pub bucket: String,
    pub path: String,
    pub name: String,
    /// The folders of the path (`2026/ward/a.csv` → `2026`, `ward`).
    pub folders: Vec<String>,
    /// The declared content type's essence.
    pub declared_type: String,
    /// What the pipeline sniffed, when it did.
    pub sniffed_type: Option<String>,
    /// `(key, value)` pairs, keys sorted.
    pub metadata: Vec<(String, String)>,
    pub external_id: Option<String>,
    pub owner: String,
    pub status: FileStatus,
    pub size: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub image_width: Option<u32>,
    pub image_height: Option<u32>,
}

impl SearchDocument {
    /// The document for `file`, or `None` when the file does not belong in the index (see
    /// [`is_searchable`]): its entry, if any, is to be removed.
    pub fn of(file: &FileRecord) -> Option<Self> {
        if !is_searchable(file.status) {
            return None;
        }
        let path = file.path.as_str();
        let folders = path.rsplit_once('/').map_or_else(Vec::new, |(dirs, _)| {
            dirs.split('/').filter(|d| !d.is_empty()).map(str::to_owned).collect()
        });
        let dimension = |key: &str| {
            let image = file.processing.image.as_ref()?;
            image.get(key)?.as_u64().and_then(|n| u32::try_from(n).ok())
        };
        Some(Self {
            id: file.id,
            tenant: file.tenant.clone(),
            bucket: file.bucket.as_str().to_owned(),
            path: path.to_owned(),
            name: file.name().to_owned(),
            folders,
            declared_type: file.content_type.essence().to_owned(),
            sniffed_type: file.processing.sniffed_type.clone(),
            metadata: file
                .metadata
                .as_map()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            external_id: file.external_id.clone(),
            owner: file.owner.clone(),
            status: file.status,
            size: file.size,
            created_at: file.created_at,
            updated_at: file.updated_at,
            image_width: dimension("width"),
            image_height: dimension("height"),
        })
    }

    /// The content type facets count: the sniffed one when known, else the declared.
    pub fn content_type(&self) -> &str {
        self.sniffed_type.as_deref().unwrap_or(&self.declared_type)
    }

    /// Every text the query's words are looked for in, most telling first: the name, the
    /// folders, the metadata values, the external id, the bucket, the content types.
    pub fn texts(&self) -> Vec<&str> {
        let mut texts = vec![self.name.as_str()];
        texts.extend(self.folders.iter().map(String::as_str));
        texts.extend(self.metadata.iter().map(|(_, v)| v.as_str()));
        texts.extend(self.external_id.as_deref());
        texts.push(&self.bucket);
        texts.push(&self.declared_type);
        texts.extend(self.sniffed_type.as_deref());
        texts
    }

    /// What a prefix being typed may complete to: the name, each folder and each metadata
    /// value, whole (`ward-a.csv`), and each of their words (`ward`), lowercased, once.
    pub fn completions(&self) -> BTreeSet<String> {
        let whole = std::iter::once(self.name.as_str())
            .chain(self.folders.iter().map(String::as_str))
            .chain(self.metadata.iter().map(|(_, v)| v.as_str()))
            .filter(|t| t.chars().count() <= super::MAX_SUGGEST_CHARS);
        let mut out = BTreeSet::new();
        for text in whole {
            out.insert(text.to_lowercase());
            out.extend(words(text).map(|(_, w)| w.to_lowercase()));
        }
        out
    }
}
