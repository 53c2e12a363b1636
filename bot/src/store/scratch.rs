//! Fresh, empty, migrated stores for tests and benchmarks: a temporary SQLite file, or a
//! uniquely named PostgreSQL database created on a given server and dropped afterwards.
//! Also the `backend_tests!` macro that runs one async test body on both backends.
//!
//! Test scaffolding: compiled only under `cfg(test)` or the `test-support` feature (see
//! `bot/Cargo.toml`), so release builds carry none of it and `tempfile` stays out of them.

use tempfile::TempDir;

use super::{Store, StoreError};

/// The database file inside a scratch SQLite directory.
pub const SCRATCH_SQLITE_FILE: &str = "opsbot.db";

/// The environment variable naming the PostgreSQL server tests may create databases on
/// (`postgres://postgres@127.0.0.1:5432/test`). Unset: PostgreSQL tests are skipped.
pub const TEST_POSTGRES_URL_VAR: &str = "OPSBOT_TEST_POSTGRES_URL";

/// The PostgreSQL server for tests, if one is configured.
pub fn test_postgres_url() -> Option<String> {
    std::env::var(TEST_POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// For a PostgreSQL test: the server URL, or `None` after printing that the test is
/// skipped. Under CI (`CI` set and not `false`/`0`) a missing URL fails the test instead.
pub fn postgres_url_or_skip(test: &str) -> Option<String> {
    let url = test_postgres_url();
    if url.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!ci, "{test}: {TEST_POSTGRES_URL_VAR} must be set under CI");
        eprintln!("skipped {test} on PostgreSQL: {TEST_POSTGRES_URL_VAR} is not set");
    }
    url
}

/// A migrated store on a new SQLite file in a temporary directory, which is deleted when
/// the returned `TempDir` is dropped. Panics if that fails: it is for tests and benches.
pub async fn scratch_sqlite() -> (Store, TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("opsbot-store-")
        .tempdir()
        .expect("create a temporary directory for the scratch SQLite store");
    let store = Store::connect(&scratch_sqlite_url(&dir), 4)
        .await
        .expect("open the scratch SQLite store");
    store
        .migrate()
        .await
        .expect("migrate the scratch SQLite store");
    (store, dir)
}

/// The URL of the database in a scratch SQLite directory, to open it again (a second
/// "replica").
pub fn scratch_sqlite_url(dir: &TempDir) -> String {
    format!(
        "sqlite://{}",
        dir.path().join(SCRATCH_SQLITE_FILE).display()
    )
}

/// A migrated store on a new database `opsbot_test_<uuid>` created on the server of
/// `base_url`. Call [`ScratchDatabase::drop_database`] when done; if the guard is merely
/// dropped it still tries to drop the database, blocking a helper thread.
pub async fn scratch_postgres(base_url: &str) -> Result<(Store, ScratchDatabase), StoreError> {
    sqlx::any::install_default_drivers();
    let name = format!("opsbot_test_{}", uuid::Uuid::now_v7().simple());
    let url = with_database(base_url, &name)
        .ok_or_else(|| StoreError::UnsupportedUrl("(scratch base URL without ://)".into()))?;
    admin_execute(base_url, &format!("CREATE DATABASE {name}")).await?;
    let guard = ScratchDatabase {
        admin_url: base_url.to_string(),
        name,
        url,
        dropped: false,
    };
    let store = Store::connect(&guard.url, 8).await?;
    store.migrate().await?;
    Ok((store, guard))
}

/// A PostgreSQL database made by [`scratch_postgres`].
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl ScratchDatabase {
    /// The URL of the scratch database, to open it again (a second "replica").
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, disconnecting whoever is still connected to it.
    pub async fn drop_database(mut self) -> Result<(), StoreError> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // No async in Drop: run the DROP on a private runtime on a helper thread. Best
        // effort; a leaked test database is harmless.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(drop_database(&admin_url, &name)).ok()
        })
        .join();
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    admin_execute(
        admin_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
}

