//! The store side of the automations (migration `0013_automations`): the kill switch
//! (`automation_pauses`, shared by every replica and kept across restarts) and the
//! ledger of every match, started or refused, which the rate limit and the cooldown
//! count.

use crate::store::{Store, StoreError, time::to_micros};

/// The pause row that stops every automation.
pub const ALL: &str = "*";

/// Whether `name` (or every automation) is paused: who paused it.
pub async fn paused(store: &Store, name: &str) -> Result<Option<String>, StoreError> {
    let mut conn = store.read_pool().acquire().await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT name, paused_by FROM automation_pauses WHERE name = $1 OR name = $2 \
         ORDER BY name",
    )
    .bind(name)
    .bind(ALL)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(which, by)| {
        if which == ALL {
            format!("every automation is paused by {by}")
        } else {
            format!("paused by {by}")
        }
    }))
}

/// Every pause: (name or `*`, who).
pub async fn pauses(store: &Store) -> Result<Vec<(String, String)>, StoreError> {
    let mut conn = store.read_pool().acquire().await?;
    Ok(
        sqlx::query_as("SELECT name, paused_by FROM automation_pauses ORDER BY name")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Pauses `name` (`*`: all); `false` when it already was.
pub async fn pause(store: &Store, name: &str, by: &str) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let done = sqlx::query(
        "INSERT INTO automation_pauses (name, paused_by, paused_at_us) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(by)
    .bind(to_micros(jiff::Timestamp::now()))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Resumes `name` (`*`: every pause is lifted); `false` when it was not paused.
pub async fn resume(store: &Store, name: &str) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let done = if name == ALL {
        sqlx::query("DELETE FROM automation_pauses")
            .execute(&mut *conn)
            .await?
    } else {
        sqlx::query("DELETE FROM automation_pauses WHERE name = $1")
            .bind(name)
            .execute(&mut *conn)
            .await?
    };
    Ok(done.rows_affected() > 0)
}

/// Runs of `automation` for `service` started since `since_us`, newest first: their
/// start times.
pub async fn started_since(
    store: &Store,
    automation: &str,
    service: &str,
    since_us: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut conn = store.read_pool().acquire().await?;
    Ok(sqlx::query_scalar(
        "SELECT at_us FROM automation_runs WHERE automation = $1 AND service = $2 \
         AND outcome = 'started' AND at_us >= $3 ORDER BY at_us DESC",
    )
    .bind(automation)
    .bind(service)
    .bind(since_us)
    .fetch_all(&mut *conn)
    .await?)
}

/// One ledger row.
pub struct Entry<'a> {
    pub automation: &'a str,
    pub service: &'a str,
    pub trigger_key: &'a str,
    pub incident: Option<i64>,
    /// `started`, `refused`, `failed`.
    pub outcome: &'a str,
    pub detail: &'a str,
    pub at_us: i64,
}

/// Records `entry`; `false` when its trigger was already recorded (by this or another
/// replica): then nothing more is done for it.
pub async fn claim(store: &Store, entry: &Entry<'_>) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let done = sqlx::query(
        "INSERT INTO automation_runs \
         (automation, service, trigger_key, incident_id, outcome, detail, at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (automation, trigger_key) DO NOTHING",
    )
    .bind(entry.automation)
    .bind(entry.service)
    .bind(entry.trigger_key)
    .bind(entry.incident)
    .bind(entry.outcome)
    .bind(entry.detail)
    .bind(entry.at_us)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets what became of a claimed trigger (its run, or why it did not start).
pub async fn settle(
    store: &Store,
    automation: &str,
    trigger_key: &str,
    outcome: &str,
    detail: &str,
    run: Option<i64>,
) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    sqlx::query(
        "UPDATE automation_runs SET outcome = $1, detail = $2, run_id = $3 \
         WHERE automation = $4 AND trigger_key = $5",
    )
    .bind(outcome)
    .bind(detail)
    .bind(run)
    .bind(automation)
    .bind(trigger_key)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
