//! What words match: typos by the rules (and no more), the prefix being typed, phrases,
//! every word somewhere, and queries written to break the engine's query language.

use filegate_core::domain::{SearchFilter, SearchText, Term, TypeFilter};

use super::{Index, doc, find, found, index_paths, query, run, set};

pub async fn typos_match_by_the_rules_and_not_beyond(index: Index) {
    let long = "abcdefghij".repeat(4);
    let mut docs = index_paths(
        &index,
        "a",
        &[
            "reports/radiology.pdf",
            "ward.csv",
            "wards.csv",
            "word.csv",
            "biology.txt",
            &format!("{long}.txt"),
        ],
    )
    .await;
    let mut numbered = doc("a", "numbered.bin");
    numbered.external_id = Some("9434765919".into());
    index.upsert(std::slice::from_ref(&numbered)).await.unwrap();
    docs.push(numbered);

    let radiology = set(&["reports/radiology.pdf"]);
    let none = set(&[]);
    let cases: &[(&str, &std::collections::BTreeSet<String>)] = &[
        ("radiology ", &radiology),
        // 8 characters: 1 edit (an insertion away).
        ("radiolgy ", &radiology),
        // 8 characters, 2 edits away: beyond the budget.
        ("radiolgx ", &none),
        // 9 characters: 2 edits (two substitutions; two swaps).
        ("radiolxxy ", &radiology),
        ("raidolgoy ", &radiology),
        // 3 edits.
        ("radxolxxy ", &none),
        // Numbers match exactly: one digit off is another patient's number, not a typo.
        ("9434765919 ", &set(&["numbered.bin"])),
        ("9434765918 ", &none),
        ("9434705811 ", &none),
    ];
    for (q, expected) in cases {
        assert_eq!(&find(&index, &docs, "a", q).await, *expected, "{q:?}");
    }
    // 4 characters: exact only.
    assert_eq!(find(&index, &docs, "a", "ward ").await, set(&["ward.csv"]));
    // 5 characters: 1 edit, either way.
    assert_eq!(
        find(&index, &docs, "a", "wardz ").await,
        set(&["ward.csv", "wards.csv"])
    );
    assert_eq!(find(&index, &docs, "a", "biologx ").await, set(&["biology.txt"]));
    let long_doc = format!("{long}.txt");
    assert_eq!(find(&index, &docs, "a", &format!("{long} ")).await, set(&[&long_doc]));
    let typo = format!("x{} ", &long[1..]);
    assert_eq!(
        find(&index, &docs, "a", &typo).await,
        none,
        "past 32 characters, no typos"
    );
}

/// A small deterministic generator (xorshift), so the sample is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn word(&mut self, chars: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..chars)
            .map(|_| char::from(ALPHABET[self.next(ALPHABET.len())]))
            .collect()
    }

    /// `word` with one random edit: a substitution, insertion, deletion or swap.
    fn edit(&mut self, word: &str) -> String {
        let mut chars: Vec<char> = word.chars().collect();
        let at = self.next(chars.len());
        let letter = self.word(1).chars().next().unwrap_or('x');
        match self.next(4) {
            0 => chars[at] = letter,
            1 => chars.insert(at, letter),
            2 if chars.len() > 1 => {
                chars.remove(at);
            }
            _ if at + 1 < chars.len() => chars.swap(at, at + 1),
            _ => chars[at] = letter,
        }
        chars.into_iter().collect()
    }
}

/// Random words and random typos of them within the budget, whole and as the prefix being
/// typed: each is found, and nothing is found that the rules do not match. (Checks that
/// the engine's shortcuts, like a trigram pre-filter, lose no word within budget.)
pub async fn every_typo_within_budget_is_found(index: Index) {
    let mut rng = Rng(0x5eed_f11e);
    let words: Vec<String> = (0..80).map(|i| rng.word(5 + i % 20)).collect();
    let paths: Vec<&str> = words.iter().map(String::as_str).collect();
    let docs = index_paths(&index, "a", &paths).await;
    for word in &words {
        for round in 0..6 {
            let prefix = round % 3 == 2;
            let base = if prefix {
                word.chars().take(5 + rng.next(word.chars().count() - 4)).collect()
            } else {
                word.clone()
            };
            let mut typed = base.clone();
            let budget = filegate_core::domain::typo_budget(&base);
            for _ in 0..budget {
                typed = rng.edit(&typed);
            }
            let term = Term::Word {
                text: typed.clone(),
                fuzzy: true,
                prefix,
            };
            if !term.matches_word(word) || typed.chars().count() < 5 {
                continue; // Edits that undo each other, or leave a word with another budget.
            }
            let q = if prefix { typed.clone() } else { format!("{typed} ") };
            let hits = find(&index, &docs, "a", &q).await;
            assert!(hits.contains(word), "{q:?} should find {word:?}, found {hits:?}");
            for hit in &hits {
                assert!(
                    term.matches_word(hit),
                    "{q:?} found {hit:?}, which the rules do not match"
                );
            }
        }
    }
}

