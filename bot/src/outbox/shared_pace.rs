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
//! 429 seen by one replica holds the channel for all.
//!
//! A slot is when a replica may *try*; a replica on a busy machine may wake for it late,
//! and the next one on time, so two calls would reach the platform less than a period
//! apart. So the call is then *claimed* ([`SharedPace::claim`]): it goes only if the
//! channel's last call went at least one period ago and no `Retry-After` holds it, and
//! the claim records it as the last call, in one statement; otherwise it waits what is
//! left and claims again. Two round trips per paced call, at most a few a second per
//! channel. A single SQLite process keeps pacing in memory ([`super::pacing`]) and never
//! touches this table.

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

/// What a claim of a call got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The call may go now (and is recorded as the channel's last).
    Go,
    /// The last call went less than a period ago: try again after this long.
    Early(Duration),
    /// A `Retry-After` holds the channel this much longer.
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

    /// Lets one call on `key` go now if the last one went at least a period ago and no
    /// `Retry-After` holds the channel, and records it as the last call; else what holds
    /// it and for how much longer.
    pub(crate) async fn claim(&self, key: &str) -> Result<Claim, StoreError> {
        let sql = format!(
            "WITH clock AS (SELECT {NOW_US} AS now_us) \
             UPDATE outbox_pace AS p SET last_call_us = (SELECT now_us FROM clock) \
             WHERE channel_key = $1 \
               AND blocked_until_us <= (SELECT now_us FROM clock) \
               AND last_call_us <= (SELECT now_us FROM clock) - $2 \
             RETURNING p.channel_key"
        );
        let claimed = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(self.period_us)
            .fetch_optional(self.store.pool())
            .await?;
        if claimed.is_some() {
            return Ok(Claim::Go);
        }
        let sql = format!(
            "SELECT blocked_until_us - {NOW_US} AS blocked_us, \
               last_call_us + $2 - {NOW_US} AS early_us \
             FROM outbox_pace WHERE channel_key = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(self.period_us)
            .fetch_optional(self.store.pool())
            .await?;
        let Some(row) = row else {
            // No reservation was ever made for `key`: nothing to pace against.
            return Ok(Claim::Go);
        };
        let blocked_us: i64 = row.try_get("blocked_us")?;
        if blocked_us > 0 {
            return Ok(Claim::Blocked(positive(blocked_us)));
        }
        let early_us: i64 = row.try_get("early_us")?;
        Ok(Claim::Early(positive(early_us.max(1))))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::scratch::{postgres_url_or_skip, scratch_postgres};

    #[tokio::test]
    async fn a_call_is_claimed_only_a_period_after_the_last_one_from_any_replica() {
        let Some(base) = postgres_url_or_skip("shared_pace_claim") else {
            return;
        };
        let (store, database) = scratch_postgres(&base).await.unwrap();
        let period = Duration::from_millis(400);
        // Two replicas' views of the same budget.
        let (one, two) = (
            SharedPace::new(store.clone(), period),
            SharedPace::new(store.clone(), period),
        );
        let key = "slack/C1";
        assert_eq!(one.reserve(key).await.unwrap(), Slot::In(Duration::ZERO));
        assert_eq!(one.claim(key).await.unwrap(), Claim::Go);
        // The other replica's slot is a period on; were it to try at once (as a replica
        // that woke late for an earlier slot would), the claim holds it back.
        let Slot::In(wait) = two.reserve(key).await.unwrap() else {
            panic!("not blocked");
        };
        assert!(wait > Duration::from_millis(300), "{wait:?}");
        let Claim::Early(early) = two.claim(key).await.unwrap() else {
            panic!("a second call within the period went");
        };
        assert!(
            early > Duration::from_millis(300) && early <= period,
            "{early:?}"
        );
        tokio::time::sleep(early).await;
        assert_eq!(two.claim(key).await.unwrap(), Claim::Go);
        assert!(matches!(one.claim(key).await.unwrap(), Claim::Early(_)));
        // A Retry-After drawn by one holds the other's claim.
        tokio::time::sleep(period).await;
        one.block(key, Duration::from_secs(5)).await.unwrap();
        let Claim::Blocked(held) = two.claim(key).await.unwrap() else {
            panic!("claimed through a Retry-After");
        };
        assert!(held > Duration::from_secs(4), "{held:?}");
        // A channel nobody reserved has nothing to pace against.
        assert_eq!(two.claim("slack/C2").await.unwrap(), Claim::Go);
        store.close().await;
        database.drop_database().await.unwrap();
    }
}
