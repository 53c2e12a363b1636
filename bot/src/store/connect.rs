//! Opening a [`Store`] from a URL: picks the backend from the scheme, creates the SQLite
//! file if missing, and sets every SQLite connection up (WAL, `synchronous=FULL` for a
//! durable audit log, busy timeout, foreign keys, in-memory temp storage; readers are
//! `query_only`). Every PostgreSQL session gets `statement_timeout` and `lock_timeout`, so
//! a held lock or a stuck statement fails within seconds instead of holding a request.
//!
//! The write pools heal themselves: a connection given back while still inside a
//! transaction (a `COMMIT` or `ROLLBACK` that failed, e.g. on a full disk) is closed, not
//! reused, and while writes fail ([`super::StoreHealth`]) every released connection is
//! closed so the next write gets a fresh session.

use std::{sync::Arc, time::Duration};

use sqlx::{
    AnyConnection, Connection as _, Executor, Row, any::AnyPoolOptions,
    pool::PoolConnectionMetadata,
};

use super::{Backend, Store, StoreError, StoreHealth};

/// How a store is opened.
#[derive(Clone, Copy, Debug)]
pub struct ConnectOptions {
    /// Connections in the pool (PostgreSQL; SQLite uses one writer and a few readers).
    pub max_connections: u32,
    /// PostgreSQL `statement_timeout` and `lock_timeout` of every session (`None` or
    /// zero: the server's defaults). SQLite waits at most its busy timeout for a lock.
    pub statement_timeout: Option<Duration>,
}

impl ConnectOptions {
    /// `max_connections` connections, the default statement timeout.
    pub fn new(max_connections: u32) -> Self {
        Self {
            max_connections,
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
        }
    }
}

/// The default `[store] statement_timeout`.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an SQLite connection waits for another process's write lock.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;
/// How long a caller waits for a pooled connection before the store counts as unavailable.
/// The SQLite writer pool waits longer: queueing behind the single writer is normal.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const SQLITE_WRITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// What an SQLite connection is for; decides its PRAGMAs.
#[derive(Clone, Copy)]
enum SqliteRole {
    /// The single writer connection of a file database.
    Writer,
    /// A read-only WAL reader.
    Reader,
    /// The only connection of an in-memory database: reads and writes.
    Memory,
}

impl Store {
    /// Opens the store at `url` (`sqlite://path/opsbot.db`, `sqlite::memory:`,
    /// `postgres://user@host/db`). Does not migrate; call [`Store::migrate`].
    ///
    /// SQLite gets one writer connection and `max_connections - 1` (at least one) readers;
    /// PostgreSQL gets one pool of `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        Self::connect_with(url, ConnectOptions::new(max_connections)).await
    }

    /// [`Store::connect`] with every option.
    pub async fn connect_with(url: &str, options: ConnectOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let health = Arc::new(StoreHealth::default());
        match backend_of(url)? {
            Backend::Sqlite => connect_sqlite(url, options.max_connections, health).await,
            Backend::Postgres => connect_postgres(url, options, health).await,
        }
    }
}

/// The `after_release` hook of the write pools: whether to keep the connection.
async fn keep_released(
    conn: &mut AnyConnection,
    health: &StoreHealth,
    _meta: PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if conn.is_in_transaction() {
        // A dropped transaction queues its ROLLBACK (SQLite runs it on the connection's
        // worker thread); a ping waits for it. Still inside one afterwards means the
        // ROLLBACK failed too: the next BEGIN would fail forever on this connection.
        conn.ping().await?;
        if conn.is_in_transaction() {
            tracing::warn!("closing a store connection left inside a failed transaction");
            return Ok(false);
        }
    }
    // While writes fail, replace sessions instead of reusing them: one opened read-only
    // or otherwise stuck must not outlive the outage.
    Ok(!health.is_failing())
}

/// `SET statement_timeout …; SET lock_timeout …` for a new PostgreSQL session.
fn postgres_timeouts(timeout: Duration) -> String {
    let ms = timeout.as_millis();
    format!("SET statement_timeout = {ms}; SET lock_timeout = {ms}")
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        other => Err(StoreError::UnsupportedUrl(other.to_string())),
    }
}

