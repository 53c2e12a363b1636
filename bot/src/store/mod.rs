//! The store: SQLite (embedded default) or PostgreSQL, through sqlx's Any driver.
//!
//! [`Store`] owns the connection pools. On SQLite every write goes through one writer
//! connection ([`Store::pool`]), so writers queue in the pool instead of failing with
//! `SQLITE_BUSY`, while reads use a separate set of WAL readers ([`Store::read_pool`]).
//! On PostgreSQL both are the same ordinary pool.
mod connect;
mod error;
mod migrations;
mod pending_repo;
pub mod scratch;
pub mod seen_requests;
pub(crate) mod time;

mod pending_request;
pub use pending_request::{PendingRequest, PendingState};

pub use error::StoreError;

use std::fmt;

use sqlx::AnyPool;

/// Which database the store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handle on the database. Cheap to clone (the pools are reference-counted).
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// Writes and read-modify-write transactions. One connection on SQLite.
    writer: AnyPool,
    /// Read-only queries. `PRAGMA query_only` WAL readers on SQLite; the same pool as
    /// `writer` on PostgreSQL (and for in-memory SQLite).
    reader: AnyPool,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for writes and transactions. On SQLite it holds a single connection, so
    /// in-process writers are serialized here and never see `SQLITE_BUSY`.
    pub fn pool(&self) -> &AnyPool {
        &self.writer
    }

    /// The pool for read-only queries; they never wait behind the writer on SQLite.
    pub fn read_pool(&self) -> &AnyPool {
        &self.reader
    }

    /// Checks that the store answers (for `/readyz`): a trivial query on the write pool,
    /// since a store that cannot write is not ready.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.writer).await?;
        Ok(())
    }

    /// Closes every connection; later queries fail with a pool-closed error.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
