//! `list_files` as SQL, for every engine: the filters, the keyset cursor, the sort and the
//! count are the same text everywhere (the query builder numbers the placeholders the way
//! each engine wants). Text comparisons assume byte order: SQLite compares TEXT that way,
//! and PostgreSQL's key columns are declared `COLLATE "C"`.

use std::collections::BTreeMap;

use filegate_core::StoreError;
use filegate_core::domain::{FileQuery, PageStart, SortKey, SortValue, TenantId};
use sqlx::{Database, QueryBuilder};

use crate::convert::{micros, to_i64};
use crate::dialect::{BindExt as _, Dialect};
use crate::file_row::file_columns;

/// The queries one `list_files` call runs.
pub(crate) struct FileListing<DB: Database> {
    /// At most `limit + 1` rows of `files`, in the query's order, from its start.
    pub page: QueryBuilder<DB>,
    /// `COUNT(*)` over the same filters, for offset pages (run it in the page's snapshot).
    pub count: Option<QueryBuilder<DB>>,
}

/// Builds the listing queries for `query`, scoped to `tenant`.
pub(crate) fn file_listing<DB: Dialect>(tenant: &TenantId, query: &FileQuery) -> Result<FileListing<DB>, StoreError> {
    let column = match query.sort.key {
        SortKey::CreatedAt => "created_at",
        SortKey::Name => "name",
        SortKey::Size => "size",
    };
    let (dir, after_op) = if query.sort.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };

    let mut page = QueryBuilder::<DB>::new(concat!("SELECT ", file_columns!(), " FROM files"));
    push_filters(&mut page, tenant, query);
    if let PageStart::After(after) = &query.start {
        page.push(format_args!(" AND ({column}, id) {after_op} ("));
        match (query.sort.key, &after.value) {
            (SortKey::Name, SortValue::Text(name)) if !name.contains('\0') => page.bind_value(name.clone()),
            (SortKey::CreatedAt | SortKey::Size, SortValue::Int(n)) => page.bind_value(*n),
            _ => {
                return Err(StoreError::Input("the cursor does not fit the sort order".into()));
            }
        };
        page.push(", ").bind_value(after.id.to_string()).push(")");
    }
    page.push(format_args!(" ORDER BY {column} {dir}, id {dir} LIMIT "));
    page.bind_value(i64::from(query.limit) + 1);

    let count = match query.start {
        PageStart::Offset(offset) => {
            page.push(" OFFSET ")
                .bind_value(i64::try_from(offset).unwrap_or(i64::MAX));
            let mut count = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM files");
            push_filters(&mut count, tenant, query);
            Some(count)
        }
        PageStart::First | PageStart::After(_) => None,
    };
    Ok(FileListing { page, count })
}