async fn connect_postgres(
    url: &str,
    options: ConnectOptions,
    health: Arc<StoreHealth>,
) -> Result<Store, StoreError> {
    let timeouts = options
        .statement_timeout
        .filter(|t| !t.is_zero())
        .map(postgres_timeouts);
    let hook_health = health.clone();
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _meta| {
            let timeouts = timeouts.clone();
            Box::pin(async move {
                if let Some(timeouts) = timeouts {
                    conn.execute(sqlx::AssertSqlSafe(timeouts)).await?;
                }
                Ok(())
            })
        })
        .after_release(move |conn, meta| {
            let health = hook_health.clone();
            Box::pin(async move { keep_released(conn, &health, meta).await })
        })
        .connect(url)
        .await
        .map_err(|source| StoreError::Connect {
            backend: Backend::Postgres,
            source,
        })?;
    Ok(Store {
        backend: Backend::Postgres,
        writer: pool.clone(),
        reader: pool,
        health,
    })
}

async fn connect_sqlite(
    url: &str,
    max_connections: u32,
    health: Arc<StoreHealth>,
) -> Result<Store, StoreError> {
    let connect_error = |source| StoreError::Connect {
        backend: Backend::Sqlite,
        source,
    };
    if is_memory(url) {
        // Every connection to `:memory:` is its own database: keep exactly one, forever.
        let pool = sqlite_pool(1, SqliteRole::Memory)
            .connect(url)
            .await
            .map_err(connect_error)?;
        return Ok(Store {
            backend: Backend::Sqlite,
            writer: pool.clone(),
            reader: pool,
            health,
        });
    }
    let url = with_create_mode(url);
    // The writer first: it switches the file to WAL before any reader opens it.
    let hook_health = health.clone();
    let writer = sqlite_pool(1, SqliteRole::Writer)
        .after_release(move |conn, meta| {
            let health = hook_health.clone();
            Box::pin(async move { keep_released(conn, &health, meta).await })
        })
        .connect(&url)
        .await
        .map_err(connect_error)?;
    let readers = max_connections.saturating_sub(1).max(1);
    let reader = sqlite_pool(readers, SqliteRole::Reader)
        .connect(&url)
        .await
        .map_err(connect_error)?;
    Ok(Store {
        backend: Backend::Sqlite,
        writer,
        reader,
        health,
    })
}

fn sqlite_pool(size: u32, role: SqliteRole) -> AnyPoolOptions {
    let acquire_timeout = match role {
        SqliteRole::Reader => ACQUIRE_TIMEOUT,
        SqliteRole::Writer | SqliteRole::Memory => SQLITE_WRITE_ACQUIRE_TIMEOUT,
    };
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(match role {
            SqliteRole::Reader => 0,
            SqliteRole::Writer | SqliteRole::Memory => 1,
        })
        .acquire_timeout(acquire_timeout)
        // A local file cannot drop the connection; pinging on every acquire only adds a
        // round trip to the connection's worker thread.
        .test_before_acquire(false)
        .idle_timeout(match role {
            SqliteRole::Reader => Some(Duration::from_secs(600)),
            SqliteRole::Writer | SqliteRole::Memory => None,
        })
        .max_lifetime(None)
        .after_connect(move |conn, _meta| Box::pin(setup_sqlite(conn, role)))
}

async fn setup_sqlite(conn: &mut AnyConnection, role: SqliteRole) -> Result<(), sqlx::Error> {
    if let SqliteRole::Writer = role {
        let mode: String = conn
            .fetch_one("PRAGMA journal_mode = WAL")
            .await?
            .try_get(0)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                journal_mode = %mode,
                "could not switch the SQLite store to WAL (another process has it open?)"
            );
        }
    }
    conn.execute("PRAGMA synchronous = FULL").await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"
    )))
    .await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    // Multi-row INSERTs in a transaction keep a statement journal, which otherwise spills
    // to a temporary file past 64 KiB: a write and a file per batch of audit entries.
    conn.execute("PRAGMA temp_store = MEMORY").await?;
    if let SqliteRole::Reader = role {
        conn.execute("PRAGMA query_only = ON").await?;
    }
    if let SqliteRole::Writer = role {
        // The writer walks the incident, alert and outbox indexes of every batch: a
        // 16 MiB page cache (default 2 MiB) keeps them in memory under an alert storm.
        // It fills only as pages are read, so an idle process does not pay for it.
        conn.execute("PRAGMA cache_size = -16384").await?;
    }
    Ok(())
}

fn is_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || query.split('&').any(|kv| kv == "mode=memory")
}