pub async fn the_last_word_being_typed_is_a_prefix(index: Index) {
    let docs = index_paths(
        &index,
        "a",
        &[
            "report.pdf",
            "raport.txt",
            "repository.md",
            "rep.txt",
            "airport.txt",
            "ward/report.csv",
        ],
    )
    .await;
    assert_eq!(
        find(&index, &docs, "a", "rep").await,
        set(&["report.pdf", "repository.md", "rep.txt", "ward/report.csv"])
    );
    assert_eq!(
        find(&index, &docs, "a", "rep ").await,
        set(&["rep.txt"]),
        "a finished word is whole"
    );
    // 5 characters being typed: a beginning of the word within 1 edit.
    assert_eq!(
        find(&index, &docs, "a", "repor").await,
        set(&["report.pdf", "raport.txt", "repository.md", "ward/report.csv"])
    );
    assert_eq!(find(&index, &docs, "a", "ward rep").await, set(&["ward/report.csv"]));
    // Only the last word is a prefix.
    assert_eq!(find(&index, &docs, "a", "repo ward").await, set(&[]));
}

pub async fn phrases_match_their_words_in_order(index: Index) {
    let mut docs = index_paths(
        &index,
        "a",
        &[
            "notes/patient-12-ward.txt",
            "notes/ward-12-patient.txt",
            "patient/12.txt",
            "notes/patients-12.txt",
        ],
    )
    .await;
    let mut named = doc("a", "named.txt");
    named.metadata = vec![("subject".into(), "John Smith".into())];
    index.upsert(std::slice::from_ref(&named)).await.unwrap();
    docs.push(named);

    assert_eq!(
        find(&index, &docs, "a", r#""patient 12""#).await,
        set(&["notes/patient-12-ward.txt"]),
        "in order, within one text"
    );
    assert_eq!(
        find(&index, &docs, "a", r#""12 patient""#).await,
        set(&["notes/ward-12-patient.txt"])
    );
    assert_eq!(
        find(&index, &docs, "a", r#""patient 12" ward"#).await,
        set(&["notes/patient-12-ward.txt"])
    );
    assert_eq!(
        find(&index, &docs, "a", r#""patinet 12""#).await,
        set(&[]),
        "phrases are exact"
    );
    assert_eq!(find(&index, &docs, "a", r#""John Smith""#).await, set(&["named.txt"]));
    assert_eq!(find(&index, &docs, "a", r#""smith john""#).await, set(&[]));
    // A quoted single word is exact.
    assert_eq!(find(&index, &docs, "a", r#""patien""#).await, set(&[]));
}

pub async fn every_word_must_match_somewhere(index: Index) {
    let mut docs = index_paths(&index, "a", &["ward-a/report.pdf", "ward-b/summary.pdf", "report.txt"]).await;
    let mut typed = doc("a", "scan.bin");
    typed.sniffed_type = Some("image/png".into());
    typed.external_id = Some("MRN-0042".into());
    index.upsert(std::slice::from_ref(&typed)).await.unwrap();
    docs.push(typed);

    assert_eq!(
        find(&index, &docs, "a", "ward report ").await,
        set(&["ward-a/report.pdf"])
    );
    assert_eq!(
        find(&index, &docs, "a", "pdf ward ").await,
        set(&["ward-a/report.pdf", "ward-b/summary.pdf"])
    );
    // The bucket, the types and the external id are searched too.
    assert_eq!(find(&index, &docs, "a", "default ").await.len(), 4);
    assert_eq!(find(&index, &docs, "a", "png ").await, set(&["scan.bin"]));
    assert_eq!(find(&index, &docs, "a", "octet scan ").await, set(&["scan.bin"]));
    assert_eq!(find(&index, &docs, "a", "mrn 0042 ").await, set(&["scan.bin"]));
    assert_eq!(find(&index, &docs, "a", "ward nothing ").await, set(&[]));
}

pub async fn hostile_queries_are_answered_not_failed(index: Index) {
    let mut odd = doc("a", "we%_/it's \\ odd.txt");
    odd.metadata = vec![("note".into(), "it's 100% \\ _done_ \"quoted\"".into())];
    odd.external_id = Some("'; DROP TABLE files; --".into());
    let plain = doc("a", "wexx/plain.txt");
    index.upsert(&[odd.clone(), plain.clone()]).await.unwrap();
    let docs = vec![odd.clone(), plain];

    let sixteen = (0..16).map(|i| format!("radiologyx{i}")).collect::<Vec<_>>().join(" ");
    let queries = [
        "'",
        "''",
        "\\",
        "\\'",
        "%",
        "_",
        "%_",
        "it's",
        "100%",
        "'; DROP TABLE search_documents; --",
        "a:* & b | !c <-> (d)",
        ":*",
        "!",
        "<->",
        "\"unbalanced",
        "\"\"\"",
        "Zürich 日本語 ñ 🙂",
        sixteen.as_str(),
        &"x".repeat(256),
    ];
    for q in queries {
        let text = SearchText::parse(q).unwrap_or_else(|e| panic!("{q:?} parses: {e}"));
        let mut search = query("a", "");
        search.text = text;
        search.facets = filegate_core::domain::Facet::parse_list("content_type,bucket,created,size").unwrap();
        run(&index, &search).await;
        index
            .suggest(&super::tid("a"), &q.to_lowercase(), None, 8)
            .await
            .unwrap_or_else(|e| panic!("suggest {q:?}: {e}"));
    }
    assert_eq!(find(&index, &docs, "a", "it s ").await, set(&[odd.path.as_str()]));
    assert_eq!(find(&index, &docs, "a", "drop table ").await, set(&[odd.path.as_str()]));

    // Filters with the same characters are literal.
    let filtered = |filter: SearchFilter| {
        let mut q = query("a", "");
        q.filter = filter;
        q
    };
    let by_prefix = |p: &str| {
        filtered(SearchFilter {
            prefix: Some(p.into()),
            ..Default::default()
        })
    };
    assert_eq!(found(&index, &docs, &by_prefix("we%")).await, set(&[odd.path.as_str()]));
    assert_eq!(found(&index, &docs, &by_prefix("we_")).await, set(&[]));
    assert_eq!(found(&index, &docs, &by_prefix("w\0")).await, set(&[]));
    let by_meta = |k: &str, v: &str| {
        filtered(SearchFilter {
            metadata: vec![(k.into(), v.into())],
            ..Default::default()
        })
    };
    assert_eq!(
        found(&index, &docs, &by_meta("note", "it's 100% \\ _done_ \"quoted\"")).await,
        set(&[odd.path.as_str()])
    );
    assert_eq!(found(&index, &docs, &by_meta("note", "it's 100%")).await, set(&[]));
    assert_eq!(found(&index, &docs, &by_meta("no\"te", "\0")).await, set(&[]));
    let by_external = filtered(SearchFilter {
        external_id: Some("'; DROP TABLE files; --".into()),
        content_type: Some(TypeFilter::parse("application/*").unwrap()),
        owner: Some("owner-1".into()),
        ..Default::default()
    });
    assert_eq!(found(&index, &docs, &by_external).await, set(&[odd.path.as_str()]));
    let nul_owner = filtered(SearchFilter {
        owner: Some("own\0er".into()),
        ..Default::default()
    });
    assert_eq!(found(&index, &docs, &nul_owner).await, set(&[]));

    // Suggestions: `%` and `_` are characters like any other.
    let tenant = super::tid("a");
    let texts = |s: Vec<filegate_core::domain::Suggestion>| s.into_iter().map(|s| s.text).collect::<Vec<_>>();
    assert_eq!(texts(index.suggest(&tenant, "we%", None, 8).await.unwrap()), ["we%_"]);
    assert!(index.suggest(&tenant, "we_", None, 8).await.unwrap().is_empty());
    assert_eq!(
        texts(index.suggest(&tenant, "it's 100% \\", None, 8).await.unwrap()),
        ["it's 100% \\ _done_ \"quoted\""]
    );
}
