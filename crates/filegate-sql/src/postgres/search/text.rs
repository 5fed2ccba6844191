//! A query's text as `tsquery`s: every term must match (`&`); a loose word matches itself,
//! the tenant's words within its typo budget and, when it is the prefix being typed, the
//! words it begins (`:*`); a phrase matches its words in order (`<->`).
//!
//! The words within a typo budget are looked up in the tenant's vocabulary (`search_terms`,
//! kind 'w'): a trigram index finds the words close to the query word, and core's
//! `Term::matches_word` keeps those within its budget, the nearest [`MAX_EXPANSIONS`].

use std::collections::BTreeMap;

use filegate_core::StoreError;
use filegate_core::domain::{SearchText, TenantId, Term, typo_budget};
use sqlx::{PgConnection, QueryBuilder};

use super::stored::{WORD, push_quoted};
use crate::errors::store_err;

/// Most words one query word expands to (besides itself and, when typed, its prefix).
const MAX_EXPANSIONS: usize = 50;
/// Most close words read per query word before they are checked against its budget.
const MAX_CANDIDATES: i64 = 200;

/// The tsqueries of a search: `all` finds the matches, `exact` (the words as typed, any of
/// them) ranks those that have them above those found only through typos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TsQueries {
    pub all: String,
    pub exact: String,
}

/// A loose word with typos to look up: its text, the lengths of the words it may match, and
/// whether it is being typed.
struct Lookup {
    text: String,
    min_chars: i32,
    max_chars: i32,
    prefix: bool,
}

/// The words of `text` to look up in the vocabulary, by term index.
fn lookups(text: &SearchText) -> BTreeMap<usize, Lookup> {
    let mut found = BTreeMap::new();
    for (i, term) in text.terms.iter().enumerate() {
        if let Term::Word {
            text,
            fuzzy: true,
            prefix,
        } = term
        {
            let budget = i32::from(typo_budget(text));
            if budget == 0 {
                continue;
            }
            let chars = i32::try_from(text.chars().count()).unwrap_or(i32::MAX);
            found.insert(
                i,
                Lookup {
                    text: text.clone(),
                    min_chars: chars - budget,
                    max_chars: if *prefix { i32::MAX } else { chars + budget },
                    prefix: *prefix,
                },
            );
        }
    }
    found
}

/// The trigram word similarity (`<%`) that every word within the budget of a query word of
/// `chars` characters reaches: an edit spoils at most four of its `chars + 1` trigrams (a
/// swap of two letters), and the share left is divided by 2.5, well under the least
/// similarity measured for words within budget (5 characters, 1 edit: 0.167; 9 and 2:
/// 0.100; 10 and 2: 0.105; 32 and 2: 0.585; 40,000 random typos per length).
fn similarity_floor(chars: usize, budget: usize) -> f64 {
    let trigrams = chars as f64 + 1.0;
    let kept = (trigrams - 4.0 * budget as f64 - 1.0).max(0.0);
    (kept / (2.5 * trigrams)).clamp(0.01, 0.9)
}

/// The tsqueries for `text`, looking typos up on `conn` (which must be in a transaction:
/// the similarity threshold is set for it alone). `None` when `text` has no terms.
pub(super) async fn ts_queries(
    conn: &mut PgConnection,
    tenant: &TenantId,
    text: &SearchText,
) -> Result<Option<TsQueries>, StoreError> {
    if text.is_empty() {
        return Ok(None);
    }
    let lookups = lookups(text);
    let mut expansions = if lookups.is_empty() {
        BTreeMap::new()
    } else {
        close_words(conn, tenant, &lookups).await?
    };
    let mut all = Vec::new();
    let mut exact = Vec::new();
    for (i, term) in text.terms.iter().enumerate() {
        match term {
            Term::Word { text: word, prefix, .. } => {
                let mut own = String::new();
                push_quoted(&mut own, word);
                if *prefix {
                    own.push_str(":*");
                }
                let mut alternatives = vec![own.clone()];
                let close = expansions.remove(&i).unwrap_or_default();
                alternatives.extend(close.into_iter().map(|w| {
                    let mut q = String::new();
                    push_quoted(&mut q, &w);
                    q
                }));
                all.push(format!("({})", alternatives.join(" | ")));
                exact.push(own);
            }
            Term::Phrase(words) => {
                let phrase: Vec<String> = words
                    .iter()
                    .map(|w| {
                        let mut q = String::new();
                        push_quoted(&mut q, w);
                        q
                    })
                    .collect();
                let phrase = format!("({})", phrase.join(" <-> "));
                all.push(phrase.clone());
                exact.push(phrase);
            }
        }
    }
    Ok(Some(TsQueries {
        all: all.join(" & "),
        exact: exact.join(" | "),
    }))
}

