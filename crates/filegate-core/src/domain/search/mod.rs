//! Search: what a query asks and the rules every engine answers it by (how text splits
//! into words, how many typos a word tolerates, what the index holds, how matches are
//! highlighted). The engines (`SearchIndex`) only find and count.

mod document;
mod highlight;
mod query;
mod text;

pub use document::SearchDocument;
pub use highlight::{highlight, highlights};
pub use query::*;
pub use text::{MAX_FUZZY_WORD_CHARS, MAX_QUERY_CHARS, MAX_QUERY_WORDS, SearchText, Term, typo_budget, words};
