//! [`SpendService`]: the engine's [`CostReader`]. A service's sources are asked
//! concurrently, through the [`SpendCache`]; charts are drawn by `opsbot-cost`.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use opsbot_commands::{
    Service,
    catalog::Money,
    context::{CostReader, SpendQuery, SpendReport},
};
use opsbot_cost::chart::{self, ChartSpec};

use super::{CostMetrics, CostSources, SpendCache, sources::kind_label};

/// Spend of services' cost sources, cached.
pub struct SpendService {
    sources: CostSources,
    cache: SpendCache,
    metrics: CostMetrics,
    /// With `[investigator]`: the investigations' own spend, a source of each service.
    investigations: Option<crate::store::Store>,
}

impl SpendService {
    pub fn new(sources: CostSources, cache_ttl: Duration, metrics: CostMetrics) -> Self {
        Self {
            sources,
            cache: SpendCache::new(cache_ttl),
            metrics,
            investigations: None,
        }
    }

    /// Counts what investigations of each service's incidents cost (their tokens at the
    /// `[investigator]` prices) as a source of its own, `investigations`.
    pub fn with_investigations(mut self, store: crate::store::Store) -> Self {
        self.investigations = Some(store);
        self
    }

    pub fn metrics(&self) -> &CostMetrics {
        &self.metrics
    }

    async fn fetch(&self, service: &Service, query: &SpendQuery) -> SpendReport {
        let now = jiff::Timestamp::now();
        let mut sources = join_all(service.cost.iter().map(|source| async move {
            let (spend, outcome) = self.sources.fetch(source, query, now).await;
            self.metrics.source(kind_label(source), outcome);
            spend
        }))
        .await;
        if let Some(store) = &self.investigations {
            sources.push(super::investigations::spend(store, service, query).await);
        }
        SpendReport {
            sources,
            fetched_at: now,
        }
    }
}

#[async_trait]
impl CostReader for SpendService {
    async fn spend(&self, service: &Service, query: &SpendQuery) -> SpendReport {
        let mut fetched = false;
        let report = self
            .cache
            .get_or_fetch(service.name.as_str(), query, || {
                fetched = true;
                self.fetch(service, query)
            })
            .await;
        self.metrics.cache(!fetched);
        report
    }

    fn chart(
        &self,
        title: &str,
        days: &[(jiff::civil::Date, Money)],
        budget_per_day: Option<Money>,
        currency: &str,
    ) -> Option<Vec<u8>> {
        let spec = ChartSpec {
            title,
            days,
            budget_per_day,
            currency,
        };
        match chart::render(&spec) {
            Ok(png) => Some(png),
            Err(error) => {
                tracing::warn!(%error, "drawing the cost chart failed");
                None
            }
        }
    }
}
