//! [`StoreError`]: everything that can go wrong talking to the store, and whether it means
//! "the store is unavailable" (HTTP handlers answer 503) or something else.

use super::Backend;

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`. Holds only the scheme, never the URL
    /// (it may carry a password).
    #[error("unsupported database URL scheme {0:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// Opening the pool failed.
    #[error("cannot connect to the {backend} store: {source}")]
    Connect {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A row holds something this version cannot read (an unknown state, a time out of
    /// range, a missing singleton row).
    #[error("invalid data in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    /// A write failed because the store could not write a moment ago; a small probe
    /// write since then is not enough to call it writable.
    #[error("a write failed {}s ago: {reason}", .ago.as_secs())]
    RecentlyFailing {
        reason: String,
        ago: std::time::Duration,
    },
}

impl StoreError {
    pub(crate) fn corrupt(table: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            table,
            detail: detail.into(),
        }
    }

    /// Whether the error means the store cannot be reached, cannot write or is overloaded
    /// right now (connection refused or closed, pool timeout, server shutting down, disk
    /// full, read-only, a lock or statement timeout, SQLite busy), as opposed to a bug or
    /// bad data. HTTP handlers answer 503 for these (see `server::unavailable`).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } | StoreError::RecentlyFailing { .. } => true,
            StoreError::Query(e) => sqlx_unavailable(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => sqlx_unavailable(e),
            StoreError::Migrate(_) | StoreError::UnsupportedUrl(_) | StoreError::Corrupt { .. } => {
                false
            }
        }
    }
}

fn sqlx_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres_unavailable(pg.code())
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                db.code().is_some_and(|code| sqlite_unavailable(&code))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// SQLSTATEs meaning "try again later": class 08 connection exception, class 53
/// insufficient resources (too many connections, 53100 disk full), 57P01..57P03 shutting
/// down or not accepting connections yet, 57014 query canceled (`statement_timeout`),
/// 55P03 lock not available (`lock_timeout`), 25006 read-only SQL transaction
/// (`default_transaction_read_only`, a standby), 40001/40P01 serialization failure or
/// deadlock (the transaction was rolled back; running it again may succeed).
fn postgres_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || sqlstate.starts_with("57P")
        || matches!(sqlstate, "57014" | "55P03" | "25006" | "40001" | "40P01")
}

/// SQLite extended result codes (decimal); the primary code is the low byte:
/// 5 BUSY, 6 LOCKED, 8 READONLY, 10 IOERR, 13 FULL, 14 CANTOPEN.
fn sqlite_unavailable(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|extended| matches!(extended & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

#[cfg(test)]
mod tests {
    use super::{StoreError, postgres_unavailable, sqlite_unavailable};

    #[test]
    fn classifies_codes() {
        assert!(postgres_unavailable("08006"));
        assert!(postgres_unavailable("57P01"));
        assert!(postgres_unavailable("53300"));
        assert!(postgres_unavailable("53100"), "disk full");
        assert!(postgres_unavailable("25006"), "read-only transaction");
        assert!(postgres_unavailable("57014"), "statement timeout");
        assert!(postgres_unavailable("55P03"), "lock timeout");
        assert!(!postgres_unavailable("23505"));
        assert!(
            !postgres_unavailable("22021"),
            "a NUL in text is bad data, not an outage"
        );
        assert!(!postgres_unavailable("42P01"));
        assert!(sqlite_unavailable("5"));
        assert!(sqlite_unavailable("517"));
        assert!(sqlite_unavailable("8"), "read-only");
        assert!(sqlite_unavailable("13"), "disk full");
        assert!(sqlite_unavailable("266"), "IOERR_READ");
        assert!(!sqlite_unavailable("19"));
        assert!(!sqlite_unavailable("2067"));
    }

    #[test]
    fn pool_errors_are_unavailable() {
        assert!(StoreError::Query(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::Query(sqlx::Error::PoolClosed).is_unavailable());
        assert!(!StoreError::Query(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::corrupt("audit_head", "missing").is_unavailable());
    }
}
