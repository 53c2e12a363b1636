//! The outbox's metrics: backlog by lane, messages delivered, retried and failed, digests
//! sent, and chat API errors by platform. Registered by
//! [`OutboxMetrics::register`] when `app.rs` wires the outbox; a default (unregistered)
//! set serves tests.

use opsbot_commands::Platform;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::{Lane, repo::lane_name};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneLabels {
    lane: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    platform: &'static str,
    kind: &'static str,
}

/// Cheap to clone: every clone updates the same series.
#[derive(Clone, Debug, Default)]
pub struct OutboxMetrics {
    backlog: Family<LaneLabels, Gauge>,
    delivered: Family<LaneLabels, Counter>,
    retried: Family<LaneLabels, Counter>,
    failed: Family<LaneLabels, Counter>,
    digests: Counter,
    recovered: Counter,
    chat_api_errors: Family<ErrorLabels, Counter>,
}

impl OutboxMetrics {
    /// Creates this part's series and registers them in `registry` (the one registry
    /// `app.rs` serves at `/metrics`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "outbox_backlog",
            "Outbox messages waiting for delivery, by lane",
            metrics.backlog.clone(),
        );
        registry.register(
            "outbox_delivered",
            "Outbox messages delivered (a digest counts every message it carries)",
            metrics.delivered.clone(),
        );
        registry.register(
            "outbox_retried",
            "Outbox delivery attempts that will be retried",
            metrics.retried.clone(),
        );
        registry.register(
            "outbox_failed",
            "Outbox messages parked as failed (permanent error or attempts exhausted)",
            metrics.failed.clone(),
        );
        registry.register(
            "outbox_digests",
            "Digest replies sent in place of several thread updates",
            metrics.digests.clone(),
        );
        registry.register(
            "outbox_recovered",
            "Outbox messages a dead dispatcher had posted, found on the platform and not posted again",
            metrics.recovered.clone(),
        );
        registry.register(
            "chat_api_errors",
            "Chat platform calls that failed, by platform and kind (retry, permanent)",
            metrics.chat_api_errors.clone(),
        );
        metrics
    }

    pub(crate) fn backlog(&self, lane: Lane, pending: i64) {
        self.backlog
            .get_or_create(&LaneLabels {
                lane: lane_name(lane),
            })
            .set(pending);
    }

    pub(crate) fn delivered(&self, lane: Lane, messages: usize) {
        self.delivered
            .get_or_create(&LaneLabels {
                lane: lane_name(lane),
            })
            .inc_by(messages as u64);
    }

    pub(crate) fn retried(&self, lane: Lane) {
        self.retried
            .get_or_create(&LaneLabels {
                lane: lane_name(lane),
            })
            .inc();
    }

    pub(crate) fn failed(&self, lane: Lane, messages: usize) {
        self.failed
            .get_or_create(&LaneLabels {
                lane: lane_name(lane),
            })
            .inc_by(messages as u64);
    }

    pub(crate) fn recovered(&self, messages: usize) {
        self.recovered.inc_by(messages as u64);
    }

    pub(crate) fn digest(&self) {
        self.digests.inc();
    }

    pub(crate) fn chat_api_error(&self, platform: Platform, permanent: bool) {
        self.chat_api_errors
            .get_or_create(&ErrorLabels {
                platform: platform.as_str(),
                kind: if permanent { "permanent" } else { "retry" },
            })
            .inc();
    }
}
