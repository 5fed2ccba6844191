//! The words of a query and of the indexed text, split and compared the same way on every
//! engine: a word is a run of letters and digits, compared lowercased; a word tolerates
//! typos by its length (none up to 4 characters, 1 from 5, 2 from 9); the last word of a
//! query also matches as a prefix, so results follow what is being typed.

use crate::error::{Error, ErrorCode};

/// Longest query accepted, in characters: a query is typed, not pasted documents.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most words a query may hold (phrase words included): each one is a term lookup, fuzzy
/// ones a walk of the term dictionary, so the work a query costs stays bounded.
pub const MAX_QUERY_WORDS: usize = 16;
/// Longest word matched with typos; longer ones (hashes, ids) match exactly.
pub const MAX_FUZZY_WORD_CHARS: usize = 32;

/// The words of `text` with their byte offsets: runs of letters and digits, so
/// `ward-a.csv` is `ward`, `a`, `csv` and `9434765919` stays one word.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while rest.peek().is_some_and(|(_, c)| !c.is_alphanumeric()) {
            rest.next();
        }
        let (start, _) = *rest.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

/// How many edits a query word may be away from an indexed word and still match it.
/// Numbers match exactly: a patient, order or account number one digit off is another
/// patient's, not a typo worth forgiving.
pub fn typo_budget(word: &str) -> u8 {
    if word.chars().all(|c| c.is_numeric()) {
        return 0;
    }
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        9..=MAX_FUZZY_WORD_CHARS => 2,
        _ => 0,
    }
}

/// One part of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A word, lowercased. `fuzzy`: matches within its [`typo_budget`] (words typed loose);
    /// `prefix`: also matches the words it begins (the last word of the query).
    Word { text: String, fuzzy: bool, prefix: bool },
    /// Words in this order, each exactly (`"quoted words"`).
    Phrase(Vec<String>),
}

impl Term {
    /// Whether `word` of some indexed text (any case) is one this term's words match, by the
    /// same rules the engines apply; highlights use it.
    pub fn matches_word(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        match self {
            Term::Word { text, fuzzy, prefix } => {
                if word == *text || (*prefix && word.starts_with(text.as_str())) {
                    return true;
                }
                let budget = if *fuzzy { typo_budget(text) } else { 0 };
                if budget == 0 {
                    return false;
                }
                let within = |candidate: &str| strsim::osa_distance(candidate, text) <= usize::from(budget);
                if within(&word) {
                    return true;
                }
                // A prefix with typos: some beginning of the word is close enough.
                *prefix && {
                    let len = text.chars().count();
                    (len.saturating_sub(usize::from(budget))..=len + usize::from(budget)).any(|n| {
                        let head: String = word.chars().take(n).collect();
                        head.chars().count() == n && within(&head)
                    })
                }
            }
            Term::Phrase(words) => words.contains(&word),
        }
    }
}

/// The text part of a search: words and quoted phrases. Empty matches every file (the
/// filters alone decide).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchText {
    pub terms: Vec<Term>,
}

