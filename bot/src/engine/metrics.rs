//! The engine's own series: `opsbot_commands_total{command,decision,outcome}`,
//! `opsbot_command_duration_seconds{platform}`, `opsbot_denials_total{command}`,
//! `opsbot_audit_writes_total` and `opsbot_audit_write_failures_total`. The engine counts
//! them on every pass; [`CommandMetrics::register`] puts them in the one registry
//! ([`crate::metrics::Metrics`]) when `app.rs` wires the engine.

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

/// Commands by name and outcome, latency, denials and audit writes. Cheap to clone: every
/// clone updates the same series.
#[derive(Clone, Debug)]
pub struct CommandMetrics {
    commands: Family<CommandLabels, Counter>,
    latency: Family<PlatformLabels, Histogram>,
    denials: Family<CommandOnly, Counter>,
    audit_writes: Counter,
    audit_write_failures: Counter,
}

impl Default for CommandMetrics {
    fn default() -> Self {
        Self {
            commands: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 2.5, 14))
            }),
            denials: Family::default(),
            audit_writes: Counter::default(),
            audit_write_failures: Counter::default(),
        }
    }
}

impl CommandMetrics {
    /// Creates the engine's series and registers them in `registry` (the one registry
    /// `app.rs` serves at `/metrics`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "commands",
            "Invocations by command, pipeline decision and execution outcome",
            metrics.commands.clone(),
        );
        registry.register(
            "command_duration_seconds",
            "Time from receiving an invocation to its reply, audit write included",
            metrics.latency.clone(),
        );
        registry.register(
            "denials",
            "Invocations refused by RBAC or channel limits",
            metrics.denials.clone(),
        );
        registry.register(
            "audit_writes",
            "Audit entries durably written",
            metrics.audit_writes.clone(),
        );
        registry.register(
            "audit_write_failures",
            "Audit entries that could not be written",
            metrics.audit_write_failures.clone(),
        );
        metrics
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn counts_show_up_in_the_text_format() {
        let mut registry = Metrics::new();
        let metrics = CommandMetrics::register(registry.registry_mut());
        metrics.command("help", "allowed", "ok", "console", 0.001);
        metrics.denial("restart");
        metrics.audit_written();
        let text = registry.encode();
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
