//! The automations' series: `opsbot_automation_start_seconds` (from the commit of the
//! alert batch that fired an incident to the start of the run it triggered: the first
//! step is under way from then on) and `opsbot_automation_triggers_total{outcome}`
//! (`started`, `refused`, `failed`). [`AutomationMetrics::register`] puts them in the one
//! registry when `app.rs` wires the automations, which take them as a constructor
//! argument.

use std::time::Duration;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Start latency and what became of each trigger. Cheap to clone: every clone updates the
/// same series.
#[derive(Clone, Debug)]
pub struct AutomationMetrics {
    start: Histogram,
    triggers: Family<OutcomeLabels, Counter>,
}

impl Default for AutomationMetrics {
    fn default() -> Self {
        Self {
            // 1 ms to ~16 s.
            start: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            triggers: Family::default(),
        }
    }
}

impl AutomationMetrics {
    /// Creates the series and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "automation_start_seconds",
            "Time from the commit of an alert batch to the start of the automation run it triggered",
            metrics.start.clone(),
        );
        registry.register(
            "automation_triggers",
            "Automation triggers by outcome (started, refused by a guardrail, failed to start)",
            metrics.triggers.clone(),
        );
        metrics
    }

    pub(crate) fn started(&self, after_commit: Duration) {
        self.start.observe(after_commit.as_secs_f64());
        self.outcome("started");
    }

    pub(crate) fn outcome(&self, outcome: &'static str) {
        self.triggers
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}
