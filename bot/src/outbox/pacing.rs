//! Per-channel pacing: at most `rate` chat calls per second per channel (Slack allows
//! about one), with a GCRA limiter from `governor` keyed by `platform/channel`, plus the
//! channels a platform told us to leave alone for a while (`Retry-After`).
//!
//! The lanes of a dispatcher share one [`Pacer`], because the platform counts every
//! call on a channel whichever lane made it; an interactive call waiting for a channel
//! goes before alert traffic, which holds back while a command reply waits there, for
//! at most [`MAX_YIELD`]: a steady stream of interactive calls (a storm board's) must not
//! keep new incidents out of the channel. So a command reply waits at most for the one
//! call already made on its channel, or two when alert traffic has waited long.
//!
//! With a single process (SQLite) the limiter lives in memory and pacing costs no store
//! round trip. Replicas sharing a PostgreSQL store pace each channel once between them:
//! [`Pacer::shared`] reserves each call's slot in the store ([`super::shared_pace`],
//! which also says why that and not channel ownership), and a `Retry-After` one replica
//! draws holds the channel for all. Command replies going first holds within a process.

use std::{collections::HashMap, num::NonZeroU32, sync::Mutex, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock as _};
use tokio::time::Instant;

use super::{
    Lane,
    shared_pace::{Claim, SharedPace, Slot},
};
use crate::store::{Store, StoreError};

/// How many keys the limiter may hold before idle ones are dropped.
const RETAIN_AFTER_KEYS: usize = 4096;

pub(crate) struct Pacer {
    /// `None`: unpaced (rate 0). With a shared budget, the fallback while the store
    /// cannot be reached.
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// The budget every replica shares (PostgreSQL); `None`: this process alone.
    shared: Option<SharedPace>,
    /// Channels blocked by a platform's `Retry-After`, until when.
    blocked: Mutex<HashMap<String, Instant>>,
    /// Interactive calls waiting for each channel: alert traffic yields to them.
    interactive_waiting: Mutex<HashMap<String, usize>>,
}

/// Counts an interactive caller as waiting for a channel while it lives.
struct Waiting<'p> {
    pacer: &'p Pacer,
    key: &'p str,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self
            .pacer
            .interactive_waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = waiting.get_mut(self.key) {
            *count -= 1;
            if *count == 0 {
                waiting.remove(self.key);
            }
        }
    }
}

/// Calls are spaced 5 % wider than the rate allows: a call reaches the platform a few
/// milliseconds after its slot, and without a margin the jitter between two calls makes
/// one of them arrive early and draw a 429 (measured in the storm benchmark).
const PERIOD_MARGIN: f64 = 1.05;

/// The time between two calls on one channel at `rate` calls per second (`None`:
/// unpaced).
fn period(rate: f64) -> Option<Duration> {
    spacing(rate, PERIOD_MARGIN)
}

/// `margin` times the time between two calls at `rate` calls per second (`None`:
/// unpaced).
fn spacing(rate: f64, margin: f64) -> Option<Duration> {
    (rate > 0.0 && rate.is_finite())
        .then(|| Duration::try_from_secs_f64(margin / rate).ok())
        .flatten()
        .filter(|period| !period.is_zero())
}

/// How often alert traffic looks again while a command reply waits for its channel.
const YIELD_POLL: Duration = Duration::from_millis(20);

/// The longest alert traffic yields to interactive calls before it takes a slot anyway:
/// a storm board's page notes and edits (interactive) arrive every second while
/// incidents fold, and yielding without end kept new incidents' roots out of the channel
/// for 20 s (measured in the storm benchmark). Past it the two lanes share the channel;
/// a command reply then waits at most one more call.
const MAX_YIELD: Duration = Duration::from_secs(2);

impl Pacer {
    /// `rate` calls per second per channel, paced in this process; 0 (or less) means
    /// unpaced.
    pub(crate) fn new(rate: f64) -> Self {
        let period = period(rate);
        let limiter = period
            .and_then(Quota::with_period)
            .map(|quota| DefaultKeyedRateLimiter::keyed(quota.allow_burst(NonZeroU32::MIN)));
        Self {
            limiter,
            shared: None,
            blocked: Mutex::new(HashMap::new()),
            interactive_waiting: Mutex::new(HashMap::new()),
        }
    }

    /// `rate` calls per second per channel between every process sharing `store`'s
    /// database (`outbox_pace`); 0 (or less) means unpaced.
    pub(crate) fn shared(rate: f64, store: Store) -> Self {
        let mut pacer = Self::new(rate);
        // After a call's answer the platform's own period, without the margin.
        pacer.shared = period(rate)
            .zip(spacing(rate, 1.0))
            .map(|(period, after_answer)| SharedPace::new(store, period, after_answer));
        pacer
    }

    pub(crate) fn is_paced(&self) -> bool {
        self.limiter.is_some()
    }

