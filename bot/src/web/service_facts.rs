//! What the services pages read from the store, every query bounded: the newest audited
//! `health` and `cost` entry of each service ([`newest_per_service`]: the window read
//! newest first in growing steps, grouped, until every service has both), one service's rollout history ([`rollouts`]: `restart`, `rollback`,
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
//! twenty services would take 400 ms, where the one grouped scan takes ~25 ms. The scan
//! goes newest first in steps (the newest [`FIRST_STEP`] entries, then twice as many,
//! and so on) and stops once every service asked for has an entry of every command:
//! over all history (`since = all`) one grouped scan of a million entries took 486 ms,
//! while the services' newest entries are nearly always among the latest few thousand.
//! A service that never had one of them still reads the whole window (about as long as
//! one scan: the steps double).

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

/// The services whose newest entries are asked for.
#[derive(Clone, Copy, Debug)]
pub enum Services<'a> {
    /// One service.
    One(&'a str),
    /// Every service: those named (the catalog's) are looked for until each has an entry
    /// of every command; entries of others found on the way are kept too.
    All(&'a [&'a str]),
}

/// How many audit entries (by `seq`) the first step of a newest-first scan reads; each
/// further step reads twice as many as the one before.
pub const FIRST_STEP: i64 = 20_000;

/// The newest entry of each service and command among `commands` since `since`, keyed
/// by (service, command). Reads the window newest first in steps until each service of
/// `services` has an entry of every command (or the window is read).
pub async fn newest_per_service(
    store: &Store,
    commands: &[&str],
    services: Services<'_>,
    since: Option<jiff::Timestamp>,
) -> Result<BTreeMap<(String, String), AuditEntry>, AuditError> {
    let lookup = Lookup {
        commands,
        services,
        since,
    };
    newest_in_steps(store, &lookup, FIRST_STEP).await
}

/// What [`newest_per_service`] looks for.
struct Lookup<'a> {
    commands: &'a [&'a str],
    services: Services<'a>,
    since: Option<jiff::Timestamp>,
}

/// [`newest_per_service`], its first step `first_step` entries.
async fn newest_in_steps(
    store: &Store,
    lookup: &Lookup<'_>,
    first_step: i64,
) -> Result<BTreeMap<(String, String), AuditEntry>, AuditError> {
    let Lookup {
        commands,
        services,
        since,
    } = *lookup;
    let wanted: Vec<&str> = match services {
        Services::One(service) => vec![service],
        Services::All(names) => names.to_vec(),
    };
    let Some((bottom, top)) = seq_range(store, since).await? else {
        return Ok(BTreeMap::new()); // nothing in the window
    };
    let mut found: BTreeMap<(String, String), AuditEntry> = BTreeMap::new();
    let mut high = top;
    let mut step = first_step.max(1);
    loop {
        let low = high.saturating_sub(step).max(bottom - 1);
        for entry in newest_between(store, lookup, low, high).await? {
            let (Some(service), Some(command)) =
                (entry.record.service.clone(), entry.record.command.clone())
            else {
                continue;
            };
            // A newer step's entry is newer than any of an older step.
            found.entry((service, command)).or_insert(entry);
        }
        let complete = wanted.iter().all(|service| {
            commands
                .iter()
                .all(|command| found.contains_key(&(service.to_string(), command.to_string())))
        });
        if complete || low < bottom {
            return Ok(found);
        }
        high = low;
        step = step.saturating_mul(2);
    }
}

/// The first and last `seq` of the window (`None`: no entry in it).
async fn seq_range(
    store: &Store,
    since: Option<jiff::Timestamp>,
) -> Result<Option<(i64, i64)>, AuditError> {
    // Over all history from the rowid (PostgreSQL: the primary key), one aggregate per
    // statement (SQLite answers a lone MIN or MAX from the b-tree's end, both together
    // by reading every row: 40 ms on a million); within a window from the `at_us` index
    // (`+ 0`: not by walking the rowid).
    let mut query =
        Query::new("SELECT (SELECT MIN(seq) FROM audit_log), (SELECT MAX(seq) FROM audit_log)");
    if let Some(since) = since {
        let at = query.bind(since.as_microsecond())?;
        query.sql = format!("SELECT MIN(seq + 0), MAX(seq + 0) FROM audit_log WHERE at_us >= {at}");
    }
    let row = sqlx::query_with(sqlx::AssertSqlSafe(query.sql), query.args)
        .fetch_one(store.read_pool())
        .await?;
    let first: Option<i64> = row.try_get(0).map_err(StoreError::from)?;
    let last: Option<i64> = row.try_get(1).map_err(StoreError::from)?;
    Ok(first.zip(last))
}

