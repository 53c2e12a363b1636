//! The `runbook_runs` and `runbook_run_steps` tables: a run and its steps inserted
//! together, compare-and-set state changes (a Done pressed twice, or by two people, is
//! taken once), the owner's lease, and the sweep that marks runs whose owner died as
//! interrupted. Every change that people should see is written in the same transaction
//! as its outbox messages (see [`super::report`]).

use sqlx::{AnyConnection, Row as _, any::AnyRow};

use crate::store::{
    Store, StoreError,
    time::{from_micros, to_micros},
};

/// Who started a run, as stored: any principal (a chat user, an automation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Starter {
    /// `slack`, `discord`, `console`, or a non-chat kind such as `automation`.
    pub kind: String,
    pub id: String,
    pub name: String,
    pub groups: Vec<String>,
}

impl Starter {
    /// `Alice (slack:U1)`, `automation:restart-ai`.
    pub fn label(&self) -> String {
        opsbot_commands::actor_label(&self.kind, &self.id, &self.name)
    }
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRow {
    pub id: i64,
    pub runbook: String,
    pub params: Vec<(String, String)>,
    pub state: String,
    pub request_id: String,
    pub starter: Starter,
    pub platform: String,
    pub channel: String,
    pub thread: Option<String>,
    pub abort_requested_by: Option<String>,
    pub owner: String,
    pub started_at: jiff::Timestamp,
}

/// A step of a run as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRow {
    pub position: i64,
    pub rollback: bool,
    pub kind: String,
    pub description: String,
    pub state: String,
    pub detail: String,
    pub answered_by: Option<String>,
}

/// A run to insert (its steps all `pending`).
pub struct NewRun<'a> {
    pub runbook: &'a str,
    pub params: &'a [(String, String)],
    pub request_id: &'a str,
    pub starter: &'a Starter,
    pub platform: &'a str,
    pub channel: &'a str,
    pub thread: Option<&'a str>,
    pub owner: &'a str,
    pub lease_until_us: i64,
    pub now: jiff::Timestamp,
    /// `(rollback, kind, description)` in order.
    pub steps: Vec<(bool, &'a str, String)>,
}

const RUN_COLUMNS: &str = "id, runbook, params, state, request_id, starter_kind, starter_id, \
     starter_name, starter_groups, platform, channel, thread, abort_requested_by, owner, \
     started_at_us";

fn decode_run(row: &AnyRow) -> Result<RunRow, StoreError> {
    let params: String = row.try_get("params")?;
    let groups: String = row.try_get("starter_groups")?;
    Ok(RunRow {
        id: row.try_get("id")?,
        runbook: row.try_get("runbook")?,
        params: serde_json::from_str(&params)
            .map_err(|e| StoreError::corrupt("runbook_runs", format!("params: {e}")))?,
        state: row.try_get("state")?,
        request_id: row.try_get("request_id")?,
        starter: Starter {
            kind: row.try_get("starter_kind")?,
            id: row.try_get("starter_id")?,
            name: row.try_get("starter_name")?,
            groups: serde_json::from_str(&groups)
                .map_err(|e| StoreError::corrupt("runbook_runs", format!("groups: {e}")))?,
        },
        platform: row.try_get("platform")?,
        channel: row.try_get("channel")?,
        thread: row.try_get("thread")?,
        abort_requested_by: row.try_get("abort_requested_by")?,
        owner: row.try_get("owner")?,
        started_at: from_micros(row.try_get("started_at_us")?, "runbook_runs")?,
    })
}

fn decode_step(row: &AnyRow) -> Result<StepRow, StoreError> {
    Ok(StepRow {
        position: row.try_get("position")?,
        rollback: row.try_get::<i64, _>("rollback")? != 0,
        kind: row.try_get("kind")?,
        description: row.try_get("description")?,
        state: row.try_get("state")?,
        detail: row.try_get("detail")?,
        answered_by: row.try_get("answered_by")?,
    })
}

/// Inserts a run (state `running`) and its steps; its id.
pub async fn insert_run(conn: &mut AnyConnection, run: &NewRun<'_>) -> Result<i64, StoreError> {
    let params = serde_json::to_string(run.params)
        .map_err(|e| StoreError::corrupt("runbook_runs", e.to_string()))?;
    let groups = serde_json::to_string(&run.starter.groups)
        .map_err(|e| StoreError::corrupt("runbook_runs", e.to_string()))?;
    let row = sqlx::query(
        "INSERT INTO runbook_runs (runbook, params, state, request_id, starter_kind, \
         starter_id, starter_name, starter_groups, platform, channel, thread, owner, \
         lease_until_us, started_at_us) \
         VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         RETURNING id",
    )
    .bind(run.runbook)
    .bind(params)
    .bind(run.request_id)
    .bind(run.starter.kind.as_str())
    .bind(run.starter.id.as_str())
    .bind(run.starter.name.as_str())
    .bind(groups)
    .bind(run.platform)
    .bind(run.channel)
    .bind(run.thread)
    .bind(run.owner)
    .bind(run.lease_until_us)
    .bind(to_micros(run.now))
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get("id")?;
    for (index, (rollback, kind, description)) in run.steps.iter().enumerate() {
        sqlx::query(
            "INSERT INTO runbook_run_steps (run_id, position, rollback, kind, description, \
             state, detail) VALUES ($1, $2, $3, $4, $5, 'pending', '')",
        )
        .bind(id)
        .bind(index as i64 + 1)
        .bind(i64::from(*rollback))
        .bind(*kind)
        .bind(description.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

pub async fn run(conn: &mut AnyConnection, id: i64) -> Result<Option<RunRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM runbook_runs WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(decode_run).transpose()
}

pub async fn steps(conn: &mut AnyConnection, id: i64) -> Result<Vec<StepRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT position, rollback, kind, description, state, detail, answered_by \
         FROM runbook_run_steps WHERE run_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(decode_step).collect()
}

/// The active runs and the newest others, newest first, at most `limit`.
pub async fn recent(store: &Store, limit: i64) -> Result<Vec<RunRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM runbook_runs \
         ORDER BY CASE WHEN state IN ('running', 'waiting') THEN 0 ELSE 1 END, id DESC \
         LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(store.read_pool())
    .await?;
    rows.iter().map(decode_run).collect()
}

