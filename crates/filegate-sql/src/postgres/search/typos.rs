//! The words of a tenant a query word may be a typo of, looked up in its vocabulary
//! (`search_terms`, kind 'w').
//!
//! A trigram index (`pg_trgm`, `query <% word`) finds the words that share enough
//! trigrams with the query word to possibly be within its budget; core's
//! `Term::matches_word` keeps those that are, the nearest [`MAX_EXPANSIONS`]. How many
//! trigrams are enough is the least word similarity any word within the budget can have
//! ([`similarity_floor`]): the lower it is, the more of the index is read, so each word is
//! looked up with its own.

use std::collections::BTreeMap;

use filegate_core::StoreError;
use filegate_core::domain::{SearchText, TenantId, Term, typo_budget};
use sqlx::{PgConnection, QueryBuilder};

use super::stored::WORD;
use crate::errors::store_err;

/// Most words one query word expands to (besides itself and, when typed, its prefix).
const MAX_EXPANSIONS: usize = 50;
/// Most close words read per query word before they are checked against its budget.
const MAX_CANDIDATES: i64 = 200;

/// A loose word with typos to look up: its text, the lengths of the words it may match,
/// whether it is being typed, and its similarity floor.
#[derive(Debug, Clone, PartialEq)]
struct Lookup {
    text: String,
    min_chars: i32,
    max_chars: i32,
    prefix: bool,
    floor: f64,
}

/// The words of `text` to look up in the vocabulary, by term index: the loose words that
/// tolerate typos.
fn lookups(text: &SearchText) -> BTreeMap<usize, Lookup> {
    let mut found = BTreeMap::new();
    for (i, term) in text.terms.iter().enumerate() {
        if let Term::Word {
            text,
            fuzzy: true,
            prefix,
        } = term
        {
            let budget = typo_budget(text);
            if budget == 0 {
                continue;
            }
            let chars = text.chars().count();
            let (chars_i32, budget_i32) = (i32::try_from(chars).unwrap_or(i32::MAX), i32::from(budget));
            found.insert(
                i,
                Lookup {
                    text: text.clone(),
                    min_chars: chars_i32 - budget_i32,
                    max_chars: if *prefix { i32::MAX } else { chars_i32 + budget_i32 },
                    prefix: *prefix,
                    floor: similarity_floor(chars, budget.into(), *prefix),
                },
            );
        }
    }
    found
}

/// The least word similarity (`<%`) to a query word of `chars` characters that a word
/// within `budget` edits of it can have, with a margin. A query word has `chars + 1`
/// trigrams (pg_trgm pads it); an edit (a swap of two characters, at worst) spoils four of
/// them and brings four others into the word: at least `chars + 1 - 4b` are shared, over
/// `chars + 1 + 4b`. A prefix being typed loses one more (its last trigram, which ends the
/// word). Measured on 40,000 random typos per length, the least similarities met these
/// bounds (5 characters whole, 1 edit: 0.200; 10 characters typed, 2 edits: 0.105).
fn similarity_floor(chars: usize, budget: usize, prefix: bool) -> f64 {
    let trigrams = chars as f64 + 1.0;
    let spoiled = 4.0 * budget as f64 + if prefix { 1.0 } else { 0.0 };
    let bound = (trigrams - spoiled).max(0.0) / (trigrams + 4.0 * budget as f64);
    (bound * 0.85).clamp(0.01, 0.9)
}

