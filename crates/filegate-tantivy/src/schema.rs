//! The index's fields and how a `SearchDocument` becomes a tantivy document.
//!
//! Text is searched in four fields of decreasing weight (name, folders, metadata values,
//! the rest), split by the `words` analyzer: runs of letters and digits, lowercased, as
//! `domain::search::words` splits queries and highlights. Filters, sorting and facets read
//! raw (untokenized) fields. Suggestions are terms of their own, prefixed by the tenant
//! (and owner), so completing a prefix is a walk over a range of the term dictionary.

use filegate_core::domain::{SearchDocument, TenantId};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, TantivyDocument, Term};

/// The analyzer of the text fields.
pub const WORDS: &str = "words";
/// Words longer than this are not indexed (nobody types them; they bloat the dictionary).
const LONGEST_WORD: usize = 64;
/// Separates the parts of a composite term (`tenant`, `owner`, `value`): a control
/// character, which object paths and metadata keys cannot hold.
pub const SEPARATOR: char = '\u{1f}';
/// Bumped whenever the fields change: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub tenant: Field,
    pub owner: Field,
    pub bucket: Field,
    pub path: Field,
    pub name_sort: Field,
    pub status: Field,
    pub types: Field,
    pub facet_type: Field,
    pub meta: Field,
    pub external_id: Field,
    pub size: Field,
    pub created: Field,
    pub updated: Field,
    pub width: Field,
    pub height: Field,
    pub name_text: Field,
    pub folders_text: Field,
    pub meta_text: Field,
    pub other_text: Field,
    pub suggest: Field,
    pub suggest_own: Field,
}

/// A text field's weight in the relevance score.
pub struct Weighted {
    pub field: Field,
    pub weight: f32,
}

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let words = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(WORDS)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            // Fast: pages read their ids from the column and orders break ties by it.
            id: b.add_text_field("id", STRING | STORED | FAST),
            tenant: b.add_text_field("tenant", STRING),
            owner: b.add_text_field("owner", STRING),
            bucket: b.add_text_field("bucket", STRING | FAST),
            path: b.add_text_field("path", STRING | FAST),
            name_sort: b.add_text_field("name_sort", STRING | FAST),
            status: b.add_text_field("status", STRING),
            types: b.add_text_field("types", STRING),
            facet_type: b.add_text_field("facet_type", STRING | FAST),
            meta: b.add_text_field("meta", STRING),
            external_id: b.add_text_field("external_id", STRING),
            size: b.add_u64_field("size", INDEXED | FAST),
            created: b.add_i64_field("created", INDEXED | FAST),
            updated: b.add_i64_field("updated", FAST),
            width: b.add_u64_field("width", FAST),
            height: b.add_u64_field("height", FAST),
            name_text: b.add_text_field("name_text", words.clone()),
            folders_text: b.add_text_field("folders_text", words.clone()),
            meta_text: b.add_text_field("meta_text", words.clone()),
            other_text: b.add_text_field("other_text", words),
            suggest: b.add_text_field("suggest", STRING),
            suggest_own: b.add_text_field("suggest_own", STRING),
        };
        (b.build(), fields)
    }

    /// The text fields, most telling first.
    pub fn weighted(&self) -> [Weighted; 4] {
        [
            Weighted {
                field: self.name_text,
                weight: 3.0,
            },
            Weighted {
                field: self.folders_text,
                weight: 1.5,
            },
            Weighted {
                field: self.meta_text,
                weight: 1.5,
            },
            Weighted {
                field: self.other_text,
                weight: 1.0,
            },
        ]
    }

    pub fn document(&self, doc: &SearchDocument) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(self.id, doc.id.to_string());
        d.add_text(self.tenant, doc.tenant.as_str());
        d.add_text(self.owner, &doc.owner);
        d.add_text(self.bucket, &doc.bucket);
        d.add_text(self.path, &doc.path);
        d.add_text(self.name_sort, &doc.name);
        d.add_text(self.status, doc.status.as_str());
        d.add_text(self.types, &doc.declared_type);
        if let Some(sniffed) = doc.sniffed_type.as_deref().filter(|s| *s != doc.declared_type) {
            d.add_text(self.types, sniffed);
        }
        d.add_text(self.facet_type, doc.content_type());
        for (key, value) in &doc.metadata {
            d.add_text(self.meta, meta_term(key, value));
            d.add_text(self.meta_text, value);
        }
        if let Some(external_id) = &doc.external_id {
            d.add_text(self.external_id, external_id);
            d.add_text(self.other_text, external_id);
        }
        d.add_u64(self.size, doc.size);
        d.add_i64(self.created, doc.created_at.timestamp_micros());
        d.add_i64(self.updated, doc.updated_at.timestamp_micros());
        if let (Some(w), Some(h)) = (doc.image_width, doc.image_height) {
            d.add_u64(self.width, u64::from(w));
            d.add_u64(self.height, u64::from(h));
        }
        d.add_text(self.name_text, &doc.name);
        for folder in &doc.folders {
            d.add_text(self.folders_text, folder);
        }
        d.add_text(self.other_text, &doc.bucket);
        d.add_text(self.other_text, &doc.declared_type);
        if let Some(sniffed) = doc.sniffed_type.as_deref().filter(|s| *s != doc.declared_type) {
            d.add_text(self.other_text, sniffed);
        }
        for completion in doc.completions() {
            d.add_text(self.suggest, suggest_term(&doc.tenant, None, &completion));
            d.add_text(
                self.suggest_own,
                suggest_term(&doc.tenant, Some(&doc.owner), &completion),
            );
        }
        d
    }

    pub fn id_term(&self, id: &str) -> Term {
        Term::from_field_text(self.id, id)
    }
}

/// The exact-match term of a metadata pair.
pub fn meta_term(key: &str, value: &str) -> String {
    format!("{key}{SEPARATOR}{value}")
}

/// The term a completion is stored as: tenant, owner when scoped to one, the text.
pub fn suggest_term(tenant: &TenantId, owner: Option<&str>, text: &str) -> String {
    match owner {
        Some(owner) => format!("{}{SEPARATOR}{owner}{SEPARATOR}{text}", tenant.as_str()),
        None => format!("{}{SEPARATOR}{text}", tenant.as_str()),
    }
}

/// Registers the analyzer the text fields name; every opened index needs it.
pub fn register_analyzers(index: &Index) {
    let words = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_WORD))
        .filter(LowerCaser)
        .build();
    index.tokenizers().register(WORDS, words);
}
