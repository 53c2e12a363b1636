//! `opsbot_discord_interactions_total{kind}`: interactions received, by kind (`ping`,
//! `command`, `button`, `autocomplete`, `unsupported`) or refusal (`unverified`,
//! `malformed`, `replayed`: already received, `unavailable`: the inbox could not be
//! written).

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Discord interaction counters.
#[derive(Clone, Debug, Default)]
pub struct DiscordMetrics {
    interactions: Family<KindLabels, Counter>,
}

impl DiscordMetrics {
    /// Creates this part's series and registers them in `registry` (the one registry
    /// `app.rs` serves at `/metrics`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "discord_interactions",
            "Discord interactions received, by kind (ping, command, button, autocomplete, \
             unsupported) or refusal (unverified, malformed, replayed, unavailable)",
            metrics.interactions.clone(),
        );
        metrics
    }

    pub(crate) fn request(&self, kind: &'static str) {
        self.interactions.get_or_create(&KindLabels { kind }).inc();
    }
}