/// For each lookup (by term index), the tenant's words within its budget, nearest first;
/// not the word itself nor, for a prefix, the words it begins (the tsquery matches those).
/// `conn` must be in a transaction: each floor is set for it alone.
pub(super) async fn close_words(
    conn: &mut PgConnection,
    tenant: &TenantId,
    text: &SearchText,
) -> Result<BTreeMap<usize, Vec<String>>, StoreError> {
    let lookups = lookups(text);
    // One statement per floor (usually one or two): the threshold is a setting, not a value
    // a statement can bind per word.
    let mut by_floor: BTreeMap<String, Vec<(usize, &Lookup)>> = BTreeMap::new();
    for (i, lookup) in &lookups {
        by_floor
            .entry(format!("{:.3}", lookup.floor))
            .or_default()
            .push((*i, lookup));
    }
    let mut found: BTreeMap<usize, Vec<(usize, String)>> = BTreeMap::new();
    for (floor, group) in by_floor {
        sqlx::query("SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)")
            .bind(floor)
            .execute(&mut *conn)
            .await
            .map_err(store_err)?;
        let rows: Vec<(i64, String)> = candidates(tenant, &group)
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(store_err)?;
        for (i, word) in rows {
            let Some((&i, lookup)) = usize::try_from(i).ok().and_then(|i| lookups.get_key_value(&i)) else {
                continue;
            };
            let term = Term::Word {
                text: lookup.text.clone(),
                fuzzy: true,
                prefix: lookup.prefix,
            };
            if term.matches_word(&word) {
                let distance = distance(&lookup.text, &word, lookup.prefix);
                found.entry(i).or_default().push((distance, word));
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|(i, mut close)| {
            // Stable: among words as near, the vocabulary's order (more files first) stays.
            close.sort_by_key(|(d, _)| *d);
            close.truncate(MAX_EXPANSIONS);
            (i, close.into_iter().map(|(_, w)| w).collect())
        })
        .collect())
}

/// The statement reading, for each lookup of `group`, the words close enough by trigrams,
/// the most similar (then the most frequent) first.
fn candidates(tenant: &TenantId, group: &[(usize, &Lookup)]) -> QueryBuilder<sqlx::Postgres> {
    let mut q = QueryBuilder::new("SELECT q.i, t.text FROM unnest(");
    q.push_bind(group.iter().map(|(i, _)| *i as i64).collect::<Vec<_>>())
        .push("::int8[], ")
        .push_bind(group.iter().map(|(_, l)| l.text.clone()).collect::<Vec<_>>())
        .push("::text[], ")
        .push_bind(group.iter().map(|(_, l)| l.min_chars).collect::<Vec<_>>())
        .push("::int4[], ")
        .push_bind(group.iter().map(|(_, l)| l.max_chars).collect::<Vec<_>>())
        .push("::int4[], ")
        .push_bind(group.iter().map(|(_, l)| l.prefix).collect::<Vec<_>>())
        .push(
            "::bool[]) AS q(i, word, min_chars, max_chars, prefix) \
             CROSS JOIN LATERAL (SELECT text FROM search_terms WHERE tenant = ",
        )
        .push_bind(tenant.as_str().to_owned())
        .push(format_args!(" AND kind = '{WORD}' AND owner = ''"))
        .push(
            " AND q.word <% text \
               AND char_length(text) BETWEEN q.min_chars AND q.max_chars \
               AND text <> q.word \
               AND NOT (q.prefix AND starts_with(text, q.word)) \
             ORDER BY word_similarity(q.word, text) DESC, files DESC, text LIMIT ",
        )
        .push_bind(MAX_CANDIDATES)
        .push(") t");
    q
}

/// How far `word` is from the query word `text`: the edit distance, or for a prefix being
/// typed, that of the nearest beginning of `word`.
fn distance(text: &str, word: &str, prefix: bool) -> usize {
    let whole = strsim::osa_distance(text, word);
    if !prefix {
        return whole;
    }
    let chars = text.chars().count();
    let budget = usize::from(typo_budget(text));
    (chars.saturating_sub(budget)..=chars + budget)
        .map(|n| strsim::osa_distance(text, &word.chars().take(n).collect::<String>()))
        .fold(whole, usize::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loose_words_with_a_budget_are_looked_up() {
        let text = SearchText::parse(r#"ward radiology "exact words" "radiologist" repor"#).unwrap();
        let found = lookups(&text);
        let looked: Vec<_> = found
            .values()
            .map(|l| (l.text.as_str(), l.min_chars, l.max_chars, l.prefix))
            .collect();
        assert_eq!(looked, [("radiology", 7, 11, false), ("repor", 4, i32::MAX, true)]);
    }

    #[test]
    fn floors_stay_under_the_similarities_measured() {
        // (characters, budget, prefix, least similarity measured)
        for (chars, budget, prefix, least) in [
            (5, 1, false, 0.200),
            (5, 1, true, 0.167),
            (6, 1, true, 0.182),
            (8, 1, false, 0.385),
            (9, 2, false, 0.111),
            (9, 2, true, 0.100),
            (10, 2, true, 0.105),
            (16, 2, true, 0.320),
            (32, 2, false, 0.610),
        ] {
            let floor = similarity_floor(chars, budget, prefix);
            assert!(floor < least, "{chars} {budget} {prefix}: {floor} < {least}");
        }
        assert!(similarity_floor(9, 2, true) >= 0.01);
    }

    #[test]
    fn distance_of_a_prefix_is_that_of_its_nearest_beginning() {
        assert_eq!(distance("repor", "raport", true), 1);
        assert_eq!(distance("repor", "raport", false), 2);
        assert_eq!(distance("radiology", "radiolgy", false), 1);
    }
}
