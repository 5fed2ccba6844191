//! A `SearchDocument` as `search_documents` stores it, and what writing or removing
//! documents does to the counts of `search_terms`.
//!
//! The words are split here, by core's rules, and handed to PostgreSQL as a `tsvector`
//! literal (lexemes with positions and weights) rather than through `to_tsvector`, whose
//! parser splits differently: what a query matches is exactly what core's `words` finds.

use std::collections::{BTreeMap, BTreeSet};

use filegate_core::StoreError;
use filegate_core::domain::{SearchDocument, words};
use serde_json::{Value, json};

use crate::convert::{micros, to_i64};

/// Longest word indexed, in bytes: a query is at most 256 characters, so a longer word can
/// never be asked for (and PostgreSQL refuses lexemes past 2 KiB).
const MAX_LEXEME_BYTES: usize = 1024;
/// Highest position a `tsvector` holds; later words share it.
const MAX_POSITION: usize = 16_383;
/// Most positions a `tsvector` keeps of one lexeme.
const MAX_POSITIONS_PER_LEXEME: usize = 256;

/// The kinds of `search_terms` rows (see migration 0011).
pub(super) const WORD: &str = "w";
pub(super) const COMPLETION: &str = "c";
pub(super) const OWNED_COMPLETION: &str = "o";

/// The words of a document as a `tsvector` literal, and the set of its lexemes.
pub(super) fn tsvector(doc: &SearchDocument) -> (String, BTreeSet<String>) {
    let mut texts: Vec<(&str, char)> = vec![(&doc.name, 'A')];
    texts.extend(doc.folders.iter().map(|f| (f.as_str(), 'B')));
    texts.extend(doc.metadata.iter().map(|(_, v)| (v.as_str(), 'B')));
    texts.extend(doc.external_id.as_deref().map(|e| (e, 'C')));
    texts.push((&doc.bucket, 'C'));
    texts.push((&doc.declared_type, 'C'));
    texts.extend(doc.sniffed_type.as_deref().map(|t| (t, 'C')));

    let mut positions: BTreeMap<String, Vec<(usize, char)>> = BTreeMap::new();
    let mut at = 1;
    for (text, weight) in texts {
        for (_, word) in words(text) {
            let lexeme = word.to_lowercase();
            if lexeme.len() <= MAX_LEXEME_BYTES {
                let list = positions.entry(lexeme).or_default();
                if list.len() < MAX_POSITIONS_PER_LEXEME {
                    list.push((at.min(MAX_POSITION), weight));
                }
            }
            at += 1;
        }
        // A position left empty between two texts: `a <-> b` never joins them.
        at += 1;
    }
    let mut literal = String::new();
    for (lexeme, list) in &positions {
        if !literal.is_empty() {
            literal.push(' ');
        }
        literal.push_str(&quoted(lexeme));
        literal.push(':');
        let list: Vec<String> = list.iter().map(|(p, w)| format!("{p}{w}")).collect();
        literal.push_str(&list.join(","));
    }
    (literal, positions.into_keys().collect())
}

/// `'text'` as `tsvector` and `tsquery` input read it: quotes doubled, backslashes escaped.
/// (Core's words hold neither; the quoting keeps it so whatever they hold.)
pub(super) fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Text as a PostgreSQL text value can hold it: NUL is refused there. Documents come from
/// files whose fields are parsed without control characters; this is the last guard.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// A document ready for `jsonb_to_recordset` (one JSON array binds a whole batch), with what
/// it adds to the counts.
pub(super) struct Stored {
    pub record: Value,
    pub entry: Entry,
}

/// What one stored document counts for: its owner, its lexemes and its completions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Entry {
    pub tenant: String,
    pub owner: String,
    pub lexemes: BTreeSet<String>,
    pub completions: BTreeSet<String>,
}

pub(super) fn stored(doc: &SearchDocument) -> Result<Stored, StoreError> {
    let (tsvector, lexemes) = tsvector(doc);
    let completions: BTreeSet<String> = doc.completions().iter().map(|c| storable(c)).collect();
    let metadata: serde_json::Map<String, Value> = doc
        .metadata
        .iter()
        .map(|(k, v)| (storable(k), Value::String(storable(v))))
        .collect();
    let record = json!({
        "tenant": doc.tenant.as_str(),
        "file_id": doc.id.to_string(),
        "bucket": storable(&doc.bucket),
        "path": storable(&doc.path),
        "name": storable(&doc.name),
        "folders": doc.folders.iter().map(|f| storable(f)).collect::<Vec<_>>(),
        "declared_type": storable(&doc.declared_type),
        "sniffed_type": doc.sniffed_type.as_deref().map(storable),
        "metadata": metadata,
        "external_id": doc.external_id.as_deref().map(storable),
        "owner": storable(&doc.owner),
        "status": doc.status.as_str(),
        "size": to_i64("file size", doc.size)?,
        "created_at": micros(doc.created_at),
        "updated_at": micros(doc.updated_at),
        "image_width": doc.image_width,
        "image_height": doc.image_height,
        "words": storable(&tsvector),
        "completions": completions,
    });
    Ok(Stored {
        record,
        entry: Entry {
            tenant: doc.tenant.as_str().to_owned(),
            owner: storable(&doc.owner),
            lexemes,
            completions,
        },
    })
}

