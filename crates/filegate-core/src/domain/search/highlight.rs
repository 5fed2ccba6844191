//! Highlights: the parts of a hit's name, path and metadata that the query's words
//! matched, HTML-escaped, each match in `<mark>`. Computed here from the file as the
//! database has it, by the same word rules the engines search with, so every engine
//! highlights alike.

use std::collections::BTreeMap;

use super::{SearchText, words};
use crate::domain::{FileRecord, escape_html};

/// Longest fragment shown of a long value, in characters, around its first match.
const FRAGMENT_CHARS: usize = 160;

/// `text` escaped with its matched words in `<mark>`, shortened around the first match
/// when long; `None` when no word matches.
pub fn highlight(text: &str, query: &SearchText) -> Option<String> {
    let matched: Vec<(usize, usize)> = words(text)
        .filter(|(_, word)| query.terms.iter().any(|t| t.matches_word(word)))
        .map(|(start, word)| (start, start + word.len()))
        .collect();
    let (first, _) = *matched.first()?;
    let (from, to) = window(text, first);
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for &(start, end) in matched.iter().filter(|(s, e)| *s >= from && *e <= to) {
        out.push_str(&escape_html(&text[at..start]));
        out.push_str("<mark>");
        out.push_str(&escape_html(&text[start..end]));
        out.push_str("</mark>");
        at = end;
    }
    out.push_str(&escape_html(&text[at..to]));
    if to < text.len() {
        out.push('…');
    }
    Some(out)
}

/// Byte range of at most [`FRAGMENT_CHARS`] characters of `text` that holds the byte
/// offset `around`, starting a little before it, on character boundaries.
fn window(text: &str, around: usize) -> (usize, usize) {
    if text.chars().count() <= FRAGMENT_CHARS {
        return (0, text.len());
    }
    let lead = FRAGMENT_CHARS / 4;
    let before: Vec<usize> = text[..around].char_indices().map(|(i, _)| i).collect();
    let from = before.len().checked_sub(lead).map_or(0, |i| before[i]);
    let to = text[from..]
        .char_indices()
        .nth(FRAGMENT_CHARS)
        .map_or(text.len(), |(i, _)| from + i);
    (from, to.max(around))
}

/// The highlights of a hit: `name`, `path` (when the file is in a folder),
/// `external_id` and `metadata.KEY` for each value that matched.
pub fn highlights(file: &FileRecord, query: &SearchText) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    if query.is_empty() {
        return found;
    }
    let path = file.path.as_str();
    if let Some(h) = highlight(file.name(), query) {
        found.insert("name".to_owned(), h);
    }
    if path != file.name()
        && let Some(h) = highlight(path, query)
    {
        found.insert("path".to_owned(), h);
    }
    if let Some(h) = file.external_id.as_deref().and_then(|id| highlight(id, query)) {
        found.insert("external_id".to_owned(), h);
    }
    for (key, value) in file.metadata.as_map() {
        if let Some(h) = highlight(value, query) {
            found.insert(format!("metadata.{key}"), h);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> SearchText {
        SearchText::parse(text).unwrap()
    }

    #[test]
    fn matched_words_are_marked_and_the_rest_escaped() {
        assert_eq!(
            highlight("Ward-A <draft>.csv", &q("ward ")).as_deref(),
            Some("<mark>Ward</mark>-A &lt;draft&gt;.csv")
        );
        assert_eq!(
            highlight("radiolgy report", &q("radiology ")).as_deref(),
            Some("<mark>radiolgy</mark> report")
        );
        assert_eq!(highlight("reports", &q("rep")).as_deref(), Some("<mark>reports</mark>"));
        assert_eq!(highlight("nothing here", &q("ward")), None);
    }

    #[test]
    fn a_long_value_is_cut_around_its_first_match() {
        let long = format!("{} patient 9434765919 {}", "lorem ".repeat(100), "ipsum ".repeat(100));
        let h = highlight(&long, &q("9434765919 ")).unwrap();
        assert!(h.starts_with('…') && h.ends_with('…'), "{h}");
        assert!(h.contains("<mark>9434765919</mark>"));
        assert!(h.chars().count() < FRAGMENT_CHARS + 40);
    }
}
