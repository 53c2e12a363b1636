//! The store: SQLite (embedded default) or PostgreSQL, through sqlx's Any driver.
//!
//! [`Store`] owns the connection pools. On SQLite every write goes through one writer
//! connection ([`Store::pool`]), so writers queue in the pool instead of failing with
//! `SQLITE_BUSY`, while reads use a separate set of WAL readers ([`Store::read_pool`]).
//! On PostgreSQL both are the same ordinary pool.
mod connect;
mod error;
mod health;
pub mod known_good;
mod migrations;
mod pending_repo;
/// Scratch stores for tests and benches: compiled only for the lib's own unit tests and
/// with the `test-support` feature (tests and benches get it through the dev-dependency
/// of `opsbot` on itself), never into a release build.
#[cfg(any(test, feature = "test-support"))]
pub mod scratch;
pub mod seen_requests;
pub(crate) mod time;

mod pending_request;
pub use pending_request::{PendingRequest, PendingState};

pub use connect::{ConnectOptions, DEFAULT_STATEMENT_TIMEOUT};
pub use error::StoreError;
pub use health::StoreHealth;

use std::{fmt, sync::Arc};

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
    /// Whether writes fail right now; shared with the pools' release hooks.
    health: Arc<StoreHealth>,
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

    /// Checks that the store answers: a trivial query on the write pool.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.writer).await?;
        Ok(())
    }

    /// Whether this store can take writes (for `/readyz`). While the last write went
    /// fine this is [`Store::ping`]; once one failed because the store could not write
    /// (see [`StoreHealth`]) it is a real one-row write, whose success clears the state.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        if !self.health.is_failing() {
            return self.ping().await;
        }
        // Rewrites the chain head's row with itself: a real write (a WAL frame on SQLite,
        // a new row version on PostgreSQL) that changes nothing.
        let probe = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(StoreError::from);
        if probe.is_ok()
            && let Some(ago) = self.health.failed_ago()
            && ago < health::HOLD_DOWN
        {
            // The probe fits, but real writes failed moments ago: not ready yet.
            return Err(StoreError::RecentlyFailing {
                reason: self.health.reason().unwrap_or_default(),
                ago,
            });
        }
        self.observe(&probe);
        probe
    }

    /// Reports what a write did, so readiness and the pools follow whether the store
    /// can write: an unavailable error marks it failing, a success clears that. Callers
    /// that write (ingest, the audit writer, the outbox) pass every write's result.
    pub fn observe<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => self.health.write_succeeded(),
            Err(error) => self.health.write_failed(error),
        }
    }

    /// Whether writes fail right now, and why.
    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// Closes every connection; later queries fail with a pool-closed error.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