async fn admin_execute(admin_url: &str, sql: &str) -> Result<(), StoreError> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .map_err(|source| StoreError::Connect {
            backend: super::Backend::Postgres,
            source,
        })?;
    conn.execute(sqlx::AssertSqlSafe(sql.to_string())).await?;
    conn.close().await?;
    Ok(())
}

/// `base_url` with its database path replaced by `name` (query kept).
fn with_database(base_url: &str, name: &str) -> Option<String> {
    let (scheme, rest) = base_url.split_once("://")?;
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let authority = location.split_once('/').map_or(location, |(a, _)| a);
    let mut url = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Some(url)
}

/// A store for one run of a [`backend_tests!`] body, with the URL to reach the same
/// database again.
#[cfg(test)]
pub(crate) struct TestDb {
    pub store: Store,
    pub url: String,
}

/// Runs each async test body twice: on a scratch SQLite store (`mod NAME { fn sqlite }`)
/// and, when [`TEST_POSTGRES_URL_VAR`] is set, on a scratch PostgreSQL database
/// (`fn postgres`; otherwise it prints that it was skipped, or fails under CI). The body
/// gets a [`TestDb`].
///
/// ```ignore
/// backend_tests! {
///     async fn migrates_twice(db) {
///         db.store.migrate().await.unwrap();
///     }
/// }
/// ```
#[cfg(test)]
macro_rules! backend_tests {
    ($(async fn $name:ident($db:ident) $body:block)+) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (store, dir) = $crate::store::scratch::scratch_sqlite().await;
                let $db = $crate::store::scratch::TestDb {
                    url: $crate::store::scratch::scratch_sqlite_url(&dir),
                    store,
                };
                $body
                drop(dir);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(base) = $crate::store::scratch::postgres_url_or_skip(module_path!())
                else {
                    return;
                };
                let (store, scratch) = $crate::store::scratch::scratch_postgres(&base)
                    .await
                    .expect("create a scratch PostgreSQL database");
                let $db = $crate::store::scratch::TestDb {
                    url: scratch.url().to_string(),
                    store,
                };
                $body
                scratch.drop_database().await.expect("drop the scratch database");
            }
        }
    )+};
}

#[cfg(test)]
pub(crate) use backend_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/x")
        );
        assert_eq!(
            with_database("postgres://u:p@h?sslmode=disable", "x").as_deref(),
            Some("postgres://u:p@h/x?sslmode=disable")
        );
        assert_eq!(with_database("nonsense", "x"), None);
    }

    /// This module and `tempfile` reach a build only through `cfg(test)` or the
    /// `test-support` feature, which no default turns on.
    #[test]
    fn scratch_stores_stay_out_of_release_builds() {
        let manifest: toml::Table = toml::from_str(include_str!("../../Cargo.toml")).unwrap();
        let tempfile = &manifest["dependencies"]["tempfile"];
        assert_eq!(
            tempfile.get("optional").and_then(toml::Value::as_bool),
            Some(true),
            "tempfile must be an optional dependency of opsbot: {tempfile:?}"
        );
        assert_eq!(
            manifest["features"]["test-support"].as_array().unwrap(),
            &vec![toml::Value::from("dep:tempfile")]
        );
        let default = manifest["features"].get("default");
        assert!(
            default.is_none_or(|d| !format!("{d:?}").contains("test-support")),
            "test-support must not be a default feature: {default:?}"
        );
    }

    backend_tests! {
        async fn migrations_are_idempotent(db) {
            db.store.migrate().await.unwrap();
            db.store.migrate().await.unwrap();
            let heads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_head")
                .fetch_one(db.store.read_pool())
                .await
                .unwrap();
            assert_eq!(heads, 1);
            let again = Store::connect(&db.url, 2).await.unwrap();
            again.migrate().await.unwrap();
            again.ping().await.unwrap();
            again.close().await;
        }
    }
}
