//! `opsbot_cost_source_requests_total{kind,outcome}` (each source asked, by outcome:
//! `ok`, `rate_limited`, `server_error`, `unauthorized`, `unreachable`, `malformed`,
//! `not_configured`), `opsbot_cost_cache_total{result}` (`hit`, `miss`) and
//! `opsbot_cost_budget_alerts_total{level}`.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LevelLabels {
    level: &'static str,
}

/// The cost series.
#[derive(Clone, Debug, Default)]
pub struct CostMetrics {
    requests: Family<SourceLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    budget_alerts: Family<LevelLabels, Counter>,
}

impl CostMetrics {
    /// Creates this part's series and registers them in `registry` (the one registry
    /// `app.rs` serves at `/metrics`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "cost_source_requests",
            "Cost sources asked, by kind and outcome",
            metrics.requests.clone(),
        );
        registry.register(
            "cost_cache",
            "Spend reports answered from the cache (hit) or fetched (miss)",
            metrics.cache.clone(),
        );
        registry.register(
            "cost_budget_alerts",
            "Budget thresholds crossed and raised as incidents, by level",
            metrics.budget_alerts.clone(),
        );
        metrics
    }

    pub(crate) fn source(&self, kind: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&SourceLabels { kind, outcome })
            .inc();
    }

    pub(crate) fn cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache.get_or_create(&CacheLabels { result }).inc();
    }

    pub(crate) fn budget_alert(&self, level: &'static str) {
        self.budget_alerts
            .get_or_create(&LevelLabels { level })
            .inc();
    }
}