    /// Waits until `key` may take one more call, and takes it. Alert traffic also waits
    /// while an interactive call waits for the same channel.
    pub(crate) async fn acquire(&self, key: &str, lane: Lane) {
        let _waiting = (lane == Lane::Interactive).then(|| {
            let mut waiting = self
                .interactive_waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *waiting.entry(key.to_string()).or_default() += 1;
            Waiting { pacer: self, key }
        });
        let owned_key = key.to_string();
        let yielding_since = Instant::now();
        loop {
            if let Some(until) = self.blocked_until(key) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            if lane != Lane::Interactive
                && self.interactive_waits_for(key)
                && yielding_since.elapsed() < MAX_YIELD
            {
                tokio::time::sleep(YIELD_POLL).await;
                continue;
            }
            if let Some(shared) = &self.shared {
                match self.take_shared_slot(shared, key).await {
                    Ok(true) => return,
                    Ok(false) => continue,
                    Err(error) => {
                        // Pace in this process until the store answers again.
                        tracing::warn!(%error, "shared pacing unavailable; pacing locally");
                    }
                }
            }
            let Some(limiter) = &self.limiter else {
                return;
            };
            if limiter.len() > RETAIN_AFTER_KEYS {
                limiter.retain_recent();
            }
            match limiter.check_key(&owned_key) {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(limiter.clock().now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Reserves `key`'s next slot in the store, waits for it and claims the call: true
    /// when the call may go; false when a `Retry-After` holds the channel (now blocked
    /// here too).
    async fn take_shared_slot(&self, shared: &SharedPace, key: &str) -> Result<bool, StoreError> {
        match shared.reserve(key).await? {
            Slot::Blocked(wait) => {
                self.block_here(key, wait);
                return Ok(false);
            }
            Slot::In(wait) => tokio::time::sleep(wait).await,
        }
        // The slot says when to try; the claim makes sure the last call on the channel,
        // from whichever replica, went a period ago (it may have woken late for its slot),
        // and that nobody drew a 429 meanwhile.
        loop {
            match shared.claim(key).await? {
                Claim::Go => return Ok(true),
                Claim::Early(wait) => tokio::time::sleep(wait).await,
                Claim::Blocked(wait) => {
                    self.block_here(key, wait);
                    return Ok(false);
                }
            }
        }
    }

    fn interactive_waits_for(&self, key: &str) -> bool {
        self.interactive_waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    /// The call last let go on `key` was answered (or given up on): with a shared budget
    /// the next one, from any replica, goes a period after this ([`SharedPace::claim`]).
    pub(crate) async fn answered(&self, key: &str) {
        if let Some(shared) = &self.shared
            && let Err(error) = shared.answered(key).await
        {
            // The next claim waits `UNANSWERED_HOLD` at most.
            tracing::warn!(%error, "could not record a chat call's answer for the other replicas");
        }
    }

    /// The platform asked us to leave `key` alone for `wait` (every replica, when the
    /// budget is shared).
    pub(crate) async fn block(&self, key: &str, wait: Duration) {
        self.block_here(key, wait);
        if let Some(shared) = &self.shared
            && let Err(error) = shared.block(key, wait).await
        {
            tracing::warn!(%error, "could not share a Retry-After with the other replicas");
        }
    }

    /// Blocks `key` for `wait` in this process.
    fn block_here(&self, key: &str, wait: Duration) {
        let until = Instant::now() + wait;
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let entry = blocked.entry(key.to_string()).or_insert(until);
        *entry = (*entry).max(until);
    }

    fn blocked_until(&self, key: &str) -> Option<Instant> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked
            .get(key)
            .copied()
            .filter(|until| *until > Instant::now())
    }

    /// Channels still blocked by a `Retry-After` (not worth claiming messages for).
    pub(crate) fn blocked_keys(&self) -> Vec<String> {
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, until| *until > now);
        blocked.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_each_channel_separately() {
        let pacer = Pacer::new(10.0);
        let start = std::time::Instant::now();
        pacer.acquire("slack/a", Lane::Alerts).await;
        pacer.acquire("slack/b", Lane::Alerts).await;
        assert!(start.elapsed() < Duration::from_millis(50));
        pacer.acquire("slack/a", Lane::Alerts).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(80), "{waited:?}");
        assert!(!Pacer::new(0.0).is_paced());
    }

    #[tokio::test]
    async fn retry_after_blocks_the_channel() {
        let pacer = Pacer::new(0.0);
        pacer.block("slack/a", Duration::from_millis(100)).await;
        assert_eq!(pacer.blocked_keys(), ["slack/a"]);
        let start = std::time::Instant::now();
        pacer.acquire("slack/a", Lane::Alerts).await;
        assert!(start.elapsed() >= Duration::from_millis(90));
        assert!(pacer.blocked_keys().is_empty());
    }

    #[tokio::test]
    async fn alert_traffic_yields_to_interactive_calls_but_not_for_ever() {
        let pacer = Pacer::new(0.0);
        // An interactive call waits for the channel and keeps waiting (a stream of them).
        pacer
            .interactive_waiting
            .lock()
            .unwrap()
            .insert("slack/a".into(), 1);
        let start = std::time::Instant::now();
        pacer.acquire("slack/b", Lane::Alerts).await;
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "another channel: no wait"
        );
        // It yields first, then goes although the interactive call still waits (without
        // the limit it would wait for ever: the timeout is only a deadline for that).
        tokio::time::timeout(MAX_YIELD * 10, pacer.acquire("slack/a", Lane::Alerts))
            .await
            .expect("alert traffic waited for ever behind interactive calls");
        assert!(start.elapsed() >= MAX_YIELD, "it did not yield first");
    }

    #[tokio::test]
    async fn a_command_reply_takes_the_next_slot_before_alert_traffic() {
        let pacer = std::sync::Arc::new(Pacer::new(10.0));
        pacer.acquire("slack/a", Lane::Alerts).await;
        let (order, mut done) = tokio::sync::mpsc::unbounded_channel();
        let alerts = {
            let (pacer, order) = (pacer.clone(), order.clone());
            tokio::spawn(async move {
                pacer.acquire("slack/a", Lane::Alerts).await;
                order.send("alerts").unwrap();
            })
        };
        tokio::task::yield_now().await;
        let interactive = tokio::spawn(async move {
            pacer.acquire("slack/a", Lane::Interactive).await;
            order.send("interactive").unwrap();
        });
        interactive.await.unwrap();
        alerts.await.unwrap();
        assert_eq!(done.recv().await, Some("interactive"));
        assert_eq!(done.recv().await, Some("alerts"));
    }
}
