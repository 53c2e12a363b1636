//! The `inbox` table: insert (refusing a known key), mark done, lease renewal, the
//! recovery sweep's claim of rows whose owner is gone, pruning, and the audit lookup
//! that tells whether an interrupted invocation was audited.

use std::time::Duration;

use sqlx::{AnyConnection, Row as _, any::AnyRow};

use super::Delivery;
use crate::store::{Store, StoreError, time::to_micros};

const COLUMNS: &str = "platform, delivery_id, request_id, actor_id, actor_name, channel, \
     thread, text, answer_to, answer_until_us, owner, lease_until_us, accepted_at_us, \
     forget_after_us";

/// One row, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub platform: String,
    pub delivery_id: String,
    pub request_id: String,
    pub actor_id: String,
    pub actor_name: String,
    pub channel: String,
    pub thread: Option<String>,
    pub text: String,
    pub answer_to: Option<String>,
    pub answer_until_us: Option<i64>,
    pub owner: String,
    pub lease_until_us: i64,
    pub accepted_at_us: i64,
    pub forget_after_us: i64,
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl Row {
    /// The row of `delivery`, accepted `now` by `owner`.
    pub(crate) fn accepted(
        delivery: &Delivery,
        owner: &str,
        lease: Duration,
        now: jiff::Timestamp,
    ) -> Self {
        let now_us = to_micros(now);
        Self {
            platform: delivery.platform.as_str().to_string(),
            delivery_id: delivery.delivery_id.clone(),
            request_id: delivery.request_id.clone(),
            actor_id: delivery.actor_id.clone(),
            actor_name: delivery.actor_name.clone(),
            channel: delivery.channel.clone(),
            thread: delivery.thread.clone(),
            text: delivery.text.clone(),
            answer_to: delivery.answer_to.clone(),
            answer_until_us: delivery.answer_until.map(to_micros),
            owner: owner.to_string(),
            lease_until_us: now_us.saturating_add(micros(lease)),
            accepted_at_us: now_us,
            forget_after_us: now_us.saturating_add(micros(delivery.remember_for)),
        }
    }

    fn decode(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            platform: row.try_get("platform")?,
            delivery_id: row.try_get("delivery_id")?,
            request_id: row.try_get("request_id")?,
            actor_id: row.try_get("actor_id")?,
            actor_name: row.try_get("actor_name")?,
            channel: row.try_get("channel")?,
            thread: row.try_get("thread")?,
            text: row.try_get("text")?,
            answer_to: row.try_get("answer_to")?,
            answer_until_us: row.try_get("answer_until_us")?,
            owner: row.try_get("owner")?,
            lease_until_us: row.try_get("lease_until_us")?,
            accepted_at_us: row.try_get("accepted_at_us")?,
            forget_after_us: row.try_get("forget_after_us")?,
        })
    }
}

/// Stores `row` as accepted; false when its (platform, delivery id) is already stored.
pub(crate) async fn insert(conn: &mut AnyConnection, row: &Row) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO inbox (platform, delivery_id, request_id, actor_id, actor_name, \
         channel, thread, text, answer_to, answer_until_us, state, owner, lease_until_us, \
         accepted_at_us, forget_after_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'accepted', $11, $12, $13, $14) \
         ON CONFLICT (platform, delivery_id) DO NOTHING",
    )
    .bind(row.platform.as_str())
    .bind(row.delivery_id.as_str())
    .bind(row.request_id.as_str())
    .bind(row.actor_id.as_str())
    .bind(row.actor_name.as_str())
    .bind(row.channel.as_str())
    .bind(row.thread.as_deref())
    .bind(row.text.as_str())
    .bind(row.answer_to.as_deref())
    .bind(row.answer_until_us)
    .bind(row.owner.as_str())
    .bind(row.lease_until_us)
    .bind(row.accepted_at_us)
    .bind(row.forget_after_us)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks an accepted invocation done; false when it was not open (done already).
pub(crate) async fn mark_done(
    conn: &mut AnyConnection,
    platform: &str,
    delivery_id: &str,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE inbox SET state = 'done' \
         WHERE platform = $1 AND delivery_id = $2 AND state = 'accepted'",
    )
    .bind(platform)
    .bind(delivery_id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Extends the lease of `owner`'s open rows to `until_us`.
pub(crate) async fn renew(store: &Store, owner: &str, until_us: i64) -> Result<u64, StoreError> {
    let result =
        sqlx::query("UPDATE inbox SET lease_until_us = $1 WHERE owner = $2 AND state = 'accepted'")
            .bind(until_us)
            .bind(owner)
            .execute(store.pool())
            .await?;
    Ok(result.rows_affected())
}

/// Takes over the open rows of other owners whose lease ended before `stale_before_us`
/// (leased to `owner` until `until_us`). Concurrent claims on PostgreSQL serialize on
/// the rows and re-check the lease, so each row goes to one replica.
pub(crate) async fn claim_stale(
    store: &Store,
    owner: &str,
    stale_before_us: i64,
    until_us: i64,
) -> Result<Vec<Row>, StoreError> {
    // COLUMNS is a constant: nothing from outside goes into the statement's text.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE inbox SET owner = $1, lease_until_us = $2 \
         WHERE state = 'accepted' AND owner <> $1 AND lease_until_us < $3 \
         RETURNING {COLUMNS}"
    )))
    .bind(owner)
    .bind(until_us)
    .bind(stale_before_us)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(Row::decode).collect()
}

/// Deletes done rows past their replay window; how many.
pub(crate) async fn prune(store: &Store, now_us: i64) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM inbox WHERE state = 'done' AND forget_after_us < $1")
        .bind(now_us)
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected())
}

/// What the audit log holds for a request: (decision, outcome, summary) of its newest
/// record written at or after `since_us`, if any.
pub(crate) async fn audited(
    store: &Store,
    request_id: &str,
    since_us: i64,
) -> Result<Option<(String, String, String)>, StoreError> {
    let row = sqlx::query(
        "SELECT decision, outcome, summary FROM audit_log \
         WHERE at_us >= $1 AND request_id = $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(since_us)
    .bind(request_id)
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| {
        Ok((
            row.try_get("decision")?,
            row.try_get("outcome")?,
            row.try_get("summary")?,
        ))
    })
    .transpose()
}

/// Gives a claimed row back (its answer failed): the next sweep takes it again.
pub(crate) async fn release(
    store: &Store,
    platform: &str,
    delivery_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE inbox SET owner = '', lease_until_us = 0 \
         WHERE platform = $1 AND delivery_id = $2 AND state = 'accepted'",
    )
    .bind(platform)
    .bind(delivery_id)
    .execute(store.pool())
    .await?;
    Ok(())
}
