//! A `SearchQuery` as a tantivy query: every word must match somewhere (exactly, within its
//! typo budget, or as the beginning of a word when it is the last one typed), every phrase
//! must match in order in one field, and every filter must hold. Filters score nothing;
//! exact matches score above typo-tolerant ones, and a match in the name above one in a
//! folder or a metadata value.

use std::ops::Bound;

use filegate_core::domain::{SearchFilter, SearchQuery, Term, TypeFilter, typo_budget};
use tantivy::Term as IndexTerm;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::schema::{Fields, meta_term};

/// How much less a typo-tolerant or prefix match weighs than an exact one.
const LOOSE_WEIGHT: f32 = 0.4;

pub fn build(fields: &Fields, query: &SearchQuery) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = query
        .text
        .terms
        .iter()
        .map(|term| (Occur::Must, text_clause(fields, term)))
        .collect();
    let tenant = exact(fields.tenant, query.tenant.as_str());
    clauses.push((Occur::Must, filter(tenant)));
    for f in filters(fields, &query.filter) {
        clauses.push((Occur::Must, filter(f)));
    }
    if query.text.is_empty() {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// A clause that narrows without scoring.
fn filter(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

fn exact(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        IndexTerm::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn text_clause(fields: &Fields, term: &Term) -> Box<dyn Query> {
    let mut any_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for weighted in fields.weighted() {
        let (field, weight) = (weighted.field, weighted.weight);
        match term {
            Term::Word { text, fuzzy, prefix } => {
                let index_term = IndexTerm::from_field_text(field, text);
                let exact_match = TermQuery::new(index_term.clone(), IndexRecordOption::WithFreqs);
                any_field.push((Occur::Should, Box::new(BoostQuery::new(Box::new(exact_match), weight))));
                let budget = if *fuzzy { typo_budget(text) } else { 0 };
                let loose = match (*prefix, budget) {
                    (true, budget) => Some(FuzzyTermQuery::new_prefix(index_term, budget, true)),
                    (false, 0) => None,
                    (false, budget) => Some(FuzzyTermQuery::new(index_term, budget, true)),
                };
                if let Some(loose) = loose {
                    let boost = weight * LOOSE_WEIGHT;
                    any_field.push((Occur::Should, Box::new(BoostQuery::new(Box::new(loose), boost))));
                }
            }
            Term::Phrase(words) => {
                let terms = words.iter().map(|w| IndexTerm::from_field_text(field, w)).collect();
                let phrase = PhraseQuery::new(terms);
                any_field.push((Occur::Should, Box::new(BoostQuery::new(Box::new(phrase), weight))));
            }
        }
    }
    Box::new(BooleanQuery::new(any_field))
}

/// Terms from `prefix` (inclusive) up to the first text that does not begin with it.
fn starting_with(field: Field, prefix: &str) -> Box<dyn Query> {
    Box::new(RangeQuery::new(
        Bound::Included(IndexTerm::from_field_text(field, prefix)),
        Bound::Excluded(IndexTerm::from_field_text(field, &format!("{prefix}{}", char::MAX))),
    ))
}

fn filters(fields: &Fields, f: &SearchFilter) -> Vec<Box<dyn Query>> {
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    if let Some(owner) = &f.owner {
        out.push(exact(fields.owner, owner));
    }
    if let Some(bucket) = &f.bucket {
        out.push(exact(fields.bucket, bucket.as_str()));
    }
    if let Some(prefix) = f.prefix.as_deref().filter(|p| !p.is_empty()) {
        out.push(starting_with(fields.path, prefix));
    }
    match &f.content_type {
        Some(TypeFilter::Exact(t)) => out.push(exact(fields.types, t)),
        Some(TypeFilter::Family(family)) => out.push(starting_with(fields.types, &format!("{family}/"))),
        None => {}
    }
    if let Some(status) = f.status {
        out.push(exact(fields.status, status.as_str()));
    }
    let micros = |t: chrono::DateTime<chrono::Utc>| IndexTerm::from_field_i64(fields.created, t.timestamp_micros());
    if f.created_after.is_some() || f.created_before.is_some() {
        out.push(Box::new(RangeQuery::new(
            f.created_after.map_or(Bound::Unbounded, |t| Bound::Excluded(micros(t))),
            f.created_before
                .map_or(Bound::Unbounded, |t| Bound::Excluded(micros(t))),
        )));
    }
    if f.size_min.is_some() || f.size_max.is_some() {
        let size = |n: u64| IndexTerm::from_field_u64(fields.size, n);
        out.push(Box::new(RangeQuery::new(
            f.size_min.map_or(Bound::Unbounded, |n| Bound::Included(size(n))),
            f.size_max.map_or(Bound::Unbounded, |n| Bound::Included(size(n))),
        )));
    }
    for (key, value) in &f.metadata {
        out.push(exact(fields.meta, &meta_term(key, value)));
    }
    if let Some(external_id) = &f.external_id {
        out.push(exact(fields.external_id, external_id));
    }
    out
}
