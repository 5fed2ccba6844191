//! The folder view's two queries: the folders directly in a folder (`FilesByPath::folders`,
//! a skip scan), and the files directly in it (`FileQuery::direct`).

use std::collections::BTreeSet;

use filegate_core::domain::{FileQuery, FileStatus};
use filegate_core::ports::Effects;

use super::{Paths, Queue, Shares, Store, bname, new_file, tenant};

pub async fn folders_are_the_next_segments_of_live_paths(store: Store, _queue: Queue, _shares: Shares, paths: Paths) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let live = [
        "top.txt",
        "docs/a.txt",
        "docs/b.txt",
        "docs/2026/11/ward-a.csv",
        "docs/2026/12/ward-b.csv",
        "docs/2027/x.csv",
        "docs/a b/y.txt",
        "docs/b.txt.d/z.txt",
        "docs0/q.txt",
        "img/logo.png",
        "100%_/w.txt",
    ];
    for p in live {
        store.insert_file(&new_file(&a, p), &Effects::NONE).await.unwrap();
    }
    // Deleted and purged files make no folder; another owner's files show only unnarrowed;
    // another tenant's never.
    for (p, status) in [
        ("gone/x.txt", FileStatus::Deleted),
        ("purged/x.txt", FileStatus::Purged),
    ] {
        let mut f = new_file(&a, p);
        f.status = status;
        store.insert_file(&f, &Effects::NONE).await.unwrap();
    }
    let mut theirs = new_file(&a, "docs/theirs/t.txt");
    theirs.owner = "user-2".into();
    store.insert_file(&theirs, &Effects::NONE).await.unwrap();
    store
        .insert_file(&new_file(&b, "secret/s.txt"), &Effects::NONE)
        .await
        .unwrap();

    let d = bname("default");
    let folders = |folder: &'static str, owner: Option<&'static str>, after: Option<&'static str>, limit: u32| {
        let paths = paths.clone();
        let a = a.clone();
        let d = d.clone();
        async move { paths.folders(&a, &d, folder, owner, after, limit).await.unwrap() }
    };
    assert_eq!(folders("", None, None, 100).await, ["100%_", "docs", "docs0", "img"]);
    assert_eq!(
        folders("docs/", None, None, 100).await,
        ["2026", "2027", "a b", "b.txt.d", "theirs"],
        "byte order of the paths; files directly in the folder are no folders"
    );
    assert_eq!(
        folders("docs/", Some("user-1"), None, 100).await,
        ["2026", "2027", "a b", "b.txt.d"]
    );
    assert_eq!(folders("docs/2026/", None, None, 100).await, ["11", "12"]);
    assert_eq!(folders("docs/2026/11/", None, None, 100).await, Vec::<String>::new());
    assert_eq!(folders("nothing/", None, None, 100).await, Vec::<String>::new());
    // Pages: `after` continues past a folder and everything below it.
    assert_eq!(folders("docs/", None, None, 2).await, ["2026", "2027"]);
    assert_eq!(folders("docs/", None, Some("2027"), 2).await, ["a b", "b.txt.d"]);
    assert_eq!(folders("docs/", None, Some("b.txt.d"), 2).await, ["theirs"]);
    assert_eq!(folders("", None, Some("docs"), 10).await, ["docs0", "img"]);
    assert!(paths.folders(&b, &d, "", None, None, 10).await.unwrap() == ["secret"]);
    assert!(
        paths.folders(&a, &d, "docs", None, None, 10).await.is_err(),
        "a folder ends with /"
    );

    let direct = |prefix: &'static str| {
        let store = store.clone();
        let a = a.clone();
        async move {
            let query = FileQuery {
                bucket: Some(bname("default")),
                prefix: Some(prefix.to_owned()),
                direct: true,
                limit: 1000,
                ..FileQuery::default()
            };
            let (items, _) = store.list_files(&a, &query).await.unwrap();
            items.into_iter().map(|f| f.path.to_string()).collect::<BTreeSet<_>>()
        }
    };
    let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(direct("").await, set(&["top.txt"]));
    assert_eq!(direct("docs/").await, set(&["docs/a.txt", "docs/b.txt"]));
    assert_eq!(direct("docs/2026/11/").await, set(&["docs/2026/11/ward-a.csv"]));
    assert_eq!(
        direct("100%_/").await,
        set(&["100%_/w.txt"]),
        "no wildcard in the prefix"
    );
}
