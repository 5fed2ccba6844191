//! The one place where engine errors become `StoreError` variants callers can match on.

use filegate_core::StoreError;
use sqlx::error::{DatabaseError, ErrorKind};

/// Maps a sqlx error: a unique-constraint violation is a `Conflict`; an engine that cannot
/// be reached or stays locked (pool timeout, I/O, `SQLITE_BUSY` after the busy timeout, disk
/// full) is `Unavailable`; anything else is `Other`.
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
    false
}

/// A row that does not decode into a domain value: a bug or a hand-edited database.
pub(crate) fn bad_row(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("stored {what} does not decode: {detail}"))
}

/// A value the engine cannot hold (a size past `i64::MAX`, a value that does not encode).
pub(crate) fn unstorable(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("{what} cannot be stored: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_are_unavailable_and_row_not_found_is_other() {
        assert!(matches!(
            store_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(store_err(sqlx::Error::RowNotFound), StoreError::Other(_)));
    }
}
