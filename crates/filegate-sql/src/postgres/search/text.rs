//! A query's text as `tsquery`s: every term must match (`&`); a loose word matches itself,
//! the tenant's words within its typo budget (`typos`) and, when it is the prefix being
//! typed, the words it begins (`:*`); a phrase matches its words in order (`<->`).

use std::collections::BTreeMap;

use filegate_core::StoreError;
use filegate_core::domain::{SearchText, TenantId, Term};
use sqlx::PgConnection;

use super::stored::quoted;
use super::typos::close_words;

/// The tsqueries of a search: `all` finds the matches, `exact` (the words as typed, any of
/// them) ranks those that have them above those found only through typos, when there are
/// any (`expanded`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TsQueries {
    pub all: String,
    pub exact: String,
    pub expanded: bool,
}

/// The tsqueries for `text`, looking typos up on `conn` (which must be in a transaction:
/// the similarity thresholds are set for it alone). `None` when `text` has no terms.
pub(super) async fn ts_queries(
    conn: &mut PgConnection,
    tenant: &TenantId,
    text: &SearchText,
) -> Result<Option<TsQueries>, StoreError> {
    if text.is_empty() {
        return Ok(None);
    }
    let expansions = close_words(conn, tenant, text).await?;
    Ok(Some(compose(text, expansions)))
}

/// The tsqueries of `text`, each loose word also matching its expansions (by term index).
fn compose(text: &SearchText, mut expansions: BTreeMap<usize, Vec<String>>) -> TsQueries {
    let mut all = Vec::new();
    let mut exact = Vec::new();
    let expanded = expansions.values().any(|close| !close.is_empty());
    for (i, term) in text.terms.iter().enumerate() {
        match term {
            Term::Word { text: word, prefix, .. } => {
                let own = if *prefix {
                    format!("{}:*", quoted(word))
                } else {
                    quoted(word)
                };
                let close = expansions.remove(&i).unwrap_or_default();
                let alternatives: Vec<String> = std::iter::once(own.clone())
                    .chain(close.iter().map(|w| quoted(w)))
                    .collect();
                all.push(format!("({})", alternatives.join(" | ")));
                exact.push(own);
            }
            Term::Phrase(words) => {
                let words: Vec<String> = words.iter().map(|w| quoted(w)).collect();
                let phrase = format!("({})", words.join(" <-> "));
                all.push(phrase.clone());
                exact.push(phrase);
            }
        }
    }
    TsQueries {
        all: all.join(" & "),
        exact: exact.join(" | "),
        expanded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_all_required_and_the_words_as_typed_rank() {
        let text = SearchText::parse(r#"radiolgy "ward 12" o'bri"#).unwrap();
        let expansions = BTreeMap::from([(0, vec!["radiology".to_owned()])]);
        let q = compose(&text, expansions);
        assert_eq!(
            q.all,
            "('radiolgy' | 'radiology') & ('ward' <-> '12') & ('o') & ('bri':*)"
        );
        assert_eq!(q.exact, "'radiolgy' | ('ward' <-> '12') | 'o' | 'bri':*");
        assert!(q.expanded);
        assert!(!compose(&text, BTreeMap::new()).expanded);
    }
}