/// Changes to `search_terms.files`, keyed (tenant, kind, owner, text), in key order: the
/// order rows are locked in, the same in every writer.
#[derive(Debug, Default)]
pub(super) struct Counts(BTreeMap<(String, &'static str, String, String), i64>);

impl Counts {
    /// Counts `entry` once more (`by` = 1) or once less (`by` = -1).
    pub fn add(&mut self, entry: &Entry, by: i64) {
        let mut bump = |kind: &'static str, owner: &str, text: &str| {
            *self
                .0
                .entry((entry.tenant.clone(), kind, owner.to_owned(), text.to_owned()))
                .or_default() += by;
        };
        for lexeme in &entry.lexemes {
            bump(WORD, "", lexeme);
        }
        for completion in &entry.completions {
            bump(COMPLETION, "", completion);
            bump(OWNED_COMPLETION, &entry.owner, completion);
        }
    }

    /// The changes as four arrays (tenants, kinds, owners, texts) and the deltas, without
    /// the keys whose changes cancel out.
    pub fn into_columns(self) -> Columns {
        let mut columns = Columns::default();
        for ((tenant, kind, owner, text), delta) in self.0 {
            if delta != 0 {
                columns.tenants.push(tenant);
                columns.kinds.push(kind.to_owned());
                columns.owners.push(owner);
                columns.texts.push(text);
                columns.deltas.push(delta);
            }
        }
        columns
    }
}

#[derive(Debug, Default)]
pub(super) struct Columns {
    pub tenants: Vec<String>,
    pub kinds: Vec<String>,
    pub owners: Vec<String>,
    pub texts: Vec<String>,
    pub deltas: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use filegate_core::domain::{FileId, FileStatus, TenantId};

    use super::*;

    fn doc() -> SearchDocument {
        SearchDocument {
            id: FileId::new(),
            tenant: TenantId::parse("t").unwrap(),
            bucket: "default".into(),
            path: "2026/Ward-A/Ward-A.csv".into(),
            name: "Ward-A.csv".into(),
            folders: vec!["2026".into(), "Ward-A".into()],
            declared_type: "text/csv".into(),
            sniffed_type: None,
            metadata: vec![("subject".into(), "O'Brien \\ 12".into())],
            external_id: Some("9434765919".into()),
            owner: "u".into(),
            status: FileStatus::Ready,
            size: 10,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            image_width: None,
            image_height: None,
        }
    }

    #[test]
    fn words_are_cores_with_their_weights_and_texts_kept_apart() {
        let (literal, lexemes) = tsvector(&doc());
        // name: ward 1 a 2 csv 3 | folders: 2026 5, ward 7 a 8 | subject: o 10 brien 11 12 12 |
        // external id 14 | bucket 16 | type: text 18 csv 19
        assert!(literal.contains("'ward':1A,7B"), "{literal}");
        assert!(literal.contains("'csv':3A,19C"), "{literal}");
        assert!(literal.contains("'brien':11B"), "{literal}");
        assert!(literal.contains("'9434765919':14C"), "{literal}");
        assert!(lexemes.contains("o") && lexemes.contains("default") && !lexemes.contains("Ward"));
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quoted(r"it's a\b"), r"'it''s a\\b'");
    }

    #[test]
    fn counts_cancel_out_and_come_in_key_order() {
        let entry = stored(&doc()).unwrap().entry;
        let mut moved = entry.clone();
        moved.owner = "v".into();
        let mut counts = Counts::default();
        counts.add(&entry, -1);
        counts.add(&moved, 1);
        let columns = counts.into_columns();
        // Only the owner's completions changed: each leaves u and joins v.
        assert!(columns.kinds.iter().all(|k| k == OWNED_COMPLETION));
        assert_eq!(columns.deltas.iter().sum::<i64>(), 0);
        assert_eq!(columns.deltas.len(), 2 * entry.completions.len());
        let keys: Vec<_> = columns.owners.iter().zip(&columns.texts).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
    }
}
