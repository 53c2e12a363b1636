//! The one Prometheus registry (prefix `opsbot`), served as text at `/metrics`.
//!
//! It owns no series itself: each part registers its own when `app.rs` wires it, the
//! way kube-rs controllers do (`fn register(registry: &mut Registry) -> Self`): the
//! engine ([`crate::engine::CommandMetrics`]), the outbox, alert ingest, the storm boards,
//! cost, Slack and Discord. This module imports none of them.

use prometheus_client::registry::Registry;

/// The registry every part's series live in.
pub struct Metrics {
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry with the `opsbot` prefix.
    pub fn new() -> Self {
        Self {
            registry: Registry::with_prefix("opsbot"),
        }
    }

    /// Where a part registers its series (before the registry is shared).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
