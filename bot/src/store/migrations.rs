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

/// Every migration (applied in version order). To add one, write both files and add an entry;
/// never edit a file that has shipped (its checksum is recorded).
const MIGRATIONS: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "init",
        sqlite: include_str!("../../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../../migrations/postgres/0001_init.sql"),
    },
    Embedded {
        version: 2,
        description: "incidents",
        sqlite: include_str!("../../../migrations/sqlite/0002_incidents.sql"),
        postgres: include_str!("../../../migrations/postgres/0002_incidents.sql"),
    },
    Embedded {
        version: 3,
        description: "outbox",
        sqlite: include_str!("../../../migrations/sqlite/0003_outbox.sql"),
        postgres: include_str!("../../../migrations/postgres/0003_outbox.sql"),
    },
    Embedded {
        version: 4,
        description: "outbox claim lost",
        sqlite: include_str!("../../../migrations/sqlite/0004_outbox_claim_lost.sql"),
        postgres: include_str!("../../../migrations/postgres/0004_outbox_claim_lost.sql"),
    },
    Embedded {
        version: 5,
        description: "outbox lane order",
        sqlite: include_str!("../../../migrations/sqlite/0005_outbox_lane_order.sql"),
        postgres: include_str!("../../../migrations/postgres/0005_outbox_lane_order.sql"),
    },
    Embedded {
        version: 6,
        description: "inbox",
        sqlite: include_str!("../../../migrations/sqlite/0006_inbox.sql"),
        postgres: include_str!("../../../migrations/postgres/0006_inbox.sql"),
    },
    Embedded {
        version: 7,
        description: "seen requests",
        sqlite: include_str!("../../../migrations/sqlite/0007_seen_requests.sql"),
        postgres: include_str!("../../../migrations/postgres/0007_seen_requests.sql"),
    },
    Embedded {
        version: 8,
        description: "audit checkpoints",
        sqlite: include_str!("../../../migrations/sqlite/0008_audit_checkpoints.sql"),
        postgres: include_str!("../../../migrations/postgres/0008_audit_checkpoints.sql"),
    },
    Embedded {
        version: 9,
        description: "runbook runs",
        sqlite: include_str!("../../../migrations/sqlite/0009_runbook_runs.sql"),
        postgres: include_str!("../../../migrations/postgres/0009_runbook_runs.sql"),
    },
    Embedded {
        version: 10,
        description: "known good revisions",
        sqlite: include_str!("../../../migrations/sqlite/0010_known_good_revisions.sql"),
        postgres: include_str!("../../../migrations/postgres/0010_known_good_revisions.sql"),
    },
    Embedded {
        version: 12,
        description: "outbox pace",
        sqlite: include_str!("../../../migrations/sqlite/0012_outbox_pace.sql"),
        postgres: include_str!("../../../migrations/postgres/0012_outbox_pace.sql"),
    },
    Embedded {
        version: 13,
        description: "automations",
        sqlite: include_str!("../../../migrations/sqlite/0013_automations.sql"),
        postgres: include_str!("../../../migrations/postgres/0013_automations.sql"),
    },
    Embedded {
        version: 11,
        description: "storm boards",
        sqlite: include_str!("../../../migrations/sqlite/0011_storm_boards.sql"),
        postgres: include_str!("../../../migrations/postgres/0011_storm_boards.sql"),
    },
    Embedded {
        version: 15,
        description: "web sessions",
        sqlite: include_str!("../../../migrations/sqlite/0015_web_sessions.sql"),
        postgres: include_str!("../../../migrations/postgres/0015_web_sessions.sql"),
    },
    Embedded {
        version: 16,
        description: "investigations",
        sqlite: include_str!("../../../migrations/sqlite/0016_investigations.sql"),
        postgres: include_str!("../../../migrations/postgres/0016_investigations.sql"),
    },
    Embedded {
        version: 17,
        description: "outbox pace last call",
        sqlite: include_str!("../../../migrations/sqlite/0017_outbox_pace_last_call.sql"),
        postgres: include_str!("../../../migrations/postgres/0017_outbox_pace_last_call.sql"),
    },
    Embedded {
        version: 18,
        description: "outbox live claims",
        sqlite: include_str!("../../../migrations/sqlite/0018_outbox_live_claims.sql"),
        postgres: include_str!("../../../migrations/postgres/0018_outbox_live_claims.sql"),
    },
    Embedded {
        version: 19,
        description: "storm board shown through",
        sqlite: include_str!("../../../migrations/sqlite/0019_storm_board_shown_through.sql"),
        postgres: include_str!("../../../migrations/postgres/0019_storm_board_shown_through.sql"),
    },
    Embedded {
        version: 20,
        description: "outbox pace answered",
        sqlite: include_str!("../../../migrations/sqlite/0020_outbox_pace_answered.sql"),
        postgres: include_str!("../../../migrations/postgres/0020_outbox_pace_answered.sql"),
    },
];

fn migrator(backend: Backend) -> Migrator {
    // Applied in version order whatever the order of the list above (entries may be
    // added by concurrent branches).
    let mut sorted: Vec<&Embedded> = MIGRATIONS.iter().collect();
    sorted.sort_by_key(|m| m.version);
    Migrator::with_migrations(
        sorted
            .into_iter()
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
    ///
    /// On PostgreSQL this runs on a connection of its own without the sessions'
    /// `statement_timeout`/`lock_timeout` (a migration may rewrite a big table, or wait for
    /// another replica's), which is closed afterwards instead of going back to the pool.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                // Each migration is a transaction of its own, and sqlx records its time in
                // another: two fsyncs each at `synchronous = FULL`, most of a new store's
                // start. NORMAL keeps WAL commits atomic and consistent without the fsync;
                // the first FULL commit after (any write of the running bot) syncs the WAL
                // with them, and a crash before that loses whole migrations only, which
                // then run again.
                let mut conn = self.pool().acquire().await?;
                let ran = async {
                    sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = NORMAL").await?;
                    migrator(self.backend).run(&mut *conn).await?;
                    sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = FULL").await?;
                    Ok::<(), StoreError>(())
                }
                .await;
                if ran.is_err() {
                    // Never back into the pool at NORMAL.
                    conn.close_on_drop();
                }
                ran?;
            }
            Backend::Postgres => {
                let mut conn = self.pool().acquire().await?;
                conn.close_on_drop();
                sqlx::Executor::execute(
                    &mut *conn,
                    "SET statement_timeout = 0; SET lock_timeout = 0",
                )
                .await?;
                migrator(self.backend).run(&mut *conn).await?;
            }
        }
        Ok(())
    }
}
