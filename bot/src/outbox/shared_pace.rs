//! One pace per channel across replicas: the budget of each `platform/channel` kept in
//! the store (`outbox_pace`), so every replica on one PostgreSQL spends the same one.
//!
//! Why the store and not channel ownership through [`crate::leadership`]: any replica
//! may deliver any channel, so a dead replica's channels need no hand-over (its claims
//! lapse and whoever claims next goes on, at the shared pace, with no gap waiting for a
//! role to move), the load spreads over the replicas, and the cost is one short
//! `INSERT … ON CONFLICT` per paced chat call — at most a few a second per channel,
//! against a chat call that takes tens of milliseconds. Owning channels would need a
//! role per channel (or a partition map kept in step with the set of live replicas)
//! and a pause of one lease on every move.
//!
//! How: a paced call *reserves* the channel's next slot (`next_slot_us`, moved on by
//! one period per reservation, never behind the database's clock) and sleeps until it;
//! times are the database's clock, so replicas' clocks may differ. A platform's
//! `Retry-After` sets `blocked_until_us`, which refuses reservations until then, so a
//! 429 seen by one replica holds the channel for all. A call that had to wait for its
//! slot looks once more at the block before going (someone may have drawn a 429
//! meanwhile); a call whose slot was free at once does not, so an idle channel costs one
//! round trip per call. A single SQLite process keeps pacing in memory
//! ([`super::pacing`]) and never touches this table.

use std::time::Duration;

use sqlx::Row as _;

use crate::store::{Store, StoreError};

/// What a reservation got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A slot this far ahead (zero: now).
    In(Duration),
    /// No slot: a `Retry-After` holds the channel this much longer.
    Blocked(Duration),
}

/// The database's clock, in unix microseconds.
const NOW_US: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT";

/// The store-kept budget of every channel (PostgreSQL).
#[derive(Clone)]
pub(crate) struct SharedPace {
    store: Store,
    /// One slot per period.
    period_us: i64,
}

fn positive(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

impl SharedPace {
    pub(crate) fn new(store: Store, period: Duration) -> Self {
        Self {
            store,
            period_us: i64::try_from(period.as_micros()).unwrap_or(i64::MAX),
        }
    }

    /// Reserves the next slot of `key`, unless a `Retry-After` holds it.
    pub(crate) async fn reserve(&self, key: &str) -> Result<Slot, StoreError> {
        let sql = format!(
            "WITH clock AS (SELECT {NOW_US} AS now_us) \
             INSERT INTO outbox_pace AS p (channel_key, next_slot_us, blocked_until_us) \
             SELECT $1, now_us + $2, 0 FROM clock \
             ON CONFLICT (channel_key) DO UPDATE SET next_slot_us = CASE \
               WHEN p.blocked_until_us > (SELECT now_us FROM clock) THEN p.next_slot_us \
               ELSE GREATEST(p.next_slot_us, (SELECT now_us FROM clock)) + $3 END \
             RETURNING p.next_slot_us - $4 - (SELECT now_us FROM clock) AS wait_us, \
               p.blocked_until_us - (SELECT now_us FROM clock) AS blocked_us"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(self.period_us)
            .bind(self.period_us)
            .bind(self.period_us)
            .fetch_one(self.store.pool())
            .await?;
        let blocked_us: i64 = row.try_get("blocked_us")?;
        if blocked_us > 0 {
            return Ok(Slot::Blocked(positive(blocked_us)));
        }
        Ok(Slot::In(positive(row.try_get("wait_us")?)))
    }

    /// How much longer a `Retry-After` holds `key`, if it does.
    pub(crate) async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let sql = format!(
            "SELECT blocked_until_us - {NOW_US} AS blocked_us FROM outbox_pace \
             WHERE channel_key = $1"
        );
        let blocked: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(blocked.filter(|us| *us > 0).map(positive))
    }

    /// The platform asked to leave `key` alone for `wait`: no replica gets a slot before.
    pub(crate) async fn block(&self, key: &str, wait: Duration) -> Result<(), StoreError> {
        let sql = format!(
            "WITH clock AS (SELECT {NOW_US} AS now_us) \
             INSERT INTO outbox_pace AS p (channel_key, next_slot_us, blocked_until_us) \
             SELECT $1, 0, now_us + $2 FROM clock \
             ON CONFLICT (channel_key) DO UPDATE \
             SET blocked_until_us = GREATEST(p.blocked_until_us, excluded.blocked_until_us)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX))
            .execute(self.store.pool())
            .await?;
        Ok(())
    }
}
