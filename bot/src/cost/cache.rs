//! The spend cache: a service's report for a query is reused for the configured TTL, so
//! repeated commands and many users do not run into the APIs' rate limits. Concurrent
//! identical requests share one fetch (the first caller fetches, the others wait for
//! its answer). A report with a failed source is kept at most [`FAILURE_TTL`], so a
//! transient failure is retried soon.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use opsbot_commands::context::{SpendQuery, SpendReport};
use tokio::sync::OnceCell;

/// The longest a report with a failed source is reused.
pub const FAILURE_TTL: Duration = Duration::from_secs(30);

type Key = (String, SpendQuery);

struct Slot {
    filled: OnceCell<(SpendReport, Instant)>,
}

impl Slot {
    fn expired(&self, ttl: Duration) -> bool {
        match self.filled.get() {
            None => false,
            Some((report, at)) => {
                let failed = report.sources.iter().any(|s| s.result.is_err());
                let ttl = if failed { ttl.min(FAILURE_TTL) } else { ttl };
                at.elapsed() >= ttl
            }
        }
    }
}

/// Reports by service and query, each kept for a TTL.
pub struct SpendCache {
    ttl: Duration,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
}

impl SpendCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The cached report of `service` for `query`, or the one `fetch` produces (once,
    /// however many callers ask at the same time).
    pub async fn get_or_fetch<F, Fut>(
        &self,
        service: &str,
        query: &SpendQuery,
        fetch: F,
    ) -> SpendReport
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = SpendReport>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.retain(|_, slot| !slot.expired(self.ttl));
            slots
                .entry((service.to_string(), *query))
                .or_insert_with(|| {
                    Arc::new(Slot {
                        filled: OnceCell::new(),
                    })
                })
                .clone()
        };
        let (report, _) = slot
            .filled
            .get_or_init(|| async { (fetch().await, Instant::now()) })
            .await;
        report.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jiff::civil::date;
    use opsbot_commands::context::{CostGrouping, SourceSpend};

    use super::*;

    fn query() -> SpendQuery {
        SpendQuery {
            from: date(2026, 11, 1),
            to: date(2026, 11, 2),
            grouping: CostGrouping::LineItem,
        }
    }

    fn report(failed: bool) -> SpendReport {
        SpendReport {
            sources: vec![SourceSpend {
                source: "openai".into(),
                result: if failed {
                    Err("429".into())
                } else {
                    Ok(vec![])
                },
            }],
            fetched_at: jiff::Timestamp::now(),
        }
    }

    #[tokio::test]
    async fn concurrent_identical_requests_share_one_fetch() {
        let cache = SpendCache::new(Duration::from_secs(300));
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            report(false)
        };
        let q = query();
        let (a, b, c) = tokio::join!(
            cache.get_or_fetch("alice", &q, fetch),
            cache.get_or_fetch("alice", &q, fetch),
            cache.get_or_fetch("alice", &q, fetch),
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(a, b);
        assert_eq!(b, c);
        // Another service or another query is another fetch.
        cache.get_or_fetch("bob", &query(), fetch).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn reports_expire_after_the_ttl_and_failures_sooner() {
        let cache = SpendCache::new(Duration::ZERO);
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            report(false)
        };
        cache.get_or_fetch("alice", &query(), fetch).await;
        cache.get_or_fetch("alice", &query(), fetch).await;
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "a zero TTL caches nothing"
        );

        let slot = Slot {
            filled: OnceCell::new_with(Some((report(true), Instant::now() - FAILURE_TTL))),
        };
        assert!(
            slot.expired(Duration::from_secs(3600)),
            "a failure is kept 30s at most"
        );
        let slot = Slot {
            filled: OnceCell::new_with(Some((report(false), Instant::now() - FAILURE_TTL))),
        };
        assert!(!slot.expired(Duration::from_secs(3600)));
    }
}
