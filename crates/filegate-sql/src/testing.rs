//! For tests of the engines and of the server above them: what a test cannot make happen
//! through the ports. Not used by filegate itself.

use std::path::{Path, PathBuf};

use sqlx::Connection as _;

/// Makes the audit trail of the SQLite database at `path` refuse every record (a trigger
/// that aborts each insert into it), or take them again; from a connection of its own, as
/// another process would.
pub async fn refuse_audit_sqlite(path: &Path, refuse: bool) -> Result<(), sqlx::Error> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    let sql = if refuse {
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
         BEGIN SELECT RAISE(ABORT, 'the audit trail refuses records'); END;"
    } else {
        "DROP TRIGGER refuse_audit;"
    };
    sqlx::raw_sql(sql).execute(&mut conn).await?;
    conn.close().await
}

/// [`refuse_audit_sqlite`] for the PostgreSQL database at `url`.
pub async fn refuse_audit_postgres(url: &str, refuse: bool) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let sql = if refuse {
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'the audit trail refuses records'; END; $$; \
         CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
    } else {
        "DROP TRIGGER refuse_audit ON audit_log; DROP FUNCTION refuse_audit();"
    };
    sqlx::raw_sql(sql).execute(&mut conn).await?;
    conn.close().await
}

/// A test database's audit trail, made to refuse records or take them again.
#[derive(Debug, Clone)]
pub enum AuditTrail {
    /// The SQLite database file.
    Sqlite(PathBuf),
    /// The PostgreSQL database URL.
    Postgres(String),
}

impl AuditTrail {
    /// [`refuse_audit_sqlite`] or [`refuse_audit_postgres`]; panics when the trigger cannot
    /// be changed (the test cannot go on).
    pub async fn refuse(&self, refuse: bool) {
        let changed = match self {
            AuditTrail::Sqlite(path) => refuse_audit_sqlite(path, refuse).await,
            AuditTrail::Postgres(url) => refuse_audit_postgres(url, refuse).await,
        };
        if let Err(e) = changed {
            panic!("cannot change the audit trigger: {e}");
        }
    }
}
