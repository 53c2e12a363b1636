//! [`StoreHealth`]: whether the store can write right now, as the last write saw it.
//!
//! Writers report what their writes did ([`crate::store::Store::observe`]): a write that
//! failed because the store could not write (disk full, read-only, a lock or statement
//! timeout, connection lost; [`StoreError::is_unavailable`]) marks the store failing, the
//! next write that succeeds clears it. While it is failing:
//! * `/readyz` answers 503 and runs a small write probe instead of `SELECT 1`, so it turns
//!   ready again once the store can write, even when nothing else writes. A probe that
//!   succeeds within [`HOLD_DOWN`] of a real write failing does not count: a one-row write
//!   can still fit where a batch of alerts does not (SQLite reuses free WAL frames on a
//!   full disk), so readiness waits until real writes have stopped failing for that long,
//!   or one succeeds;
//! * every connection given back to the writer pool is closed instead of kept, so a
//!   session stuck in a bad state (opened read-only, a broken transaction) is replaced by a
//!   fresh one and nothing needs a restart once the store is writable again.
//!
//! The healthy path costs one atomic load per report.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use super::StoreError;

/// How long after a real write failed a successful readiness probe is not believed.
pub const HOLD_DOWN: Duration = Duration::from_secs(10);

/// Shared by every clone of a [`super::Store`] and its pools' hooks.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing: AtomicBool,
    /// Why the last failing write failed (for `/readyz` and logs), and when.
    reason: Mutex<Option<(String, Instant)>>,
}

impl StoreHealth {
    /// Whether the last reported write failed because the store could not write.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }

    /// Why the store is failing, if it is.
    pub fn reason(&self) -> Option<String> {
        if !self.is_failing() {
            return None;
        }
        self.reason
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(|(reason, _)| reason.clone()))
    }

    /// How long ago a write last failed, while the store is failing.
    pub fn failed_ago(&self) -> Option<Duration> {
        if !self.is_failing() {
            return None;
        }
        self.reason
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(|(_, at)| at.elapsed()))
    }

    /// A write succeeded: the store can write.
    pub fn write_succeeded(&self) {
        if self.failing.load(Ordering::Relaxed) {
            self.failing.store(false, Ordering::Release);
            tracing::info!("the store accepts writes again");
        }
    }

    /// A write failed with `error`. Only errors meaning "the store cannot write right now"
    /// mark it failing; a bug or bad data says nothing about the store.
    pub fn write_failed(&self, error: &StoreError) {
        if error.is_unavailable() {
            self.mark_failing(error.to_string());
        }
    }

    /// Moves the last failure `by` into the past (tests of the hold-down).
    #[cfg(test)]
    pub(crate) fn backdate(&self, by: Duration) {
        if let Ok(mut slot) = self.reason.lock()
            && let Some((_, at)) = slot.as_mut()
        {
            *at -= by;
        }
    }

    /// The store cannot write, for `reason` (e.g. it did not answer in time).
    pub fn mark_failing(&self, reason: String) {
        if !self.failing.swap(true, Ordering::AcqRel) {
            tracing::warn!(%reason, "the store cannot write; answering 503 until it can");
        }
        if let Ok(mut slot) = self.reason.lock() {
            *slot = Some((reason, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_errors_mark_failing_until_a_write_succeeds() {
        let health = StoreHealth::default();
        assert!(!health.is_failing());
        health.write_failed(&StoreError::corrupt("t", "bad row"));
        assert!(!health.is_failing(), "bad data is not an outage");
        health.write_failed(&StoreError::Query(sqlx::Error::PoolTimedOut));
        assert!(health.is_failing());
        assert!(health.reason().unwrap().contains("pool timed out"));
        assert!(health.failed_ago().unwrap() < HOLD_DOWN);
        health.write_succeeded();
        assert!(!health.is_failing());
        assert_eq!(health.reason(), None);
        assert_eq!(health.failed_ago(), None);
    }
}