impl SearchText {
    /// `ward report "patient 12"`: loose words (typo-tolerant, the last one a prefix unless
    /// the query ends in a space) and exact phrases. A quote left open closes at the end.
    pub fn parse(q: &str) -> Result<Self, Error> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                ErrorCode::InvalidQuery,
                format!("q is at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let mut terms = Vec::new();
        for (i, part) in q.split('"').enumerate() {
            let quoted = i % 2 == 1;
            let part_words = words(part).map(|(_, w)| w.to_lowercase());
            if quoted {
                let phrase: Vec<String> = part_words.collect();
                match phrase.len() {
                    0 => {}
                    1 => terms.extend(phrase.into_iter().map(|text| Term::Word {
                        text,
                        fuzzy: false,
                        prefix: false,
                    })),
                    _ => terms.push(Term::Phrase(phrase)),
                }
            } else {
                terms.extend(part_words.map(|text| Term::Word {
                    text,
                    fuzzy: true,
                    prefix: false,
                }));
            }
        }
        let word_count: usize = terms
            .iter()
            .map(|t| match t {
                Term::Word { .. } => 1,
                Term::Phrase(words) => words.len(),
            })
            .sum();
        if word_count > MAX_QUERY_WORDS {
            return Err(Error::invalid(
                ErrorCode::InvalidQuery,
                format!("q holds at most {MAX_QUERY_WORDS} words"),
            ));
        }
        // Still being typed: the last loose word is a beginning.
        let typing = !q.ends_with(|c: char| c.is_whitespace() || c == '"');
        if typing
            && let Some(Term::Word {
                fuzzy: true, prefix, ..
            }) = terms.last_mut()
        {
            *prefix = true;
        }
        Ok(Self { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, fuzzy: bool, prefix: bool) -> Term {
        Term::Word {
            text: text.into(),
            fuzzy,
            prefix,
        }
    }

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        let found: Vec<_> = words("Ward-A.csv  9434765919/Zürich").collect();
        assert_eq!(
            found,
            [(0, "Ward"), (5, "A"), (7, "csv"), (12, "9434765919"), (23, "Zürich")]
        );
        assert_eq!(words("--- ..").count(), 0);
    }

    #[test]
    fn the_typo_budget_grows_with_the_word() {
        assert_eq!(typo_budget("ward"), 0);
        assert_eq!(typo_budget("wards"), 1);
        assert_eq!(typo_budget("radiology"), 2);
        assert_eq!(typo_budget(&"x".repeat(40)), 0);
        assert_eq!(typo_budget("9434765919"), 0, "a number one digit off is another number");
        assert_eq!(typo_budget("ward2026"), 1);
    }

    #[test]
    fn loose_words_phrases_and_the_prefix_being_typed() {
        let text = SearchText::parse(r#"Ward "Patient 12" rep"#).unwrap();
        assert_eq!(
            text.terms,
            [
                word("ward", true, false),
                Term::Phrase(vec!["patient".into(), "12".into()]),
                word("rep", true, true),
            ]
        );
        let done = SearchText::parse("ward report ").unwrap();
        assert_eq!(done.terms.last(), Some(&word("report", true, false)));
        let quoted_word = SearchText::parse(r#""x-ray""#).unwrap();
        assert_eq!(quoted_word.terms, [Term::Phrase(vec!["x".into(), "ray".into()])]);
        let single = SearchText::parse(r#""ward""#).unwrap();
        assert_eq!(single.terms, [word("ward", false, false)]);
    }

    #[test]
    fn an_open_quote_closes_at_the_end_and_bad_queries_are_refused() {
        let open = SearchText::parse(r#"ward "patient 12"#).unwrap();
        assert_eq!(open.terms[1], Term::Phrase(vec!["patient".into(), "12".into()]));
        assert!(SearchText::parse("").unwrap().is_empty());
        assert!(SearchText::parse(r#"" ""#).unwrap().is_empty());
        assert!(SearchText::parse(&"a ".repeat(17)).is_err());
        assert!(SearchText::parse(&"a".repeat(257)).is_err());
    }

    #[test]
    fn words_match_by_the_typo_rules() {
        let loose = word("radiology", true, false);
        assert!(loose.matches_word("Radiology"));
        assert!(loose.matches_word("radiolgy"));
        assert!(loose.matches_word("rdaiolgy"), "a swap and a deletion: two edits");
        assert!(!loose.matches_word("biology"));
        let short = word("ward", true, false);
        assert!(!short.matches_word("word"));
        let typing = word("repor", true, true);
        assert!(typing.matches_word("reports"));
        assert!(typing.matches_word("raport"), "a typo inside the prefix being typed");
        assert!(!typing.matches_word("airport"));
        let exact = word("ward", false, false);
        assert!(exact.matches_word("WARD") && !exact.matches_word("wards"));
    }
}
