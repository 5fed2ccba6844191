//! The one place where engine errors become `StoreError` variants callers can match on.

use filegate_core::StoreError;
use filegate_core::domain::{FileId, FileStatus};
use sqlx::error::{DatabaseError, ErrorKind};

/// Maps a sqlx error: a unique-constraint violation (SQLite's constraint error, PostgreSQL's
/// 23505) is a `Conflict`; an engine that cannot be reached or stays locked (pool timeout,
/// I/O, `SQLITE_BUSY` after the busy timeout, a PostgreSQL server shutting down or out of
/// connections, disk full) is `Unavailable`; anything else is `Other`.
pub(crate) fn store_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::Database(db) if is_transient(db.as_ref()) => StoreError::Unavailable(e.into()),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.into())
        }
        _ => StoreError::Other(anyhow::Error::new(e).context("database error")),
    }
}

/// Errors that say "not now" rather than "never": retrying later may succeed.
fn is_transient(db: &dyn DatabaseError) -> bool {
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLite reports extended result codes; the primary code is the low byte.
        let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
        // BUSY, LOCKED, IOERR, FULL, CANTOPEN.
        return matches!(primary, Some(5 | 6 | 10 | 13 | 14));
    }
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return pg_transient(pg.code());
    }
    false
}

/// PostgreSQL SQLSTATEs that say "not now".
fn pg_transient(code: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (too many connections, disk full,
    // out of memory).
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            // A read-only server: a standby, or a primary being failed over.
            "25006"
        // Serialization failure, deadlock, lock not available: retrying may succeed.
        | "40001" | "40P01" | "55P03"
        // Statement timeout; the server shutting down, crashed or still starting.
        | "57014" | "57P01" | "57P02" | "57P03" | "57P05"
        )
}

/// A row that does not decode into a domain value: a bug or a hand-edited database.
pub(crate) fn bad_row(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("stored {what} does not decode: {detail}"))
}

/// A compare-and-set that found the file in another status than the caller expected.
pub(crate) fn status_conflict(id: FileId, stored: &str, expected: &[FileStatus]) -> StoreError {
    let wanted: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
    StoreError::Conflict(format!(
        "file {id} is {stored}, expected {}",
        if wanted.is_empty() {
            "nothing".to_owned()
        } else {
            wanted.join(" or ")
        }
    ))
}

/// A unique-key conflict said in the port's words: "`what` exists".
pub(crate) fn exists(what: impl std::fmt::Display) -> impl FnOnce(StoreError) -> StoreError {
    move |e| match e {
        StoreError::Conflict(_) => StoreError::Conflict(format!("{what} exists")),
        other => other,
    }
}

/// A value the engine cannot hold (a size past `i64::MAX`, a value that does not encode).
pub(crate) fn unstorable(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("{what} cannot be stored: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_outages_are_transient_and_bugs_are_not() {
        for code in ["08006", "08001", "53300", "53100", "57P01", "57P03", "40P01", "25006"] {
            assert!(pg_transient(code), "{code}");
        }
        // Syntax error, undefined table, not-null and foreign-key violations, no such database.
        for code in ["42601", "42P01", "23502", "23503", "3D000", "28P01"] {
            assert!(!pg_transient(code), "{code}");
        }
    }

    #[test]
    fn pool_timeouts_are_unavailable_and_row_not_found_is_other() {
        assert!(matches!(
            store_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(store_err(sqlx::Error::RowNotFound), StoreError::Other(_)));
    }
}
