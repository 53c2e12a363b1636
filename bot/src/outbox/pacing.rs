//! Per-channel pacing: at most `rate` chat calls per second per channel (Slack allows
//! about one), with a GCRA limiter from `governor` keyed by `platform/channel`, plus the
//! channels a platform told us to leave alone for a while (`Retry-After`).
//!
//! Each lane has its own [`Pacer`], so command replies never wait for alert traffic's
//! budget. The limiter lives in memory: several replicas each pace on their own.

use std::{collections::HashMap, num::NonZeroU32, sync::Mutex, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock as _};
use tokio::time::Instant;

/// How many keys the limiter may hold before idle ones are dropped.
const RETAIN_AFTER_KEYS: usize = 4096;

pub(crate) struct Pacer {
    /// `None`: unpaced (rate 0).
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// Channels blocked by a platform's `Retry-After`, until when.
    blocked: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// `rate` calls per second per channel; 0 (or less) means unpaced.
    pub(crate) fn new(rate: f64) -> Self {
        let limiter = (rate > 0.0 && rate.is_finite())
            .then(|| Quota::with_period(Duration::from_secs_f64(1.0 / rate)))
            .flatten()
            .map(|quota| DefaultKeyedRateLimiter::keyed(quota.allow_burst(NonZeroU32::MIN)));
        Self {
            limiter,
            blocked: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn is_paced(&self) -> bool {
        self.limiter.is_some()
    }

    /// Waits until `key` may take one more call, and takes it.
    pub(crate) async fn acquire(&self, key: &str) {
        let blocked_until = self.blocked_until(key);
        if let Some(until) = blocked_until {
            tokio::time::sleep_until(until).await;
        }
        let Some(limiter) = &self.limiter else {
            return;
        };
        if limiter.len() > RETAIN_AFTER_KEYS {
            limiter.retain_recent();
        }
        let key = key.to_string();
        loop {
            match limiter.check_key(&key) {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(limiter.clock().now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The platform asked us to leave `key` alone for `wait`.
    pub(crate) fn block(&self, key: &str, wait: Duration) {
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
        pacer.acquire("slack/a").await;
        pacer.acquire("slack/b").await;
        assert!(start.elapsed() < Duration::from_millis(50));
        pacer.acquire("slack/a").await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(80), "{waited:?}");
        assert!(!Pacer::new(0.0).is_paced());
    }

    #[tokio::test]
    async fn retry_after_blocks_the_channel() {
        let pacer = Pacer::new(0.0);
        pacer.block("slack/a", Duration::from_millis(100));
        assert_eq!(pacer.blocked_keys(), ["slack/a"]);
        let start = std::time::Instant::now();
        pacer.acquire("slack/a").await;
        assert!(start.elapsed() >= Duration::from_millis(90));
        assert!(pacer.blocked_keys().is_empty());
    }
}