/// `WHERE …` for every filter of `query`, scoped to `tenant`.
pub(crate) fn push_filters<DB: Dialect>(qb: &mut QueryBuilder<DB>, tenant: &TenantId, query: &FileQuery) {
    let narrow = !query.metadata.is_empty() || query.external_id.is_some();
    qb.push(" WHERE ")
        .push(if narrow { DB::NOT_BY_INDEX } else { "" })
        .push("tenant = ")
        .bind_value(tenant.as_str().to_owned());
    if let Some(bucket) = &query.bucket {
        qb.push(" AND bucket = ").bind_value(bucket.as_str().to_owned());
    }
    match query.status {
        Some(status) => qb.push(" AND status = ").bind_value(status.as_str().to_owned()),
        None => qb.push(" AND status NOT IN ('deleted', 'purged')"),
    };
    // A partial tus upload is no file.
    qb.push(" AND kind = 'file'");
    // No stored path or type contains NUL (they are parsed without control characters), and
    // PostgreSQL refuses NUL in text: such a filter matches nothing rather than failing.
    let has_nul = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains('\0'));
    let metadata_has_nul = query.metadata.iter().any(|(k, v)| k.contains('\0') || v.contains('\0'));
    if has_nul(&query.prefix) || has_nul(&query.content_type) || has_nul(&query.external_id) || metadata_has_nul {
        qb.push(" AND 0 = 1");
        return;
    }
    if let Some(prefix) = query.prefix.as_deref().filter(|p| !p.is_empty()) {
        // A range rather than LIKE: no wildcard to escape, case-sensitive, and index-friendly.
        qb.push(" AND path >= ").bind_value(prefix.to_owned());
        if let Some(end) = prefix_end(prefix) {
            qb.push(" AND path < ").bind_value(end);
        }
    }
    if query.direct {
        // A file is directly in the folder when its path is the folder and its name.
        qb.push(" AND path = ")
            .bind_value(query.prefix.clone().unwrap_or_default())
            .push(" || name");
    }
    if let Some(pattern) = &query.content_type {
        let pattern = pattern
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match pattern.strip_suffix("/*") {
            Some("*") => {}
            // Essences starting with `kind/`: from `kind/` up to `kind0` ('0' follows '/').
            Some(kind) => {
                qb.push(" AND content_essence >= ").bind_value(format!("{kind}/"));
                qb.push(" AND content_essence < ").bind_value(format!("{kind}0"));
            }
            None => {
                qb.push(" AND content_essence = ").bind_value(pattern);
            }
        }
    }
    if let Some(after) = query.created_after {
        qb.push(" AND created_at > ").bind_value(micros(after));
    }
    if let Some(before) = query.created_before {
        qb.push(" AND created_at < ").bind_value(micros(before));
    }
    if let Some(min) = query.min_size {
        match to_i64("min_size", min) {
            Ok(min) => qb.push(" AND size >= ").bind_value(min),
            // Larger than any size a file can have.
            Err(_) => qb.push(" AND 0 = 1"),
        };
    }
    if let Some(max) = query.max_size.and_then(|m| to_i64("max_size", m).ok()) {
        qb.push(" AND size <= ").bind_value(max);
    }
    if let Some(owner) = &query.owner {
        qb.push(" AND owner = ").bind_value(owner.clone());
    }
    if let Some(external_id) = &query.external_id {
        qb.push(" AND external_id = ").bind_value(external_id.clone());
    }
    if !query.metadata.is_empty() {
        match metadata_pairs(&query.metadata) {
            Some(pairs) => DB::push_metadata_match(qb, tenant.as_str(), &pairs),
            None => {
                qb.push(" AND 0 = 1");
            }
        }
    }
}

/// The pairs of `metadata.KEY=VALUE` filters, each key once, or `None` when a key is asked
/// with two values (no file has both).
pub(crate) fn metadata_pairs(pairs: &[(String, String)]) -> Option<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (key, value) in pairs {
        if map
            .insert(key.clone(), value.clone())
            .is_some_and(|earlier| earlier != *value)
        {
            return None;
        }
    }
    Some(map)
}

/// The smallest string greater than every string starting with `prefix` (by code point,
/// which is UTF-8 byte order), or `None` when there is none.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{metadata_pairs, prefix_end};

    #[test]
    fn a_key_asked_with_two_values_matches_nothing() {
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let once = metadata_pairs(&[pair("ward", "a"), pair("subject", "12"), pair("ward", "a")]).unwrap();
        assert_eq!(once.len(), 2);
        assert_eq!(metadata_pairs(&[pair("ward", "a"), pair("ward", "b")]), None);
    }

    #[test]
    fn prefix_end_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_end("a/b").as_deref(), Some("a/c"));
        assert_eq!(prefix_end("100%_").as_deref(), Some("100%`"));
        assert_eq!(prefix_end("x\u{d7ff}").as_deref(), Some("x\u{e000}"));
        assert_eq!(prefix_end("x\u{10ffff}").as_deref(), Some("y"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
        for s in ["a/b", "a/b/c", "a/bz", "a/b\u{10ffff}"] {
            assert!(("a/b".."a/c").contains(&s), "{s}");
        }
    }
}
