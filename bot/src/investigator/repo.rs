//! The `investigations` table: one row per investigation of an incident (who asked, the
//! model and endpoint, the redacted conversation a follow-up continues, tokens, tool
//! calls, cost, the answer's summary), and the look-up of similar past incidents (same
//! service or same alert) with what closed them.

use opsbot_commands::catalog::Money;
use opsbot_llm::Message;
use sqlx::Row as _;

use crate::store::{Store, StoreError, time::to_micros};

/// A new investigation, as stored when it starts.
pub struct NewInvestigation<'a> {
    pub incident: i64,
    pub service: Option<&'a str>,
    pub platform: &'a str,
    pub channel: &'a str,
    pub started_by: &'a str,
    pub model: &'a str,
    pub endpoint: &'a str,
    pub currency: &'a str,
}

/// Stores a running investigation; its id.
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    new: &NewInvestigation<'_>,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO investigations (incident_id, service, platform, channel, started_by, \
         model, endpoint, state, conversation, currency, started_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', '[]', $8, $9) RETURNING id",
    )
    .bind(new.incident)
    .bind(new.service)
    .bind(new.platform)
    .bind(new.channel)
    .bind(new.started_by)
    .bind(new.model)
    .bind(new.endpoint)
    .bind(new.currency)
    .bind(to_micros(jiff::Timestamp::now()))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// The latest investigation of an incident: its id, turns so far and conversation.
