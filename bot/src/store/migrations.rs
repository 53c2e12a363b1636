//! The embedded schema migrations (`/migrations/{sqlite,postgres}/NNNN_name.sql`), one
//! list for both backends, applied with sqlx's migrator (which records them in
//! `_sqlx_migrations`, so running it again is a no-op).

use std::borrow::Cow;

use sqlx::{
    SqlStr,
    migrate::{Migration, MigrationType, Migrator},
};

use super::{Backend, Store, StoreError};

/// One migration, in both dialects.
struct Embedded {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, oldest first. To add one, write both files and append an entry;
/// never edit a file that has shipped (its checksum is recorded).
const MIGRATIONS: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "init",
        sqlite: include_str!("../../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../../migrations/postgres/0001_init.sql"),
    },
    // Next: 0002 alerts, 0003 incidents, 0004 outbox.
];

fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|m| {
                let sql = match backend {
                    Backend::Sqlite => m.sqlite,
                    Backend::Postgres => m.postgres,
                };
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.description),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

impl Store {
    /// Applies the migrations this database has not seen yet. Safe to run from several
    /// replicas at once on PostgreSQL (sqlx takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator(self.backend).run(self.pool()).await?;
        Ok(())
    }
}