/// The newest entry of each service and command with `low < seq <= high`.
async fn newest_between(
    store: &Store,
    lookup: &Lookup<'_>,
    low: i64,
    high: i64,
) -> Result<Vec<AuditEntry>, AuditError> {
    let Lookup {
        commands,
        services,
        since,
    } = *lookup;
    let mut query = Query::new(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq IN \
         (SELECT MAX(seq) FROM audit_log WHERE service IS NOT NULL"
    ));
    if let Services::One(service) = services {
        let mark = query.bind(service.to_string())?;
        query.sql.push_str(&format!(" AND service = {mark}"));
    }
    query.commands(commands)?;
    let (low, high) = (query.bind(low)?, query.bind(high)?);
    query
        .sql
        .push_str(&format!(" AND seq > {low} AND seq <= {high}"));
    if let Some(since) = since {
        let at = query.bind(since.as_microsecond())?;
        query.sql.push_str(&format!(" AND at_us >= {at}"));
    }
    query.sql.push_str(" GROUP BY service, command)");
    query.entries(store).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        audit::{AuditWriter, testing::sample},
        store::scratch::backend_tests,
    };

    fn lookup<'a>(services: Services<'a>, since: Option<jiff::Timestamp>) -> Lookup<'a> {
        Lookup {
            commands: &LAST_COMMANDS,
            services,
            since,
        }
    }

    /// `(service, command)` → the `n` of the sample its newest entry came from.
    fn picked(found: &BTreeMap<(String, String), AuditEntry>) -> Vec<(String, String, String)> {
        found
            .iter()
            .map(|((s, c), e)| (s.clone(), c.clone(), e.record.request_id.clone()))
            .collect()
    }

    backend_tests! {
        async fn the_newest_entries_are_found_step_by_step_newest_first(db) {
            let store = &db.store;
            let writer = AuditWriter::spawn(store.clone());
            // n: service, command (`logs` entries are not looked for).
            let plan: Vec<(i64, &str, &str)> = (1..=20)
                .map(|n| match n {
                    1 => (n, "a", "health"),
                    2 => (n, "a", "cost"),
                    3 => (n, "b", "health"),
                    11 => (n, "a", "health"),
                    12 => (n, "b", "cost"),
                    _ => (n, "a", "logs"),
                })
                .collect();
            for (n, service, command) in &plan {
                let mut record = sample(*n);
                record.service = Some(service.to_string());
                record.command = Some(command.to_string());
                writer.append(record).await.unwrap();
            }
            writer.close().await;
            let expected = |list: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
                list.iter().map(|(s, c, r)| (s.to_string(), c.to_string(), r.to_string())).collect()
            };
            let both = expected(&[
                ("a", "cost", "req-2"),
                ("a", "health", "req-11"),
                ("b", "cost", "req-12"),
                ("b", "health", "req-3"),
            ]);
            let names = ["a", "b"];
            // In steps of 2, 4, 8, … entries from the newest, and in one step: the same.
            for first_step in [2, 3, i64::MAX] {
                let found = newest_in_steps(store, &lookup(Services::All(&names), None), first_step)
                    .await
                    .unwrap();
                assert_eq!(picked(&found), both, "first step {first_step}");
            }
            let only_b = newest_in_steps(store, &lookup(Services::One("b"), None), 2)
                .await
                .unwrap();
            assert_eq!(picked(&only_b), both[2..]);
            // A window that starts after the older entries: only what is in it.
            let since = Some(jiff::Timestamp::from_second(1_700_000_000 + 5).unwrap());
            let recent = newest_in_steps(store, &lookup(Services::All(&names), since), 2)
                .await
                .unwrap();
            assert_eq!(picked(&recent), expected(&[("a", "health", "req-11"), ("b", "cost", "req-12")]));
            // A service that never had an entry: the whole log is read, nothing is lost.
            let with_c = newest_in_steps(store, &lookup(Services::All(&["a", "b", "c"]), None), 2)
                .await
                .unwrap();
            assert_eq!(picked(&with_c), both);
        }
    }
}
