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
//! left and claims again.
//!
//! The platform counts a call at some moment between when it was let go and when it was
//! answered: a replica slowed down after its claim (its CPU shared with two others, a
//! lookup before the call) sends later than another that claims after it, and the two
//! reach the platform less than a period apart (measured: 2 of 639 calls refused with
//! 429 by three replicas in the storm benchmark). So each call's answer is recorded too
//! ([`SharedPace::answered`]), and the next call is claimed only a full period (without
//! the margin) after it: two calls never reach the platform closer. A call whose answer
//! is not recorded within [`UNANSWERED_HOLD`] (its replica died mid-call) stops holding
//! the channel then. Three round trips per paced call, at most a few a second per
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

/// How long a call let go without a recorded answer holds its channel: a replica killed
/// mid-call never records one, and its channel must not wait for the call's whole
/// timeout. Platforms answer a post in well under this.
pub(crate) const UNANSWERED_HOLD: Duration = Duration::from_secs(2);

/// The database's clock, in unix microseconds.
const NOW_US: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT";

/// The store-kept budget of every channel (PostgreSQL).
#[derive(Clone)]
pub(crate) struct SharedPace {
    store: Store,
    /// One slot per period.
    period_us: i64,
    /// The least time between a call's answer and the next call: the platform's own
    /// period (the pace's without its margin).
    after_answer_us: i64,
}

fn positive(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl SharedPace {
    /// Calls `period` apart, and `after_answer` after the previous call's answer.
    pub(crate) fn new(store: Store, period: Duration, after_answer: Duration) -> Self {
        Self {
            store,
            period_us: micros(period),
            after_answer_us: micros(after_answer),
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

    /// Lets one call on `key` go now if the last one went at least a period ago and was
    /// answered at least [`Self::new`]'s `after_answer` ago (or went unanswered for
    /// [`UNANSWERED_HOLD`]), and no `Retry-After` holds the channel; records it as the
    /// last call. Else what holds it and for how much longer.
    pub(crate) async fn claim(&self, key: &str) -> Result<Claim, StoreError> {
        let sql = format!(
            "WITH clock AS (SELECT {NOW_US} AS now_us) \
             UPDATE outbox_pace AS p SET last_call_us = (SELECT now_us FROM clock) \
             WHERE channel_key = $1 \
               AND blocked_until_us <= (SELECT now_us FROM clock) \
               AND last_call_us <= (SELECT now_us FROM clock) - $2 \
               AND CASE WHEN answered_us >= last_call_us \
                 THEN answered_us <= (SELECT now_us FROM clock) - $3 \
                 ELSE last_call_us <= (SELECT now_us FROM clock) - $4 END \
             RETURNING p.channel_key"
        );
        let claimed = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(self.period_us)
            .bind(self.after_answer_us)
            .bind(micros(UNANSWERED_HOLD))
            .fetch_optional(self.store.pool())
            .await?;
        if claimed.is_some() {
            return Ok(Claim::Go);
        }
        let sql = format!(
            "SELECT blocked_until_us - {NOW_US} AS blocked_us, \
               GREATEST(last_call_us + $2, CASE WHEN answered_us >= last_call_us \
                 THEN answered_us + $3 ELSE last_call_us + $4 END) - {NOW_US} AS early_us \
             FROM outbox_pace WHERE channel_key = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(self.period_us)
            .bind(self.after_answer_us)
            .bind(micros(UNANSWERED_HOLD))
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

    /// Records that the call last claimed on `key` was answered (or given up on): the
    /// next one goes a period after this.
    pub(crate) async fn answered(&self, key: &str) -> Result<(), StoreError> {
        let sql = format!("UPDATE outbox_pace SET answered_us = {NOW_US} WHERE channel_key = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .execute(self.store.pool())
            .await?;
        Ok(())
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
            SharedPace::new(store.clone(), period, period),
            SharedPace::new(store.clone(), period, period),
        );
        let key = "slack/C1";
        assert_eq!(one.reserve(key).await.unwrap(), Slot::In(Duration::ZERO));
        assert_eq!(one.claim(key).await.unwrap(), Claim::Go);
        one.answered(key).await.unwrap();
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

        // A call that took long to answer holds the next one a period after its answer
        // (the platform may have counted it late), not after it was let go.
        let slow = "slack/C3";
        one.reserve(slow).await.unwrap();
        assert_eq!(one.claim(slow).await.unwrap(), Claim::Go);
        tokio::time::sleep(Duration::from_millis(300)).await;
        one.answered(slow).await.unwrap();
        let Claim::Early(early) = two.claim(slow).await.unwrap() else {
            panic!("claimed less than a period after the answer");
        };
        assert!(early > Duration::from_millis(300), "{early:?}");
        // A call never answered (its replica died mid-call) holds the channel for
        // UNANSWERED_HOLD, not for ever.
        let dead = "slack/C4";
        one.reserve(dead).await.unwrap();
        assert_eq!(one.claim(dead).await.unwrap(), Claim::Go);
        let Claim::Early(early) = two.claim(dead).await.unwrap() else {
            panic!("claimed while the last call may still be on its way");
        };
        assert!(
            early > UNANSWERED_HOLD - Duration::from_millis(200) && early <= UNANSWERED_HOLD,
            "{early:?}"
        );
        store.close().await;
        database.drop_database().await.unwrap();
    }
}