/// For each lookup, the tenant's words within its budget (other than the word itself and,
/// for a prefix, the words it begins, which the tsquery matches anyway), nearest first.
async fn close_words(
    conn: &mut PgConnection,
    tenant: &TenantId,
    lookups: &BTreeMap<usize, Lookup>,
) -> Result<BTreeMap<usize, Vec<String>>, StoreError> {
    let floor = lookups
        .values()
        .map(|l| similarity_floor(l.text.chars().count(), typo_budget(&l.text).into()))
        .fold(1.0, f64::min);
    sqlx::query("SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)")
        .bind(format!("{floor:.3}"))
        .execute(&mut *conn)
        .await
        .map_err(store_err)?;

    let mut q = QueryBuilder::new("SELECT q.i::int8, t.text FROM unnest(");
    q.push_bind(lookups.keys().map(|&i| i as i64).collect::<Vec<_>>())
        .push("::int8[], ")
        .push_bind(lookups.values().map(|l| l.text.clone()).collect::<Vec<_>>())
        .push("::text[], ")
        .push_bind(lookups.values().map(|l| l.min_chars).collect::<Vec<_>>())
        .push("::int4[], ")
        .push_bind(lookups.values().map(|l| l.max_chars).collect::<Vec<_>>())
        .push("::int4[], ")
        .push_bind(lookups.values().map(|l| l.prefix).collect::<Vec<_>>())
        .push(
            "::bool[]) AS q(i, word, min_chars, max_chars, prefix) \
             CROSS JOIN LATERAL ( \
                 SELECT text FROM search_terms \
                 WHERE tenant = ",
        )
        .push_bind(tenant.as_str().to_owned())
        .push(format_args!(" AND kind = '{WORD}' AND owner = ''"))
        .push(
            " AND q.word <% text \
                   AND char_length(text) BETWEEN q.min_chars AND q.max_chars \
                   AND text <> q.word \
                   AND NOT (q.prefix AND starts_with(text, q.word)) \
                 ORDER BY word_similarity(q.word, text) DESC, files DESC, text \
                 LIMIT ",
        )
        .push_bind(MAX_CANDIDATES)
        .push(") t");
    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(&mut *conn).await.map_err(store_err)?;

    let mut found: BTreeMap<usize, Vec<(usize, String)>> = BTreeMap::new();
    for (i, word) in rows {
        let Some((index, lookup)) = usize::try_from(i).ok().and_then(|i| lookups.get_key_value(&i)) else {
            continue;
        };
        let term = Term::Word {
            text: lookup.text.clone(),
            fuzzy: true,
            prefix: lookup.prefix,
        };
        if term.matches_word(&word) {
            let distance = distance(&lookup.text, &word, lookup.prefix);
            found.entry(*index).or_default().push((distance, word));
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
    fn the_floor_rises_with_the_word() {
        assert!(similarity_floor(5, 1) < 0.1);
        assert!(similarity_floor(9, 2) < similarity_floor(20, 2));
        assert!(similarity_floor(32, 2) < 0.6);
        assert!(similarity_floor(4, 2) >= 0.01);
    }

    #[test]
    fn distance_of_a_prefix_is_that_of_its_nearest_beginning() {
        assert_eq!(distance("repor", "raport", true), 1);
        assert_eq!(distance("repor", "raport", false), 2);
        assert_eq!(distance("radiology", "radiolgy", false), 1);
    }
}
