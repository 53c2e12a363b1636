//! Slack's own series: `opsbot_slack_requests_total{endpoint,outcome}` (every request to
//! `/slack/*` and every Socket Mode envelope: accepted, replayed, unavailable,
//! unauthorized, malformed, ignored)
//! and `opsbot_slack_signature_failures_total{reason}` (missing, malformed, stale,
//! mismatch), and `opsbot_slack_usergroup_lookups_total{outcome}`.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The Slack adapter's metrics ([`SlackMetrics::register`], called by `app.rs`).
#[derive(Clone, Debug, Default)]
pub struct SlackMetrics {
    requests: Family<RequestLabels, Counter>,
    signature_failures: Family<ReasonLabels, Counter>,
    usergroup_lookups: Family<OutcomeLabels, Counter>,
}

impl SlackMetrics {
    /// Creates this part's series and registers them in `registry` (the one registry
    /// `app.rs` serves at `/metrics`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "slack_requests",
            "Slack requests and Socket Mode envelopes by endpoint and outcome (accepted, \
             replayed, unavailable, unauthorized, malformed, ignored)",
            metrics.requests.clone(),
        );
        registry.register(
            "slack_signature_failures",
            "Slack requests refused for their signature, by reason (missing, malformed, \
             stale, mismatch)",
            metrics.signature_failures.clone(),
        );
        registry.register(
            "slack_usergroup_lookups",
            "usergroups.users.list calls by outcome (ok, failed)",
            metrics.usergroup_lookups.clone(),
        );
        metrics
    }

    pub(crate) fn request(&self, endpoint: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&RequestLabels { endpoint, outcome })
            .inc();
    }

    pub(crate) fn signature_failure(&self, reason: &'static str) {
        self.signature_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub(crate) fn usergroup_lookup(&self, outcome: &'static str) {
        self.usergroup_lookups
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}