pub async fn latest(
    store: &Store,
    incident: i64,
) -> Result<Option<(i64, i64, Vec<Message>)>, StoreError> {
    let row = sqlx::query(
        "SELECT id, turns, conversation FROM investigations WHERE incident_id = $1 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(incident)
    .fetch_optional(store.read_pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let conversation: String = row.try_get(2)?;
    let messages = serde_json::from_str(&conversation).map_err(|e| {
        StoreError::corrupt("investigations", format!("unreadable conversation: {e}"))
    })?;
    Ok(Some((row.try_get(0)?, row.try_get(1)?, messages)))
}

/// Marks investigation `id` running its next turn (a follow-up); the turn's number.
pub async fn next_turn(conn: &mut sqlx::AnyConnection, id: i64) -> Result<i64, StoreError> {
    let turns: i64 = sqlx::query_scalar(
        "UPDATE investigations SET turns = turns + 1, state = 'running' WHERE id = $1 \
         RETURNING turns",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(turns)
}

/// How a turn of an investigation ended.
pub struct Finished<'a> {
    pub ok: bool,
    pub conversation: &'a [Message],
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub tool_calls: u64,
    pub cost: Money,
    pub summary: &'a str,
}

/// Records how a turn ended (tokens, calls and cost add up over turns).
pub async fn finish(store: &Store, id: i64, done: &Finished<'_>) -> Result<(), StoreError> {
    let conversation = serde_json::to_string(done.conversation).unwrap_or_else(|_| "[]".into());
    let mut tx = store.pool().begin().await?;
    let before: String = sqlx::query_scalar("SELECT cost FROM investigations WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let cost = before.parse::<Money>().unwrap_or_default() + done.cost;
    sqlx::query(
        "UPDATE investigations SET state = $1, conversation = $2, \
         tokens_in = tokens_in + $3, tokens_out = tokens_out + $4, \
         tool_calls = tool_calls + $5, cost = $6, summary = $7, finished_at_us = $8 \
         WHERE id = $9",
    )
    .bind(if done.ok { "answered" } else { "failed" })
    .bind(conversation)
    .bind(i64::try_from(done.tokens_in).unwrap_or(i64::MAX))
    .bind(i64::try_from(done.tokens_out).unwrap_or(i64::MAX))
    .bind(i64::try_from(done.tool_calls).unwrap_or(i64::MAX))
    .bind(cost.to_string())
    .bind(done.summary)
    .bind(to_micros(jiff::Timestamp::now()))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Investigations' spend per UTC day in `from..to` (unix µs), for `service` (or every
/// investigation when `None`): `(day start µs, cost)` rows, one per investigation.
pub async fn spend(
    store: &Store,
    service: Option<&str>,
    from_us: i64,
    to_us: i64,
) -> Result<Vec<(i64, Money)>, StoreError> {
    let rows = sqlx::query(
        "SELECT started_at_us, cost FROM investigations \
         WHERE started_at_us >= $1 AND started_at_us < $2 \
           AND ($3 = '' OR service = $4)",
    )
    .bind(from_us)
    .bind(to_us)
    .bind(service.unwrap_or(""))
    .bind(service.unwrap_or(""))
    .fetch_all(store.read_pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let cost: String = row.try_get(1)?;
        out.push((row.try_get(0)?, cost.parse().unwrap_or_default()));
    }
    Ok(out)
}

/// A past incident like this one, and what closed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Similar {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub resolved_by: Option<String>,
    /// Notes and actions of its timeline, oldest first (at most a few).
    pub what_was_done: Vec<String>,
}

/// Up to `limit` earlier incidents of the same service or with an alert of the same
/// name, newest first, with their notes, and the commands run on the service while each
/// was open (from the audit log).
pub async fn similar(
    store: &Store,
    incident: i64,
    service: Option<&str>,
    alert_names: &[String],
    limit: i64,
) -> Result<Vec<Similar>, StoreError> {
    let names = serde_json::to_string(alert_names).unwrap_or_else(|_| "[]".into());
    let names_in = match store.backend() {
        crate::store::Backend::Sqlite => "(SELECT value FROM json_each($3))",
        crate::store::Backend::Postgres => "(SELECT jsonb_array_elements_text($3::jsonb))",
    };
    let sql = format!(
        "SELECT i.id, i.title, i.status, i.resolved_by, i.service, i.opened_at_us, \
         i.resolved_at_us FROM incidents i \
         WHERE i.id < $1 AND ((i.service IS NOT NULL AND i.service = $2) OR EXISTS (\
           SELECT 1 FROM incident_alerts a WHERE a.incident_id = i.id AND a.name IN {names_in})) \
         ORDER BY i.id DESC LIMIT $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(incident)
        .bind(service.unwrap_or(""))
        .bind(names)
        .bind(limit)
        .fetch_all(store.read_pool())
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get(0)?;
        let mut what_was_done: Vec<String> = sqlx::query_scalar(
            "SELECT kind || COALESCE(' by ' || actor, '') || ': ' || detail FROM incident_events \
             WHERE incident_id = $1 AND kind IN ('note', 'resolved', 'acknowledged') \
             ORDER BY id LIMIT 6",
        )
        .bind(id)
        .fetch_all(store.read_pool())
        .await?;
        let past_service: Option<String> = row.try_get(4)?;
        let opened: i64 = row.try_get(5)?;
        let resolved: Option<i64> = row.try_get(6)?;
        if let Some(past_service) = past_service {
            let commands: Vec<String> = sqlx::query_scalar(
                "SELECT text || ' (' || actor_name || ', ' || outcome || ')' FROM audit_log \
                 WHERE service = $1 AND at_us >= $2 AND at_us <= $3 AND decision = 'allowed' \
                   AND command IN ('restart', 'rollback', 'scale', 'runbook', 'silence') \
                 ORDER BY seq LIMIT 6",
            )
            .bind(past_service)
            .bind(opened)
            .bind(resolved.unwrap_or(i64::MAX))
            .fetch_all(store.read_pool())
            .await?;
            what_was_done.extend(commands.into_iter().map(|c| format!("ran {c}")));
        }
        found.push(Similar {
            id,
            title: row.try_get(1)?,
            status: row.try_get(2)?,
            resolved_by: row.try_get(3)?,
            what_was_done,
        });
    }
    Ok(found)
}
