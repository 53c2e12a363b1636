//! What the services pages read from the store, every query bounded: the newest audited
//! `health` and `cost` entry of each service ([`newest_per_service`]: one scan of the
//! window, grouped), one service's rollout history ([`rollouts`]: `restart`, `rollback`,
//! `scale`, newest first, up to a limit) and the unresolved incidents per service
//! ([`unresolved_incidents`], from the `(status, opened_at_us)` index).
//!
//! The audit log is indexed by `seq` and `at_us` only (an index per searched column is
//! one more b-tree insert on every command's audit append: BENCHMARKS.md, `web`), so, as
//! the audit page's search ([`crate::audit::AuditLog::search`]) does, every audit query
//! here reads newest-first by `seq` within a `since` window whose first `seq` comes from
//! the `at_us` index. The services page asks once for every service rather than once per
//! service and command: a search that matches nothing reads the whole window (~10 ms for
//! the last 30 days of a million entries over a year, SQLite and PostgreSQL alike), so
//! twenty services would take 400 ms, where the one grouped scan takes ~25 ms.
//! `since = all` reads the whole log, as the audit page's does.

use std::collections::BTreeMap;

use sqlx::{Arguments, Row, any::AnyArguments};

use crate::{
    audit::{AuditEntry, AuditError, ENTRY_COLUMNS, decode_entry},
    store::{Store, StoreError},
};

/// The commands whose newest entry each service shows.
pub const LAST_COMMANDS: [&str; 2] = ["health", "cost"];

/// The commands that change what runs: a service's rollout history.
pub const ROLLOUT_COMMANDS: [&str; 3] = ["restart", "rollback", "scale"];

/// A query's text and binds, numbered as they are added.
struct Query {
    sql: String,
    args: AnyArguments,
}

impl Query {
    fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_string(),
            args: AnyArguments::default(),
        }
    }

    /// Binds `value`; its placeholder (`$3`).
    fn bind<T>(&mut self, value: T) -> Result<String, AuditError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        self.args
            .add(value)
            .map_err(|e| AuditError::from(sqlx::Error::Encode(e)))?;
        Ok(format!("${}", self.args.len()))
    }

    /// ` AND command IN ($1, $2)`.
    fn commands(&mut self, commands: &[&str]) -> Result<(), AuditError> {
        let mut marks = Vec::with_capacity(commands.len());
        for command in commands {
            marks.push(self.bind(command.to_string())?);
        }
        self.sql
            .push_str(&format!(" AND command IN ({})", marks.join(", ")));
        Ok(())
    }

    /// Entries at or after `since`, as a range of `seq` too, so that the newest-first scan
    /// stops at the window's first entry (`+ 0`: SQLite answers MIN(seq) from the `at_us`
    /// index instead of walking the rowid from the start).
    fn window(&mut self, since: Option<jiff::Timestamp>) -> Result<(), AuditError> {
        if let Some(since) = since {
            let at = self.bind(since.as_microsecond())?;
            let first = self.bind(since.as_microsecond())?;
            self.sql.push_str(&format!(
                " AND at_us >= {at} AND seq >= (SELECT MIN(seq + 0) FROM audit_log WHERE at_us >= {first})"
            ));
        }
        Ok(())
    }

    async fn entries(self, store: &Store) -> Result<Vec<AuditEntry>, AuditError> {
        let rows = sqlx::query_with(sqlx::AssertSqlSafe(self.sql), self.args)
            .fetch_all(store.read_pool())
            .await?;
        rows.iter()
            .map(|row| decode_entry(row).map_err(AuditError::from))
            .collect()
    }
}

/// The newest entry of each service and command among `commands` since `since` (every
/// service, or only `service`), keyed by (service, command).
pub async fn newest_per_service(
    store: &Store,
    commands: &[&str],
    service: Option<&str>,
    since: Option<jiff::Timestamp>,
) -> Result<BTreeMap<(String, String), AuditEntry>, AuditError> {
    let mut query = Query::new(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq IN \
         (SELECT MAX(seq) FROM audit_log WHERE service IS NOT NULL"
    ));
    if let Some(service) = service {
        let mark = query.bind(service.to_string())?;
        query.sql.push_str(&format!(" AND service = {mark}"));
    }
    query.commands(commands)?;
    query.window(since)?;
    query.sql.push_str(" GROUP BY service, command)");
    let entries = query.entries(store).await?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let key = (entry.record.service.clone()?, entry.record.command.clone()?);
            Some((key, entry))
        })
        .collect())
}

/// Up to `limit` audited `restart`, `rollback` and `scale` commands on `service` since
/// `since`, newest first: requests, confirmations, approvals and denials alike. Listing
/// the history (`rollback SERVICE --list`) changes nothing and is left out.
pub async fn rollouts(
    store: &Store,
    service: &str,
    since: Option<jiff::Timestamp>,
    limit: i64,
) -> Result<Vec<AuditEntry>, AuditError> {
    let mut query = Query::new(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE 1 = 1"
    ));
    let mark = query.bind(service.to_string())?;
    query.sql.push_str(&format!(" AND service = {mark}"));
    query.commands(&ROLLOUT_COMMANDS)?;
    query.sql.push_str(" AND text NOT LIKE '%--list%'");
    query.window(since)?;
    let mark = query.bind(limit)?;
    query
        .sql
        .push_str(&format!(" ORDER BY seq DESC LIMIT {mark}"));
    query.entries(store).await
}

/// A service's incidents that are not resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unresolved {
    pub open: i64,
    pub acknowledged: i64,
}

impl Unresolved {
    pub fn total(&self) -> i64 {
        self.open + self.acknowledged
    }
}

/// The open and acknowledged incidents of each service that has any.
pub async fn unresolved_incidents(
    store: &Store,
) -> Result<BTreeMap<String, Unresolved>, StoreError> {
    let rows = sqlx::query(
        "SELECT service, status, COUNT(*) AS n FROM incidents \
         WHERE status IN ('open', 'acknowledged') AND service IS NOT NULL \
         GROUP BY service, status",
    )
    .fetch_all(store.read_pool())
    .await?;
    let mut counts: BTreeMap<String, Unresolved> = BTreeMap::new();
    for row in &rows {
        let service: String = row.try_get("service")?;
        let status: String = row.try_get("status")?;
        let n: i64 = row.try_get("n")?;
        let count = counts.entry(service).or_default();
        match status.as_str() {
            "open" => count.open = n,
            _ => count.acknowledged = n,
        }
    }
    Ok(counts)
}
