//! Suggestions, and the writes that keep them and the matches current: replacing,
//! removing, clearing, and two writers of one file at once.

use filegate_core::domain::{SearchDocument, Suggestion};

use super::{Index, doc, find, index_paths, query, run, set, tid};

async fn suggest(index: &Index, tenant: &str, prefix: &str, owner: Option<&str>, limit: u32) -> Vec<(String, u64)> {
    let found: Vec<Suggestion> = index
        .suggest(&tid(tenant), prefix, owner, limit)
        .await
        .unwrap_or_else(|e| panic!("suggest {prefix:?}: {e}"));
    found.into_iter().map(|s| (s.text, s.count)).collect()
}

fn pairs(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    expected.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

pub async fn suggestions_rank_by_files_within_their_scope(index: Index) {
    let mut docs = Vec::new();
    for path in [
        "ward-a/x1.pdf",
        "ward-a/x2.pdf",
        "ward-a/x3.pdf",
        "ward-b/y1.pdf",
        "ward-b/y2.pdf",
        "warden.txt",
    ] {
        docs.push(doc("a", path));
    }
    docs[5].owner = "owner-2".into();
    docs[4].owner = "owner-2".into();
    docs[0].metadata = vec![("title".into(), "Ward Report 2026".into())];
    index.upsert(&docs).await.unwrap();

    assert_eq!(
        suggest(&index, "a", "war", None, 8).await,
        pairs(&[
            ("ward", 5),
            ("ward-a", 3),
            ("ward-b", 2),
            ("ward report 2026", 1),
            ("warden", 1),
            ("warden.txt", 1)
        ]),
        "most files first, then in order"
    );
    assert_eq!(
        suggest(&index, "a", "war", None, 2).await,
        pairs(&[("ward", 5), ("ward-a", 3)])
    );
    assert_eq!(
        suggest(&index, "a", "ward r", None, 8).await,
        pairs(&[("ward report 2026", 1)])
    );
    assert_eq!(suggest(&index, "a", "2026", None, 8).await, pairs(&[("2026", 1)]));
    assert_eq!(
        suggest(&index, "a", "war", Some("owner-2"), 8).await,
        pairs(&[("ward", 1), ("ward-b", 1), ("warden", 1), ("warden.txt", 1)]),
        "a caller who sees only its own files counts only those"
    );
    assert!(suggest(&index, "a", "war", Some("owner-3"), 8).await.is_empty());
    assert!(suggest(&index, "a", "zzz", None, 8).await.is_empty());

    // A prefix that begins more completions than are read in order: the same answer.
    let many: Vec<SearchDocument> = (0..1100).map(|i| doc("b", &format!("scan-{i}.pdf"))).collect();
    index.upsert(&many).await.unwrap();
    assert_eq!(
        suggest(&index, "b", "s", None, 4).await,
        pairs(&[("scan", 1100), ("scan-0.pdf", 1), ("scan-1.pdf", 1), ("scan-10.pdf", 1)])
    );
    assert_eq!(
        suggest(&index, "b", "scan-10", None, 3).await,
        pairs(&[("scan-10.pdf", 1), ("scan-100.pdf", 1), ("scan-1000.pdf", 1)])
    );
    assert_eq!(suggest(&index, "b", "pdf", None, 1).await, pairs(&[("pdf", 1100)]));
}

pub async fn replaced_and_removed_documents_are_forgotten(index: Index) {
    let docs = index_paths(&index, "a", &["ward/a.pdf", "ward/b.pdf"]).await;
    let mut moved = docs[0].clone();
    moved.path = "clinic/a.pdf".into();
    moved.folders = vec!["clinic".into()];
    moved.metadata = vec![("subject".into(), "12".into())];
    index.upsert(std::slice::from_ref(&moved)).await.unwrap();
    let all = vec![moved.clone(), docs[1].clone()];

    assert_eq!(find(&index, &all, "a", "ward ").await, set(&["ward/b.pdf"]));
    assert_eq!(find(&index, &all, "a", "clinic ").await, set(&["clinic/a.pdf"]));
    assert_eq!(suggest(&index, "a", "war", None, 8).await, pairs(&[("ward", 1)]));
    assert_eq!(suggest(&index, "a", "cli", None, 8).await, pairs(&[("clinic", 1)]));
    assert_eq!(suggest(&index, "a", "a.", None, 8).await, pairs(&[("a.pdf", 1)]));
    let mut by_meta = query("a", "");
    by_meta.filter.metadata = vec![("subject".into(), "12".into())];
    assert_eq!(run(&index, &by_meta).await.total, 1);

    // The same document twice in one batch: the last one is kept.
    let mut twice = moved.clone();
    twice.name = "final.pdf".into();
    twice.path = "clinic/final.pdf".into();
    index.upsert(&[moved.clone(), twice.clone()]).await.unwrap();
    assert_eq!(
        suggest(&index, "a", "fin", None, 8).await,
        pairs(&[("final", 1), ("final.pdf", 1)])
    );
    assert!(suggest(&index, "a", "a.", None, 8).await.is_empty());

    index
        .remove(&tid("a"), &[moved.id, filegate_core::domain::FileId::new()])
        .await
        .unwrap();
    assert_eq!(find(&index, &all, "a", "clinic ").await, set(&[]));
    assert!(suggest(&index, "a", "cli", None, 8).await.is_empty());
    assert_eq!(suggest(&index, "a", "pdf", None, 8).await, pairs(&[("pdf", 1)]));
    assert_eq!(run(&index, &by_meta).await.total, 0);
    // Removing it again, or nothing, is no error.
    index.remove(&tid("a"), &[moved.id]).await.unwrap();
    index.remove(&tid("a"), &[]).await.unwrap();
    index.upsert(&[]).await.unwrap();
    // The other tenant's ids are not this tenant's.
    index.remove(&tid("b"), &[docs[1].id]).await.unwrap();
    assert_eq!(find(&index, &all, "a", "ward ").await, set(&["ward/b.pdf"]));
}

pub async fn clear_empties_one_tenant(index: Index) {
    let a = index_paths(&index, "a", &["ward/a.pdf", "ward/b.pdf"]).await;
    let b = index_paths(&index, "b", &["ward/a.pdf"]).await;
    index.clear(&tid("a")).await.unwrap();
    assert_eq!(find(&index, &a, "a", "ward ").await, set(&[]));
    assert!(suggest(&index, "a", "war", None, 8).await.is_empty());
    assert_eq!(find(&index, &b, "b", "ward ").await, set(&["ward/a.pdf"]));
    assert_eq!(suggest(&index, "b", "war", None, 8).await, pairs(&[("ward", 1)]));
    // Rebuilt from scratch, the counts start over.
    index.upsert(&a).await.unwrap();
    assert_eq!(suggest(&index, "a", "war", None, 8).await, pairs(&[("ward", 2)]));
    index.clear(&tid("nobody")).await.unwrap();
}

pub async fn concurrent_writes_of_one_file_keep_the_counts_exact(index: Index) {
    let base = doc("a", "alpha/file.pdf");
    let mut beta = base.clone();
    beta.path = "beta/file.pdf".into();
    beta.folders = vec!["beta".into()];
    beta.owner = "owner-2".into();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let index = index.clone();
        let versions = [base.clone(), beta.clone()];
        writers.spawn(async move {
            for round in 0..10 {
                let version = &versions[(w + round) % 2];
                if round % 5 == 4 {
                    index.remove(&version.tenant, &[version.id]).await.unwrap();
                } else {
                    index.upsert(std::slice::from_ref(version)).await.unwrap();
                }
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    // Whatever the last write was, the counts say exactly what the index holds.
    let held = run(&index, &query("a", "")).await.total;
    let alpha = suggest(&index, "a", "alpha", None, 8).await;
    let beta_found = suggest(&index, "a", "beta", None, 8).await;
    let file = suggest(&index, "a", "file", None, 8).await;
    assert!(held <= 1);
    assert_eq!(
        file,
        if held == 1 {
            pairs(&[("file", 1), ("file.pdf", 1)])
        } else {
            vec![]
        }
    );
    assert_eq!(
        alpha.len() + beta_found.len(),
        held as usize,
        "{alpha:?} {beta_found:?}"
    );
    let owned = suggest(&index, "a", "file", Some("owner-2"), 8).await.len()
        + suggest(&index, "a", "file", Some("owner-1"), 8).await.len();
    assert_eq!(owned, 2 * held as usize);
    // And the vocabulary: a typo of the folder finds the file only while it is there.
    let typo = if alpha.is_empty() { "betaa " } else { "alpah " };
    assert_eq!(run(&index, &query("a", typo)).await.total, held);
}
