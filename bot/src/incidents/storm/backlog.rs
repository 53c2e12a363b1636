//! The backlog estimate: how long a channel's queued chat work would take to drain at
//! its rate, and whether that is past its horizon. The count is one indexed statement
//! (`outbox_channel_work`), bounded: it stops as soon as the answer is known, so its
//! cost does not grow with the backlog it measures.
//!
//! A call is about one thread and kind of message: the outbox posts a thread's queued
//! root with its edits folded in, and its queued replies as one digest
//! (`crate::outbox` plan), so pending rows are counted by `(thread, operation)`.
//! Standalone posts (no thread) count as one together: they are rare on the alerts lane.

use std::time::Duration;

use opsbot_commands::Platform;
use sqlx::AnyConnection;

use crate::store::StoreError;

/// Whether `calls` chat calls at `rate` per second take longer than `horizon` to drain.
/// An unpaced channel (`rate` 0) never falls behind.
pub fn over_horizon(calls: u64, rate: f64, horizon: Duration) -> bool {
    rate > 0.0 && rate.is_finite() && calls as f64 / rate > horizon.as_secs_f64()
}

/// The most calls that drain within `horizon` at `rate`: counting one more than this is
/// enough to know a channel is [`over_horizon`].
pub fn calls_within(rate: f64, horizon: Duration) -> u64 {
    if !(rate > 0.0 && rate.is_finite()) {
        return u64::MAX;
    }
    (horizon.as_secs_f64() * rate).floor().min(1e12) as u64
}

/// How many folded incidents may get their own root and thread now that the channel is
/// back within its horizon: each costs about two calls (root, catch-up reply), and
/// together they must not push the channel past its horizon again. At least one when
/// nothing is queued, so a board always empties.
pub fn unfold_budget(calls: u64, rate: f64, horizon: Duration) -> usize {
    let room = calls_within(rate, horizon).saturating_sub(calls) / 2;
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if calls == 0 { room.max(1) } else { room }
}

/// Chat calls queued on the alerts lane of `channel`, counted up to `cap`.
pub async fn queued_calls(
    conn: &mut AnyConnection,
    platform: Platform,
    channel: &str,
    cap: u64,
) -> Result<u64, StoreError> {
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT DISTINCT thread_key, operation FROM outbox \
         WHERE state = 'pending' AND platform = $1 AND channel = $2 AND lane = 'alerts' \
         LIMIT $3) work",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(cap)
    .fetch_one(&mut *conn)
    .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWENTY: Duration = Duration::from_secs(20);

    #[test]
    fn a_channel_is_over_its_horizon_when_its_calls_take_longer_to_drain() {
        assert!(!over_horizon(20, 1.0, TWENTY));
        assert!(over_horizon(21, 1.0, TWENTY));
        assert!(!over_horizon(39, 2.0, TWENTY));
        assert!(over_horizon(41, 2.0, TWENTY));
        assert!(!over_horizon(u64::MAX, 0.0, TWENTY), "unpaced never storms");
        assert_eq!(calls_within(1.0, TWENTY), 20);
        assert_eq!(calls_within(0.5, TWENTY), 10);
        assert_eq!(calls_within(0.0, TWENTY), u64::MAX);
        // Counting to one past `calls_within` decides it.
        let cap = calls_within(1.0, TWENTY) + 1;
        assert!(over_horizon(cap, 1.0, TWENTY));
    }

    #[test]
    fn unfolding_keeps_the_channel_within_its_horizon() {
        assert_eq!(unfold_budget(0, 1.0, TWENTY), 10);
        assert_eq!(unfold_budget(16, 1.0, TWENTY), 2);
        assert_eq!(unfold_budget(20, 1.0, TWENTY), 0);
        assert_eq!(unfold_budget(25, 1.0, TWENTY), 0);
        // A horizon too short for one incident's two calls still empties the board.
        assert_eq!(unfold_budget(0, 1.0, Duration::from_secs(1)), 1);
    }
}
