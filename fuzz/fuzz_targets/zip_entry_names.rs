//! Zip bundle entry names: `entry_names` turns the bundled files' paths into the names
//! inside the zip, the zip's own guard against "zip slip".
//!
//! Properties, for any paths (also ones no `ObjectPath` would accept, as stored before a
//! rule existed): one name per path; every name is relative and stays inside the folder
//! it is extracted to, on Unix and on Windows (no leading `/`, no drive letter, no
//! backslash, no control character, no empty, `.` or `..` segment); names are unique
//! ignoring case, and no file takes the name of another entry's folder; paths that are
//! already safe and distinct keep their names.
#![no_main]

use std::collections::HashSet;

use filegate_core::domain::{ObjectPath, entry_names};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|paths: Vec<&str>| {
    let names = entry_names(paths.iter().copied());
    assert_eq!(names.len(), paths.len());
    for name in &names {
        assert!(!name.is_empty() && !name.starts_with('/'), "{name:?}");
        assert!(!name.contains('\\') && !name.chars().any(char::is_control), "{name:?}");
        let first = name.split('/').next().unwrap_or_default().as_bytes();
        assert!(
            !(first.len() >= 2 && first[0].is_ascii_alphabetic() && first[1] == b':'),
            "{name:?} names a Windows drive"
        );
        for segment in name.split('/') {
            assert!(!matches!(segment, "" | "." | ".."), "{name:?}");
        }
    }
    let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let mut seen = HashSet::new();
    for name in &lower {
        assert!(seen.insert(name.as_str()), "{name:?} twice in {names:?}");
    }
    for name in &lower {
        for (i, _) in name.match_indices('/') {
            assert!(
                !seen.contains(&name[..i]),
                "a file is named like the folder {:?}",
                &name[..i]
            );
        }
    }
    // Safe, distinct paths are left alone.
    let lower_paths: HashSet<String> = paths.iter().map(|p| p.to_lowercase()).collect();
    let plain = paths
        .iter()
        .all(|p| ObjectPath::from_stored(p).is_ok() && !p.as_bytes().get(1).is_some_and(|&b| b == b':'))
        && lower_paths.len() == paths.len()
        && !lower_paths
            .iter()
            .any(|p| p.match_indices('/').any(|(i, _)| lower_paths.contains(&p[..i])));
    if plain {
        assert_eq!(names, paths, "safe distinct paths renamed");
    }
});
