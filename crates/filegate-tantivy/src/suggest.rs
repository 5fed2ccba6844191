//! Completions: a walk over the range of the term dictionary that the tenant's (or the
//! owner's) prefix covers, the most frequent terms first, each counted again over live
//! documents (the dictionary still counts documents deleted since the last merge).

use std::collections::HashMap;

use filegate_core::domain::{Suggestion, TenantId};
use tantivy::collector::Count;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, Term};

use crate::schema::{Fields, suggest_term};

/// Most dictionary terms looked at per segment: a one-letter prefix in a large index has
/// many completions, and a few thousand are enough to find the frequent ones.
const MAX_SCANNED: usize = 5_000;

pub fn run(
    searcher: &Searcher,
    fields: &Fields,
    tenant: &TenantId,
    prefix: &str,
    owner: Option<&str>,
    limit: usize,
) -> anyhow::Result<Vec<Suggestion>> {
    let field = if owner.is_some() {
        fields.suggest_own
    } else {
        fields.suggest
    };
    let key_prefix = suggest_term(tenant, owner, prefix);
    let scope = suggest_term(tenant, owner, "");
    let upper = format!("{key_prefix}{}", char::MAX);
    let mut frequency: HashMap<String, u64> = HashMap::new();
    for segment in searcher.segment_readers() {
        let index = segment.inverted_index(field)?;
        let mut stream = index.terms().range().ge(&key_prefix).lt(&upper).into_stream()?;
        let mut scanned = 0;
        while scanned < MAX_SCANNED && stream.advance() {
            scanned += 1;
            let key = String::from_utf8_lossy(stream.key()).into_owned();
            *frequency.entry(key).or_default() += u64::from(stream.value().doc_freq);
        }
    }
    let mut candidates: Vec<(String, u64)> = frequency.into_iter().collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    candidates.truncate(limit.saturating_mul(3));
    let mut found = Vec::with_capacity(candidates.len());
    for (key, _) in candidates {
        let query = TermQuery::new(Term::from_field_text(field, &key), IndexRecordOption::Basic);
        let count = searcher.search(&query, &Count)? as u64;
        if count > 0 {
            let text = key.strip_prefix(&scope).unwrap_or(&key).to_owned();
            found.push(Suggestion { text, count });
        }
    }
    found.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
    found.truncate(limit);
    Ok(found)
}