/// Adds `mode=rwc` (create if missing) unless the URL already chooses a mode.
fn with_create_mode(url: &str) -> String {
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|kv| kv.starts_with("mode=")) => url.to_string(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;

    use super::*;
    use crate::store::scratch::backend_tests;

    backend_tests! {
        async fn a_connection_left_in_a_transaction_is_closed_not_reused(db) {
            // What a COMMIT and then a ROLLBACK failing (a full disk) leave behind: the
            // connection still inside its transaction, with nobody to end it.
            let mut conn = db.store.pool().acquire().await.unwrap();
            let stuck = sqlx::Connection::begin(&mut *conn).await.unwrap();
            std::mem::forget(stuck);
            assert!(conn.is_in_transaction());
            drop(conn);
            // Every later write transaction starts on a fresh connection (before the fix:
            // "attempted to call begin_with at non-zero transaction depth", forever).
            for _ in 0..3 {
                let begin = match db.store.backend() {
                    Backend::Sqlite => "BEGIN IMMEDIATE",
                    Backend::Postgres => "BEGIN",
                };
                let mut tx = db.store.pool().begin_with(begin).await.unwrap();
                sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
            db.store.check_writable().await.unwrap();
        }

        async fn failing_writes_make_readiness_probe_and_clear_on_success(db) {
            db.store
                .health()
                .write_failed(&StoreError::Query(sqlx::Error::PoolTimedOut));
            assert!(db.store.health().is_failing());
            // The probe is a real write, but real writes failed a moment ago: a one-row
            // write that fits proves little, so not ready yet.
            let early = db.store.check_writable().await.unwrap_err();
            assert!(early.is_unavailable(), "{early}");
            assert!(db.store.health().is_failing());
            // Once nothing has failed for the hold-down, the probe alone makes it ready.
            db.store
                .health()
                .backdate(crate::store::health::HOLD_DOWN);
            db.store.check_writable().await.unwrap();
            assert!(!db.store.health().is_failing());
            // A real write that succeeds clears it at once.
            db.store
                .health()
                .write_failed(&StoreError::Query(sqlx::Error::PoolTimedOut));
            db.store.observe(&Ok::<(), StoreError>(()));
            db.store.check_writable().await.unwrap();
        }
    }

    #[tokio::test]
    async fn postgres_sessions_get_the_statement_timeout() {
        let Some(base) = crate::store::scratch::postgres_url_or_skip(
            "postgres_sessions_get_the_statement_timeout",
        ) else {
            return;
        };
        let (store, scratch) = crate::store::scratch::scratch_postgres(&base)
            .await
            .unwrap();
        let options = ConnectOptions {
            max_connections: 2,
            statement_timeout: Some(Duration::from_millis(1500)),
        };
        let other = Store::connect_with(scratch.url(), options).await.unwrap();
        let statement: String = sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(other.pool())
            .await
            .unwrap();
        let lock: String = sqlx::query_scalar("SHOW lock_timeout")
            .fetch_one(other.pool())
            .await
            .unwrap();
        assert_eq!((statement.as_str(), lock.as_str()), ("1500ms", "1500ms"));
        // A statement running past it fails, and counts as the store being unavailable.
        let error = sqlx::query("SELECT pg_sleep(5)")
            .execute(other.pool())
            .await
            .map_err(StoreError::from)
            .unwrap_err();
        assert!(error.is_unavailable(), "{error}");
        other.close().await;
        store.close().await;
        scratch.drop_database().await.unwrap();
    }

    #[test]
    fn picks_backend_from_scheme() {
        assert_eq!(backend_of("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(
            backend_of("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            backend_of("postgresql://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(matches!(
            backend_of("mysql://root:secret@h/db"),
            Err(StoreError::UnsupportedUrl(scheme)) if scheme == "mysql"
        ));
    }

    #[test]
    fn sqlite_urls() {
        assert!(is_memory("sqlite::memory:"));
        assert!(is_memory("sqlite://:memory:"));
        assert!(is_memory("sqlite://x?mode=memory"));
        assert!(!is_memory("sqlite://opsbot.db"));
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?cache=private"),
            "sqlite://a.db?cache=private&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }

    #[tokio::test]
    async fn creates_the_file_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()), 4)
            .await
            .unwrap();
        assert!(path.exists());
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.read_pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        store.ping().await.unwrap();
        // Readers refuse writes.
        let err = sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(store.read_pool())
            .await;
        assert!(err.is_err());
        store.close().await;
    }

    #[tokio::test]
    async fn memory_store_keeps_its_data() {
        let store = Store::connect("sqlite::memory:", 4).await.unwrap();
        store.migrate().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_head")
            .fetch_one(store.read_pool())
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
