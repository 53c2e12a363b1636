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
}

impl StoreError {
    pub(crate) fn corrupt(table: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            table,
            detail: detail.into(),
        }
    }

    /// Whether the error means the store cannot be reached or is overloaded right now
    /// (connection refused or closed, pool timeout, server shutting down, SQLite busy),
    /// as opposed to a bug or bad data. HTTP handlers answer 503 for these.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
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
/// insufficient resources (too many connections, disk full), 57P01..57P03 shutting down
/// or not accepting connections yet.
fn postgres_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57P")
}

/// SQLite extended result codes (decimal); the primary code is the low byte:
/// 5 BUSY, 6 LOCKED, 10 IOERR, 13 FULL, 14 CANTOPEN.
fn sqlite_unavailable(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|extended| matches!(extended & 0xff, 5 | 6 | 10 | 13 | 14))
}

#[cfg(test)]
mod tests {
    use super::{StoreError, postgres_unavailable, sqlite_unavailable};

    #[test]
    fn classifies_codes() {
        assert!(postgres_unavailable("08006"));
        assert!(postgres_unavailable("57P01"));
        assert!(postgres_unavailable("53300"));
        assert!(!postgres_unavailable("23505"));
        assert!(!postgres_unavailable("42P01"));
        assert!(sqlite_unavailable("5"));
        assert!(sqlite_unavailable("517"));
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
