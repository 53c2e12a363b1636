//! opsbot's own Prometheus metrics: commands by name and outcome, latency, denials and
//! audit writes. Served as text at `/metrics`.

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
struct CommandLabels {
    command: &'static str,
    decision: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandOnly {
    command: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlatformLabels {
    platform: &'static str,
}

/// Every metric opsbot exports, registered in one registry.
pub struct Metrics {
    registry: Registry,
    commands: Family<CommandLabels, Counter>,
    latency: Family<PlatformLabels, Histogram>,
    denials: Family<CommandOnly, Counter>,
    audit_writes: Counter,
    audit_write_failures: Counter,
    /// The outbox's series (backlog, delivered, retried, failed, chat API errors).
    pub outbox: crate::outbox::OutboxMetrics,
    /// Alert webhook requests and alerts received, by source kind and outcome.
    pub alerts: crate::server::alerts::AlertMetrics,
    /// Slack requests, signature failures and user group lookups.
    pub slack: crate::slack::SlackMetrics,
    /// Discord interactions by kind or refusal.
    pub discord: crate::discord::DiscordMetrics,
    /// Cost sources asked, cache hits, budget alerts.
    pub cost: crate::cost::CostMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("opsbot");
        let commands = Family::<CommandLabels, Counter>::default();
        registry.register(
            "commands",
            "Invocations by command, pipeline decision and execution outcome",
            commands.clone(),
        );
        let latency = Family::<PlatformLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.5, 14))
        });
        registry.register(
            "command_duration_seconds",
            "Time from receiving an invocation to its reply, audit write included",
            latency.clone(),
        );
        let denials = Family::<CommandOnly, Counter>::default();
        registry.register(
            "denials",
            "Invocations refused by RBAC or channel limits",
            denials.clone(),
        );
        let audit_writes = Counter::default();
        registry.register(
            "audit_writes",
            "Audit entries durably written",
            audit_writes.clone(),
        );
        let audit_write_failures = Counter::default();
        registry.register(
            "audit_write_failures",
            "Audit entries that could not be written",
            audit_write_failures.clone(),
        );
        let outbox = crate::outbox::OutboxMetrics::default();
        outbox.register(&mut registry);
        let alerts = crate::server::alerts::AlertMetrics::default();
        alerts.register(&mut registry);
        let slack = crate::slack::SlackMetrics::default();
        slack.register(&mut registry);
        let discord = crate::discord::DiscordMetrics::default();
        discord.register(&mut registry);
        let cost = crate::cost::CostMetrics::default();
        cost.register(&mut registry);
        Self {
            registry,
            outbox,
            alerts,
            slack,
            discord,
            cost,
            commands,
            latency,
            denials,
            audit_writes,
            audit_write_failures,
        }
    }

    pub fn command(
        &self,
        command: &'static str,
        decision: &'static str,
        outcome: &'static str,
        platform: &'static str,
        seconds: f64,
    ) {
        self.commands
            .get_or_create(&CommandLabels {
                command,
                decision,
                outcome,
            })
            .inc();
        self.latency
            .get_or_create(&PlatformLabels { platform })
            .observe(seconds);
    }

    pub fn denial(&self, command: &'static str) {
        self.denials.get_or_create(&CommandOnly { command }).inc();
    }

    pub fn audit_written(&self) {
        self.audit_writes.inc();
    }

    pub fn audit_failed(&self) {
        self.audit_write_failures.inc();
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Access for adapters registering their own metrics (outbox, chat API errors).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.command("help", "allowed", "ok", "console", 0.001);
        metrics.denial("restart");
        metrics.audit_written();
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"opsbot_commands_total{command="help",decision="allowed",outcome="ok"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"opsbot_denials_total{command="restart"} 1"#),
            "{text}"
        );
        assert!(text.contains("opsbot_audit_writes_total 1"), "{text}");
        assert!(
            text.contains("opsbot_command_duration_seconds_bucket"),
            "{text}"
        );
    }
}