/// A change of a step's state: from one of `from` (one or two states) to `to`, with
/// what came of it and who answered (a manual step).
pub struct StepChange<'a> {
    pub from: &'a [&'a str],
    pub to: &'a str,
    pub detail: &'a str,
    pub answered_by: Option<&'a str>,
}

/// Applies `change` to step `position`; false when the step was in none of
/// `change.from` (someone else moved it first).
pub async fn move_step(
    conn: &mut AnyConnection,
    run_id: i64,
    position: i64,
    change: &StepChange<'_>,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let StepChange {
        from,
        to,
        detail,
        answered_by,
    } = *change;
    let (first, second) = match from {
        [one] => (*one, *one),
        [one, two, ..] => (*one, *two),
        [] => return Ok(false),
    };
    let (started, finished) = match to {
        "running" | "waiting" => (Some(to_micros(now)), None),
        _ => (None, Some(to_micros(now))),
    };
    let sql = "UPDATE runbook_run_steps SET state = $1, detail = $2, \
         answered_by = COALESCE($3, answered_by), \
         started_at_us = COALESCE($4, started_at_us), \
         finished_at_us = COALESCE($5, finished_at_us) \
         WHERE run_id = $6 AND position = $7 AND state IN ($8, $9)";
    let result = sqlx::query(sql)
        .bind(to)
        .bind(detail)
        .bind(answered_by)
        .bind(started)
        .bind(finished)
        .bind(run_id)
        .bind(position)
        .bind(first)
        .bind(second)
        .execute(&mut *conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Moves a run from an active state (`running`, `waiting`) to `to`; false when it was
/// not active any more.
pub async fn move_run(
    conn: &mut AnyConnection,
    run_id: i64,
    to: &str,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let finished = (!matches!(to, "running" | "waiting")).then(|| to_micros(now));
    let result = sqlx::query(
        "UPDATE runbook_runs SET state = $1, finished_at_us = COALESCE($2, finished_at_us) \
         WHERE id = $3 AND state IN ('running', 'waiting')",
    )
    .bind(to)
    .bind(finished)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records who asked an active run to stop; false when it is not active (or already
/// asked).
pub async fn request_abort(store: &Store, run_id: i64, by: &str) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE runbook_runs SET abort_requested_by = $1 \
         WHERE id = $2 AND state IN ('running', 'waiting') AND abort_requested_by IS NULL",
    )
    .bind(by)
    .bind(run_id)
    .execute(store.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Extends the lease of `owner`'s active runs to `until_us`.
pub async fn renew(store: &Store, owner: &str, until_us: i64) -> Result<u64, StoreError> {
    let result = sqlx::query(
        "UPDATE runbook_runs SET lease_until_us = $1 \
         WHERE owner = $2 AND state IN ('running', 'waiting')",
    )
    .bind(until_us)
    .bind(owner)
    .execute(store.pool())
    .await?;
    Ok(result.rows_affected())
}

/// Active runs whose lease ended before `now_us` (their process is gone).
pub async fn lapsed(store: &Store, now_us: i64) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM runbook_runs \
         WHERE state IN ('running', 'waiting') AND lease_until_us < $1 ORDER BY id",
    )
    .bind(now_us)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>("id").map_err(StoreError::from))
        .collect()
}

/// Marks the in-flight steps (`running`, `waiting`) of a run interrupted; their
/// positions.
pub async fn interrupt_steps(
    conn: &mut AnyConnection,
    run_id: i64,
    now: jiff::Timestamp,
) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "UPDATE runbook_run_steps SET state = 'interrupted', \
         detail = 'opsbot stopped while this step was in flight; it was not run again', \
         finished_at_us = $1 \
         WHERE run_id = $2 AND state IN ('running', 'waiting') RETURNING position",
    )
    .bind(to_micros(now))
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>("position").map_err(StoreError::from))
        .collect()
}

#[cfg(test)]
#[path = "repo_tests.rs"]
mod tests;
